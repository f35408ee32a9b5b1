#!/usr/bin/env python3
"""Every ending told truthfully (issue 12), with real programs and a real mevid.

    test_endings.py --mevi-run PATH --mevid PATH [--work DIR]

- kill -9 of mevi-run: its processes are not alive in /api/state within 1 s, the
  session says launcher_lost, and the live totals exclude them;
- kill -9 of an attached (--pid) mevi-run: the target runs on, is not alive
  (untracked) but "running": true, and turns "running": false when it exits;
- --pid ... --detach-after then the target exits: "detached", not alive, never
  "exit -1"-only;
- SIGKILL during --record: `mevid --load` shows the state up to the cut, warns
  with the byte offset, and the session says recording_cut;
- failed launches (not found, a directory, not executable, a kernel thread for
  --pid) are reported on the terminal, exit as a shell would, create no session
  and leave no recording; a failed --load uses up no session id;
- messages: one line + "try 'mevi-run --help'" for a bad option or a missing
  value, --exact without --pid is an error like --detach-after without --pid;
- pid namespaces: under `unshare --pid --fork --mount-proc` the session shows
  the host pids (host_pid, launcher_host_pid) beside the in-namespace ones;
  mevi-run as the namespace's init ends truthfully (not "launcher lost"),
  ends what the program left running as the kernel would, and passes a
  signal sent to pid 1 on only when the program catches it.
Python 3 standard library only; needs root (ptrace, unshare).
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from mevitest import Daemon, check, finish  # noqa: E402

ARGS = None


def run(argv, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("timeout", 60)
    return subprocess.run(argv, **kw)


def mevi(sock, *args):
    return [ARGS.mevi_run, "--socket", sock, "--no-spawn"] + list(args)


def wait_for(cond, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    return cond()


def session_of(d, pid):
    """The last session with a process pid (or None)."""
    found = None
    for s in d.sessions():
        if any(p["pid"] == pid for p in s["processes"]):
            found = s
    return found


def live_totals(d):
    """The header's totals as the page computes them: alive processes only."""
    rss = n = 0
    for s in d.sessions():
        for p in s["processes"]:
            if p["alive"]:
                rss += p["rss"]
                n += 1
    return rss, n


def test_messages(sock, tmp):
    noexec = os.path.join(tmp, "not-executable")
    with open(noexec, "w") as f:
        f.write("true\n")
    os.chmod(noexec, 0o644)
    cases = [
        (["--bogus", "true"], 2, [b"mevi-run: unknown option '--bogus'\n", b"try 'mevi-run --help'"]),
        (["--pid"], 2, [b"mevi-run: --pid needs a value\n", b"try 'mevi-run --help'"]),
        (["--record"], 2, [b"--record needs a value", b"try 'mevi-run --help'"]),
        ([], 2, [b"no PROGRAM", b"try 'mevi-run --help'"]),
        (["--exact", "true"], 2, [b"--exact needs --pid"]),
        (["--detach-after", "3", "true"], 2, [b"--detach-after needs --pid"]),
        (["--pid", "2"], 1, [b"--pid 2: kthreadd is a kernel thread"]),
        (["--", "mevi-no-such-command"], 127, [b"mevi-run: mevi-no-such-command: command not found\n"]),
        (["--", "/tmp"], 126, [b"mevi-run: /tmp: Is a directory\n"]),
        (["--", "./mevi-no-such-file"], 127, [b"mevi-run: ./mevi-no-such-file: No such file or directory\n"]),
        (["--", noexec], 126, [("mevi-run: %s: Permission denied\n" % noexec).encode()]),
    ]
    for args, status, needles in cases:
        r = run(mevi(sock, *args))
        lines = r.stderr.count(b"\n")
        ok = r.returncode == status and all(n in r.stderr for n in needles)
        if status == 2:
            ok = ok and lines <= 2  # one line and the hint, never the whole help
        check("mevi-run %s: status %d, says %r" % (" ".join(args), status, needles[0].strip()), ok,
              "status %d, stderr %r" % (r.returncode, r.stderr[-300:]))
    r = run(mevi(sock, "--", "/tmp"))
    sh = run(["sh", "-c", "/tmp"])
    check("mevi-run /tmp exits like the shell (126)", r.returncode == sh.returncode == 126,
          "%d vs %d" % (r.returncode, sh.returncode))


