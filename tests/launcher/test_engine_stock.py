#!/usr/bin/env python3
"""mevid's engine stock (daemon/engine_stock.h, launcher/stock.h): one set of
eBPF programs loaded ahead of time and handed to the next mevi-run.

    test_engine_stock.py --mevi-run PATH --mevid PATH

- mevid loads two sets at start, exact and sampled (its descriptors name
  BPF programs, PER_SET a set), each with its ring buffer primed: every
  page written once by the kernel, the ring empty again;
- `mevi-run --engine=ebpf` runs one of those very sets (its tracker holds
  PER_SET of the program ids mevid held, mevid no longer does) and mevid
  loads it again; `--sample` takes the other;
- a launcher configured otherwise (MEVI_BPF_RINGBUF) is refused and loads its
  own, and mevid keeps its sets; it learns that configuration from the
  request and loads a set for it once that launcher has ended, which the
  next launcher configured alike takes; a configuration past the bounds
  (a 64 MiB ring), or one that does not make the id it came with, is not
  learned; a learned one no launcher asks for is let go after
  MEVI_STOCK_LEARNED_MS (6 s here);
- every answer, a refusal too, carries the ids of the syscall tracepoints the
  layout program attaches to (the kernel's, as tracefs numbers them), and a
  launcher that has them reads no tracefs (strace); without mevid's stock it
  does;
- from a launcher's request on, mevid holds one perf event on each of those
  ten tracepoints (daemon/warm_syscalls.h), and none once the linger after
  the last request has run out (MEVI_WARM_SYSCALLS_MS, 1.5 s here); for an
  exact-mode launcher, one empty program linked twice to each page-fault
  tracepoint too, for the same linger;
- the socket refuses what is not a request (garbage, another id, another
  version, silence), each on its own connection, and mevid carries on with
  its set; a peer of another uid (nobody) is cut off without a reply;
- --no-engine-stock: no socket, no programs, and mevi-run loads its own;
- a stopped mevid leaves neither its socket nor its programs behind;
- with its stock, mevid keeps the process-tree tracepoints warm
  (daemon/warm_tracepoints.h): one more program, empty, linked twice to each
  of sched_process_fork, _exec and _exit; nothing of it after mevid stops,
  and none of it with --no-engine-stock.
Python 3 standard library only; needs root (exits 77, skipped, otherwise).
"""

import argparse
import ctypes
import json
import mmap
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from mevitest import Daemon, bpf_progs_of, check, fdinfo_by_fd, finish, process_of, raw_tp_links_of  # noqa: E402

ARGS = None
NOBODY = 65534
MAGIC = b"mevi-stock"
PER_SET = 9  # the programs in launcher/bpf/mevi.bpf.c
RINGBUF = 27  # BPF_MAP_TYPE_RINGBUF
SYS_PIDFD_GETFD = 438


WARM = ["sched_process_exec", "sched_process_exec", "sched_process_exit",
        "sched_process_exit", "sched_process_fork", "sched_process_fork"]
FAULTS = ["page_fault_kernel", "page_fault_kernel", "page_fault_user", "page_fault_user",
          "sched_switch", "sched_switch"]


def links_on(pid, names):
    """mevid's raw tracepoint links on the tracepoints named."""
    return [(n, prog) for n, prog in raw_tp_links_of(pid) if n in names]


def stock_of(pid):
    """The programs of mevid's sets: all it holds but the warm one."""
    return bpf_progs_of(pid) - {prog for _, prog in raw_tp_links_of(pid)}


def wait_sets(pid, timeout=10, sets=2):
    """The programs mevid holds in its sets once it holds that many sets
    (sets * PER_SET programs: both defaults, by default); empty if they did
    not come in time."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        held = stock_of(pid)
        if len(held) == sets * PER_SET:
            return held
        time.sleep(0.02)
    return set()


def check_warm(pid):
    """mevid's warm tracepoints (daemon/warm_tracepoints.h); returns the
    program's id."""
    links = links_on(pid, WARM)
    progs = {prog for _, prog in links}
    check("mevid keeps the process-tree tracepoints warm: one program linked twice to each",
          [name for name, _ in links] == WARM and len(progs) == 1, repr(links))
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, timeout=30)
    names = {q["id"]: q.get("name", "") for q in json.loads(out.stdout or b"[]")}
    check("the warm program is mevid's empty one, apart from the sets",
          progs and all(names.get(i) == "mevi_warm" for i in progs), repr((progs, names)))
    return progs


