#!/usr/bin/env python3
"""Accuracy harness: runs one scenario and, at every checkpoint, compares what mevi
reports in /api/state with the kernel's own answer (/proc/PID/pagemap).

    harness.py --mevid PATH --mevi-run PATH [options] -- SCENARIO [ARGS...]
    harness.py --native [options] -- SCENARIO [ARGS...]

Sampled mode (--sample) runs `mevi-run --sample` instead and compares every mapping
of every kind (files, shared memory, stacks) page for page, swap included; it also
checks each mapping's kind and that the per-kind resident bytes add up to the
kernel's VmRSS. Attach mode (--attach) starts the scenario without mevi, attaches
`mevi-run --pid` at its first checkpoint, compares as in sampled mode, detaches
after --detach-after-checkpoints checkpoints, and checks that the scenario then
runs to its expected exit status (its syscalls keep working without mevi).

Mevi mode starts a private mevid (temporary socket directory, free loopback port),
runs the scenario under `mevi-run --socket S --no-spawn`, and at every checkpoint
polls /api/state until mevi agrees with the kernel page for page (or a deadline
passes, and then prints a precise diff). Native mode runs the scenario without mevi
and checks only the checkpoint protocol, the pagemap reader, the scenario's own
self-checks and its exit status: it validates the scenarios themselves.

The checkpoint protocol and the comparison rules are described in README.md next to
this file. Python 3 standard library only.
"""

import argparse
import array
import errno
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PAGE = 4096
# Special mappings that are private and have inode 0 but are not anonymous memory.
SPECIAL = {"[vvar]", "[vdso]", "[vsyscall]", "[uprobes]", "[vvar_vclock]"}
STATES = ("resident", "not_resident", "untracked", "swapped")
SWAPPED = "swapped"  # the third value of a run's "present" field in sampled mode
STOP_WAIT = 10.0  # seconds for a process to reach the stopped state
RESUME_WAIT = 5.0  # seconds for a process to leave the stopped state after SIGCONT
MAX_DIFF_LINES = 40


class Failure(Exception):
    """A failed check of the whole run (not of one checkpoint)."""


def log(msg):
    print(msg, flush=True)


# --------------------------------------------------------------------------------------
# Kernel truth
# --------------------------------------------------------------------------------------


class Vma:
    """One private anonymous mapping from /proc/PID/maps."""

    __slots__ = ("start", "end", "line")

    def __init__(self, start, end, line):
        self.start, self.end, self.line = start, end, line


def read_anon_vmas(pid, every_kind=False):
    """Returns the process's private anonymous mappings, sorted: lines of /proc/PID/maps
    whose permissions have 'p' and whose inode is 0, except the special mappings.
    With every_kind, every mapping."""
    vmas = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            if len(fields) < 5:
                continue
            perms, inode = fields[1], fields[4]
            path = fields[5].strip() if len(fields) > 5 else ""
            if every_kind:
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                # [vsyscall] lies above user space (2^56): no pagemap, not in VmRSS.
                if hi <= 1 << 56:
                    vmas.append(Vma(lo, hi, line.rstrip()))
                continue
            if len(perms) < 4 or perms[3] != "p" or inode != "0":
                continue
            if path in SPECIAL:
                continue
            if path and not (path in ("[heap]", "[stack]") or path.startswith("[anon:")):
                continue
            lo, hi = fields[0].split("-")
            vmas.append(Vma(int(lo, 16), int(hi, 16), line.rstrip()))
    vmas.sort(key=lambda v: v.start)
    return vmas


# Maps each pagemap entry's top byte to b"1" when the present bit (63) is set. The
# swapped bit (62) counts as not resident, except in sampled mode (b"2").
_PRESENT = bytes(b"1"[0] if (i & 0x80) else b"0"[0] for i in range(256))
_PRESENT_SWAPPED = bytes(b"1"[0] if (i & 0x80) else b"2"[0] if (i & 0x40) else b"0"[0] for i in range(256))
_RUN_VALUE = {0x30: False, 0x31: True, 0x32: SWAPPED}


