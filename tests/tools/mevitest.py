"""mevitest — the bookkeeping the Python test scripts share.

    check(name, cond, detail="")  prints "ok   NAME" or "FAIL NAME: DETAIL",
                                  records a failure in FAILURES, returns
                                  bool(cond)
    FAILURES                      the names of the checks that failed
    finish(tmp, what="logs")      the last line and the exit status: "N failed:
                                  ..." and 1 (tmp kept, named as WHAT), or
                                  "all passed" and 0 (tmp removed); tmp may
                                  be None
    free_port()                   a free TCP port on 127.0.0.1
    bpf_progs_of(pid)             the ids of the BPF programs pid holds
    process_of(exe, env_entry, not_pid=0)
                                  a process running exe whose environment
                                  holds env_entry (bytes "NAME=VALUE"), or 0
    Daemon(mevid, sock, port=None, extra=())
                                  a private mevid in the foreground on sock
                                  and 127.0.0.1:port (a free one by default),
                                  its output in sock + ".log"; state(query),
                                  sessions(), stop() -> the log's text

A test script imports it by putting tests/tools on sys.path first:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    from mevitest import check, finish  # noqa: E402

Python 3 standard library only.
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

FAILURES = []


def check(name, cond, detail=""):
    """Prints one line for the check; a failed one is kept in FAILURES."""
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + detail), flush=True)
    if not cond:
        FAILURES.append(name)
    return bool(cond)


def finish(tmp, what="logs"):
    """The summary line; returns the exit status (1 if a check failed, else 0).
    On failure tmp (if any) is kept for a look, otherwise it is removed."""
    if FAILURES:
        if tmp is None:
            print("%d failed: %s" % (len(FAILURES), ", ".join(FAILURES)))
        else:
            print("%d failed: %s (%s in %s)" % (len(FAILURES), ", ".join(FAILURES), what, tmp))
        return 1
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    print("all passed")
    return 0


def free_port():
    """A TCP port on 127.0.0.1 that nobody held a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fdinfo_by_fd(pid):
    """The fdinfo of each descriptor process pid holds, by descriptor number,
    as dicts of its "key: value" lines (a descriptor gone meanwhile is left
    out)."""
    fddir = "/proc/%d/fdinfo" % pid
    try:
        names = os.listdir(fddir)
    except OSError:
        return {}
    infos = {}
    for fd in names:
        try:
            with open(os.path.join(fddir, fd)) as f:
                infos[int(fd)] = {k: v.strip() for k, _, v in (line.partition(":") for line in f)}
        except OSError:
            pass
    return infos


def fdinfos_of(pid):
    """The fdinfo of each descriptor process pid holds (fdinfo_by_fd's values)."""
    return list(fdinfo_by_fd(pid).values())


def bpf_progs_of(pid):
    """Ids of the BPF programs process pid holds: the prog_id lines of its
    descriptors' fdinfo (program and link descriptors both have one)."""
    return {int(i["prog_id"]) for i in fdinfos_of(pid) if "prog_id" in i}


def raw_tp_links_of(pid):
    """The raw tracepoint links process pid holds, as (tracepoint name,
    program id) pairs from its descriptors' fdinfo (a list: one per link)."""
    return sorted((i.get("tp_name", ""), int(i.get("prog_id", "0")))
                  for i in fdinfos_of(pid) if i.get("link_type") == "raw_tracepoint")


def process_of(exe, env_entry, not_pid=0):
    """A process (not not_pid) running exe whose environment holds env_entry
    (bytes, "NAME=VALUE"): e.g. the hidden tracker of one mevi-run. 0 if none."""
    exe = os.path.realpath(exe)
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == not_pid:
            continue
        try:
            if os.readlink("/proc/%s/exe" % d) != exe:
                continue
            with open("/proc/%s/environ" % d, "rb") as f:
                if env_entry in f.read().split(b"\0"):
                    return int(d)
        except OSError:
            pass
    return 0


class Daemon:
    """A private mevid on a temporary socket and a loopback port (a free one
    unless given), logging to sock + ".log"."""

    def __init__(self, mevid_path, sock, port=None, extra=()):
        self.sock = sock
        self.port = port or free_port()
        self.logpath = sock + ".log"
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [mevid_path, "--foreground", "--socket", sock, "--listen", "127.0.0.1:%d" % self.port] + list(extra),
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                self.state()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
        raise RuntimeError("mevid did not come up: " + self._read_log())

    def _read_log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def state(self, query=""):
        """GET /api/state (plus query, e.g. "?pid=42"), decoded."""
        with urllib.request.urlopen("http://127.0.0.1:%d/api/state%s" % (self.port, query), timeout=5) as r:
            return json.load(r)

    def sessions(self):
        return self.state()["sessions"]

    def stop(self):
        """Ends mevid (SIGTERM, SIGKILL after 5 s); returns its log."""
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        return self._read_log()
