#!/usr/bin/env python3
"""mevi-run as a user sees it: the program comes first.

    test_cli.py --mevi-run PATH --mevid PATH

Each check runs real programs under mevi-run and compares with what the same
program does without it: exit statuses (as a shell reports them), stdio, the
environment and inherited file descriptors pass through untouched (and the
userfaultfd mevi-run injects does not leak into the program's fd table), job
control signals, SIGTERM forwarding, running with no daemon, reconnecting to a
restarted daemon with a full snapshot, and the one-sentence permission hint.
Python 3 standard library only; needs root (ptrace + userfaultfd).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "accuracy"))
import harness  # noqa: E402  (the accuracy suite's kernel truth and comparison)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from mevitest import Daemon, check, finish, free_port  # noqa: E402

ARGS = None


def mevi(argv, sock, **kw):
    return [ARGS.mevi_run, "--socket", sock, "--no-spawn", "--"] + argv


def run(argv, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("timeout", 60)
    return subprocess.run(argv, **kw)


def test_usage(sock):
    r = run([ARGS.mevi_run, "--help"])
    check("--help exits 0 and shows usage", r.returncode == 0 and b"usage: mevi-run" in r.stdout)
    r = run([ARGS.mevi_run, "--version"])
    check("--version prints the version", r.returncode == 0 and r.stdout.startswith(b"mevi-run "))
    r = run([ARGS.mevi_run])
    check("no program is a usage error (2)", r.returncode == 2 and b"usage" in r.stderr)
    r = run([ARGS.mevi_run, "--bogus", "true"])
    check("an unknown option is a usage error (2)", r.returncode == 2)


def test_sampling_options(sock):
    """Bad values of the sampling and attach options: a usage error, nothing runs."""
    bad = [
        (["--sample=0", "true"], 2, b"--sample=0"),
        (["--sample=abc", "true"], 2, b"--sample=abc"),
        (["--pid", "0"], 2, b"not a process id"),
        (["--pid", "12x"], 2, b"not a process id"),
        (["--pid", "1", "true"], 2, b"no PROGRAM"),
        (["--detach-after", "3", "true"], 2, b"needs --pid"),
        (["--exact", "--sample", "true"], 2, b"exclude each other"),
        (["--pid", "2147483646"], 1, b"no such process"),
    ]
    for args, status, msg in bad:
        r = run([ARGS.mevi_run, "--socket", sock, "--no-spawn"] + args)
        check("mevi-run %s: status %d and says why" % (" ".join(args), status),
              r.returncode == status and msg in r.stderr, "status %d, stderr %r" % (r.returncode, r.stderr[-300:]))
    r = run([ARGS.mevi_run, "--socket", sock, "--no-spawn", "--sample", "--", "sh", "-c", "exit 3"])
    check("--sample: the program's exit status passes through", r.returncode == 3, "status %d" % r.returncode)


def test_sampling_backoff(sock, d):
    """--sample=1 on a program whose scans cost more than 2% of 1 ms backs off, says
    so, and mevid's /api/state shows the new interval."""
    prog = ("import mmap, time, sys\n"
            "m = mmap.mmap(-1, 256 << 20, flags=mmap.MAP_PRIVATE)\n"
            "m.madvise(mmap.MADV_NOHUGEPAGE)\n"
            "for i in range(0, 256 << 20, 8192): m[i] = 1\n"
            "print('ready', flush=True)\n"
            "time.sleep(1.5)\n")
    p = subprocess.Popen([ARGS.mevi_run, "--socket", sock, "--no-spawn", "--sample=1", "--",
                          sys.executable, "-c", prog], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    time.sleep(0.5)
    sessions = [x for x in d.state()["sessions"] if x.get("launcher_pid") == p.pid]
    out, err = p.communicate(timeout=30)
    ms = sessions[-1].get("sample_ms") if sessions else None
    check("--sample=1 backs off under load: /api/state sample_ms > 1",
          sessions and sessions[-1].get("mode") == "sampled" and isinstance(ms, int) and ms > 1,
          "sessions %r" % [(x.get("mode"), x.get("sample_ms")) for x in sessions])
    check("... and mevi-run says so", b"sampling every" in err, err[-400:].decode(errors="replace"))


def test_sampled_library_load(sock, d, tmp):
    """Sampled mode lets the dynamic loader's mmaps (MAP_DENYWRITE files) run without
    a stop; a tick finds them by the address space's size. A library dlopen()ed and a
    file mapped that way while the program runs freely (no stop, no exit) show in
    /api/state's mappings within a few ticks, with their kind and path."""
    data = os.path.join(tmp, "denywrite.data")
    with open(data, "wb") as f:
        f.write(b"x" * (64 << 10))
    prog = ("import ctypes, mmap, os, sys\n"
            "maps = open('/proc/self/maps').read()\n"
            "lib = next(n for n in ('libbz2.so.1', 'liblzma.so.5', 'libuuid.so.1', 'libffi.so.8')\n"
            "           if n not in maps)\n"
            "print(lib, flush=True)\n"
            "sys.stdin.readline()\n"
            "ctypes.CDLL(lib)\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "libc.mmap.restype = ctypes.c_void_p\n"
            "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,\n"
            "                      ctypes.c_int, ctypes.c_long]\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "a = libc.mmap(None, 64 << 10, mmap.PROT_READ, mmap.MAP_PRIVATE | 0x800, fd, 0)\n"
            "assert a not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()\n"
            "print(hex(a), flush=True)\n"
            "sys.stdin.readline()\n")
    p = subprocess.Popen([ARGS.mevi_run, "--socket", sock, "--no-spawn", "--sample=20", "--engine=ptrace",
                          "--", sys.executable, "-c", prog, data],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lib = p.stdout.readline().decode().strip()
        pid = program_pid(p)
        time.sleep(0.3)  # attached and sampled (past the attach delay)
        p.stdin.write(b"\n")
        p.stdin.flush()
        addr = int(p.stdout.readline().decode().strip(), 16)

        def shown():
            for x in d.state("?pid=%d" % pid)["sessions"]:
                for q in x["processes"]:
                    if q["pid"] == pid and q["alive"]:
                        return q.get("mappings", [])
            return []

        def found():
            ms = shown()
            return (any(m[2] == "file" and os.path.basename(m[3]).startswith(lib) for m in ms),
                    any(m[0] == addr and m[2] == "file" and m[3] == data for m in ms))
        deadline = time.time() + 5
        while time.time() < deadline and not all(found()):
            time.sleep(0.05)
        state = proc_state(pid)
        lib_seen, data_seen = found()
        check("--sample: a library dlopen()ed without a stop shows at a tick (%s)" % lib, lib_seen,
              "mappings %r" % [m[3] for m in shown()][-12:])
        check("--sample: a MAP_DENYWRITE file mapping shows at a tick, at its address", data_seen,
              "looked for %#x %s" % (addr, data))
        check("... while the program ran on (no stop)", state not in ("T", "t"), "state %r" % state)
        p.stdin.write(b"\n")
        p.stdin.flush()
        p.communicate(timeout=30)
        check("... and it exits 0", p.returncode == 0, "status %r" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_attach(sock, d, tmp):
    """--pid attaches to a running program, shows it, and Ctrl-C detaches: the program
    keeps running and its memory syscalls keep working (no seccomp filter is left
    behind to fail them with ENOSYS), and it finishes with its own exit status."""
    prog = ("import mmap, sys, time\n"
            "sys.stdin.readline()\n"                     # attached now
            "for i in range(200):\n"
            "    m = mmap.mmap(-1, 1 << 20, flags=mmap.MAP_PRIVATE); m[0] = 1; m.close()\n"
            "sys.stdin.readline()\n"                     # detached now
            "for i in range(200):\n"
            "    m = mmap.mmap(-1, 1 << 20, flags=mmap.MAP_PRIVATE); m[0] = 1; m.close()\n"
            "print('survived', flush=True)\n"
            "sys.exit(9)\n")
    for extra in ([], ["--exact"]):
        what = "--pid" + (" --exact" if extra else "")
        t = subprocess.Popen([sys.executable, "-c", prog], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        a = subprocess.Popen([ARGS.mevi_run, "--socket", sock, "--no-spawn", "--pid", str(t.pid)] + extra,
                             stderr=subprocess.PIPE)
        deadline = time.time() + 10
        proc = None
        while time.time() < deadline and proc is None:
            for x in d.state("?pid=%d" % t.pid)["sessions"]:
                for q in x["processes"]:
                    if q["pid"] == t.pid and q["rss"] > 0:
                        proc, sess = q, x
            time.sleep(0.05)
        check(what + ": the attached process shows in /api/state", proc is not None)
        if proc is not None:
            check(what + ": its session says how it is tracked",
                  sess.get("mode") == ("exact" if extra else "sampled") and sess.get("alive") is True,
                  "mode %r alive %r" % (sess.get("mode"), sess.get("alive")))
        t.stdin.write(b"go\n")
        t.stdin.flush()
        time.sleep(0.3)
        a.send_signal(signal.SIGINT)
        try:
            a.wait(10)
        except subprocess.TimeoutExpired:
            a.kill()
        err = a.stderr.read()
        check(what + ": Ctrl-C detaches, mevi-run exits 0", a.returncode == 0 and b"detached" in err,
              "status %r, stderr %r" % (a.returncode, err[-300:]))
        with open("/proc/%d/status" % t.pid) as f:
            tracer = [ln for ln in f if ln.startswith("TracerPid:")]
            seccomp = [ln for ln in open("/proc/%d/status" % t.pid) if ln.startswith("Seccomp:")]
        check(what + ": the process is no longer traced and has no seccomp filter",
              tracer == ["TracerPid:\t0\n"] and seccomp == ["Seccomp:\t0\n"], "%r %r" % (tracer, seccomp))
        fds = [os.readlink("/proc/%d/fd/%s" % (t.pid, f)) for f in os.listdir("/proc/%d/fd" % t.pid)]
        check(what + ": no userfaultfd is left in the process", not any("userfaultfd" in x for x in fds), "%r" % fds)
        t.stdin.write(b"go\n")
        t.stdin.flush()
        out, _ = t.communicate(timeout=30)
        check(what + ": after detach its mmaps work and it exits with its own status",
              t.returncode == 9 and out == b"survived\n", "status %r, out %r" % (t.returncode, out))


def test_statuses(sock, tmp):
    r = run(mevi(["mevi-no-such-command"], sock))
    check("command not found: 127 and a clear line", r.returncode == 127 and b"command not found" in r.stderr,
          "%d %r" % (r.returncode, r.stderr))
    plain = os.path.join(tmp, "not-executable")
    with open(plain, "w") as f:
        f.write("echo should not run\n")
    os.chmod(plain, 0o644)
    r = run(mevi([plain], sock))
    check("not executable: 126", r.returncode == 126, "%d %r" % (r.returncode, r.stderr))
    for code in (0, 1, 42, 255):
        r = run(mevi(["sh", "-c", "exit %d" % code], sock))
        check("exit status %d passes through" % code, r.returncode == code, str(r.returncode))
    # mevi-run execs the program, so a signal death is the program's own, as
    # natively (a shell shows 139 and 137; Python shows the signal).
    r = run(mevi(["sh", "-c", "kill -SEGV $$"], sock))
    check("killed by SIGSEGV: the parent sees the signal", r.returncode == -signal.SIGSEGV, str(r.returncode))
    r = run(mevi(["sh", "-c", "sleep 0.05; kill -KILL $$"], sock))
    check("killed by SIGKILL after attach: the parent sees the signal", r.returncode == -signal.SIGKILL,
          str(r.returncode))


def test_passthrough(sock, tmp):
    r = run(mevi(["sh", "-c", "echo out; echo err >&2"], sock))
    check("stdout passes through", r.stdout == b"out\n", repr(r.stdout))
    check("stderr passes through", r.stderr.endswith(b"err\n"), repr(r.stderr))
    data = os.urandom(200000).hex().encode()
    r = run(mevi(["cat"], sock), input=data)
    check("stdin passes through (400 KB through cat)", r.stdout == data)
    env = dict(os.environ, MEVI_TEST_MARKER="x y\nz")
    r = run(mevi(["sh", "-c", 'printf %s "$MEVI_TEST_MARKER"'], sock), env=env)
    check("the environment passes through", r.stdout == b"x y\nz", repr(r.stdout))
    path = os.path.join(tmp, "fd7")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(fd, 7)
    r = run(mevi(["sh", "-c", "echo via-fd-7 >&7"], sock), pass_fds=(7,))
    os.close(7)
    os.close(fd)
    check("inherited fd 7 passes through", open(path, "rb").read() == b"via-fd-7\n")
    # The program lives long enough to be attached (a userfaultfd injected and
    # closed again in it); its fd table must be exactly the native one.
    script = "import os, time; time.sleep(0.2); print(sorted(os.listdir('/proc/self/fd')))"
    native = run([sys.executable, "-c", script]).stdout
    traced = run(mevi([sys.executable, "-c", script], sock)).stdout
    check("no fd leaks into the program", native == traced, "native %r, mevi %r" % (native, traced))
    # The tracer blocks SIGCHLD (it reads it from a signalfd): the program's
    # blocked and ignored signals must still be the ones it was given, here
    # with SIGUSR1 blocked and SIGUSR2 ignored by its parent.
    script = "grep -E '^Sig(Blk|Ign)' /proc/self/status"

    def masked():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)

    native = run(["sh", "-c", script], preexec_fn=masked).stdout
    traced = run(mevi(["sh", "-c", script], sock), preexec_fn=masked).stdout
    check("the signal mask and ignored signals pass through", native == traced and native,
          "native %r, mevi %r" % (native, traced))


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def wait_for(cond, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def program_pid(launcher):
    """The traced program: mevi-run's own pid, once it has exec'd the program."""
    def execd():
        try:
            return os.readlink("/proc/%d/exe" % launcher.pid) != os.path.realpath(ARGS.mevi_run)
        except OSError:
            return False
    wait_for(execd)
    return launcher.pid


def tracer_of(pid):
    with open("/proc/%d/status" % pid) as f:
        return int([l for l in f if l.startswith("TracerPid:")][0].split()[1])


def test_signals(sock):
    # Job control is the kernel's: the program is the parent's own child, and
    # the parent sees it stop and continue as it would without mevi. It runs
    # in a process group of its own, as a shell runs a job: the kernel drops
    # SIGTSTP sent to an orphaned process group (ours may be one, depending on
    # how the suite was started), natively too.
    p = subprocess.Popen(mevi(["sh", "-c", "sleep 1; exit 7"], sock), stderr=subprocess.PIPE,
                         process_group=0)
    pid = program_pid(p)
    time.sleep(0.1)
    os.kill(pid, signal.SIGTSTP)
    _, st = os.waitpid(pid, os.WUNTRACED)
    check("SIGTSTP stops the program, and its parent sees it stopped", os.WIFSTOPPED(st), hex(st))
    os.kill(pid, signal.SIGCONT)
    _, st = os.waitpid(pid, os.WCONTINUED)
    check("SIGCONT continues it, and its parent sees that too", os.WIFCONTINUED(st), hex(st))
    check("the exit status is the program's", p.wait(30) == 7)

    p = subprocess.Popen(mevi(["sleep", "30"], sock), stderr=subprocess.PIPE)
    pid = program_pid(p)
    time.sleep(0.2)
    tracer = tracer_of(pid)
    check("the tracer is another process, in a session of its own",
          tracer not in (0, pid) and os.getsid(tracer) != os.getsid(pid), "tracer %d" % tracer)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGTSTP):
        os.kill(tracer, sig)
    time.sleep(0.3)
    check("signals sent to the tracer do not touch the program",
          p.poll() is None and proc_state(pid) not in "ZX?" and tracer_of(pid) == tracer, proc_state(pid))
    p.send_signal(signal.SIGTERM)
    check("SIGTERM to mevi-run reaches the program, which dies of it", p.wait(30) == -signal.SIGTERM)


def test_no_daemon(tmp):
    sock = os.path.join(tmp, "nobody-here.sock")
    r = run([ARGS.mevi_run, "--socket", sock, "--no-spawn", "--", "sh", "-c", "echo fine; exit 3"])
    check("no daemon: the program runs anyway", r.returncode == 3 and r.stdout == b"fine\n")
    check("no daemon: one line says so", b"no mevid at" in r.stderr, repr(r.stderr))


def sigchld_blocked(pid):
    """Whether SIGCHLD is in pid's blocked mask (/proc/PID/status SigBlk)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("SigBlk:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGCHLD - 1)))
    return None


def test_spawned_mevid(tmp):
    """mevi-run starts mevid when none listens; the tracer's blocked SIGCHLD
    (read from a signalfd) does not pass on to it."""
    sockdir = os.path.join(tmp, "spawned")
    os.mkdir(sockdir, 0o700)
    sock = os.path.join(sockdir, "mevid.sock")
    r = run([ARGS.mevi_run, "--socket", sock, "--listen", "127.0.0.1:0", "--", "true"])
    pids = subprocess.run(["pgrep", "-f", "mevid --socket " + sock], stdout=subprocess.PIPE).stdout.split()
    if not check("no daemon: mevi-run starts one", r.returncode == 0 and len(pids) == 1,
                 "status %d, mevid pids %r, stderr %r" % (r.returncode, pids, r.stderr[-300:])):
        return
    pid = int(pids[0])
    try:
        check("the mevid it starts has SIGCHLD unblocked", sigchld_blocked(pid) is False,
              str(sigchld_blocked(pid)))
    finally:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not os.path.exists("/proc/%d" % pid))


def test_reconnect(tmp):
    """mevid dies and comes back: the launcher resends everything."""
    sock = os.path.join(tmp, "re.sock")
    d = Daemon(ARGS.mevid, sock)
    # A program that maps and touches 8 MiB, then waits for us.
    prog = ("import mmap, sys, time\n"
            "m = mmap.mmap(-1, 8 << 20, flags=mmap.MAP_PRIVATE)\n"
            "for i in range(0, 8 << 20, 4096): m[i] = 1\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n")
    p = subprocess.Popen(mevi([sys.executable, "-c", prog], sock), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("program ready", p.stdout.readline() == b"ready\n")
    pid = program_pid(p)

    def rss():
        try:
            procs = [q for s in d.state("?pid=%d" % pid)["sessions"] for q in s["processes"]
                     if q["pid"] == pid and q["alive"]]
            return procs[-1]["rss"] if procs else 0
        except OSError:
            return 0
    check("mevid sees the 8 MiB", wait_for(lambda: rss() >= 8 << 20), str(rss()))
    port = d.port
    d.stop()
    time.sleep(0.3)
    d = Daemon(ARGS.mevid, sock, port)
    check("a restarted mevid gets the session back with its memory",
          wait_for(lambda: rss() >= 8 << 20, 10), str(rss()))
    # Page for page: stop the program and compare with the kernel.
    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: proc_state(pid) in "Tt")
    _, runs = harness.read_truth(pid)

    def mismatches():
        try:
            procs = [q for s in d.state("?pid=%d" % pid)["sessions"] for q in s["processes"]
                     if q["pid"] == pid and q["alive"]]
        except OSError:
            return None
        if not procs:
            return None
        cmp = harness.Comparison(runs, [tuple(r[:3]) for r in procs[-1]["ranges"]])
        return cmp.mismatched_pages + cmp.untracked
    check("after the restart, mevid agrees with the kernel page for page",
          wait_for(lambda: mismatches() == 0, 5), str(mismatches()))
    os.kill(pid, signal.SIGCONT)
    p.stdin.write(b"\n")
    p.stdin.close()
    check("the program finishes normally", p.wait(30) == 0)
    st = d.state()["sessions"]
    mine = [s for s in st if s["launcher_pid"] == p.pid]
    check("the session ends with the program's status",
          mine and mine[-1]["alive"] is False and mine[-1]["exit_status"] == 0, json.dumps(mine)[:300])
    d.stop()


def test_record_roundtrip(tmp, sockdir):
    """--record writes what mevid saw: loaded into a fresh mevid, the
    recording gives the live session's states at every moment."""
    sock = os.path.join(sockdir, "rec.sock")
    rec = os.path.join(tmp, "run.mevi")
    d = Daemon(ARGS.mevid, sock)
    prog = ("import mmap, os, time\n"
            "maps = []\n"
            "for i in range(6):\n"
            "    m = mmap.mmap(-1, 4 << 20, flags=mmap.MAP_PRIVATE)\n"
            "    for j in range(0, (i + 1) << 19, 4096): m[j] = 1\n"
            "    maps.append(m)\n"
            "    time.sleep(0.02)\n"
            "if os.fork() == 0:\n"
            "    maps[0].close(); time.sleep(0.05); os._exit(3)\n"
            "os.wait()\n"
            "maps[1].madvise(mmap.MADV_DONTNEED)\n")
    r = run([ARGS.mevi_run, "--socket", sock, "--record", rec, "--", sys.executable, "-c", prog])
    check("recorded run exits 0 and says where it wrote", r.returncode == 0 and b"recorded" in r.stderr,
          repr(r.stderr[-300:]))
    check("the recording is private (0600)", os.stat(rec).st_mode & 0o777 == 0o600)
    live = [s for s in d.state()["sessions"] if s["launcher_pid"] > 0][-1]
    port = free_port()
    log = open(rec + ".log", "ab")
    loaded_proc = subprocess.Popen([ARGS.mevid, "--foreground", "--socket", os.path.join(sockdir, "load.sock"),
                                    "--listen", "127.0.0.1:%d" % port, "--load", rec], stdout=log, stderr=log)
    try:
        def get(url):
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, url), timeout=5) as f:
                return json.load(f)
        wait_for(lambda: _ok(lambda: get("/api/health")), 10)
        loaded = get("/api/state")["sessions"]
        check("the recording loads as one ended session", len(loaded) == 1 and loaded[0]["alive"] is False,
              json.dumps(loaded)[:300])
        lid = loaded[0]["id"]
        end = get("/api/state?session=%d&at=%d" % (lid, 1 << 62))["at"]["end_ts"]
        same = True
        for k in range(11):
            t = end * k // 10
            a = d.state("?session=%d&at=%d" % (live["id"], t))["sessions"][0]["processes"]
            b = get("/api/state?session=%d&at=%d" % (lid, t))["sessions"][0]["processes"]
            strip = lambda ps: [(p["pid"], p["alive"], p["rss"], p["vsz"], p["ranges"]) for p in ps]
            if strip(a) != strip(b):
                same = False
                print("  at %d: live %s / loaded %s" % (t, json.dumps(strip(a))[:200], json.dumps(strip(b))[:200]))
        check("live and recorded states agree at 11 moments", same)
    finally:
        loaded_proc.terminate()
        loaded_proc.wait(10)
        log.close()
        d.stop()


def _ok(fn):
    try:
        fn()
        return True
    except OSError:
        return False


def test_permission_hint(tmp):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("skip permission hint: needs root and setpriv")
        return
    try:
        with open("/proc/sys/vm/unprivileged_userfaultfd") as f:
            if f.read().strip() != "0":
                print("skip permission hint: vm.unprivileged_userfaultfd is not 0")
                return
    except OSError:
        pass
    nobody_dir = os.path.join(tmp, "nobody")
    os.mkdir(nobody_dir, 0o700)
    os.chown(nobody_dir, 65534, 65534)
    sock = os.path.join(nobody_dir, "unpriv.sock")
    # nobody may not reach the build tree (a clone in /root is 0700): run a
    # copy from tmp (0755), and from there as the working directory.
    exe = os.path.join(tmp, "mevi-run")
    shutil.copy(ARGS.mevi_run, exe)
    os.chmod(exe, 0o755)
    r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
             exe, "--socket", sock, "--no-spawn", "--", "sh", "-c", "sleep 0.2; exit 5"], cwd=tmp)
    check("unprivileged: the program still runs (status 5)", r.returncode == 5, str(r.returncode))
    check("unprivileged: one sentence names the fix",
          b"userfaultfd is not permitted" in r.stderr and b"vm.unprivileged_userfaultfd=1" in r.stderr,
          repr(r.stderr[-400:]))
    # With access to /dev/userfaultfd (Linux 6.1+), the same user is tracked.
    dev = "/dev/userfaultfd"
    if not os.path.exists(dev):
        print("skip /dev/userfaultfd: the kernel has none")
        return
    py = "/usr/bin/python3"  # readable by nobody, unlike a python under /root
    if not os.access(py, os.X_OK):
        print("skip /dev/userfaultfd: no /usr/bin/python3")
        return
    mode = os.stat(dev).st_mode & 0o777
    try:
        os.chmod(dev, 0o666)
        r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "env", "MEVI_LOG=debug",
                 exe, "--socket", sock, "--no-spawn", "--", py, "-c",
                 "import time; time.sleep(0.05); b = bytearray(4 << 20)"], cwd=tmp)
    finally:
        os.chmod(dev, mode)
    served = [int(w) for line in r.stderr.splitlines() if b"faults served" in line
              for w in [line.split(b"faults served ")[1].split(b",")[0]]]
    check("with /dev/userfaultfd: tracked through the device (faults served, no hint)",
          r.returncode == 0 and served and served[0] > 0 and b"not permitted" not in r.stderr,
          repr(r.stderr[-400:]))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--mevi-run", required=True)
    ap.add_argument("--mevid", required=True)
    ARGS = ap.parse_args()
    ARGS.mevi_run = os.path.abspath(ARGS.mevi_run)
    ARGS.mevid = os.path.abspath(ARGS.mevid)
    tmp = tempfile.mkdtemp(prefix="mevi-cli-")
    os.chmod(tmp, 0o755)
    # Sockets live in a directory closed to others (proto/sockpath.h): mevi-run
    # talks through no other.
    sockdir = os.path.join(tmp, "sock")
    os.mkdir(sockdir, 0o700)
    sock = os.path.join(sockdir, "mevid.sock")
    d = Daemon(ARGS.mevid, sock)
    try:
        test_usage(sock)
        test_sampling_options(sock)
        test_sampling_backoff(sock, d)
        test_attach(sock, d, tmp)
        test_sampled_library_load(sock, d, tmp)
        test_statuses(sock, tmp)
        test_passthrough(sock, tmp)
        test_signals(sock)
    finally:
        d.stop()
    test_no_daemon(sockdir)
    test_spawned_mevid(tmp)
    test_reconnect(sockdir)
    test_record_roundtrip(tmp, sockdir)
    test_permission_hint(tmp)
    return finish(tmp)


if __name__ == "__main__":
    sys.exit(main())
