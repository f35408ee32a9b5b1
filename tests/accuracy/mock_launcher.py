#!/usr/bin/env python3
"""A stand-in for mevi-run that speaks the real wire protocol to the real mevid.

    mock_launcher.py --socket PATH --no-spawn -- PROGRAM [ARGS...]

It runs PROGRAM untraced and, every few milliseconds, reads the kernel's view of
PROGRAM and of its descendants (/proc/PID/maps + pagemap, as harness.py does) and
sends mevid whatever changed, as msgpack batches of the events of proto/PROTOCOL.md
(session_start, proc_start, proc_exec, map, unmap, proc_exit, session_end). Its
exit status is PROGRAM's (128+N for signal N).

This is not a tracker: it polls instead of tracing. It exists so that the accuracy
harness can be run against the real mevid before mevi-run lands, which checks the
daemon's /api/state (shape, pid lookup, exit statuses, ended sessions) and the
harness together. Limitation: exit statuses of processes other than PROGRAM are not
known to it (it is not their parent) and are reported as 0.
"""

import os
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

POLL = 0.003
T0 = time.monotonic_ns()


def pack(o):
    """A minimal msgpack encoder: nil, bool, int, str, list (what the protocol uses)."""
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 0x80:
            return bytes([o])
        if -32 <= o < 0:
            return struct.pack("b", o)
        if 0 <= o <= 0xFF:
            return b"\xcc" + struct.pack(">B", o)
        if 0 <= o <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", o)
        if 0 <= o <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", o)
        if 0 <= o < 1 << 64:
            return b"\xcf" + struct.pack(">Q", o)
        if -(1 << 7) <= o:
            return b"\xd0" + struct.pack(">b", o)
        if -(1 << 15) <= o:
            return b"\xd1" + struct.pack(">h", o)
        if -(1 << 31) <= o:
            return b"\xd2" + struct.pack(">i", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, str):
        b = o.encode("utf-8", "surrogateescape")
        n = len(b)
        if n < 32:
            return bytes([0xA0 | n]) + b
        if n <= 0xFF:
            return b"\xd9" + struct.pack(">B", n) + b
        if n <= 0xFFFF:
            return b"\xda" + struct.pack(">H", n) + b
        return b"\xdb" + struct.pack(">I", n) + b
    if isinstance(o, (list, tuple)):
        n = len(o)
        if n < 16:
            head = bytes([0x90 | n])
        elif n <= 0xFFFF:
            head = b"\xdc" + struct.pack(">H", n)
        else:
            head = b"\xdd" + struct.pack(">I", n)
        return head + b"".join(pack(x) for x in o)
    raise TypeError(f"cannot pack {type(o)}")


def ts():
    return time.monotonic_ns() - T0


def cmdline_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "surrogateescape") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return None


def children_of(pids):
    """{pid: ppid} of every process whose parent is in pids."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        if rest[0] in "ZX":
            continue
        ppid = int(rest[1])
        if ppid in pids:
            out[int(name)] = ppid
    return out


class Proc:
    def __init__(self, pid, ppid, cmdline):
        self.pid, self.ppid, self.cmdline = pid, ppid, cmdline
        self.runs = []  # [(start, end, state)] last sent


def runs_of(pid):
    _, runs = harness.read_truth(pid)
    out = []
    for s, e, present in runs:
        st = 1 if present else 0
        if out and out[-1][1] == s and out[-1][2] == st:
            out[-1] = (out[-1][0], e, st)
        else:
            out.append((s, e, st))
    return out


def main(argv):
    args = argv[1:]
    sock_path = args[args.index("--socket") + 1]
    program = args[args.index("--") + 1 :]
    me = os.getpid()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.settimeout(2)
    try:
        s.recv(4096)  # the greeting; its content does not matter here
    except socket.timeout:
        pass
    s.setblocking(True)

    def send(batch):
        if batch:
            s.sendall(pack(batch))

    send([[0, me, ts(), 3, 1, False, time.time_ns(), program, 20]])  # protocol 3, sampled every 20 ms
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(program[0], program)
        except OSError as e:
            print(f"mock_launcher: {program[0]}: {e}", file=sys.stderr)
            os._exit(127)
    procs = {pid: Proc(pid, me, program)}
    send([[2, pid, ts(), me, 0, program]])
    status = None
    while True:
        batch = []
        # New descendants.
        for cpid, ppid in children_of(set(procs)).items():
            if cpid not in procs:
                cmd = cmdline_of(cpid) or []
                procs[cpid] = Proc(cpid, ppid, cmd)
                batch.append([2, cpid, ts(), ppid, 0, cmd])
        for p in list(procs.values()):
            states = harness.task_states(p.pid)
            if states is None and not (p.pid == pid and status is None):
                batch.append([4, p.pid, ts(), status if p.pid == pid else 0])
                del procs[p.pid]
                continue
            if states is None:
                continue
            cmd = cmdline_of(p.pid)
            try:
                runs = runs_of(p.pid)
            except OSError:
                continue
            if cmd is not None and cmd != p.cmdline:
                p.cmdline, p.runs = cmd, []
                batch.append([3, p.pid, ts(), cmd])
            if runs != p.runs:
                for a, b, _ in p.runs:
                    batch.append([6, p.pid, ts(), a, b])
                for a, b, st in runs:
                    batch.append([5, p.pid, ts(), a, b, st])
                p.runs = runs
        send(batch)
        if status is None:
            r, st = os.waitpid(pid, os.WNOHANG)
            if r == pid and (os.WIFEXITED(st) or os.WIFSIGNALED(st)):
                status = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
        if status is not None and not procs:
            break
        time.sleep(POLL)
    send([[1, me, ts(), status]])
    s.close()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
