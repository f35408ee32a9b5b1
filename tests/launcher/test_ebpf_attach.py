#!/usr/bin/env python3
"""mevi-run --pid on the eBPF engine (launcher/ebpf.c: ebpf_attach, ebpf_detach).

    test_ebpf_attach.py --mevi-run PATH --mevid PATH

- --engine=ebpf --pid P --detach-after 1: the target (which forks a child after
  the attach) is followed, mevi-run exits 0 saying it detached, the session
  says engine ebpf and ends "detached" with both processes not alive but
  running, the engine's own count of the tracked set after the detach is 0
  (debug log: the line must be there, so the check cannot pass by its
  absence) with both processes removed, and the target carries on to its own
  exit status, which the session never reports;
- Ctrl-C (SIGINT) detaches the same way, in exact mode too (--exact);
- --engine=auto --backtraces=off --pid picks ebpf and no longer says
  "--pid attaches with ptrace only";
- a kernel thread (--pid 2) gets the same refusal as with ptrace.
Python 3 standard library only; needs root (eBPF), else skips (77).
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile

import test_endings as te
from test_endings import run, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from mevitest import Daemon, check, finish  # noqa: E402

# Sleeps until attached, then maps and touches 8 MiB, forks a child that lives
# on past the detach, and exits 7 well after it.
TARGET = """
import os, sys, time
sys.stdin.readline()
b = bytearray(8 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
if os.fork() == 0:
    time.sleep(3)
    os._exit(0)
time.sleep(3)
os.wait()
sys.exit(7)
"""


def mevi(sock, *args):
    return [te.ARGS.mevi_run, "--socket", sock, "--no-spawn"] + list(args)


def proc_of(s, pid):
    return next((p for p in s["processes"] if p["pid"] == pid), None) if s else None


def test_detach_after(sock, d, mode):
    name = " ".join(mode) or "sampled"
    t = subprocess.Popen([sys.executable, "-c", TARGET], stdin=subprocess.PIPE)
    env = dict(os.environ, MEVI_LOG="debug")
    a = subprocess.Popen(mevi(sock, "--engine=ebpf", "--pid", str(t.pid), "--detach-after", "2", *mode),
                         stderr=subprocess.PIPE, env=env)
    s = wait_for(lambda: te.session_of(d, t.pid), 5.0)
    check("%s: attached, session engine ebpf" % name, s is not None and s.get("engine") == "ebpf",
          repr(s and s.get("engine")))
    t.stdin.write(b"go\n")
    t.stdin.flush()
    # The fork child, created after the attach, is followed.
    s = wait_for(lambda: (lambda s: s if s and len(s["processes"]) >= 2 else None)(te.session_of(d, t.pid)), 5.0)
    check("%s: the child forked after the attach is followed" % name, s is not None,
          repr(s and s["processes"]))
    _, err = a.communicate(timeout=30)
    lines = [l for l in err.decode(errors="replace").splitlines() if " syscall " not in l]
    check("%s: --detach-after exits 0, says detached" % name,
          a.returncode == 0 and any("detached from %d, which carries on" % t.pid in l for l in lines),
          "%d %r" % (a.returncode, lines[-8:]))
    check("%s: no 'ptrace only' message" % name, not any("ptrace only" in l for l in lines), repr(lines[-8:]))
    m = [re.search(r"eBPF: detached: (\d+) processes removed from the tracked set, (\d+) entries remain", l)
         for l in lines]
    m = [x for x in m if x]
    check("%s: the tracked set is empty after the detach (target and child removed)" % name,
          len(m) == 1 and int(m[0].group(1)) >= 2 and int(m[0].group(2)) == 0,
          repr([x.group(0) for x in m]) if m else "no 'eBPF: detached' line in %r" % lines[-8:])
    check("%s: the target carries on after the detach" % name, t.poll() is None)
    s = te.session_of(d, t.pid)
    p = proc_of(s, t.pid)
    check("%s: the session ended as detached" % name, s is not None and s["end"] == {"how": "detached"}
          and not s["alive"] and s.get("engine") == "ebpf", repr(s and (s["end"], s.get("engine"))))
    check("%s: the process is not alive, detached, still running" % name,
          p is not None and not p["alive"] and p["end"] == {"how": "detached", "running": True}, repr(p))
    rc = t.wait(15)
    check("%s: the target ends with its own status" % name, rc == 7, repr(rc))
    p = wait_for(lambda: (lambda q: q if q and q["end"].get("running") is False else None)(
        proc_of(te.session_of(d, t.pid), t.pid)), 3.0)
    check("%s: its exit is not reported (detached, running false, no status)" % name,
          p is not None and p["end"].get("how") == "detached" and p.get("exit_status") in (None, -1), repr(p))


def test_sigint(sock, d):
    t = subprocess.Popen(["sleep", "30"])
    a = subprocess.Popen(mevi(sock, "--engine=ebpf", "--exact", "--pid", str(t.pid)), stderr=subprocess.PIPE,
                         env=dict(os.environ, MEVI_LOG="debug"))
    s = wait_for(lambda: te.session_of(d, t.pid), 5.0)
    check("--exact: attached on ebpf", s is not None and s.get("engine") == "ebpf" and s["alive"], repr(s and s["end"]))
    a.send_signal(signal.SIGINT)
    _, err = a.communicate(timeout=15)
    check("Ctrl-C: exits 0 with the tracked set empty",
          a.returncode == 0 and b"processes removed from the tracked set, 0 entries remain" in err,
          "%d %r" % (a.returncode, err[-300:]))
    s = te.session_of(d, t.pid)
    check("Ctrl-C: the session ended as detached, the target runs on",
          s is not None and s["end"] == {"how": "detached"} and t.poll() is None, repr(s and s["end"]))
    t.kill()
    t.wait()


def test_auto_and_refusals(sock, d):
    t = subprocess.Popen(["sleep", "30"])
    r = run(mevi(sock, "--engine=auto", "--backtraces=off", "--pid", str(t.pid), "--detach-after", "1"))
    check("--engine=auto --backtraces=off --pid picks ebpf",
          r.returncode == 0 and b"engine ebpf" in r.stderr and b"ptrace only" not in r.stderr
          and b"engine ptrace" not in r.stderr, repr(r.stderr[-300:]))
    t.kill()
    t.wait()
    r = run(mevi(sock, "--engine=ebpf", "--pid", "2"))
    check("--engine=ebpf --pid 2 (a kernel thread): status 1 and the same line as ptrace",
          r.returncode == 1 and r.stderr.startswith(b"mevi-run: --pid 2: ") and b"kernel thread" in r.stderr,
          "%d %r" % (r.returncode, r.stderr[-300:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mevi-run", required=True)
    ap.add_argument("--mevid", required=True)
    te.ARGS = ap.parse_args()
    te.ARGS.mevi_run = os.path.abspath(te.ARGS.mevi_run)
    te.ARGS.mevid = os.path.abspath(te.ARGS.mevid)
    if os.geteuid() != 0:
        print("SKIP: needs root (eBPF)")
        return 77
    tmp = tempfile.mkdtemp(prefix="mevi-ebpf-attach-")
    os.chmod(tmp, 0o755)
    os.mkdir(os.path.join(tmp, "priv"), 0o700)
    sock = os.path.join(tmp, "priv", "mevid.sock")
    d = Daemon(te.ARGS.mevid, sock)
    try:
        r = run(mevi(sock, "--engine=ebpf", "--", "true"))
        if b"loading eBPF programs is not permitted" in r.stderr:
            print("SKIP: eBPF not permitted here: %r" % r.stderr[-200:])
            return 77
        test_detach_after(sock, d, [])
        test_detach_after(sock, d, ["--exact"])
        test_sigint(sock, d)
        test_auto_and_refusals(sock, d)
    finally:
        d.stop()
    return finish(tmp)


if __name__ == "__main__":
    sys.exit(main())