def ring_positions(pid):
    """(consumer, producer, size) of each ring buffer process pid holds, read
    through a copy of its descriptor (pidfd_getfd) and the ring's own
    read-only pages."""
    libc = ctypes.CDLL(None, use_errno=True)
    page = mmap.PAGESIZE
    out = []
    pidfd = os.pidfd_open(pid)
    try:
        for fd, info in fdinfo_by_fd(pid).items():
            if info.get("map_type") != str(RINGBUF):
                continue
            mine = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
            if mine < 0:
                continue
            try:
                with mmap.mmap(mine, page, prot=mmap.PROT_READ, offset=0) as c, \
                        mmap.mmap(mine, page, prot=mmap.PROT_READ, offset=page) as p:
                    out.append((struct.unpack("<Q", c[:8])[0], struct.unpack("<Q", p[:8])[0],
                                int(info["max_entries"])))
            finally:
                os.close(mine)
    finally:
        os.close(pidfd)
    return out


def check_primed(pid):
    """Each set's ring buffer has been written page by page and is empty:
    the producer went round (all but its last page: a full ring takes no
    more) and the consumer stands where it stopped. A set's programs are
    there before its ring is primed (both on mevid's loading thread, at idle
    priority): a busy machine may see one between the two for a while."""
    deadline = time.time() + 10
    while True:
        rings = ring_positions(pid)
        primed = len(rings) == 2 and all(cons == prod and prod >= size - 4096
                                         for cons, prod, size in rings)
        if primed or time.time() > deadline:
            break
        time.sleep(0.02)
    check("mevid primes each set's ring buffer: every page written, the ring empty again",
          primed, repr(rings))


def run_sleeping(sock, env_extra, marker, opts=()):
    """Starts `mevi-run --engine=ebpf OPTS -- sleep 0.6` on sock; returns the
    process and its tracker's program ids, read while sleep runs (empty
    if the tracker never held PER_SET)."""
    env = dict(os.environ, MEVI_LOG="debug", **env_extra)
    env["MEVI_TEST_STOCK_RUN"] = marker
    p = subprocess.Popen([ARGS.mevi_run, "--socket", sock, "--engine=ebpf"] + list(opts) + ["--", "sleep", "0.6"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tracker, held = 0, set()
    deadline = time.time() + 5
    # The descriptors arrive one by one (a hand-over, then the attaches):
    # read until the tracker holds a whole set, all its programs.
    while time.time() < deadline and len(held) < PER_SET:
        tracker = process_of(ARGS.mevi_run, b"MEVI_TEST_STOCK_RUN=" + marker.encode(), p.pid)
        held = bpf_progs_of(tracker) if tracker else set()
        time.sleep(0.02)
    return p, held


SYS_EXITS = ["sys_exit_mmap", "sys_exit_munmap", "sys_exit_brk", "sys_exit_mremap",
             "sys_exit_madvise", "sys_exit_shmat", "sys_exit_shmdt", "sys_exit_mlock",
             "sys_exit_mlockall", "sys_exit_mlock2"]  # launcher/bpfskel.c's order


def kernel_tp_ids():
    """The ids tracefs gives SYS_EXITS, read in a mount namespace of our own
    (nothing is mounted on the machine)."""
    script = ("mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null; "
              "for n in %s; do cat /sys/kernel/tracing/events/syscalls/$n/id; done" % " ".join(SYS_EXITS))
    out = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                         capture_output=True, timeout=30)
    return [int(x) for x in out.stdout.split()]


def msgpack_uints(values):
    """A msgpack array of uints, packed the smallest way (as msgpack-c does)."""
    out = bytes([0x90 | len(values)])
    for v in values:
        if v < 0x80:
            out += bytes([v])
        elif v < 0x100:
            out += b"\xcc" + bytes([v])
        elif v < 0x10000:
            out += b"\xcd" + struct.pack(">H", v)
        else:
            out += b"\xce" + struct.pack(">I", v)
    return out


def tracefs_reads(sock):
    """How many times `mevi-run --engine=ebpf -- true` on sock (and a child
    of it) opened a syscall tracepoint's id file, by strace."""
    tmp = tempfile.mkdtemp(prefix="mevi-stock-strace-")
    log = os.path.join(tmp, "strace")
    r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat", "-o", log, ARGS.mevi_run,
                        "--socket", sock, "--no-spawn", "--engine=ebpf", "--", "true"],
                       capture_output=True, timeout=60)
    with open(log, errors="replace") as f:
        n = sum("/events/syscalls/" in line for line in f)
    os.unlink(log)
    os.rmdir(tmp)
    return n if r.returncode == 0 else -1


