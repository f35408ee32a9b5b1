#!/usr/bin/env python3
"""A stand-in for mevid and mevi-run that tests the accuracy harness itself.

It speaks the same command lines as the real binaries, so harness.py can run it in
mevi mode:

    mock_mevi.py --foreground --socket PATH --listen 127.0.0.1:PORT    (as mevid)
    mock_mevi.py --socket PATH --no-spawn -- PROGRAM [ARGS...]         (as mevi-run)

The "launcher" forks and execs PROGRAM untraced, tells the "daemon" over the Unix
socket (one JSON object per line) about the session, the program's pid and its exit
status, and exits with the program's status. The "daemon" serves /api/state in the
documented shape, computing every live process's ranges at request time from
/proc/PID/maps and pagemap (so it is always right), and discovering descendants of
the program through /proc. Environment MOCK_MEVI_FAULT=flip makes it lie about one
resident page of every process, so that the harness's failure path can be tested.

Not a model of mevi: it tracks nothing. It only exercises harness.py end to end.
"""

import http.server
import json
import os
import signal
import socket
import socketserver
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PAGE = harness.PAGE


def ranges_of(pid):
    """Ranges in /api/state form for a live pid, from the kernel."""
    _, runs = harness.read_truth(pid)
    out = []
    for s, e, present in runs:
        st = "resident" if present else "not_resident"
        if out and out[-1][1] == s and out[-1][2] == st:
            out[-1][1] = e
        else:
            out.append([s, e, st])
    if os.environ.get("MOCK_MEVI_FAULT") == "flip":
        for r in out:
            if r[2] == "resident":
                # Split off the first page of the first resident range and call it not resident.
                idx = out.index(r)
                if r[1] - r[0] == PAGE:
                    r[2] = "not_resident"
                else:
                    out.insert(idx, [r[0], r[0] + PAGE, "not_resident"])
                    r[0] += PAGE
                merged = []
                for x in out:
                    if merged and merged[-1][1] == x[0] and merged[-1][2] == x[2]:
                        merged[-1][1] = x[1]
                    else:
                        merged.append(x)
                out = merged
                break
    return out


def ppid_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return int(stat[stat.rindex(")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def cmdline_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.sessions = []  # dicts
        self.next_id = 1

    def refresh(self):
        """Discovers descendants, updates ranges of live processes, marks dead ones."""
        with self.lock:
            for sess in self.sessions:
                if not sess["alive"]:
                    continue
                known = {p["pid"]: p for p in sess["processes"] if p["alive"]}
                # Discover new descendants of known processes.
                for name in os.listdir("/proc"):
                    if not name.isdigit():
                        continue
                    pid = int(name)
                    if pid in known:
                        continue
                    pp = ppid_of(pid)
                    if pp in known:
                        proc = {"pid": pid, "ppid": pp, "cmdline": cmdline_of(pid), "alive": True,
                                "exit_status": None, "rss": 0, "vsz": 0, "ranges": []}
                        sess["processes"].append(proc)
                        known[pid] = proc
                for proc in known.values():
                    states = harness.task_states(proc["pid"])
                    if states is None:
                        proc["alive"] = False
                        continue
                    try:
                        proc["ranges"] = ranges_of(proc["pid"])
                        proc["cmdline"] = cmdline_of(proc["pid"]) or proc["cmdline"]
                    except OSError:
                        proc["alive"] = False
                        continue
                    proc["rss"] = sum(e - s for s, e, st in proc["ranges"] if st == "resident")
                    proc["vsz"] = sum(e - s for s, e, st in proc["ranges"])

    def handle(self, msg):
        with self.lock:
            if "session" in msg:
                self.sessions.append({"id": self.next_id, "argv": msg["argv"], "launcher_pid": msg["session"],
                                      "alive": True, "exit_status": None, "processes": []})
                self.next_id += 1
                return
            sess = next(s for s in self.sessions if s["launcher_pid"] == msg["launcher"])
            if "proc" in msg:
                sess["processes"].append({"pid": msg["proc"], "ppid": msg["launcher"], "cmdline": msg["argv"],
                                          "alive": True, "exit_status": None, "rss": 0, "vsz": 0, "ranges": []})
            elif "exit" in msg:
                for p in sess["processes"]:
                    if p["pid"] == msg["exit"]:
                        p["alive"], p["exit_status"] = False, msg["status"]
                for p in sess["processes"]:
                    p["alive"] = False
                sess["alive"], sess["exit_status"] = False, msg["status"]

    def document(self, pid):
        with self.lock:
            out = []
            for sess in self.sessions:
                procs = [p for p in sess["processes"] if pid is None or p["pid"] == pid]
                if pid is not None and not procs:
                    continue
                out.append(dict(sess, processes=procs))
            return {"sessions": out}


def run_daemon(sock_path, listen):
    state = State()
    host, port = listen.rsplit(":", 1)

    class Http(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path, _, query = self.path.partition("?")
            if path != "/api/state":
                self.send_error(404)
                return
            pid = None
            for kv in query.split("&"):
                if kv.startswith("pid="):
                    pid = int(kv[4:])
            state.refresh()
            body = json.dumps(state.document(pid)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class Launchers(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                state.handle(json.loads(line))

    class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    if os.path.exists(sock_path):
        os.unlink(sock_path)
    unix = UnixServer(sock_path, Launchers)
    threading.Thread(target=unix.serve_forever, daemon=True).start()
    httpd = http.server.ThreadingHTTPServer((host, int(port)), Http)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=httpd.shutdown).start())
    print(f"mock mevid: socket {sock_path}, http://{listen}/", file=sys.stderr, flush=True)
    httpd.serve_forever()
    unix.shutdown()
    return 0


def run_launcher(sock_path, program):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    me = os.getpid()

    def send(obj):
        s.sendall((json.dumps(obj) + "\n").encode())

    send({"session": me, "argv": program})
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(program[0], program)
        except OSError as e:
            print(f"mock mevi-run: {program[0]}: {e}", file=sys.stderr)
            os._exit(127)
    send({"launcher": me, "proc": pid, "argv": program})
    while True:
        _, st = os.waitpid(pid, 0)
        if os.WIFEXITED(st) or os.WIFSIGNALED(st):
            break
    status = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
    send({"launcher": me, "exit": pid, "status": status})
    s.close()
    return status


def main(argv):
    args = argv[1:]
    sock = args[args.index("--socket") + 1]
    if "--listen" in args:
        return run_daemon(sock, args[args.index("--listen") + 1])
    return run_launcher(sock, args[args.index("--") + 1 :])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