def test_failed_launches(sock, d, tmp):
    before = len(d.sessions())
    bad_interp = os.path.join(tmp, "bad-interp.sh")
    with open(bad_interp, "w") as f:
        f.write("#!/mevi/no/such/interpreter\n")
    os.chmod(bad_interp, 0o755)
    rec = os.path.join(tmp, "failed.mevi")
    for args, status in ((["mevi-no-such-command"], 127), (["/tmp"], 126), ([bad_interp], 127),
                         (["--record", rec, "--", "mevi-no-such-command"], 127),
                         (["--pid", "2"], 1), (["--pid", "2147483646"], 1)):
        r = run(mevi(sock, *args))
        check("failed launch %s: status %d and a line on the terminal" % (" ".join(args), status),
              r.returncode == status and r.stderr.startswith(b"mevi-run: ") and b"watching at" not in r.stderr,
              "status %d, stderr %r" % (r.returncode, r.stderr[-300:]))
    check("bad interpreter: says so", b"bad interpreter" in run(mevi(sock, bad_interp)).stderr)
    time.sleep(0.3)
    after = d.sessions()
    check("failed launches create no session", len(after) == before,
          "sessions %r" % [(s["id"], s["argv"], s["exit_status"]) for s in after[before:]])
    check("a failed launch with --record leaves no recording", not os.path.exists(rec))
    # Refused attach: the target is already traced (by strace-like holder: a mevi-run).
    t = subprocess.Popen(["sleep", "30"])
    a = subprocess.Popen(mevi(sock, "--pid", str(t.pid)), stderr=subprocess.PIPE)
    wait_for(lambda: session_of(d, t.pid))
    n = len(d.sessions())
    r = run(mevi(sock, "--pid", str(t.pid)))
    check("a refused --pid (already traced): status 1, a line, no session",
          r.returncode == 1 and (b"it is already traced by %d (mevi-run)" % a.pid) in r.stderr and len(d.sessions()) == n,
          "status %d, stderr %r, sessions %d -> %d" % (r.returncode, r.stderr[-200:], n, len(d.sessions())))
    a.send_signal(signal.SIGINT)
    a.wait(10)
    t.kill()
    t.wait()
    # The ids: the next session gets the next id, nothing was used up.
    ids = [s["id"] for s in d.sessions()]
    r = run(mevi(sock, "true"))
    new = [s["id"] for s in d.sessions() if s["id"] not in ids]
    check("the next real session takes the next id", r.returncode == 0 and new == [max(ids) + 1],
          "ids %r, new %r" % (ids, new))


