#!/usr/bin/env python3
"""Backtraces and first-touch threads (issue 8), from mevi-run's own recording.

    test_backtraces.py --mevi-run PATH --dump PATH --source backtrace_prog.c PROG...

PROG are backtrace_prog built four ways (frame pointers or not, -g or not;
tests/launcher/CMakeLists.txt). Each check runs a program under
`mevi-run --record FILE --no-spawn` (no mevid needed) and reads the recording
back with dump_recording (JSON lines):

  paths     the origin of the regions mapped by alloc_big_a / alloc_big_b names
            that function in its stack (and backtrace_prog.c:LINE of the mmap
            call with -g); the sbrk growth names grow_heap_c, the mremap'd
            range remap_d; every stack precedes the first origin naming it and
            is sent once
  exit/exec a program that exits, or execs from another thread, while its
            threads are being unwound, 15 times each: the right exit status,
            no hang (each run has a timeout)
  threads   the pages of each thread's region are touched by that thread, and
            its thread event (sent before its first touch) carries the name it
            set with pthread_setname_np
  off       --backtraces=off: no stack, origin, thread or touch event at all

Python 3 standard library only; needs root (ptrace + userfaultfd).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from mevitest import check, finish  # noqa: E402

ARGS = None
ANNOTATIONS = {"stack", "origin", "thread", "touch"}


def launch(prog_args, workdir, extra=(), timeout=60, env_extra=None):
    """Runs prog_args under mevi-run --record (workdir/rec.mevi) with no daemon;
    returns the finished process, its output captured."""
    rec = os.path.join(workdir, "rec.mevi")
    if os.path.exists(rec):
        os.unlink(rec)
    engine = ["--engine=" + ARGS.engine] if ARGS.engine else []
    cmd = [ARGS.mevi_run, "--record", rec, "--no-spawn", *engine, *extra, "--", *prog_args]
    env = dict(os.environ, MEVI_SOCKET=os.path.join(workdir, "none.sock"), **(env_extra or {}))
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=env)


def run(prog_args, workdir, extra=(), timeout=60, env_extra=None):
    """Runs prog_args under mevi-run --record; returns (status, stdout, events)."""
    rec = os.path.join(workdir, "rec.mevi")
    p = launch(prog_args, workdir, extra, timeout, env_extra)
    d = subprocess.run([ARGS.dump, rec], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if d.returncode != 0:
        raise RuntimeError("dump_recording: " + d.stderr.decode())
    events = [json.loads(line) for line in d.stdout.decode().splitlines()]
    return p.returncode, p.stdout.decode(), events


def origin_stack(events, start, end):
    """The frames of the last origin covering [start, end), or None. A stack
    sent again with the same id replaces the first (mevi-run sends new stacks
    at once with module names, then complete with functions and sources)."""
    stacks = {ev["stack_id"]: ev["frames"] for ev in events if ev["type"] == "stack"}
    found = None
    for ev in events:
        if ev["type"] == "origin" and ev["start"] <= start and end <= ev["end"]:
            found = stacks.get(ev["stack_id"])
    return found


def marker_line(marker):
    with open(ARGS.source) as f:
        for n, line in enumerate(f, 1):
            if marker in line:
                return n
    raise RuntimeError("no " + marker + " in " + ARGS.source)


def check_stack_order(name, events):
    """Every origin names a stack sent before it; a stack sent again (its
    functions and sources found) has the same program counters."""
    sent, ok, detail = {}, True, ""
    for ev in events:
        if ev["type"] == "stack":
            pcs = [f[0] for f in ev["frames"]]
            if sent.get(ev["stack_id"], pcs) != pcs:
                ok, detail = False, "stack %d sent again with other pcs" % ev["stack_id"]
            sent[ev["stack_id"]] = pcs
        elif ev["type"] == "origin" and ev["stack_id"] not in sent:
            ok, detail = False, "origin names stack %d before it was sent" % ev["stack_id"]
    check(name + ": stacks sent before their origins, replaced only by themselves", ok, detail)


def test_paths(prog, workdir, mode="paths", extra=(), skip=(), env_extra=None):
    base = os.path.basename(prog)
    name = base + ("" if mode == "paths" else " " + mode + " " + " ".join(extra))
    name += "".join(" %s=%s" % kv for kv in (env_extra or {}).items())
    debug = os.path.basename(prog).endswith("_g")
    status, out, events = run([prog, mode], workdir, extra=extra, env_extra=env_extra)
    if not check(name + ": exit status 0", status == 0, "status %d" % status):
        return
    m = re.search(r"a=(\d+) b=(\d+) c=(\d+):(\d+) d=(\d+):(\d+):(\d+)", out)
    if not check(name + ": program output", m is not None, out):
        return
    a, b, c0, c1, d0, d, dlen = map(int, m.groups())
    cases = [
        ("alloc_big_a", a, a + (4 << 20), "/* LINE_A */"),
        ("alloc_big_b", b, b + (8 << 20), "/* LINE_B */"),
        ("grow_heap_c", c0, c1, None),
        ("remap_d", d + (2 << 20) if d == d0 else d, d + dlen, None),
    ]
    for func, start, end, marker in cases:
        if func in skip:
            continue
        frames = origin_stack(events, start, end)
        if not check("%s: [%#x, %#x) has an origin" % (name, start, end), frames is not None):
            continue
        hit = [f for f in frames if f[1].startswith(func + "+0x")]
        check("%s: the origin of %s's range names it" % (name, func), bool(hit),
              json.dumps([f[1] for f in frames]))
        if hit:
            check("%s: %s's frame is in module %s" % (name, func, base), hit[0][2] == base, hit[0][2])
        if hit and marker and debug:
            want = "backtrace_prog.c:%d" % marker_line(marker)
            check("%s: %s's frame is at %s" % (name, func, want), hit[0][3] == want, str(hit[0][3]))
        if hit and not debug:
            check("%s: no source line without -g" % name, hit[0][3] is None, str(hit[0][3]))
    check_stack_order(name, events)


def test_exit_exec(prog, workdir, runs=15):
    name = os.path.basename(prog)
    for mode, want in (("exit", 7), ("exec", 5)):
        bad = []
        for i in range(runs):
            try:
                status, _, events = run([prog, mode], workdir, timeout=30)
            except subprocess.TimeoutExpired:
                bad.append("run %d hung" % i)
                continue
            if status != want:
                bad.append("run %d: status %d" % (i, status))
            elif not any(ev["type"] == "session_end" and ev["status"] == want for ev in events):
                bad.append("run %d: no session_end %d" % (i, want))
        check("%s: %s while unwinding, %d runs: status %d, no hang" % (name, mode, runs, want),
              not bad, "; ".join(bad[:3]))


def test_threads(prog, workdir):
    name = os.path.basename(prog)
    status, out, events = run([prog, "threads"], workdir)
    if not check(name + ": threads: exit status 0", status == 0, "status %d" % status):
        return
    regions = [tuple(map(int, l.split()[1:])) for l in out.splitlines() if l.startswith("region ")]
    check(name + ": threads: three regions", len(regions) == 3, out)
    names = {}  # tid -> latest name, as the stream says at each point
    for idx, tid, start, end in regions:
        touched = {}  # page -> tid of its touch
        named_at_touch = None
        first_touch_ok = True
        names.clear()
        for ev in events:
            if ev["type"] == "thread":
                names[ev["tid"]] = ev["name"]
            elif ev["type"] == "touch":
                if ev["tid"] not in names:
                    first_touch_ok = False
                for pg in range(max(ev["start"], start), min(ev["end"], end), 4096):
                    touched[pg] = ev["tid"]
                    if ev["tid"] == tid:
                        named_at_touch = names.get(tid)
        pages = list(range(start, end, 4096))
        check("%s: region %d: every page touched by tid %d" % (name, idx, tid),
              all(touched.get(pg) == tid for pg in pages),
              "%d of %d pages; tids %s" % (sum(touched.get(pg) == tid for pg in pages), len(pages),
                                          sorted(set(touched.values()))))
        check("%s: region %d: thread %d named toucher-%d at its touch" % (name, idx, tid, idx),
              named_at_touch == "toucher-%d" % idx, str(named_at_touch))
        check("%s: every touch follows a thread event for its tid" % name, first_touch_ok)
    # Each touch directly follows the state event of the same range.
    ok, detail = True, ""
    for i, ev in enumerate(events):
        if ev["type"] == "touch":
            prev = events[i - 1]
            if not (prev["type"] == "state" and prev["start"] == ev["start"] and prev["end"] == ev["end"]
                    and prev["state"] == 1):
                ok, detail = False, "event %d: %s" % (i, json.dumps(prev))
                break
    check(name + ": each touch right after the state event of its range", ok, detail)


def test_no_debuginfod(prog, workdir):
    """Symbolising a stripped program (no symbol table, no debug file) never
    loads libdebuginfod (and libcurl with it): the dynamic loader's own log of
    what the tracker opens."""
    name = os.path.basename(prog) + " stripped"
    stripped = os.path.join(workdir, "stripped_prog")
    subprocess.run(["strip", "-o", stripped, prog], check=True)
    p = launch([stripped, "paths"], workdir, env_extra={"LD_DEBUG": "files"})
    err = p.stderr.decode(errors="replace")
    check(name + ": the loader's log is there (LD_DEBUG=files)", "calling init" in err, err[-300:])
    opened = sorted({line.split("file=")[1].split()[0] for line in err.splitlines()
                     if "file=" in line and ("debuginfod" in line or "libcurl" in line)})
    check(name + ": symbolising loads no debuginfod client", p.returncode == 0 and not opened,
          "status %d, opened %s" % (p.returncode, opened))


def test_off(prog, workdir):
    name = os.path.basename(prog)
    for mode in ("paths", "threads"):
        status, _, events = run([prog, mode], workdir, extra=["--backtraces=off"])
        kinds = sorted({ev["type"] for ev in events} & ANNOTATIONS)
        check("%s: --backtraces=off %s: status 0, no %s events" % (name, mode, "/".join(sorted(ANNOTATIONS))),
              status == 0 and not kinds, "status %d, found %s" % (status, kinds))
        if mode == "paths":
            check(name + ": --backtraces=off still records the map", any(ev["type"] == "map" for ev in events))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--mevi-run", required=True)
    ap.add_argument("--dump", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--engine", choices=("ptrace", "ebpf"),
                    help="force an engine (default: mevi-run's own choice)")
    ap.add_argument("progs", nargs="+")
    ARGS = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root (ptrace + userfaultfd)")
        return 0
    with tempfile.TemporaryDirectory(prefix="mevi-bt-") as workdir:
        for prog in ARGS.progs:
            test_paths(prog, workdir)
        if ARGS.engine != "ebpf":
            # In its first 2 ms an exec'd image is unwound only with
            # --backtraces=all...
            test_paths(ARGS.progs[0], workdir, "paths-young", ["--backtraces=all"])
            # ... but for anonymous mappings of 1 MiB or more, the program's
            # own (whether grow_heap_c's brk falls in those 2 ms depends on
            # the machine). The eBPF engine unwinds a few ms after the
            # syscall: a program gone by then, in its first 2 ms, has no
            # layout to unwind against (launcher/README.md).
            test_paths(ARGS.progs[0], workdir, "paths-young", skip=("grow_heap_c",))
        # A fork child mapping at once is unwound by default (it is not a loader).
        test_paths(ARGS.progs[0], workdir, "paths-fork")
        if ARGS.engine == "ebpf":
            # Records read every 100 ms only: the child is gone (reaped)
            # before its fork record is read, and is unwound all the same.
            test_paths(ARGS.progs[0], workdir, "paths-fork", env_extra={"MEVI_BPF_DRAIN_MS": "100"})
        test_threads(ARGS.progs[0], workdir)
        test_off(ARGS.progs[0], workdir)
        test_no_debuginfod(ARGS.progs[0], workdir)
        for prog in ARGS.progs[:2]:
            test_exit_exec(prog, workdir)
    return finish(None)


if __name__ == "__main__":
    sys.exit(main())