def read_truth(pid, every_kind=False):
    """Reads the kernel's view: returns (vmas, runs), runs being sorted
    (start, end, present) tuples covering exactly the private anonymous mappings
    (every mapping with every_kind, present then being True, False or SWAPPED)."""
    vmas = read_anon_vmas(pid, every_kind)
    table = _PRESENT_SWAPPED if every_kind else _PRESENT
    runs = []
    fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY)
    try:
        for v in vmas:
            npages = (v.end - v.start) // PAGE
            want = npages * 8
            data = os.pread(fd, want, (v.start // PAGE) * 8)
            if len(data) != want:
                raise OSError(errno.EIO, f"short pagemap read for {v.line}: {len(data)} of {want} bytes")
            bits = data[7::8].translate(table)
            for m in re.finditer(rb"1+|0+|2+", bits):
                runs.append((v.start + m.start() * PAGE, v.start + m.end() * PAGE, _RUN_VALUE[bits[m.start()]]))
    finally:
        os.close(fd)
    return vmas, runs


def expected_kind(line):
    """The kind mevi must give a line of /proc/PID/maps (thread stacks, which maps
    cannot tell from other anonymous memory, are "anon" here)."""
    fields = line.split(None, 5)
    perms, inode = fields[1], fields[4]
    path = fields[5].strip() if len(fields) > 5 else ""
    shared = len(perms) > 3 and perms[3] == "s"
    if path == "[heap]":
        return "heap"
    if path == "[stack]":
        return "stack"
    if path.startswith("[anon:"):
        return "anon"
    if path.startswith("[anon_shmem:"):
        return "shmem"
    if path.startswith("["):
        return "special"
    if inode == "0":
        return "shmem" if shared else "anon"
    if path.startswith(("/memfd:", "/dev/shm/", "/SYSV")) or (shared and path.startswith("/dev/zero")):
        return "shmem"
    return "file"


def vm_rss(pid):
    """VmRSS of /proc/PID/status in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise OSError(errno.ENOENT, f"no VmRSS in /proc/{pid}/status")


def find_zero_pfn():
    """The page frame of the kernel's shared zero page, as pagemap shows it to root
    (a private anonymous page that was only read maps it), or None."""
    import mmap

    m = mmap.mmap(-1, PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        _ = m[0]
        addr = ctypes_addr(m)
        with open("/proc/self/pagemap", "rb") as f:
            f.seek(addr // PAGE * 8)
            entry = struct.unpack("<Q", f.read(8))[0]
    finally:
        m.close()
    pfn = entry & ((1 << 55) - 1)
    return pfn if entry >> 63 and pfn else None


def ctypes_addr(m):
    import ctypes

    return ctypes.addressof(ctypes.c_char.from_buffer(m))


def count_zero_pages(pid, vmas, zero_pfn):
    """Present pages of pid that map the shared zero page (the kernel shows them
    present in pagemap but does not count them in VmRSS)."""
    n = 0
    fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY)
    try:
        for v in vmas:
            data = os.pread(fd, (v.end - v.start) // PAGE * 8, (v.start // PAGE) * 8)
            ents = array.array("Q", data)
            want = (1 << 63) | zero_pfn
            mask = (1 << 63) | ((1 << 55) - 1)
            n += sum(1 for e in ents if e & mask == want)
    finally:
        os.close(fd)
    return n


def count_present(runs, start, end):
    """Number of present pages of runs within [start, end)."""
    n = 0
    for s, e, present in runs:
        if present is True and e > start and s < end:
            n += (min(e, end) - max(s, start)) // PAGE
    return n


# --------------------------------------------------------------------------------------
# Process state
# --------------------------------------------------------------------------------------


def task_states(pid):
    """Returns {tid: state letter} for every thread of pid, or None if pid is gone."""
    states = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the thread exited meanwhile
        states[int(tid)] = stat[stat.rindex(")") + 2]
    if not states:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        if stat[stat.rindex(")") + 2] in "ZX":
            return None
    except OSError:
        return None
    return states


def all_stopped(states):
    return all(s in "Tt" for s in states.values())


def wait_stopped(pid, timeout=STOP_WAIT):
    """Waits until every thread of pid is stopped (T or t). Returns None on success,
    else an error message."""
    deadline = time.monotonic() + timeout
    while True:
        states = task_states(pid)
        if states is None:
            return f"process {pid} vanished before it stopped"
        if all_stopped(states):
            return None
        if time.monotonic() > deadline:
            pretty = " ".join(f"{t}:{s}" for t, s in sorted(states.items()))
            return f"process {pid} did not stop within {timeout:.0f} s (thread states {pretty})"
        time.sleep(0.002)


def wait_resumed(pid, line_reader, timeout=RESUME_WAIT):
    """After SIGCONT: waits until pid runs again (some thread not stopped), exits, or
    writes its next line. Returns None on success, else an error message."""
    deadline = time.monotonic() + timeout
    while True:
        states = task_states(pid)
        if states is None or not all_stopped(states):
            return None
        if line_reader.pending():
            return None
        if time.monotonic() > deadline:
            return f"process {pid} did not resume within {timeout:.0f} s of SIGCONT (job control broken?)"
        time.sleep(0.002)


class LineReader:
    """Non-blocking reader of the checkpoint pipe: complete lines only."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b""
        self.lines = []
        self.eof = False
        os.set_blocking(fd, False)

    def _fill(self, timeout):
        if self.eof:
            return
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                self.eof = True
                break
            self.buf += chunk
        *full, self.buf = self.buf.split(b"\n")
        self.lines.extend(x.decode("utf-8", "replace") for x in full)

    def pending(self):
        self._fill(0)
        return bool(self.lines)

    def get(self, timeout):
        """Returns the next line, or None if none arrived within timeout."""
        if not self.lines:
            self._fill(timeout)
        return self.lines.pop(0) if self.lines else None


# --------------------------------------------------------------------------------------
# mevi's view
# --------------------------------------------------------------------------------------


class Mevi:
    """A private mevid and the HTTP client for its /api/state."""

    def __init__(self, mevid, workdir):
        self.workdir = workdir
        self.socket = os.path.join(workdir, "mevid.sock")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.err_path = os.path.join(workdir, "mevid.stderr")
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        err = open(self.err_path, "wb")
        cmd = interpreted(mevid) + ["--foreground", "--socket", self.socket, "--listen", f"127.0.0.1:{self.port}"]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT)
        err.close()
        self.stopped = False

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"mevid exited with status {self.proc.returncode} during start-up")
            try:
                self.state()
                if os.path.exists(self.socket):
                    return
                last = f"socket {self.socket} not created"
            except (OSError, ValueError) as e:
                last = e
            time.sleep(0.02)
        raise Failure(f"mevid not ready within {timeout:.0f} s: {last}")

    def state(self, pid=None):
        """GETs /api/state (narrowed to pid if given); raises OSError/ValueError."""
        url = self.url + "/api/state" + (f"?pid={pid}" if pid is not None else "")
        with self.opener.open(url, timeout=2.0) as r:
            if r.status != 200:
                raise OSError(f"HTTP {r.status} from {url}")
            doc = json.loads(r.read())
        if not isinstance(doc, dict) or not isinstance(doc.get("sessions"), list):
            raise ValueError(f"{url}: no 'sessions' list in the answer")
        return doc

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """Stops mevid; returns an error message if it had died or exits badly."""
        if self.stopped:
            return None
        self.stopped = True
        if self.proc.poll() is not None:
            return f"mevid died during the test (status {describe_status(self.proc.returncode)})"
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "mevid did not exit within 5 s of SIGTERM (killed)"
        rc = self.proc.returncode
        if rc not in (0, -signal.SIGTERM):
            return f"mevid exited with status {describe_status(rc)} after SIGTERM"
        return None


