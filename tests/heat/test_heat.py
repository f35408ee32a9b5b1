#!/usr/bin/env python3
"""Heat (mevi-run --heat) checked page for page against the known access pattern.

    test_heat.py --mevid PATH --mevi-run PATH --three MODE PROGRAM   (MODE: exact, sampled, attach)
    test_heat.py --mevid PATH --mevi-run PATH --events MODE PROGRAM  (MODE: exact, sampled)
    test_heat.py --mevid PATH --mevi-run PATH --detach PROGRAM

--three runs heat_three (hot / once / never buffers) under --heat=100 and checks,
while it runs, the kernel's own view with read-only PAGEMAP_SCAN queries (every
page registered for write-protect, the idle buffers protected), and after it
exits, /api/state's "written" page for page: every hot page written in the last
half second, every once page written once near the start and cold for two
seconds, no never page (MAP_POPULATE'd) at all.

--events runs heat_events: a huge page reported as a whole then one page of it,
an mremap'd buffer (sampled: its pages keep their time at the new address), and
the buffer of an exec'd child.

--detach starts heat_three natively with a long run, attaches `mevi-run --pid
--heat=100`, detaches with SIGINT, and checks that no page of the process is
left write-protected (pagemap bit 57) and that it holds no userfaultfd; then
measures a write loop's speed before, during and after (printed, checked
loosely: after must be within 1.5x of before).

Python 3 standard library only; a private mevid on a free port.
"""

import argparse
import ctypes
import fcntl
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "accuracy"))
import harness  # noqa: E402  (Mevi: a private mevid and /api/state)

PAGE = 4096
PAGE_IS_WPALLOWED = 1 << 0
PAGE_IS_WRITTEN = 1 << 1
PAGE_IS_PRESENT = 1 << 3
PAGEMAP_SCAN = 0xC0606610  # _IOWR('f', 16, struct pm_scan_arg) (96 bytes)
PM_UFFD_WP = 1 << 57


class PageRegion(ctypes.Structure):
    _fields_ = [("start", ctypes.c_uint64), ("end", ctypes.c_uint64), ("categories", ctypes.c_uint64)]


def scan(pid, start, end, mask, anyof=0):
    """Read-only PAGEMAP_SCAN of [start, end): [(s, e, categories)] of pages matching mask."""
    vec = (PageRegion * 512)()
    out = []
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        cur = start
        while cur < end:
            arg = bytearray(struct.pack("12Q", 96, 0, cur, end, 0, ctypes.addressof(vec), 512, 0, 0, mask, anyof, mask | anyof))
            n = fcntl.ioctl(f.fileno(), PAGEMAP_SCAN, arg, True)
            walk_end = struct.unpack_from("Q", arg, 32)[0]
            for i in range(n):
                out.append((vec[i].start, vec[i].end, vec[i].categories))
            if walk_end <= cur or walk_end >= end:
                break
            cur = walk_end
    return out


def pages(runs, start, end):
    n = 0
    for s, e, *_ in runs:
        s, e = max(s, start), min(e, end)
        if s < e:
            n += (e - s) // PAGE
    return n


def written_of(doc, pid):
    for s in doc["sessions"]:
        for p in s["processes"]:
            if p["pid"] == pid:
                return s, p
    raise AssertionError(f"pid {pid} not in /api/state")


def per_page(written, start, end):
    """{page: t} of [start, end) from a "written" list."""
    out = {}
    for s, e, t in written:
        for a in range(max(s, start), min(e, end), PAGE):
            out[a] = t
    return out