def test_kill9_launcher(sock, d):
    prog = "import time\nb = bytearray(8 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('ready', flush=True)\ntime.sleep(60)\n"
    a = subprocess.Popen(mevi(sock, "--", sys.executable, "-c", prog), stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    a.stdout.readline()
    # mevi-run became the program; the launcher that can vanish is its tracer.
    pid = a.pid
    tracer = int([l for l in open("/proc/%d/status" % pid) if l.startswith("TracerPid:")][0].split()[1])
    s = wait_for(lambda: (lambda s: s if s and any(p["pid"] == pid and p["rss"] >= 8 << 20 for p in s["processes"]) else None)(session_of(d, pid)))
    check("kill -9: the program shows, alive, first", s is not None and s["alive"])
    rss_before, _ = live_totals(d)
    t0 = time.time()
    os.kill(tracer, signal.SIGKILL)
    a.wait()
    s = wait_for(lambda: (lambda s: s if s and not s["alive"] and not any(p["alive"] for p in s["processes"]) else None)(session_of(d, pid)), 1.0)
    took = time.time() - t0
    check("kill -9 of mevi-run's tracer: its processes are not alive within 1 s (%.0f ms)" % (took * 1000), s is not None,
          repr(session_of(d, pid)))
    if s:
        check("kill -9: the session ended as launcher_lost, exit_status null",
              s["end"] == {"how": "launcher_lost"} and s["exit_status"] is None, repr(s["end"]))
        ends = [p["end"]["how"] for p in s["processes"]]
        check("kill -9: every process ended as launcher_lost", ends and all(h == "launcher_lost" for h in ends), repr(ends))
    rss_after, n_after = live_totals(d)
    check("kill -9: the live totals exclude them", rss_after <= rss_before - (8 << 20),
          "before %d after %d (%d live)" % (rss_before, rss_after, n_after))
    # The program dies with its tracer (PTRACE_O_EXITKILL): the kernel says so.
    gone = wait_for(lambda: all(p["end"].get("running") is False for p in session_of(d, pid)["processes"]), 3.0)
    check("kill -9: the kernel check finds the program gone (running false)", gone,
          repr([p["end"] for p in session_of(d, pid)["processes"]]))


def test_kill9_program(sock, d):
    """kill -9 of "mevi-run" reaches the program it became: an ending, not a loss."""
    a = subprocess.Popen(mevi(sock, "--", "sleep", "30"), stderr=subprocess.DEVNULL)
    wait_for(lambda: session_of(d, a.pid), 5.0)
    a.kill()
    check("kill -9 of mevi-run kills the program itself", a.wait(10) == -signal.SIGKILL)
    s = wait_for(lambda: (lambda s: s if s and not s["alive"] else None)(session_of(d, a.pid)), 2.0)
    check("... and the session ends as killed by signal 9", s is not None and s["end"].get("how") == "killed",
          repr(s and s["end"]))


def test_kill9_attached(sock, d):
    t = subprocess.Popen(["sleep", "30"])
    a = subprocess.Popen(mevi(sock, "--pid", str(t.pid)), stderr=subprocess.DEVNULL)
    s = wait_for(lambda: session_of(d, t.pid), 5.0)
    check("--pid: attached", s is not None and s["alive"])
    a.kill()
    a.wait()
    s = wait_for(lambda: (lambda s: s if s and not s["alive"] else None)(session_of(d, t.pid)), 1.0)
    p = [p for p in s["processes"] if p["pid"] == t.pid][0] if s else None
    check("kill -9 of an attached mevi-run: the target is not alive (untracked) but running",
          p is not None and not p["alive"] and p["end"] == {"how": "launcher_lost", "running": True}
          and t.poll() is None, repr(p))
    t.kill()
    t.wait()
    ok = wait_for(lambda: [q for q in session_of(d, t.pid)["processes"] if q["pid"] == t.pid][0]["end"].get("running") is False, 3.0)
    check("... and running false once it exits", ok)


def test_detach_then_exit(sock, d):
    t = subprocess.Popen(["sleep", "2"])
    r = run(mevi(sock, "--pid", str(t.pid), "--detach-after", "1"))
    check("--detach-after: exits 0, says detached", r.returncode == 0 and b"detached" in r.stderr, repr(r.stderr[-200:]))
    s = session_of(d, t.pid)
    p = [p for p in s["processes"] if p["pid"] == t.pid][0]
    check("detach: the session ended as detached", s["end"] == {"how": "detached"} and not s["alive"], repr(s["end"]))
    check("detach: the process is not alive, detached, still running",
          not p["alive"] and p["end"] == {"how": "detached", "running": True}, repr(p["end"]))
    t.wait()
    p = wait_for(lambda: (lambda q: q if q["end"].get("running") is False else None)(
        [q for q in session_of(d, t.pid)["processes"] if q["pid"] == t.pid][0]), 3.0)
    check("detach then target exit: detached, not alive, running false", p and not p["alive"] and p["end"]["how"] == "detached",
          repr(p))


def test_record_kill9(sock, tmp):
    rec = os.path.join(tmp, "killed.mevi")
    prog = ("import time\nkeep = []\n"
            "for i in range(400):\n"
            "    b = bytearray(1 << 20)\n"
            "    for j in range(0, len(b), 4096): b[j] = 1\n"
            "    keep.append(b)\n"
            "    if i == 20: print('ready', flush=True)\n"
            "    time.sleep(0.005)\n")
    a = subprocess.Popen([ARGS.mevi_run, "--socket", os.path.join(tmp, "priv", "nobody.sock"), "--record", rec, "--",
                          sys.executable, "-c", prog], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    a.stdout.readline()
    time.sleep(0.3)
    # The writer is mevi-run's tracer (mevi-run itself became the program).
    tracer = int([l for l in open("/proc/%d/status" % a.pid) if l.startswith("TracerPid:")][0].split()[1])
    os.kill(tracer, signal.SIGKILL)
    a.wait()
    size = os.path.getsize(rec)
    # Cut it mid-batch too, as a kill during a write would (or a copy cut short).
    cut = os.path.join(tmp, "cut.mevi")
    with open(rec, "rb") as f, open(cut, "wb") as g:
        g.write(f.read()[:-7] if size > 100 else f.read())
    for path, what in ((rec, "as SIGKILL left it"), (cut, "cut mid-batch")):
        d = Daemon(ARGS.mevid, os.path.join(tmp, "priv", "load-%d.sock" % len(what)), extra=["--load", path])
        try:
            ss = d.sessions()
            s = ss[0] if ss else None
            procs = s["processes"] if s else []
            rss = max((p["rss"] for p in procs), default=0)
            check("SIGKILL during --record, %s: --load shows the state up to the cut (%d KiB resident)" % (what, rss >> 10),
                  s is not None and rss >= 20 << 20, repr(s and s["end"]))
            if s:
                check("... the session says recording_cut at a byte offset, not alive",
                      s["end"]["how"] == "recording_cut" and s["cut_at"] == s["end"]["offset"] and 0 < s["cut_at"] <= size
                      and not any(p["alive"] for p in procs), repr((s["end"], s["cut_at"], size)))
        finally:
            log = d.stop()
        check("... mevid warns naming the byte offset", "recording cut short" in log and "byte offset" in log, log[-400:])


def test_failed_load_ids(tmp):
    bad = os.path.join(tmp, "bad.mevi")
    with open(bad, "wb") as f:
        f.write(b"MEVIREC\n\x93\x01")  # truncated header
    sock = os.path.join(tmp, "priv", "ids.sock")
    d = Daemon(ARGS.mevid, sock)
    try:
        req = urllib.request.Request("http://127.0.0.1:%d/api/recordings" % d.port, data=open(bad, "rb").read(),
                                     method="POST", headers={"Origin": "http://127.0.0.1:%d" % d.port})
        try:
            urllib.request.urlopen(req, timeout=5)
            refused = False
        except urllib.error.HTTPError as e:
            refused = e.code == 400
        check("a bad upload is refused (400)", refused)
        r = run(mevi(sock, "true"))
        ids = [s["id"] for s in d.sessions()]
        check("a failed load uses up no id: the next session is #1", r.returncode == 0 and ids == [1], repr(ids))
    finally:
        log = d.stop()
    check("a failed load logs no internal line", "launcher disconnected" not in log and "forgotten" not in log
          and "launcher lost" not in log, log[-400:])


def test_pid_namespace(sock, d):
    if not shutil.which("unshare"):
        print("skip pid namespace: no unshare")
        return
    probe = run(["unshare", "--pid", "--fork", "--mount-proc", "true"])
    if probe.returncode != 0:
        print("skip pid namespace: unshare refused: %r" % probe.stderr[-200:])
        return
    prog = "import os, sys, time\nprint(os.getpid(), flush=True)\nsys.stdin.readline()\n"
    a = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc"] + mevi(sock, "--", sys.executable, "-c", prog),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ns_pid = int(a.stdout.readline())

    def find():
        for s in d.sessions():
            for p in s["processes"]:
                if p["pid"] == ns_pid and s["launcher_pid"] != s.get("launcher_host_pid") and s["alive"]:
                    return s, p
        return None

    got = wait_for(find, 5.0)
    host = None
    if got:
        s, p = got
        host = p["host_pid"]
        # The host's view of that process: its NSpid line ends with the in-namespace pid.
        nspid = None
        if host:
            for ln in open("/proc/%d/status" % host):
                if ln.startswith("NSpid:"):
                    nspid = [int(x) for x in ln.split()[1:]]
        check("pid namespace: the launcher's host pid is reported (%s, in the namespace %d)"
              % (s["launcher_host_pid"], s["launcher_pid"]),
              s["launcher_host_pid"] and s["launcher_host_pid"] != s["launcher_pid"], repr(s))
        check("pid namespace: the process's host pid %r is the one ps shows (NSpid %r)" % (host, nspid),
              nspid is not None and nspid[0] == host and nspid[-1] == ns_pid, repr(p))
    else:
        check("pid namespace: the session shows up with host pids", False, repr(d.sessions()[-1:]))
    a.stdin.write(b"\n")
    a.stdin.flush()
    rc = a.wait(30)
    check("pid namespace: mevi-run as the namespace's init exits with the program's status (%r)" % rc,
          rc == 0)
    end = wait_for(lambda: got and [x for x in d.sessions() if x["id"] == got[0]["id"] and x.get("end")], 5.0)
    check("pid namespace: the session ends as the program exited, not as a lost launcher (%r)"
          % (end and end[0]["end"]), bool(end) and end[0]["end"] == {"how": "exited", "status": 0})
    test_pid1_leftovers(sock, d)
    test_pid1_signals(sock, d)


def in_namespace(sock, prog, **kw):
    """mevi-run as pid 1 of a new pid namespace, running bash -c prog."""
    return subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc"] + mevi(sock, "--", "bash", "-c", prog),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_pid1_leftovers(sock, d):
    """As a namespace's init, the program's end ends what it left running, as
    the kernel would: mevi-run returns at once with its status, and the
    session records the leftover as killed."""
    t0 = time.time()
    a = in_namespace(sock, "echo $$; (sleep 60 &); exit 3")
    out, err = a.communicate(timeout=30)
    took = time.time() - t0
    check("pid 1: a program leaving a process running ends with its status (%r) at once (%.1f s)"
          % (a.returncode, took), a.returncode == 3 and took < 20, err.decode(errors="replace")[-300:])
    check("pid 1: mevi-run says what it ended",
          b"ended as its pid namespace's init" in err, err.decode(errors="replace")[-300:])
    ns_pid = int(out.split()[0])
    s = wait_for(lambda: [x for x in d.sessions() if x.get("end") and
                          any(p["pid"] == ns_pid and p.get("host_pid") for p in x["processes"]) and
                          x["launcher_pid"] == 1], 5.0)
    ends = sorted((p["end"] or {}).get("how", "?") for p in s[-1]["processes"]) if s else []
    check("pid 1: session exited 3, the leftover killed (%r)" % ends,
          bool(s) and s[-1]["end"] == {"how": "exited", "status": 3} and "killed" in ends and
          not any(p["alive"] for p in s[-1]["processes"]), repr(s[-1:]))


def host_pid_of_init(a):
    """The host pid of mevi-run, pid 1 of the namespace unshare made."""
    def find():
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                st = open("/proc/%s/status" % pid).read()
                ppid = int(st.split("PPid:")[1].split()[0])
                nspid = st.split("NSpid:")[1].split("\n")[0].split()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == a.pid and nspid[-1] == "1":
                return int(pid)
        return None
    return wait_for(find, 5.0)


def test_pid1_signals(sock, d):
    """A signal sent to pid 1 (`docker stop`, `kill 1`) reaches the program
    when it catches it, as the kernel delivers to an init, and is dropped
    otherwise."""
    a = in_namespace(sock, "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done")
    a.stdout.readline()
    init = host_pid_of_init(a)
    if init:
        os.kill(init, signal.SIGTERM)
    try:
        out, _ = a.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        a.kill()
        out, _ = a.communicate()
    check("pid 1: SIGTERM to pid 1 reaches a program that traps it, once (%r, %r)" % (a.returncode, out),
          init is not None and a.returncode == 7 and out.count(b"got TERM") == 1)
    a = in_namespace(sock, "echo ready; read line; echo finished")
    a.stdout.readline()
    init = host_pid_of_init(a)
    if init:
        os.kill(init, signal.SIGTERM)
    time.sleep(0.5)
    alive = a.poll() is None
    out, _ = a.communicate(b"\n", timeout=20)
    check("pid 1: SIGTERM to pid 1 is dropped when the program does not catch it (%r, %r)"
          % (a.returncode, out), init is not None and alive and a.returncode == 0 and b"finished" in out)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--mevi-run", required=True)
    ap.add_argument("--mevid", required=True)
    ARGS = ap.parse_args()
    ARGS.mevi_run = os.path.abspath(ARGS.mevi_run)
    ARGS.mevid = os.path.abspath(ARGS.mevid)
    if os.geteuid() != 0:
        print("SKIP: needs root (ptrace of attached processes, unshare)")
        return 77
    tmp = tempfile.mkdtemp(prefix="mevi-endings-")
    os.chmod(tmp, 0o755)
    os.mkdir(os.path.join(tmp, "priv"), 0o700)  # sockets: a private directory, or mevid refuses
    sock = os.path.join(tmp, "priv", "mevid.sock")
    d = Daemon(ARGS.mevid, sock)
    try:
        test_messages(sock, tmp)
        test_failed_launches(sock, d, tmp)
        test_kill9_launcher(sock, d)
        test_kill9_program(sock, d)
        test_kill9_attached(sock, d)
        test_detach_then_exit(sock, d)
        test_pid_namespace(sock, d)
    finally:
        d.stop()
    test_record_kill9(sock, tmp)
    test_failed_load_ids(tmp)
    return finish(tmp)


if __name__ == "__main__":
    sys.exit(main())