def interpreted(path):
    """The command that runs path: Python scripts (the harness's own mock_mevi.py) run
    with this interpreter, so that they need no exec bit."""
    return [sys.executable, path] if path.endswith(".py") else [path]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_process(doc, pid):
    """The process entry for pid in an /api/state document: the alive one, else the last
    one (pid reuse). Returns (session, process) or (None, None)."""
    found = (None, None)
    for sess in doc.get("sessions", []):
        for proc in sess.get("processes", []) or []:
            if proc.get("pid") == pid:
                if proc.get("alive"):
                    return sess, proc
                found = (sess, proc)
    return found


def check_ranges(proc):
    """Validates the shape of a process's ranges. Returns (ranges, problems)."""
    problems = []
    out = []
    ranges = proc.get("ranges")
    if not isinstance(ranges, list):
        return [], ["'ranges' is not a list"]
    prev = None
    for r in ranges:
        if not (isinstance(r, list) and len(r) == 3 and isinstance(r[0], int) and isinstance(r[1], int)):
            problems.append(f"malformed range {r!r}")
            continue
        s, e, st = r
        if st not in STATES:
            problems.append(f"unknown state in {r!r}")
        if s % PAGE or e % PAGE:
            problems.append(f"unaligned range [{s:#x}, {e:#x})")
        if s >= e:
            problems.append(f"empty or inverted range [{s:#x}, {e:#x})")
        if prev is not None:
            if s < prev[1]:
                problems.append(f"range [{s:#x}, {e:#x}) overlaps or precedes [{prev[0]:#x}, {prev[1]:#x})")
            elif s == prev[1] and st == prev[2]:
                problems.append(f"adjacent ranges of equal state not merged at {s:#x} ({st})")
        prev = (s, e, st)
        out.append((s, e, st))
    rss = sum(e - s for s, e, st in out if st == "resident")
    vsz = sum(e - s for s, e, st in out)
    if proc.get("rss") != rss:
        problems.append(f"rss {proc.get('rss')} != {rss} bytes in resident ranges")
    if proc.get("vsz") != vsz:
        problems.append(f"vsz {proc.get('vsz')} != {vsz} bytes in all ranges")
    return out, problems


# --------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------


def overlay(a, b):
    """Sweeps two sorted lists of non-overlapping (start, end, value) and yields
    (start, end, value_a, value_b) for every piece covered by either, None where a
    list has nothing."""
    points = sorted({x for s, e, _ in a for x in (s, e)} | {x for s, e, _ in b for x in (s, e)})
    i = j = 0
    for lo, hi in zip(points, points[1:]):
        while i < len(a) and a[i][1] <= lo:
            i += 1
        while j < len(b) and b[j][1] <= lo:
            j += 1
        va = a[i][2] if i < len(a) and a[i][0] <= lo else None
        vb = b[j][2] if j < len(b) and b[j][0] <= lo else None
        if va is not None or vb is not None:
            yield lo, hi, va, vb