class Test:
    def __init__(self, args):
        self.args = args
        self.errors = []
        self.workdir = tempfile.mkdtemp(prefix="mevi-heat-")
        self.mevi = harness.Mevi(args.mevid, self.workdir)
        self.mevi.wait_ready()

    def check(self, cond, msg):
        print(("ok   " if cond else "FAIL ") + msg, flush=True)
        if not cond:
            self.errors.append(msg)

    def run_cmd(self, extra, program):
        return [self.args.mevi_run, "--socket", self.mevi.socket, "--no-spawn"] + extra + ["--"] + program

    def api(self):
        return self.mevi.state()

    # ---- three buffers -------------------------------------------------------

    def three(self, mode):
        seconds = 3.0
        if mode == "attach":
            prog = subprocess.Popen([self.args.program, str(seconds + 1.5), "", "1500"], stdout=subprocess.PIPE, text=True)
            time.sleep(0.2)
            launcher = subprocess.Popen(self.run_cmd(["--heat=100", "--pid", str(prog.pid)], []), stderr=subprocess.PIPE, text=True)
        else:
            extra = ["--heat=100"] + (["--sample"] if mode == "sampled" else [])
            launcher = subprocess.Popen(self.run_cmd(extra, [self.args.program, str(seconds)]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            prog = launcher
        line = prog.stdout.readline().split()
        self.check(len(line) == 6 and line[0] == "HEAT", f"{mode}: the workload says where its buffers are ({line})")
        pid, hot, once, never, n = int(line[1]), int(line[2], 16), int(line[3], 16), int(line[4], 16), int(line[5])
        size = n * PAGE
        time.sleep(1.2)
        # The kernel's own view while it runs: registered, and the idle buffers protected.
        for name, base in (("hot", hot), ("once", once), ("never", never)):
            wp = scan(pid, base, base + size, PAGE_IS_WPALLOWED)
            self.check(pages(wp, base, base + size) == n, f"{mode}: every page of {name} is registered for async write-protect (PAGEMAP_SCAN WPALLOWED: {pages(wp, base, base + size)}/{n})")
        for name, base in (("once", once), ("never", never)):
            w = scan(pid, base, base + size, PAGE_IS_WRITTEN | PAGE_IS_PRESENT)
            self.check(pages(w, base, base + size) == 0, f"{mode}: no page of {name} written since the last scan (read-only PAGEMAP_SCAN: {pages(w, base, base + size)})")
        present = scan(pid, never, never + size, PAGE_IS_PRESENT)
        self.check(pages(present, never, never + size) == n, f"{mode}: never is resident (MAP_POPULATE)")
        prog.wait(30)
        if mode == "attach":
            launcher.send_signal(signal.SIGINT)
        launcher.wait(30)
        err = launcher.stderr.read()
        self.check(launcher.returncode == 0, f"{mode}: mevi-run exits 0 ({launcher.returncode}) {err.strip()[-300:]}")
        doc = self.api()
        sess, proc = written_of(doc, pid)
        w = proc.get("written")
        self.check(isinstance(w, list), f"{mode}: /api/state has written for the process")
        ts = [t for _, _, t in w]
        end_t = max(ts) if ts else 0
        hp, op, nv = per_page(w, hot, hot + size), per_page(w, once, once + size), per_page(w, never, never + size)
        self.check(len(hp) == n, f"{mode}: every hot page was seen written ({len(hp)}/{n})")
        self.check(len(op) == n, f"{mode}: every once page was seen written ({len(op)}/{n})")
        self.check(len(nv) == 0, f"{mode}: no never page was seen written ({len(nv)}/{n})")
        if hp:
            self.check(min(hp.values()) >= end_t - 400e6, f"{mode}: hot pages written in the last 400 ms ({(end_t - min(hp.values())) / 1e6:.0f} ms before the last write seen)")
        if op and hp:
            cold = (min(hp.values()) - max(op.values())) / 1e9
            self.check(len(set(op.values())) <= 2 and cold >= seconds - 1.0, f"{mode}: once pages cold for {cold:.2f} s (written at {sorted(set(v / 1e9 for v in op.values()))} s)")
        bad = [r for r in w if r[0] % PAGE or r[1] % PAGE or r[0] >= r[1] or r[2] % 1000000]
        self.check(not bad, f"{mode}: ranges page aligned, t in whole ms ({bad[:3]})")
        merged = all(not (w[i][1] == w[i + 1][0] and w[i][2] == w[i + 1][2]) for i in range(len(w) - 1))
        self.check(merged and all(w[i][1] <= w[i + 1][0] for i in range(len(w) - 1)), f"{mode}: written is sorted and ranges of equal t merged")

    # ---- THP, mremap, fork, exec --------------------------------------------

    def events(self, mode):
        extra = ["--heat=100"] + (["--sample"] if mode == "sampled" else [])
        launcher = subprocess.run(self.run_cmd(extra, [self.args.program]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.check(launcher.returncode == 0, f"{mode}: heat_events exits 0 ({launcher.returncode}) {launcher.stderr.strip()[-300:]}")
        got = {}
        for line in launcher.stdout.splitlines():
            f = line.split()
            if f and f[0] == "SMAPS_THP":
                print(f"info {mode}: AnonHugePages of the huge page: {f[1]} kB after populating, {f[2]} kB after one more write (a write to a write-protected huge page splits it)")
            elif len(f) == 4:
                got[f[0]] = (int(f[1]), int(f[2], 16), int(f[3], 16))
        doc = self.api()
        pid, s, e = got["THP"]
        _, proc = written_of(doc, pid)
        w = proc["written"]
        pp = per_page(w, s, e)
        self.check(len(pp) == 512, f"{mode}: every page of the 2 MiB region seen written ({len(pp)}/512)")
        third = s + 3 * PAGE
        others = max((t for a, t in pp.items() if a != third), default=0)
        self.check(pp.get(third, 0) > others, f"{mode}: the page written again later has the latest time ({pp.get(third, 0) / 1e9:.3f} s, others at most {others / 1e9:.3f} s)")
        pid, s, e = got["MOVED"]
        pp = per_page(w, s, e)
        self.check(s in pp, f"{mode}: the moved buffer's rewritten first page is seen at its new address")
        if mode == "sampled":
            self.check(len(pp) == 16 and len(set(pp.values())) == 2, f"{mode}: the other moved pages keep their last-write time ({len(pp)} pages, {len(set(pp.values()))} times)")
        pid, s, e = got["EXEC"]
        _, proc = written_of(doc, pid)
        pp = per_page(proc["written"], s, e)
        self.check(len(pp) == 8, f"{mode}: the exec'd child's buffer is seen written ({len(pp)}/8)")

    # ---- a program with a userfaultfd of its own ---------------------------------

    def own_uffd(self, mode):
        extra = ["--heat=100"] + (["--sample"] if mode == "sampled" else [])
        r = subprocess.run(self.run_cmd(extra, [self.args.program]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        if r.returncode == 77:
            print("SKIP: no asynchronous write-protect userfaultfd here")
            raise SystemExit(77)
        self.check(r.returncode == 0, f"{mode}: the program's own registrations all worked (exit {r.returncode}) {r.stderr.strip()[-300:]}")
        if mode == "sampled":
            self.check("uses userfaultfd itself" in r.stderr, f"{mode}: mevi-run says heat is off for it")

    # ---- detach ----------------------------------------------------------------

    def detach(self):
        prog = subprocess.Popen([self.args.program, "8", "", "200"], stdout=subprocess.PIPE, text=True)
        line = prog.stdout.readline().split()
        pid, hot, once, never, n = int(line[1]), int(line[2], 16), int(line[3], 16), int(line[4], 16), int(line[5])
        launcher = subprocess.Popen(self.run_cmd(["--heat=100", "--pid", str(pid)], []), stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        wp = scan(pid, hot, hot + n * PAGE, PAGE_IS_WPALLOWED)
        self.check(pages(wp, hot, hot + n * PAGE) == n, f"attach: the hot buffer is registered for write-protect ({pages(wp, hot, hot + n * PAGE)}/{n})")
        launcher.send_signal(signal.SIGINT)
        launcher.wait(20)
        self.check(launcher.returncode == 0, f"detach: mevi-run exits 0 ({launcher.returncode})")
        time.sleep(0.3)
        left = 0
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pm:
            for l in maps:
                a, b = (int(x, 16) for x in l.split()[0].split("-"))
                if a >= 1 << 47:
                    continue
                pm.seek(a // PAGE * 8)
                data = pm.read((b - a) // PAGE * 8)
                for (ent,) in struct.iter_unpack("Q", data):
                    left += bool(ent & PM_UFFD_WP)
        self.check(left == 0, f"detach: no page left write-protected (pagemap bit 57 on {left} pages)")
        wp = scan(pid, hot, hot + n * PAGE, PAGE_IS_WPALLOWED)
        self.check(pages(wp, hot, hot + n * PAGE) == 0, "detach: no range registered any more")
        uffds = [f for f in os.listdir(f"/proc/{pid}/fd") if os.readlink(f"/proc/{pid}/fd/{f}") == "anon_inode:[userfaultfd]"]
        self.check(not uffds, f"detach: the process holds no userfaultfd ({uffds})")
        prog.wait(30)
        self.check(prog.returncode == 0, f"detach: the program finishes with status 0 ({prog.returncode})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mevid", required=True)
    ap.add_argument("--mevi-run", required=True)
    ap.add_argument("--three")
    ap.add_argument("--events")
    ap.add_argument("--detach", action="store_true")
    ap.add_argument("--own-uffd")
    ap.add_argument("program")
    args = ap.parse_args()
    t = Test(args)
    try:
        if args.three:
            t.three(args.three)
        if args.events:
            t.events(args.events)
        if args.detach:
            t.detach()
        if args.own_uffd:
            t.own_uffd(args.own_uffd)
    except Exception as e:  # a crash of the test is a failure with its reason
        t.errors.append(f"{type(e).__name__}: {e}")
        print(f"FAIL {type(e).__name__}: {e}", flush=True)
    finally:
        err = t.mevi.stop()
        if err:
            t.errors.append(err)
    print(f"heat: {len(t.errors)} failure(s)")
    return 1 if t.errors else 0


if __name__ == "__main__":
    sys.exit(main())