LINGER_MS = 1500
LEARNED_MS = 6000


def perf_events_of(pid):
    """How many perf event descriptors process pid holds."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:[perf_event]"
        except OSError:
            pass
    return n


def request(version, ident, ring=4 << 20):
    """A request in bytes: ["mevi-stock", version, ident, config] (uint64 id;
    the default exact configuration, with a ring of ring bytes); before
    version 3, without the configuration."""
    head = MAGIC + bytes([version]) + b"\xcf" + struct.pack(">Q", ident)
    if version < 3:
        return bytes([0x93, 0xa0 | len(MAGIC)]) + head
    config = (b"\x97\xc3\xc2\xc3\xc2" + b"\xcf" + struct.pack(">Q", ring // 4)
              + b"\xce" + struct.pack(">I", ring) + b"\xce" + struct.pack(">I", 8192))
    return bytes([0x94, 0xa0 | len(MAGIC)]) + head + config


def ask(path, data, wait=3.0):
    """Sends data on a new connection; returns (reply bytes, descriptors)
    as received until mevid closes (or wait seconds pass)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(wait)
    s.connect(path)
    if data:
        s.sendall(data)
    got, fds = b"", []
    try:
        while True:
            msg, more, _, _ = socket.recv_fds(s, 512, 64)
            fds += more
            if not msg:
                break
            got += msg
    except socket.timeout:
        got = None
    s.close()
    for fd in fds:
        os.close(fd)
    return got, fds


def refused_with(reply, words, tail=None):
    """Whether reply is ["mevi-stock", 3, nil, why, ids] with words in why
    (and, given tail, ids packed as tail)."""
    head = bytes([0x95, 0xa0 | len(MAGIC)]) + MAGIC + b"\x03\xc0"
    return (reply is not None and reply.startswith(head) and words in reply[len(head):]
            and (tail is None or reply.endswith(tail)))


