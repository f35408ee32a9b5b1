#!/usr/bin/env python3
"""mevi-run must be invisible: stress cases, many runs each, under a watchdog.

    stress.py --mevi-run PATH --mevid PATH --storm PATH [--runs N]
              [--mode exact|sampled] [--engine ptrace|ebpf] [--group NAME] [CASE...]

Each case runs tests/stress/storm.c (a program with a pattern that breaks
tracers) under mevi-run and fails on what a user would call a bug: a hang (the
watchdog fires), an exit status different from the native run's, a crash of
mevi-run, a signal delivered twice, or a process left behind (the program's,
or a mevi-run still tracing). Nothing here fails on timing: the watchdogs are
seconds long where the cases take milliseconds.

Every run carries a marker in its environment (MEVI_STRESS_RUN) that the
program, its children and mevi-run's own processes inherit, so "nothing left
behind" is checked by scanning /proc for it. Needs root (ptrace, userfaultfd,
reading other processes' environments; with --engine ebpf, loading eBPF
programs: a kernel that refuses them is a skip, exit 77).

Both engines start the program the same way (launcher/spawn.h): mevi-run
becomes the program, and a hidden grandchild (the ptrace tracer, or the eBPF
engine's tracker) does the tracking. `attach` (--pid, --detach-after) runs on
both: under ptrace no thread may stay traced, under eBPF the tracker's detach
line must say it left no entry in the kernel's tracked set.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from mevitest import free_port  # noqa: E402

ARGS = None
FAILURES = {}
RUNS = {}
WATCHDOG = float(os.environ.get("MEVI_STRESS_WATCHDOG", "30"))




def procs_with_marker(marker):
    """Pids of live (not zombie) processes whose environment holds marker."""
    needle = ("MEVI_STRESS_RUN=" + marker).encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read()
            if needle not in env.split(b"\0"):
                continue
            with open("/proc/%s/stat" % d) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state not in "ZX":
                found.append(int(d))
        except OSError:
            pass
    return found


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def describe(pid):
    """What a process left behind is: its command line and where it sleeps."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read().strip()
        return "[%s in %s]" % (cmd[:80], wchan)
    except OSError:
        return ""


def threads_where(pid):
    """Each thread of pid: its name, state and the kernel function it waits in."""
    out = []
    try:
        for t in sorted(os.listdir("/proc/%d/task" % pid), key=int):
            try:
                with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                    comm = f.read().strip()
                with open("/proc/%d/task/%s/wchan" % (pid, t)) as f:
                    wchan = f.read().strip()
                out.append("%s/%s %s in %s" % (t, comm, proc_state(int(t)), wchan or "-"))
            except OSError:
                pass
    except OSError:
        return "gone"
    return ", ".join(out)


def tracker_of(prog, marker):
    """The hidden process that tracks prog: its ptrace tracer, or (eBPF
    engine) the mevi-run process carrying the run's marker that is not prog."""
    tracer = tracer_of(prog)
    if tracer:
        return tracer
    exe = os.path.realpath(ARGS.mevi_run)
    for q in procs_with_marker(marker):
        try:
            if q != prog and os.readlink("/proc/%d/exe" % q) == exe:
                return q
        except OSError:
            pass
    return 0