class Comparison:
    """Result of comparing kernel runs with mevi ranges at one instant."""

    def __init__(self, runs, ranges):
        self.pages = sum((e - s) // PAGE for s, e, _ in runs)
        self.present = sum((e - s) // PAGE for s, e, p in runs if p is True)
        self.swapped = sum((e - s) // PAGE for s, e, p in runs if p == SWAPPED)
        self.untracked = 0
        self.untracked_present = 0
        self.mismatches = []  # (start, end, kernel, mevi)
        truth = [(s, e, SWAPPED if p == SWAPPED else "present" if p else "absent") for s, e, p in runs]
        for lo, hi, k, m in overlay(truth, ranges):
            if k is not None and m == "untracked":
                self.untracked += (hi - lo) // PAGE
                if k == "present":
                    self.untracked_present += (hi - lo) // PAGE
                continue
            ok = (
                (k == "present" and m == "resident")
                or (k == "absent" and m == "not_resident")
                or (k == SWAPPED and m == "swapped")
            )
            if not ok:
                if self.mismatches and self.mismatches[-1][1] == lo and self.mismatches[-1][2:] == (k, m):
                    self.mismatches[-1] = (self.mismatches[-1][0], hi, k, m)
                else:
                    self.mismatches.append((lo, hi, k, m))

    @property
    def mismatched_pages(self):
        return sum((e - s) // PAGE for s, e, _, _ in self.mismatches)


def vma_of(vmas, addr):
    for v in vmas:
        if v.start <= addr < v.end:
            return v.line
    return "<no private anonymous mapping>"


def format_diff(cmp, vmas):
    lines = []
    for s, e, k, m in cmp.mismatches[:MAX_DIFF_LINES]:
        kernel = {"present": "present", "absent": "not present", SWAPPED: "swapped", None: "no mapping"}[k]
        mevi = m if m is not None else "no range"
        lines.append(
            f"    [{s:#x}, {e:#x}) {(e - s) // PAGE:8d} pages  kernel: {kernel:22s} mevi: {mevi:12s}  in {vma_of(vmas, s)}"
        )
    if len(cmp.mismatches) > MAX_DIFF_LINES:
        lines.append(f"    ... and {len(cmp.mismatches) - MAX_DIFF_LINES} more mismatched ranges")
    return "\n".join(lines)


EXPECT_RE = re.compile(r"^(0x[0-9a-fA-F]+|[0-9a-fA-F]+)-(0x[0-9a-fA-F]+|[0-9a-fA-F]+)=(\d+)(?:\.\.(\d+))?$")


def parse_expectations(tokens):
    out = []
    for t in tokens:
        m = EXPECT_RE.match(t)
        if not m:
            raise ValueError(f"malformed self-check token {t!r}")
        lo = int(m.group(3))
        hi = int(m.group(4)) if m.group(4) is not None else lo
        out.append((int(m.group(1), 16), int(m.group(2), 16), lo, hi))
    return out


def check_expectations(expects, runs):
    """Checks the scenario's self-checks against the kernel truth; returns problems."""
    problems = []
    for s, e, lo, hi in expects:
        n = count_present(runs, s, e)
        if not lo <= n <= hi:
            want = f"{lo}" if lo == hi else f"{lo}..{hi}"
            problems.append(f"self-check [{s:#x}, {e:#x}): kernel has {n} present pages, scenario expects {want}")
    return problems


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


def describe_status(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return f"killed by {name} ({128 - rc})"
    return str(rc)


def shell_status(rc):
    """Popen return code -> shell-style exit status (128+N for signal N)."""
    return 128 - rc if rc < 0 else rc


class Stats:
    def __init__(self):
        self.checkpoints = 0
        self.failed = 0
        self.pages = 0
        self.mismatches = 0
        self.untracked = 0
        self.self_checks = 0
        self.pids = set()


class Harness:
    def __init__(self, args):
        self.args = args
        self.native = args.native
        self.stats = Stats()
        self.errors = []
        self.mevi = None
        self.proc = None
        self.reader = None
        self.sampled = args.sample or (args.attach and not args.exact)
        self.attacher = None  # attach mode: the mevi-run --pid process
        self.attach_out = None
        self.compared = 0  # checkpoints compared with mevi
        self.detached = False
        self.zero_pfn = find_zero_pfn() if self.sampled else None

    # One checkpoint ----------------------------------------------------------------

    def checkpoint(self, pid, name, expects):
        """Handles one checkpoint of a stopped (or stopping) pid, then resumes it."""
        st = self.stats
        st.checkpoints += 1
        st.pids.add(pid)
        tag = f"checkpoint {st.checkpoints} '{name}' pid {pid}"
        try:
            err = wait_stopped(pid)
            if err:
                self.fail_cp(f"{tag}: {err}")
                return
            try:
                vmas, runs = read_truth(pid, self.sampled)
            except OSError as e:
                self.fail_cp(f"{tag}: cannot read /proc/{pid}/maps or pagemap: {e}")
                return
            problems = check_expectations(expects, runs)
            self.stats.self_checks += len(expects)
            if self.args.attach and self.attacher is None and self.compared == 0:
                self.attach(pid)
            if self.native or (self.args.attach and (self.attacher is None or self.detached)):
                self.native_checks(tag, vmas, runs, problems, len(expects))
            else:
                self.compare_with_mevi(tag, pid, problems)
                self.compared += 1
                if self.args.attach and self.compared >= self.args.detach_after_checkpoints:
                    self.detach()
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            err = wait_resumed(pid, self.reader)
            if err:
                self.fail_cp(f"{tag}: {err}")

    # Attach mode ---------------------------------------------------------------------

    def attach(self, pid):
        cmd = interpreted(self.args.mevi_run) + ["--socket", self.mevi.socket, "--no-spawn", "--pid", str(pid)]
        if self.args.exact:
            cmd.append("--exact")
        if self.args.engine:
            cmd.append("--engine=" + self.args.engine)
        log(f"harness: attaching: {' '.join(cmd)}")
        self.attach_out = open(os.path.join(self.workdir, "attach.output"), "wb")
        self.attacher = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self.attach_out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def detach(self):
        """Ctrl-C to mevi-run --pid: it must let go and exit 0 within a few seconds."""
        log("harness: detaching (SIGINT to mevi-run --pid)")
        self.attacher.send_signal(signal.SIGINT)
        try:
            rc = self.attacher.wait(10)
        except subprocess.TimeoutExpired:
            self.attacher.kill()
            self.attacher.wait()
            raise Failure("mevi-run --pid did not exit within 10 s of SIGINT")
        if rc != 0:
            self.errors.append(f"mevi-run --pid exited with status {describe_status(rc)} after SIGINT, expected 0")
        else:
            log("  mevi-run --pid detached and exited with status 0")
        self.detached = True

    # Sampled mode: kinds and VmRSS ---------------------------------------------------

    def kind_checks(self, pid, proc, vmas, runs):
        """Problems with the kinds mevi gives the mappings, and with its per-kind RSS
        against the kernel's VmRSS."""
        problems = []
        mappings = proc.get("mappings")
        by_kind = proc.get("rss_by_kind")
        if not isinstance(mappings, list) or not isinstance(by_kind, dict):
            return ["no 'mappings' list or 'rss_by_kind' object in /api/state"]
        want = [(v.start, v.end, expected_kind(v.line)) for v in vmas]
        got = [(m[0], m[1], m[2]) for m in mappings]
        for lo, hi, k, m in overlay(want, got):
            if k is None:
                continue  # an annotation of unmapped space: meaningless, allowed
            if m == k or (k == "anon" and m == "thread_stack"):
                continue
            problems.append(f"[{lo:#x}, {hi:#x}) is {m or 'without a kind'} in mevi, {k} in /proc/{pid}/maps")
            if len(problems) > 10:
                break
        total = sum(by_kind.values())
        if total != proc.get("rss"):
            problems.append(f"rss_by_kind adds up to {total}, rss is {proc.get('rss')}")
        try:
            rss = vm_rss(pid)
            zero = count_zero_pages(pid, vmas, self.zero_pfn) if self.zero_pfn else 0
        except OSError as e:
            return problems + [f"cannot read VmRSS or pagemap: {e}"]
        # The kernel shows the shared zero page as present but does not count it.
        diff = total - zero * PAGE - rss
        tolerance = PAGE * len(vmas)
        self.rss_note = f"VmRSS {rss} B, mevi {total} B ({zero} zero-page pages), off by {diff} B"
        if abs(diff) > tolerance:
            problems.append(f"per-kind RSS {total} B - {zero} zero pages != VmRSS {rss} B (off by {diff} B, more than one page per mapping)")
        return problems

    def native_checks(self, tag, vmas, runs, problems, nexpects):
        st = self.stats
        pages = sum((e - s) // PAGE for s, e, _ in runs)
        present = sum((e - s) // PAGE for s, e, p in runs if p is True)
        stack = [v for v in vmas if v.line.endswith("[stack]")]
        if not stack:
            problems.append("no [stack] mapping found in /proc/PID/maps")
        elif count_present(runs, stack[0].start, stack[0].end) == 0:
            problems.append("pagemap reports no present page in [stack]: the pagemap reader is broken")
        st.pages += pages
        if problems:
            self.fail_cp(f"{tag}: " + "; ".join(problems))
        else:
            log(
                f"  {tag}: ok: {len(vmas)} {'' if self.sampled else 'private anonymous '}mappings, {pages} pages, {present} present, "
                f"{nexpects} self-checks"
            )

    def compare_with_mevi(self, tag, pid, problems):
        """Polls /api/state until it agrees with the kernel or the deadline passes."""
        st = self.stats
        start = time.monotonic()
        deadline = start + self.args.deadline
        last_err = None
        cmp = None
        vmas = []
        shape = []
        proc = None
        polls = 0
        while True:
            polls += 1
            try:
                vmas, runs = read_truth(pid, self.sampled)  # re-read: a stopped process may still change (THP, reclaim)
            except OSError as e:
                self.fail_cp(f"{tag}: cannot read /proc/{pid}/maps or pagemap: {e}")
                return
            try:
                doc = self.mevi.state(pid)
                _, proc = find_process(doc, pid)
                last_err = None if proc else f"pid {pid} is not in /api/state?pid={pid}"
            except (OSError, ValueError) as e:
                proc, last_err = None, f"/api/state: {e}"
            if proc is not None:
                ranges, shape = check_ranges(proc)
                cmp = Comparison(runs, ranges)
                if not shape and not cmp.mismatches and self.sampled:
                    shape = self.kind_checks(pid, proc, vmas, runs)
                if not shape and not cmp.mismatches:
                    break
            if not self.mevi.alive():
                last_err = f"mevid died (status {describe_status(self.mevi.proc.returncode)})"
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        took = time.monotonic() - start
        if cmp is not None:
            st.pages += cmp.pages
            st.untracked += cmp.untracked
        ok = proc is not None and cmp is not None and not shape and not cmp.mismatches
        if ok and not problems:
            extra = ""
            if cmp.untracked:
                extra = f", {cmp.untracked} untracked ({cmp.untracked_present} of them present)"
            if self.sampled:
                extra += f", {cmp.swapped} swapped; kinds agree, {self.rss_note}"
            log(f"  {tag}: agree after {took:.2f} s ({polls} polls): {cmp.pages} pages, {cmp.present} present{extra}")
            if cmp.untracked and self.args.fail_on_untracked:
                self.fail_cp(f"{tag}: {cmp.untracked} untracked pages (--fail-on-untracked)")
            return
        msg = [f"{tag}: FAILED after {took:.2f} s ({polls} polls)"]
        msg += [f"  scenario: {p}" for p in problems]
        if last_err:
            msg.append(f"  {last_err}")
        msg += [f"  /api/state: {p}" for p in shape[:MAX_DIFF_LINES]]
        if cmp is not None and cmp.mismatches:
            st.mismatches += cmp.mismatched_pages
            msg.append(
                f"  {cmp.mismatched_pages} mismatched pages in {len(cmp.mismatches)} ranges "
                f"(of {cmp.pages} pages, {cmp.present} present in the kernel, {cmp.untracked} untracked in mevi):"
            )
            msg.append(format_diff(cmp, vmas))
        self.fail_cp("\n".join(msg))

    def fail_cp(self, msg):
        self.stats.failed += 1
        self.errors.append(msg)
        log(f"  {msg}")

    # Harness-driven stops (SIGSTOP/SIGCONT of a running process) -------------------

    def harness_stops(self, pid):
        for k in range(1, self.args.harness_stops + 1):
            time.sleep(0.03 * k)
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                self.fail_cp(f"harness stop {k}: process {pid} is gone")
                return
            self.checkpoint(pid, f"harness-stop-{k}", [])
        try:
            os.kill(pid, signal.SIGUSR1)
        except ProcessLookupError:
            self.fail_cp(f"process {pid} is gone before SIGUSR1")

    # Main loop ---------------------------------------------------------------------

    def run(self):
        args = self.args
        workdir = tempfile.mkdtemp(prefix="mevi-acc-")
        self.workdir = workdir
        out_path = os.path.join(workdir, "program.output")
        try:
            if not self.native:
                self.mevi = Mevi(args.mevid, workdir)
                self.mevi.wait_ready()
            if self.native or args.attach:
                cmd = list(args.program)
            else:
                sample = ["--sample"] if args.sample else []
                if args.layout_scan:
                    sample.append("--layout=scan")
                if args.engine:
                    sample.append("--engine=" + args.engine)
                cmd = interpreted(args.mevi_run) + ["--socket", self.mevi.socket, "--no-spawn"] + sample + ["--"] + args.program
            rfd, wfd = os.pipe()
            env = dict(os.environ)
            env["MEVI_CHECKPOINT_FD"] = str(wfd)
            out = open(out_path, "wb")
            log(f"harness: {self.mode_name()} run: {' '.join(cmd)}")
            self.started = time.monotonic()
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                pass_fds=(wfd,), start_new_session=True
            )
            out.close()
            os.close(wfd)
            self.reader = LineReader(rfd)
            self.loop()
            self.final_checks()
        except Failure as e:
            self.errors.append(str(e))
            log(f"  {e}")
        finally:
            self.cleanup()
        return self.report(out_path)

    def mode_name(self):
        if self.native:
            return "native"
        return "attach" if self.args.attach else "sampled" if self.args.sample else "mevi"

    def loop(self):
        deadline = self.started + self.args.timeout
        while True:
            if time.monotonic() > deadline:
                raise Failure(f"timeout: the run took more than {self.args.timeout:.0f} s (hung?)")
            line = self.reader.get(0.05)
            if line is None:
                if self.reader.eof and self.proc.poll() is not None:
                    return
                if self.reader.eof:
                    self.proc_wait(deadline)
                    return
                continue
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "MEVI_CHECKPOINT":
                try:
                    pid = int(parts[1])
                    expects = parse_expectations(parts[3:])
                except ValueError as e:
                    raise Failure(f"bad checkpoint line {line!r}: {e}")
                self.checkpoint(pid, parts[2], expects)
            elif len(parts) == 2 and parts[0] == "MEVI_RUNNING":
                pid = int(parts[1])
                if self.args.harness_stops:
                    self.harness_stops(pid)
            else:
                log(f"harness: ignoring unexpected line on the checkpoint pipe: {line!r}")

    def proc_wait(self, deadline):
        try:
            self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise Failure(f"timeout: the run took more than {self.args.timeout:.0f} s (hung?)")

    def final_checks(self):
        args = self.args
        if self.proc.poll() is None:
            self.proc_wait(self.started + args.timeout)
        rc = self.proc.returncode
        status = shell_status(rc)
        who = "scenario" if self.native or args.attach else "mevi-run"
        if status != args.expect_exit:
            self.errors.append(f"{who} exit status {describe_status(rc)}, expected {args.expect_exit}")
        else:
            log(f"  {who} exited with status {status} as expected")
        if self.stats.checkpoints == 0:
            self.errors.append("the scenario reached no checkpoint (is MEVI_CHECKPOINT_FD passed through?)")
        if args.attach:
            if self.attacher is None:
                self.errors.append("mevi-run --pid never attached (no checkpoint reached?)")
            elif not self.detached:
                self.detach()
            if self.compared == 0:
                self.errors.append("no checkpoint was compared with mevi while attached")
            if self.attacher is not None and args.engine == "ebpf":
                self.attach_engine_checks()
        elif not self.native:
            self.final_mevi_checks()

    def poll_state(self, judge):
        """Asks /api/state until judge(doc) finds nothing wrong or the deadline passes;
        returns what it found last (a list of problems, empty when all is well)."""
        deadline = time.monotonic() + self.args.deadline
        while True:
            try:
                doc = self.mevi.state()
            except (OSError, ValueError) as e:
                problems = [f"/api/state: {e}"]
            else:
                problems = judge(doc)
            if not problems or time.monotonic() > deadline:
                return problems
            time.sleep(0.02)

    def expect_state(self, judge, what, ok):
        """poll_state, then one error line naming what, or one log line saying ok.
        Returns whether all was well."""
        problems = self.poll_state(judge)
        if problems:
            self.errors.append(what + ": " + "; ".join(problems))
            return False
        log("  /api/state: " + ok)
        return True

    @staticmethod
    def engine_problems(sess):
        """The eBPF engine's promises about a session: it ran, and its 1 Hz reconcile pass
        had nothing to correct."""
        problems = []
        if sess.get("engine") != "ebpf":
            problems.append(f"session {sess.get('id')} engine={sess.get('engine')!r}, expected 'ebpf'")
        if sess.get("reconcile_corrections") != 0:
            problems.append(
                f"session {sess.get('id')} reconcile_corrections={sess.get('reconcile_corrections')!r}, "
                "expected 0 (the engine's events missed something its 1 Hz reconcile pass found)"
            )
        return problems

    def final_mevi_checks(self):
        """The session ended with the program's status; the top process and every process
        that checkpointed show alive: false, the top one with the expected exit status."""
        launcher = self.proc.pid

        def ended(what, obj):
            """A session or process that is over, with the program's exit status."""
            problems = []
            if obj.get("alive") is not False:
                problems.append(f"{what} alive={obj.get('alive')!r}, expected false")
            if obj.get("exit_status") != self.args.expect_exit:
                problems.append(f"{what} exit_status={obj.get('exit_status')!r}, expected {self.args.expect_exit}")
            return problems

        def judge(doc):
            problems = []
            sessions = [s for s in doc["sessions"] if s.get("launcher_pid") == launcher]
            if not sessions:
                return [f"no session with launcher_pid {launcher}"]
            sess = sessions[-1]
            problems += ended(f"session {sess.get('id')}", sess)
            if self.args.engine == "ebpf":
                problems += self.engine_problems(sess)
                if self.args.expect_drops and not sess.get("ring_drops"):
                    problems.append(f"session {sess.get('id')} ring_drops={sess.get('ring_drops')!r}, expected > 0")
            procs = sess.get("processes") or []
            # mevi-run execs the program, which keeps its pid (a mock
            # launcher is the program's parent instead).
            top = ([p for p in procs if p.get("pid") == launcher] or
                   [p for p in procs if p.get("ppid") == launcher])
            if not top:
                problems.append(f"no process with pid or ppid {launcher} (the launcher's) in the session")
            else:
                problems += ended(f"top process {top[-1].get('pid')}", top[-1])
            for pid in sorted(self.stats.pids):
                _, p = find_process({"sessions": [sess]}, pid)
                if p is None:
                    problems.append(f"checkpointed process {pid} missing from the session")
                elif p.get("alive") is not False:
                    problems.append(f"checkpointed process {pid} alive={p.get('alive')!r} after the run")
            return problems

        if self.expect_state(judge, "end of run",
                             f"session and processes ended, exit_status {self.args.expect_exit}"):
            if self.args.engine == "ebpf":
                log("  /api/state: engine ebpf, 0 reconcile corrections")

    def attach_engine_checks(self):
        """Attached with --engine ebpf: the session (launcher_pid: mevi-run --pid's own pid)
        ended detached, says engine ebpf, and its reconcile pass corrected nothing."""
        attacher = self.attacher.pid

        def judge(doc):
            sessions = [s for s in doc["sessions"] if s.get("launcher_pid") == attacher]
            if not sessions:
                return [f"no session with launcher_pid {attacher} (mevi-run --pid)"]
            sess = sessions[-1]
            problems = self.engine_problems(sess)
            if sess.get("end") != {"how": "detached"}:
                problems.append(f"session {sess.get('id')} end={sess.get('end')!r}, expected detached")
            return problems

        self.expect_state(judge, "attached session",
                          "attached session ended detached, engine ebpf, 0 reconcile corrections")

    def cleanup(self):
        if self.attacher is not None and self.attacher.poll() is None:
            self.attacher.kill()
            self.attacher.wait()
        if self.attach_out is not None:
            self.attach_out.close()
        if self.proc is not None and self.proc.poll() is None:
            # A hung run: kill the whole process group, and the scenario processes too in
            # case mevi-run moved them to another group.
            for pid in self.stats.pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if self.mevi is not None:
            err = self.mevi.stop()
            if err:
                self.errors.append(err)
        if self.reader is not None:
            os.close(self.reader.fd)

    def report(self, out_path):
        st = self.stats
        ok = not self.errors
        mode = self.mode_name()
        if not ok:
            log("\nFAILURES:")
            for e in self.errors:
                log("  " + e.replace("\n", "\n  "))
            show_tail("program output (stdout+stderr of " + ("the scenario" if self.native else "mevi-run and the scenario") + ")", out_path)
            if self.attach_out is not None:
                show_tail("mevi-run --pid output", os.path.join(self.workdir, "attach.output"))
            if self.mevi is not None:
                show_tail(f"mevid stderr ({' '.join(self.mevi.cmd)})", self.mevi.err_path)
        log(
            f"accuracy: {' '.join([os.path.basename(self.args.program[0])] + self.args.program[1:])} mode={mode} "
            f"checkpoints={st.checkpoints} "
            f"failed_checkpoints={st.failed} self_checks={st.self_checks} pages_compared={st.pages} mismatched_pages={st.mismatches} "
            f"untracked_pages={st.untracked} result={'PASS' if ok else 'FAIL'}"
        )
        if self.args.keep or (not ok and not self.args.discard_logs):
            log(f"harness: logs kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return 0 if ok else 1


def show_tail(title, path, lines=80):
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return
    log(f"\n--- {title}, last {min(lines, len(data))} of {len(data)} lines ---")
    for line in data[-lines:]:
        log("  | " + line)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--native", action="store_true", help="run without mevi (validates the scenario)")
    ap.add_argument("--mevid", default=os.environ.get("MEVID"), help="path of mevid (env MEVID)")
    ap.add_argument("--mevi-run", default=os.environ.get("MEVI_RUN"), help="path of mevi-run (env MEVI_RUN)")
    ap.add_argument("--expect-exit", type=int, default=0, help="expected exit status (128+N for signal N)")
    ap.add_argument("--harness-stops", type=int, default=0, metavar="K",
                    help="after the scenario's MEVI_RUNNING line, SIGSTOP it K times (checkpoint, SIGCONT), then SIGUSR1")
    ap.add_argument("--deadline", type=float, default=5.0, help="seconds for mevi to agree at a checkpoint")
    ap.add_argument("--timeout", type=float, default=100.0, help="seconds for the whole run")
    ap.add_argument("--sample", action="store_true", help="run mevi-run --sample: every kind of mapping, swap, VmRSS")
    ap.add_argument("--layout-scan", action="store_true", help="with --sample: mevi-run --layout=scan (no syscall stops)")
    ap.add_argument("--expect-drops", action="store_true",
                    help="with --engine ebpf: the session must report ring buffer drops (a tiny ring, "
                         "MEVI_BPF_RINGBUF) and still agree page for page")
    ap.add_argument("--engine", choices=["auto", "ebpf", "ptrace"],
                    help="mevi-run --engine=ENGINE; with ebpf, the session must say engine ebpf and "
                         "0 reconcile corrections at the end")
    ap.add_argument("--attach", action="store_true", help="attach mevi-run --pid at the first checkpoint (sampled)")
    ap.add_argument("--exact", action="store_true", help="attach mode: mevi-run --pid --exact (userfaultfd injected)")
    ap.add_argument("--detach-after-checkpoints", type=int, default=2, metavar="N",
                    help="attach mode: detach after N compared checkpoints (default 2)")
    ap.add_argument("--fail-on-untracked", action="store_true", help="count untracked pages as failures")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory with the logs (kept anyway on failure)")
    ap.add_argument("--discard-logs", action="store_true", help="remove the temporary directory even on failure")
    ap.add_argument("program", nargs=argparse.REMAINDER, help="-- SCENARIO [ARGS...]")
    args = ap.parse_args()
    if args.program and args.program[0] == "--":
        args.program = args.program[1:]
    if not args.program:
        ap.error("no scenario given")
    if not args.native and not (args.mevid and args.mevi_run):
        ap.error("give --mevid and --mevi-run (or --native)")
    sys.exit(Harness(args).run())


if __name__ == "__main__":
    main()