def check_socket_rules(d, path, held):
    got, fds = ask(path, b"\xc1garbage")
    check("garbage on the stock socket: the connection is closed, nothing handed over",
          got == b"" and not fds, repr((got, fds)))
    ids = kernel_tp_ids()
    got, fds = ask(path, request(3, 5))
    check("a request for another id: refused in a sentence, nothing handed over, the "
          "tracepoint ids given all the same (the kernel's)",
          len(ids) == len(SYS_EXITS) and not fds
          and refused_with(got, b"no set loaded for this build and configuration", msgpack_uints(ids)),
          repr((got, fds, ids)))
    got, fds = ask(path, request(2, 5))
    check("a request of another version: refused, naming ours",
          refused_with(got, b"speaks version 3") and not fds, repr((got, fds)))
    got, fds = ask(path, request(3, 5, ring=1 << 16))
    time.sleep(0.5)
    with open(d.logpath, errors="replace") as f:
        log = f.read()
    check("a configuration that does not make the id it came with is refused and not learned",
          refused_with(got, b"no set loaded") and stock_of(d.proc.pid) == held
          and "does not make the id it asked for" in log, repr((got, stock_of(d.proc.pid))))
    t0 = time.time()
    got, fds = ask(path, b"", wait=5)
    check("a silent connection is closed after about a second",
          got == b"" and 0.5 < time.time() - t0 < 4, repr((got, time.time() - t0)))
    check("after all that mevid is up and still holds its set",
          d.proc.poll() is None and stock_of(d.proc.pid) == held, repr(stock_of(d.proc.pid)))

    # Another user: the directory and socket opened to it for this check only.
    tmp = os.path.dirname(path)
    os.chmod(tmp, 0o711)
    os.chmod(path, 0o666)
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX);s.settimeout(5);s.connect(sys.argv[1])\n"
            "try:\n"
            "  s.sendall(bytes.fromhex(sys.argv[2]))\n"
            "  m,f,_,_=socket.recv_fds(s,512,64)\n"
            "except (ConnectionResetError, BrokenPipeError):\n"
            "  m,f=b'',[]  # closed on us: before or after the request\n"
            "print(len(m),len(f))\n")
    r = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                        sys.executable, "-c", code, path, request(3, 5).hex()],
                       capture_output=True, timeout=30)
    os.chmod(tmp, 0o700)
    os.chmod(path, 0o700)
    check("nobody is cut off without a reply or a descriptor",
          r.returncode == 0 and r.stdout.split() == [b"0", b"0"], repr((r.returncode, r.stdout, r.stderr[-300:])))
    time.sleep(0.1)
    with open(d.logpath, errors="replace") as f:
        log = f.read()
    check("mevid logs why nobody was refused", "refused: runs as uid %d" % NOBODY in log, log[-600:])
    check("and still holds its set", stock_of(d.proc.pid) == held, repr(stock_of(d.proc.pid)))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--mevi-run", required=True)
    ap.add_argument("--mevid", required=True)
    ARGS = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root (loading eBPF programs)")
        return 77
    tmp = tempfile.mkdtemp(prefix="mevi-stock-")
    sock = os.path.join(tmp, "m.sock")
    path = sock + ".stock"
    os.environ["MEVI_LOG"] = "debug"
    os.environ["MEVI_WARM_SYSCALLS_MS"] = str(LINGER_MS)
    os.environ["MEVI_STOCK_LEARNED_MS"] = str(LEARNED_MS)
    d = Daemon(ARGS.mevid, sock)
    try:
        first = wait_sets(d.proc.pid)
        if not first:
            print("SKIP: mevid could not load the eBPF programs here")
            d.stop()
            return 77
        check("mevid loads two sets at start, on a socket beside the launcher's, closed to others",
              len(first) == 2 * PER_SET and os.stat(path).st_mode & 0o077 == 0,
              repr((first, oct(os.stat(path).st_mode))))
        warm = check_warm(d.proc.pid)
        check_primed(d.proc.pid)

        started = time.time()
        p, held = run_sleeping(sock, {}, "1")
        now = stock_of(d.proc.pid)
        # PROGRAM (sleep 0.6) lives at least 0.6 s from here, and the
        # hand-over was less than ENGINE_STOCK_RELOAD_MAX_MS (2 s) ago.
        time.sleep(max(0.0, started + 0.45 - time.time()))
        meanwhile = stock_of(d.proc.pid)
        alive = p.poll() is None
        err = p.communicate(timeout=30)[1]
        taken = first & held
        check("mevi-run runs one of mevid's sets: its tracker holds all of the very programs",
              len(taken) == PER_SET and held == taken, repr((first, held)))
        deadline = time.time() + 3  # opened on mevid's thread pool
        while time.time() < deadline and perf_events_of(d.proc.pid) != len(SYS_EXITS):
            time.sleep(0.02)
        check("mevid holds one perf event on each layout syscall tracepoint since the request",
              perf_events_of(d.proc.pid) == len(SYS_EXITS), repr(perf_events_of(d.proc.pid)))
        faults = links_on(d.proc.pid, FAULTS)
        check("and, for an exact-mode launcher, one empty program of its own linked twice to "
              "each page-fault tracepoint and to sched_switch",
              [n for n, _ in faults] == FAULTS and len({q for _, q in faults}) == 1
              and not {q for _, q in faults} & warm, repr((faults, warm)))
        check("mevid no longer holds them, and keeps the other set",
              now.isdisjoint(taken) and first - taken <= now, repr((now, first - taken)))
        check("nor loads that set again while the program that took it runs (0.45 s in: the load's "
              "CPU would compete with it)", alive and meanwhile == first - taken,
              repr((alive, meanwhile, first - taken)))
        check("the launcher says where its programs came from",
              b"mevid's, loaded ahead of time" in err, err[-600:])
        check("the program ran and ended well", p.returncode == 0, repr((p.returncode, err[-300:])))
        second = wait_sets(d.proc.pid)
        check("mevid loads that set again", len(second) == 2 * PER_SET and second.isdisjoint(taken)
              and first - taken <= second, repr((first, taken, second)))
        sess = [s for s in d.sessions() if s.get("engine") == "ebpf"]
        check("the session is an eBPF one", len(sess) == 1, repr(d.sessions()))

        p, held = run_sleeping(sock, {}, "2", opts=["--sample"])
        now = stock_of(d.proc.pid)
        err = p.communicate(timeout=30)[1]
        check("--sample takes the other set, the one loaded for sampled mode at start",
              held == first - taken and p.returncode == 0,
              repr((held, first - taken, p.returncode, err[-300:])))
        check("mevid keeps the exact set meanwhile", now.isdisjoint(held) and second - held <= now,
              repr((now, second - held)))
        second = wait_sets(d.proc.pid)
        check("and loads the sampled set again", len(second) == 2 * PER_SET, repr(second))

        p, held = run_sleeping(sock, {"MEVI_BPF_RINGBUF": "65536"}, "3")
        err = p.communicate(timeout=30)[1]
        check("a launcher configured otherwise loads its own set",
              held and held.isdisjoint(second) and p.returncode == 0,
              repr((held, second, p.returncode)))
        check("and says why", b"no set loaded for this build and configuration" in err, err[-600:])
        check("mevid keeps its sets for the next launchers", second <= stock_of(d.proc.pid),
              repr(stock_of(d.proc.pid)))
        third = wait_sets(d.proc.pid, sets=3)
        check("and, that launcher ended, loads a set for its configuration too",
              len(third) == 3 * PER_SET and second < third, repr((second, third)))
        p, held = run_sleeping(sock, {"MEVI_BPF_RINGBUF": "65536"}, "4")
        err = p.communicate(timeout=30)[1]
        learned = third - second
        check("which the next launcher configured alike takes",
              held == learned and b"mevid's, loaded ahead of time" in err and p.returncode == 0,
              repr((held, learned, p.returncode, err[-400:])))
        third = wait_sets(d.proc.pid, sets=3)
        check("and mevid loads it again", len(third) == 3 * PER_SET and third.isdisjoint(held),
              repr((third, held)))
        p, held = run_sleeping(sock, {"MEVI_BPF_RINGBUF": str(64 << 20)}, "5")
        err = p.communicate(timeout=30)[1]
        time.sleep(0.5)
        check("a configuration past the bounds (a 64 MiB ring) runs, with programs of its own, "
              "and is not learned", held and held.isdisjoint(third) and p.returncode == 0
              and stock_of(d.proc.pid) == third, repr((held, third, stock_of(d.proc.pid))))
        with open(d.logpath, errors="replace") as f:
            log = f.read()
        check("mevid says why", "no set is kept for its configuration: its ring buffer" in log,
              log[-600:])
        relearned = third - second
        check("and its warm tracepoints, through three launchers", links_on(d.proc.pid, WARM)
              == [(name, min(warm)) for name in WARM], repr(raw_tp_links_of(d.proc.pid)))

        n = tracefs_reads(sock)
        check("a launcher given the tracepoint ids reads no tracefs", n == 0, repr(n))
        check_socket_rules(d, path, wait_sets(d.proc.pid, sets=3))
        gone = wait_sets(d.proc.pid, timeout=LEARNED_MS / 1000 + 5)
        check("a learned configuration no launcher asks for is let go after a while",
              len(relearned) == PER_SET and len(gone) == 2 * PER_SET
              and gone.isdisjoint(relearned), repr((gone, relearned)))
        deadline = time.time() + LINGER_MS / 1000 + 5
        while time.time() < deadline and (perf_events_of(d.proc.pid)
                                          or links_on(d.proc.pid, FAULTS)):
            time.sleep(0.05)
        check("and lets them go once no launcher has asked for the linger, the fault links too",
              perf_events_of(d.proc.pid) == 0 and not links_on(d.proc.pid, FAULTS)
              and links_on(d.proc.pid, WARM) == [(name, min(warm)) for name in WARM],
              repr((perf_events_of(d.proc.pid), raw_tp_links_of(d.proc.pid))))
    finally:
        d.stop()
    check("a stopped mevid removes its stock socket", not os.path.exists(path))
    deadline = time.time() + 10
    while time.time() < deadline and os.path.exists("/proc/%d" % d.proc.pid):
        time.sleep(0.05)
    # The kernel frees a program after an RCU grace period: give it a moment.
    left = warm
    while left and time.time() < deadline + 10:
        out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, timeout=30)
        left = warm & {q["id"] for q in json.loads(out.stdout or b"[]")}
        time.sleep(0.1)
    check("a stopped mevid leaves its warm program neither loaded nor linked", not left, repr(left))

    sock2 = os.path.join(tmp, "n.sock")
    d2 = Daemon(ARGS.mevid, sock2, extra=["--no-engine-stock"])
    try:
        time.sleep(0.3)
        check("--no-engine-stock: no socket and no programs, warm or not",
              not os.path.exists(sock2 + ".stock") and not bpf_progs_of(d2.proc.pid)
              and not raw_tp_links_of(d2.proc.pid), repr(bpf_progs_of(d2.proc.pid)))
        p, held = run_sleeping(sock2, {}, "4")
        err = p.communicate(timeout=30)[1]
        check("--no-engine-stock: mevi-run loads its own set", bool(held) and p.returncode == 0,
              repr((held, p.returncode, err[-300:])))
        check("and mevid holds no perf event", perf_events_of(d2.proc.pid) == 0,
              repr(perf_events_of(d2.proc.pid)))
        n = tracefs_reads(sock2)
        check("and reads the tracepoint ids from tracefs itself", n >= len(SYS_EXITS), repr(n))
    finally:
        d2.stop()
    return finish(tmp)


if __name__ == "__main__":
    sys.exit(main())