def tracer_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_for(cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def record(case, ok, detail=""):
    RUNS[case] = RUNS.get(case, 0) + 1
    if not ok:
        FAILURES.setdefault(case, []).append(detail)
        if len(FAILURES[case]) <= 3:
            print("FAIL %s: %s" % (case, detail), flush=True)


def kill_marked(marker):
    for pid in procs_with_marker(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def mevi_argv(extra):
    argv = [ARGS.mevi_run, "--socket", ARGS.socket, "--no-spawn", "--engine=" + ARGS.engine]
    if ARGS.mode == "sampled":
        argv.append("--sample")
    return argv + extra


def env_for(marker):
    env = dict(os.environ)
    env["MEVI_STRESS_RUN"] = marker
    env.setdefault("MEVI_LOG", "warn")
    return env


def start(argv, marker, **kw):
    return subprocess.Popen(argv, env=env_for(marker), start_new_session=True,
                            stdin=subprocess.DEVNULL, **kw)


def finish(case, p, marker, expect, out_check=None):
    """Waits for the run, then checks its status and that nothing is left."""
    try:
        out, err = p.communicate(timeout=WATCHDOG)
    except subprocess.TimeoutExpired:
        left = procs_with_marker(marker)
        states = ["%d:%s" % (q, proc_state(q)) for q in left]
        kill_marked(marker)
        p.kill()
        p.communicate()
        record(case, False, "hang (watchdog %ds); processes: %s" % (WATCHDOG, " ".join(states)))
        return
    detail = []
    if p.returncode != expect:
        detail.append("status %s, native %s; stderr %r" % (p.returncode, expect, (err or b"")[-300:]))
    if out_check:
        msg = out_check(out or b"")
        if msg:
            detail.append(msg)
    if not wait_for(lambda: not procs_with_marker(marker), 10):
        left = procs_with_marker(marker)
        detail.append("stderr %r" % (err or b"")[-300:])
        detail.append("left behind: %s" % ", ".join("%d:%s tracer %d %s" % (q, proc_state(q), tracer_of(q), describe(q))
                                                    for q in left))
        kill_marked(marker)
    record(case, not detail, "; ".join(detail))


# ---- cases ----

SIMPLE = {  # case -> native exit status
    "exit0": 0, "worker_exit3": 3, "self_kill": -9, "self_term": -15, "child_kill": 0,
    "exec_leader": 0, "exec_worker": 0, "fork_storm": 0,
    "sandbox_kill": 0, "sandbox_errno": 0, "sandbox_trap": 0, "sandbox_exec": 0,
}


def run_simple(case):
    marker = uuid.uuid4().hex
    p = start(mevi_argv(["--", ARGS.storm, case]), marker,
              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finish(case, p, marker, SIMPLE[case])


def run_group_signal(case):
    sig = signal.SIGTERM if case == "group_term" else signal.SIGHUP
    marker = uuid.uuid4().hex
    p = start(mevi_argv(["--", ARGS.storm, "count_term", "400"]), marker,
              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline()
    if line != b"ready\n":
        finish(case, p, marker, 0)
        return
    os.killpg(p.pid, sig)
    name = "term" if sig == signal.SIGTERM else "hup"

    def check(out):
        counts = dict(kv.split("=") for kv in out.decode().split())
        return None if counts.get(name) == "1" else "%s delivered %s times" % (name, counts.get(name))
    finish(case, p, marker, 0, check)


def program_of(p):
    """The traced program: mevi-run's own pid once it has exec'd, else its child."""
    def storm_pid():
        try:
            if os.readlink("/proc/%d/exe" % p.pid) == os.path.realpath(ARGS.storm):
                return p.pid
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                for c in f.read().split():
                    if os.readlink("/proc/%s/exe" % c) == os.path.realpath(ARGS.storm):
                        return int(c)
        except OSError:
            pass
        return None
    wait_for(lambda: storm_pid() is not None, 10)
    return storm_pid()


def stopped_seen_by_parent(pid):
    """The parent (this test) sees the program group-stopped, as a shell would."""
    try:
        return os.waitid(os.P_PID, pid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return False


def run_jobctl(case):
    """TSTP then CONT, to the program, to its tracer, or to the whole group.

    The run gets a process group of its own in this session (not a session:
    the kernel discards SIGTSTP sent to an orphaned process group)."""
    marker = uuid.uuid4().hex
    p = subprocess.Popen(mevi_argv(["--", ARGS.storm, "sleeper", "300"]), env=env_for(marker),
                         process_group=0, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    prog = program_of(p)
    if prog is None:
        finish(case, p, marker, 0)
        return
    time.sleep(0.05)
    target = {"tstp_program": lambda s: os.kill(prog, s),
              "tstp_tracer": lambda s: os.kill(tracker_of(prog, marker) or p.pid, s),
              "tstp_group": lambda s: os.killpg(p.pid, s)}[case]
    problem = None
    try:
        target(signal.SIGTSTP)
        if case == "tstp_tracer":
            time.sleep(0.05)
            if stopped_seen_by_parent(prog):
                problem = "SIGTSTP to the tracer stopped the program"
        elif prog == p.pid and not wait_for(lambda: stopped_seen_by_parent(prog), 10):
            problem = "the program never stopped (state %s)" % proc_state(prog)
        target(signal.SIGCONT)
    except OSError:
        pass
    if problem:
        record(case, False, problem)
        RUNS[case] -= 1
    finish(case, p, marker, 0)


def run_daemon(case):
    """A daemon the program starts must not keep mevi-run (the shell) waiting."""
    marker = uuid.uuid4().hex
    p = start(mevi_argv(["--", ARGS.storm, "daemon", "60000"]), marker,
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        status = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        kill_marked(marker)
        p.kill()
        p.wait()
        record(case, False, "mevi-run waited for the program's daemon")
        return
    detail = []
    if status != 0:
        detail.append("status %d" % status)
    daemons = [q for q in procs_with_marker(marker) if os.readlink("/proc/%d/exe" % q) == os.path.realpath(ARGS.storm)]
    if len(daemons) != 1:
        detail.append("expected the daemon still running, found %r" % daemons)
    for q in daemons:
        os.kill(q, signal.SIGKILL)
    if not wait_for(lambda: not procs_with_marker(marker), 10):
        detail.append("left behind after the daemon ended: %r" % procs_with_marker(marker))
        kill_marked(marker)
    record(case, not detail, "; ".join(detail))


def run_attach(case):
    """--pid P --detach-after 1 against a running thread storm."""
    marker = uuid.uuid4().hex
    target = start([ARGS.storm, "spin"], marker, stdout=subprocess.DEVNULL)
    time.sleep(0.1)
    argv = [ARGS.mevi_run, "--socket", ARGS.socket, "--no-spawn", "--engine=" + ARGS.engine,
            "--pid", str(target.pid), "--detach-after", "1"] + (["--exact"] if ARGS.mode == "exact" else [])
    env = env_for(marker + "-launcher")
    if ARGS.engine == "ebpf":
        env["MEVI_LOG"] = "debug"  # the detach line says what is left in the tracked set
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    detail = []
    try:
        _, err = p.communicate(timeout=WATCHDOG)
        if p.returncode != 0:
            detail.append("status %d: %r" % (p.returncode, err[-300:]))
    except subprocess.TimeoutExpired:
        # Where it is stuck: each thread's state and wait channel, and the
        # last lines it logged (MEVI_LOG=debug under eBPF).
        where = threads_where(p.pid)
        p.kill()
        _, err = p.communicate()
        detail.append("detach never finished; mevi-run's threads: %s; its last lines: %r" % (
            where, err.decode(errors="replace").splitlines()[-6:]))
    if ARGS.engine == "ebpf" and b" 0 entries remain" not in err:
        # No ptrace to look for: the tracker's own count of what it left.
        detail.append("the tracked set was not emptied: %r" % [
            ln for ln in err.decode(errors="replace").splitlines() if "detached" in ln][-2:])
    traced = []
    try:
        for t in os.listdir("/proc/%d/task" % target.pid):
            if tracer_of(int(t)):
                traced.append(t)
    except OSError:
        detail.append("the target died")
    if traced:
        detail.append("threads still traced: %s" % traced[:5])
    if target.poll() is not None:
        detail.append("the target died with %s" % target.returncode)
    target.kill()
    target.wait()
    kill_marked(marker)
    record(case, not detail, "; ".join(detail))


CASES = dict([(c, run_simple) for c in SIMPLE] +
             [("group_term", run_group_signal), ("group_hup", run_group_signal),
              ("tstp_program", run_jobctl), ("tstp_tracer", run_jobctl), ("tstp_group", run_jobctl),
              ("daemon", run_daemon), ("attach", run_attach)])

GROUPS = {
    "exits": ["exit0", "worker_exit3", "self_kill", "self_term", "child_kill"],
    "execs": ["exec_leader", "exec_worker", "fork_storm"],
    "sandbox": ["sandbox_kill", "sandbox_errno", "sandbox_trap", "sandbox_exec"],
    "signals": ["group_term", "group_hup", "tstp_program", "tstp_tracer", "tstp_group", "daemon"],
    "attach": ["attach"],
}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--mevi-run", required=True)
    ap.add_argument("--mevid", required=True)
    ap.add_argument("--storm", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("MEVI_STRESS_RUNS", "50")))
    ap.add_argument("--mode", choices=["exact", "sampled"], default="exact")
    ap.add_argument("--engine", choices=["ptrace", "ebpf"], default="ptrace")
    ap.add_argument("--group", choices=sorted(GROUPS))
    ap.add_argument("cases", nargs="*")
    ARGS = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root (ptrace, userfaultfd, other processes' environments)")
        return 77
    cases = ARGS.cases or (GROUPS[ARGS.group] if ARGS.group else list(CASES))
    if ARGS.engine == "ebpf":
        probe = subprocess.run([ARGS.mevi_run, "--no-spawn", "--socket", "/nonexistent/mevid.sock",
                                "--engine=ebpf", "--", "true"], capture_output=True, timeout=120)
        if probe.returncode == 125:
            print("SKIP: the eBPF engine does not load here: %s" % probe.stderr.decode(errors="replace").strip())
            return 77
    tmp = tempfile.mkdtemp(prefix="mevi-stress-")
    ARGS.socket = os.path.join(tmp, "mevid.sock")
    log = open(os.path.join(tmp, "mevid.log"), "wb")
    daemon = subprocess.Popen([ARGS.mevid, "--foreground", "--socket", ARGS.socket,
                               "--listen", "127.0.0.1:%d" % free_port()], stdout=log, stderr=log)
    wait_for(lambda: os.path.exists(ARGS.socket), 10)
    try:
        for case in cases:
            t0 = time.time()
            for _ in range(ARGS.runs):
                CASES[case](case)
            print("%-14s %-7s %3d runs, %3d failed  (%.1f s)" %
                  (case, ARGS.mode, RUNS.get(case, 0), len(FAILURES.get(case, [])), time.time() - t0),
                  flush=True)
    finally:
        daemon.terminate()
        daemon.wait()
        log.close()
    if daemon.returncode not in (0, -signal.SIGTERM):
        print("FAIL mevid ended with %s" % daemon.returncode)
        return 1
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
