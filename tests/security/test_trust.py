#!/usr/bin/env python3
"""
test_trust — the attacks of issue 15, replayed as root against real users
(uid 65534, "nobody", through setpriv), each with what it must get now:

  launcher   a fake daemon of another uid in the victim's default socket
             directory receives nothing (the program runs on, untracked, its
             status passed through); a peer of another uid in a trusted
             directory is refused; mevid refuses a launcher of another uid and
             the launcher says so in one sentence.
  http       as nobody: /api/state, /stream, a recording, DELETE, an upload
             -> 401; a wrong token -> 403; the token (Bearer or ?token=) ->
             allowed; root (mevid's uid) -> allowed without a token;
             /api/health open and saying nothing.
  network    mevid --listen 0.0.0.0:P from another network namespace (a veth
             pair made here): 401 without the token, 200 with it; the same
             rule for loopback clients; the log says it is exposed.
  uploads    four uploads announcing 256 MiB stalled after 64 MiB each: mevid's
             RSS grows < 32 MiB and it keeps serving; a fifth gets 503; an
             over-cap upload gets 413 before its body; a random body is refused
             from its first bytes.
  headers    a 100 KiB header -> 431 with a one-sentence body (not a dropped
             connection); the rest of the accept's limits: test_http_accept.c.
  ports      root's auto-spawned mevid holds the first free port from 5001;
             nobody's auto-spawned mevid takes another (the next free one) and
             the URL nobody's mevi-run prints is that port, with the token of
             nobody's mevid, serving nobody's session; root's mevid does not
             see it, and refuses nobody without the token.

The binaries nobody runs are copied into a world-readable temporary directory
(a clone under /root is mode 0700). Prints what each attack gets and the cost
of the peer-uid check. Exit 0 when every check passed, 77 to skip (not root,
no setpriv), 1 otherwise.
"""
import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

# The copy nobody runs from bindir finds mevitest.py beside it (main copies it).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mevitest  # noqa: E402
from mevitest import check, finish, free_port  # noqa: E402

NOBODY = 65534


def as_nobody(argv):
    return ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups", "--"] + argv


# ---- a tiny HTTP client (also run as nobody: `--client`) -------------------------


def http(host, port, method, path, headers=None, body=None, timeout=10):
    """One request on its own connection; returns (status, body bytes)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    hosts = "[%s]" % host if ":" in host else host
    h = {"Host": "%s:%d" % (hosts, port), "Connection": "close"}
    h.update(headers or {})
    if body is not None:
        h["Content-Length"] = str(len(body))
    req = "%s %s HTTP/1.1\r\n%s\r\n" % (method, path, "".join("%s: %s\r\n" % kv for kv in h.items()))
    s.sendall(req.encode() + (body or b""))
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep and b"101 Switching" in head.split(b"\r\n")[0]:
            break
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ")[1])
    except (IndexError, ValueError):
        status = 0
    return status, rest


WS_HEADERS = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode()}


def ws_status(host, port, headers=None):
    h = dict(WS_HEADERS)
    h.update(headers or {})
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((host, port))
    req = "GET /stream HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n" % (host, port, "".join("%s: %s\r\n" % kv for kv in h.items()))
    s.sendall(req.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        c = s.recv(4096)
        if not c:
            break
        data += c
    s.close()
    try:
        return int(data.split(b" ")[1])
    except (IndexError, ValueError):
        return 0


def client_main(host, port, token, recording_path):
    """What another uid gets, as JSON on stdout."""
    rec = open(recording_path, "rb").read() if recording_path else b"MEVIREC\n"
    bearer = {"Authorization": "Bearer " + token}
    out = {}
    out["state"] = http(host, port, "GET", "/api/state")[0]
    st, body = http(host, port, "GET", "/api/state")
    out["state_says"] = body.decode(errors="replace")[:300]
    out["recording"] = http(host, port, "GET", "/api/sessions/1/recording")[0]
    out["timeline"] = http(host, port, "GET", "/api/sessions/1/timeline")[0]
    out["delete"] = http(host, port, "DELETE", "/api/sessions/1")[0]
    out["upload"] = http(host, port, "POST", "/api/recordings", body=rec)[0]
    out["stream"] = ws_status(host, port)
    st, body = http(host, port, "GET", "/api/health")
    out["health"] = st
    out["health_body"] = body.decode(errors="replace")
    out["wrong_token"] = http(host, port, "GET", "/api/state", {"Authorization": "Bearer " + "0" * 64})[0]
    st, body = http(host, port, "GET", "/api/state", bearer)
    out["token_state"] = st
    out["token_state_body"] = body.decode(errors="replace")
    out["query_token_state"] = http(host, port, "GET", "/api/state?token=" + token)[0]
    st, body = http(host, port, "GET", "/api/sessions/1/recording", bearer)
    out["token_recording"] = st
    out["token_recording_len"] = len(body)
    out["token_upload"] = http(host, port, "POST", "/api/recordings", bearer, body=rec)[0]
    out["token_stream"] = ws_status(host, port, bearer)
    out["token_delete"] = http(host, port, "DELETE", "/api/sessions/1", bearer)[0]
    print(json.dumps(out))


# ---- helpers for the daemon side -------------------------------------------------


class Mevid:
    def __init__(self, bindir, sockdir, listen=None, extra=()):
        self.sock = os.path.join(sockdir, "mevid.sock")
        self.port = free_port()
        self.log_path = os.path.join(sockdir, "mevid.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(bindir, "mevid"), "--foreground", "--socket", self.sock,
             "--listen", (listen or "127.0.0.1:%d") % self.port] + list(extra),
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if http("127.0.0.1", self.port, "GET", "/api/health", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.02)
        else:
            raise RuntimeError("mevid did not come up: " + open(self.log_path).read())
        self.token = open(self.sock + ".token").read().strip()

    def rss_kib(self):
        for line in open("/proc/%d/status" % self.proc.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


FAKE_DAEMON = r'''
import os, socket, sys
path, log, drop = sys.argv[1], sys.argv[2], sys.argv[3] == "drop"
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o777)
if drop:
    os.setgid(65534); os.setuid(65534)
s.listen(4)
with open(log + ".ready", "w") as f:
    f.write("ready\n")
url = b"http://127.0.0.1:1/fake"
greeting = bytes([0x93, 0xa5]) + b"mevid" + bytes([2, 0xd9, len(url)]) + url
while True:
    c, _ = s.accept()
    with open(log, "ab") as f:
        f.write(b"CONNECTED\n")
    c.sendall(greeting)
    c.settimeout(3)
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            with open(log, "ab") as f:
                f.write(d)
    except OSError:
        pass
    c.close()
'''


def start_fake(bindir, path, log, as_user):
    script = os.path.join(bindir, "fake_daemon.py")
    with open(script, "w") as f:
        f.write(FAKE_DAEMON)
    os.chmod(script, 0o644)
    argv = ["/usr/bin/python3", script, path, log, "keep" if as_user else "drop"]
    # The ready file is made here: the fake may run as a user who cannot
    # create files in this directory.
    with open(log + ".ready", "w"):
        pass
    os.chmod(log + ".ready", 0o666)
    p = subprocess.Popen(as_nobody(argv) if as_user else argv)
    deadline = time.time() + 10
    while os.path.getsize(log + ".ready") == 0:
        if time.time() > deadline or p.poll() is not None:
            p.kill()
            raise RuntimeError("the fake daemon did not start")
        time.sleep(0.02)
    return p


def run(argv, env=None, timeout=60):
    return subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


# ---- the attacks -----------------------------------------------------------------


def test_fake_daemon_in_victims_dir(bindir, tmp):
    """Issue 15, attack 1: another user pre-creates the victim's default socket
    directory with a fake daemon. The victim is root here, XDG_RUNTIME_DIR a
    shared sticky directory like /tmp."""
    runtime = os.path.join(tmp, "runtime")
    os.mkdir(runtime)
    os.chmod(runtime, 0o1777)
    evil = os.path.join(runtime, "mevi")
    subprocess.run(as_nobody(["mkdir", "-m", "0755", evil]), check=True)
    log = os.path.join(tmp, "fake1.log")
    open(log, "w").close()
    os.chmod(log, 0o666)
    fake = start_fake(bindir, os.path.join(evil, "mevid.sock"), log, as_user=True)
    try:
        env = dict(os.environ, XDG_RUNTIME_DIR=runtime)
        env.pop("MEVI_SOCKET", None)
        # Were mevid spawned after all, it must not take the default port.
        r = run([os.path.join(bindir, "mevi-run"), "--listen", "127.0.0.1:0", "--", "sh", "-c", "exit 7", "sh",
                 "--secret-token=MARKER-15"], env=env)
        got = open(log, "rb").read()
        check("fake daemon in the victim's directory: the program runs, status 7 passed through",
              r.returncode == 7, str(r.returncode))
        check("fake daemon in the victim's directory: receives nothing (not even a connection)",
              got == b"" and b"MARKER-15" not in got, repr(got[:200]))
        check("fake daemon in the victim's directory: one sentence says why",
              b"not talking to mevid" in r.stderr and b"belongs to uid 65534" in r.stderr,
              repr(r.stderr[-400:]))
        print("#   victim sees: %s" % r.stderr.decode(errors="replace").strip().splitlines()[0])
    finally:
        fake.kill()
        fake.wait()


def test_peer_of_another_uid(bindir, tmp):
    """A trusted directory (root's, 0700), but what listens runs as nobody."""
    d = os.path.join(tmp, "rootdir")
    os.mkdir(d, 0o700)
    log = os.path.join(tmp, "fake2.log")
    open(log, "w").close()
    os.chmod(log, 0o666)
    fake = start_fake(bindir, os.path.join(d, "mevid.sock"), log, as_user=False)
    try:
        r = run([os.path.join(bindir, "mevi-run"), "--socket", os.path.join(d, "mevid.sock"), "--no-spawn", "--",
                 "sh", "-c", "exit 3", "sh", "MARKER-15b"])
        got = open(log, "rb").read()
        check("peer of another uid: status 3 passed through", r.returncode == 3, str(r.returncode))
        check("peer of another uid: no byte of the session sent",
              b"MARKER-15b" not in got and got in (b"", b"CONNECTED\n"), repr(got[:200]))
        check("peer of another uid: one sentence says why",
              b"runs as uid 65534" in r.stderr, repr(r.stderr[-400:]))
    finally:
        fake.kill()
        fake.wait()


def test_daemon_refuses_other_uid(bindir, tmp):
    """Root's mevid, its socket opened up by hand: nobody's launcher is refused
    by mevid, and the launcher tells its user why."""
    d = os.path.join(tmp, "rootd")
    os.mkdir(d, 0o711)
    m = Mevid(bindir, d)
    try:
        os.chmod(m.sock, 0o666)
        r = run(as_nobody([os.path.join(bindir, "mevi-run"), "--socket", m.sock, "--no-spawn", "--",
                           "sh", "-c", "exit 5"]))
        check("daemon of another uid: status 5 passed through", r.returncode == 5, str(r.returncode))
        check("daemon of another uid: the launcher says mevid refused it",
              b"runs as uid 0 and takes launchers of its own uid only" in r.stderr,
              repr(r.stderr[-400:]))
        print("#   nobody sees: %s" % [l for l in r.stderr.decode(errors="replace").splitlines()
                                        if "mevid at" in l][:1])
    finally:
        m.stop()


def make_session(bindir, m):
    r = run([os.path.join(bindir, "mevi-run"), "--socket", m.sock, "--no-spawn", "--",
             "sh", "-c", "exit 0", "sh", "--secret-token=MARKER-HTTP"])
    check("a session to attack", r.returncode == 0, repr(r.stderr[-300:]))
    deadline = time.time() + 10
    while time.time() < deadline:
        st, body = http("127.0.0.1", m.port, "GET", "/api/state")
        if st == 200 and b"MARKER-HTTP" in body and b'"alive":false' in body:
            return
        time.sleep(0.05)


def test_http(bindir, tmp):
    d = os.path.join(tmp, "httpd")
    os.mkdir(d, 0o700)
    m = Mevid(bindir, d)
    try:
        make_session(bindir, m)
        st, rec = http("127.0.0.1", m.port, "GET", "/api/sessions/1/recording")
        check("root (mevid's uid) reads a recording without a token", st == 200 and rec.startswith(b"MEVIREC"))
        recpath = os.path.join(bindir, "rec.mevi")
        with open(recpath, "wb") as f:
            f.write(rec)
        os.chmod(recpath, 0o644)
        r = run(as_nobody(["/usr/bin/python3", os.path.join(bindir, "test_trust.py"), "--client",
                           "127.0.0.1", str(m.port), m.token, recpath]))
        try:
            o = json.loads(r.stdout)
        except ValueError:
            check("the client as nobody ran", False, repr(r.stderr[-500:]))
            return
        print("#   nobody gets: " + json.dumps({k: v for k, v in o.items() if not k.endswith(("body", "says"))}))
        for k in ("state", "recording", "timeline", "delete", "upload", "stream"):
            check("nobody without token: %s -> 401" % k, o[k] == 401, str(o[k]))
        check("nobody: the refusal says how to get in", "token" in o["state_says"] and "MARKER" not in o["state_says"],
              o["state_says"])
        check("nobody: /api/health open and says nothing more than ok",
              o["health"] == 200 and json.loads(o["health_body"]) == {"status": "ok"}, o["health_body"])
        check("nobody with a wrong token -> 403", o["wrong_token"] == 403, str(o["wrong_token"]))
        check("nobody with the token: /api/state", o["token_state"] == 200 and "MARKER-HTTP" in o["token_state_body"])
        check("nobody with ?token=: /api/state", o["query_token_state"] == 200)
        check("nobody with the token: recording", o["token_recording"] == 200 and o["token_recording_len"] == len(rec))
        check("nobody with the token: upload", o["token_upload"] == 201, str(o["token_upload"]))
        check("nobody with the token: websocket", o["token_stream"] == 101, str(o["token_stream"]))
        check("nobody with the token: delete", o["token_delete"] == 204, str(o["token_delete"]))
        st, _ = http("127.0.0.1", m.port, "GET", "/api/state")
        check("root (mevid's uid) without token: /api/state", st == 200)
        check("root without token: websocket", ws_status("127.0.0.1", m.port) == 101)
        st, _ = http("127.0.0.1", m.port, "GET", "/api/state", {"Host": "evil.example:%d" % m.port})
        check("a DNS-rebinding Host is refused even from mevid's uid", st == 403, str(st))
        st = ws_status("127.0.0.1", m.port, {"Origin": "http://evil.example"})
        check("a websocket from a foreign Origin is refused even from mevid's uid", st == 403, str(st))
        st = ws_status("127.0.0.1", m.port, {"Origin": "http://127.0.0.1:%d" % m.port})
        check("same-origin websocket accepted", st == 101, str(st))
        # The cost of the uid rule: new connections with no token (one
        # sock_diag lookup each) against the token (no lookup).
        n = 300
        t0 = time.perf_counter()
        for _ in range(n):
            http("127.0.0.1", m.port, "GET", "/api/health")
        t_uid = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for _ in range(n):
            http("127.0.0.1", m.port, "GET", "/api/health", {"Authorization": "Bearer " + m.token})
        t_tok = (time.perf_counter() - t0) / n
        print("#   request round trip: %.0f us by uid (sock_diag), %.0f us by token (no lookup)"
              % (t_uid * 1e6, t_tok * 1e6))
    finally:
        m.stop()


def test_network(bindir, tmp):
    if not shutil.which("ip"):
        print("skip network: `ip` (iproute2) is missing; cannot make a network namespace")
        return
    tag = "%d" % (os.getpid() % 100000)
    ns, vh, vn = "mevi15-" + tag, "mv15h" + tag, "mv15n" + tag
    sub = 16 + os.getpid() % 200
    host_ip, ns_ip = "10.215.%d.1" % sub, "10.215.%d.2" % sub
    cmds = [["ip", "netns", "add", ns],
            ["ip", "link", "add", vh, "type", "veth", "peer", "name", vn],
            ["ip", "link", "set", vn, "netns", ns],
            ["ip", "addr", "add", host_ip + "/30", "dev", vh],
            ["ip", "link", "set", vh, "up"],
            ["ip", "netns", "exec", ns, "ip", "addr", "add", ns_ip + "/30", "dev", vn],
            ["ip", "netns", "exec", ns, "ip", "link", "set", vn, "up"],
            ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]]
    d = os.path.join(tmp, "netd")
    os.mkdir(d, 0o700)
    m = None
    try:
        for c in cmds:
            r = run(c)
            if r.returncode:
                print("skip network: %s failed: %s" % (" ".join(c), r.stderr.decode().strip()))
                return
        m = Mevid(bindir, d, listen="0.0.0.0:%d")
        probe = ("import sys; sys.path.insert(0, %r); import test_trust as t; "
                 "print(t.http(%r, %d, 'GET', '/api/state')[0], "
                 "t.http(%r, %d, 'GET', '/api/state', {'Authorization': 'Bearer ' + %r})[0], "
                 "t.ws_status(%r, %d))" % (bindir, host_ip, m.port, host_ip, m.port, m.token, host_ip, m.port))
        r = run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", probe])
        got = r.stdout.decode().split()
        print("#   from another host (netns, %s -> %s:%d): %s" % (ns_ip, host_ip, m.port, got))
        check("--listen 0.0.0.0: a remote client without the token -> 401", got[:1] == ["401"], repr(got) + repr(r.stderr[-300:]))
        check("--listen 0.0.0.0: a remote client with the token -> 200", got[1:2] == ["200"], repr(got))
        check("--listen 0.0.0.0: a remote websocket without the token -> 401", got[2:3] == ["401"], repr(got))
        st, _ = http("127.0.0.1", m.port, "GET", "/api/state")
        check("--listen 0.0.0.0: even mevid's uid needs the token (no shortcut on the network)", st == 401, str(st))
        check("--listen 0.0.0.0: the log says it is exposed", "open to the network" in open(m.log_path).read())
    finally:
        if m:
            m.stop()
        run(["ip", "link", "del", vh])
        run(["ip", "netns", "del", ns])


def test_spawn_listen(bindir, tmp):
    """mevi-run --listen reaches the mevid it starts; the URL it prints is that
    mevid's, with the token."""
    d = os.path.join(tmp, "spawnd")
    os.mkdir(d, 0o700)
    sock = os.path.join(d, "mevid.sock")
    port = free_port()
    r = run([os.path.join(bindir, "mevi-run"), "--socket", sock, "--listen", "127.0.0.1:%d" % port,
             "--", "sh", "-c", "exit 4"])
    try:
        token = open(sock + ".token").read().strip()
    except OSError:
        token = "?"
    check("mevi-run --listen: the spawned mevid listens there and the printed URL says so",
          r.returncode == 4 and ("http://127.0.0.1:%d/?token=%s" % (port, token)).encode() in r.stderr,
          repr(r.stderr[-300:]))
    st, body = http("127.0.0.1", port, "GET", "/api/health")
    if st == 200:
        os.kill(json.loads(body)["pid"], 15)


def test_uploads(bindir, tmp, header):
    d = os.path.join(tmp, "upd")
    os.mkdir(d, 0o700)
    m = Mevid(bindir, d)
    socks = []
    junk = os.urandom(1 << 20)
    try:
        # Over the cap: 413 before a byte of the body is sent.
        s = socket.create_connection(("127.0.0.1", m.port))
        s.settimeout(5)
        t0 = time.perf_counter()
        s.sendall(("POST /api/recordings HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n\r\n"
                   % (m.port, 300 << 20)).encode())
        resp = s.recv(4096)
        s.close()
        check("over-cap upload -> 413 before its body", resp.startswith(b"HTTP/1.1 413"), repr(resp[:80]))
        print("#   over-cap upload: %s in %.1f ms, no body sent"
              % (resp.split(b"\r\n")[0].decode(), (time.perf_counter() - t0) * 1e3))
        # Not a recording: refused from its first bytes, not after 64 MiB.
        s = socket.create_connection(("127.0.0.1", m.port))
        s.settimeout(5)
        s.sendall(("POST /api/recordings HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n\r\n"
                   % (m.port, 64 << 20)).encode())
        s.sendall(junk[:65536])
        resp = b""
        while True:
            try:
                c = s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                break
            if not c:
                break
            resp += c
        s.close()
        check("a random 64 MiB body is refused from its first bytes (400)",
              resp.startswith(b"HTTP/1.1 400") and b"not a mevi recording" in resp, repr(resp[:200]))
        before = m.rss_kib()
        chunk = header + os.urandom(1 << 20)[len(header):]
        for i in range(4):
            s = socket.create_connection(("127.0.0.1", m.port))
            s.sendall(("POST /api/recordings HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n\r\n"
                       % (m.port, 256 << 20)).encode())
            s.sendall(chunk)
            socks.append(s)
        # In turns, so that none of the four is silent for long: sending
        # 4 x 64 MiB can take longer on a loaded machine than libwebsockets'
        # 5 s content timeout, which would end the first before the checks.
        for _ in range(63):
            for s in socks:
                s.sendall(junk)
        stalled_at = time.time()
        time.sleep(1.0)
        peak = m.rss_kib()
        grew = (peak - before) / 1024
        print("#   mevid RSS: %.1f MiB before, %.1f MiB with 4 uploads stalled after 64 MiB each (+%.1f MiB)"
              % (before / 1024, peak / 1024, grew))
        check("four stalled 256 MiB uploads: mevid's RSS grows < 32 MiB", grew < 32, "%.1f MiB" % grew)
        st, _ = http("127.0.0.1", m.port, "GET", "/api/state")
        check("four stalled uploads: mevid keeps serving", st == 200, str(st))
        st, body = http("127.0.0.1", m.port, "POST", "/api/recordings", body=header + b"x" * 100)
        check("a fifth upload at once -> 503", st == 503, "%d %r" % (st, body[:200]))
        # Stalled uploads time out (libwebsockets drops a body silent for 5 s)
        # and free their slots.
        socks[0].settimeout(30)
        try:
            gone = socks[0].recv(100) == b""
        except OSError:
            gone = True
        waited = time.time() - stalled_at
        time.sleep(0.5)
        st, body = http("127.0.0.1", m.port, "POST", "/api/recordings", body=header + b"x" * 100)
        check("stalled uploads time out and free their slots", gone and st == 400, "%.1f s, then %d" % (waited, st))
        print("#   a stalled upload is dropped after %.1f s; then a new upload is taken (%d)" % (waited, st))
    finally:
        for s in socks:
            s.close()
        m.stop()


def raw_exchange(port, data, timeout=20):
    """Sends data on a fresh connection and reads until mevid closes it."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(timeout)
    try:
        s.sendall(data)
    except OSError:
        pass
    got = b""
    while True:
        try:
            c = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not c:
            break
        got += c
    s.close()
    return got


def test_headers(bindir, tmp):
    """Issue 15: headers over the limit get 431, not a dropped connection."""
    d = os.path.join(tmp, "hdrd")
    os.mkdir(d, 0o700)
    m = Mevid(bindir, d)
    try:
        host = "Host: 127.0.0.1:%d\r\n" % m.port
        big = ("GET /api/state HTTP/1.1\r\n%sX-Big: %s\r\n\r\n" % (host, "a" * (100 << 10))).encode()
        got = raw_exchange(m.port, big)
        head, _, body = got.partition(b"\r\n\r\n")
        print("#   100 KiB header: %r" % got.split(b"\r\n")[0])
        check("a 100 KiB header -> 431", got.startswith(b"HTTP/1.1 431 Request Header Fields Too Large"), repr(got[:200]))
        try:
            sentence = json.loads(body)["error"]
        except (ValueError, KeyError):
            sentence = ""
        check("the 431 has a one-sentence body", "headers" in sentence and b"content-length: %d" % len(body)
              in head.lower(), repr(got[:400]))
        # The limits by lines, heads within them, heads in parts, keep-alive,
        # 408 and the bound on waiting connections: test_http_accept.c (any user).
        st, _ = http("127.0.0.1", m.port, "GET", "/api/state")
        check("after a 431: mevid serves on", st == 200, str(st))
    finally:
        m.stop()


def url_of(stderr):
    """The URL mevi-run printed ("mevi: watching at URL"), or None."""
    for line in stderr.decode(errors="replace").splitlines():
        if "watching at http://" in line:
            return line.split("watching at ", 1)[1].strip()
    return None


def daemon_of(port, token):
    """(pid, uid) of the mevid answering on port, or (None, None)."""
    st, body = http("127.0.0.1", port, "GET", "/api/health", {"Authorization": "Bearer " + token})
    if st != 200:
        return None, None
    pid = json.loads(body)["pid"]
    for line in open("/proc/%d/status" % pid):
        if line.startswith("Uid:"):
            return pid, int(line.split()[1])
    return pid, None


def test_second_user_port(bindir, tmp):
    """Issue 15: each user's auto-spawned mevid gets its own port when the
    default one is taken, and the printed URL is the right one for that user.
    There is no option for the base port (5001), so this uses the real range
    5001-5032 but needs none of it free in particular; sockets, HOME and
    XDG_RUNTIME_DIR are private."""
    users = {}
    pids = []
    try:
        for who, uid in (("root", 0), ("nobody", NOBODY)):
            home, run_dir = os.path.join(tmp, who + "-home"), os.path.join(tmp, who + "-run")
            for dd in (home, run_dir):
                os.mkdir(dd, 0o700)
                os.chown(dd, uid, uid)
            env = {"PATH": "/usr/bin:/bin", "HOME": home, "XDG_RUNTIME_DIR": run_dir, "MEVI_ENGINE": "ptrace"}
            argv = [os.path.join(bindir, "mevi-run"), "--sample", "--", "sh", "-c", "exit 0", "sh",
                    "MARKER-PORT-" + who.upper()]
            r = run(as_nobody(argv) if uid else argv, env=env)
            url = url_of(r.stderr)
            if uid == 0 and url is None and b"is taken" in r.stderr:
                print("skip ports: 5001-5032 are all taken on this machine")
                return
            check("%s: mevi-run auto-spawns a mevid and prints its URL" % who, r.returncode == 0 and url,
                  repr(r.stderr[-400:]))
            if not url:
                return
            port = int(url.split("://127.0.0.1:", 1)[1].split("/", 1)[0])
            token = url.split("token=", 1)[1]
            pid, duid = daemon_of(port, token)
            if pid:
                pids.append(pid)
            users[who] = {"port": port, "token": token, "uid": duid, "home": home,
                          "file": open(os.path.join(run_dir, "mevi", "mevid.sock.token")).read().strip()}
        root, nob = users["root"], users["nobody"]
        print("#   root's mevid on %d, nobody's on %d" % (root["port"], nob["port"]))
        check("root's mevid took a port from 5001 on", 5001 <= root["port"] <= 5032 and root["uid"] == 0,
              repr(root))
        check("nobody's mevid took another port (5001-5032), and runs as nobody",
              nob["port"] != root["port"] and 5001 <= nob["port"] <= 5032 and nob["uid"] == NOBODY, repr(nob))
        log = ""
        try:
            log = open(os.path.join(nob["home"], ".local", "state", "mevi", "mevid.log")).read()
        except OSError:
            pass
        if nob["port"] > root["port"]:
            check("nobody's mevid says root's port was taken and moved on",
                  "port %d is taken" % root["port"] in log, log[-400:])
        check("the URL nobody's mevi-run printed carries nobody's mevid's token", nob["token"] == nob["file"])
        st, body = http("127.0.0.1", nob["port"], "GET", "/api/state?token=" + nob["token"])
        check("the printed URL serves nobody's session",
              st == 200 and b"MARKER-PORT-NOBODY" in body and b"MARKER-PORT-ROOT" not in body, "%d %r" % (st, body[:200]))
        st, body = http("127.0.0.1", root["port"], "GET", "/api/state")
        check("root's mevid does not see nobody's session",
              st == 200 and b"MARKER-PORT-ROOT" in body and b"MARKER-PORT-NOBODY" not in body, "%d %r" % (st, body[:200]))
        probe = ("import sys; sys.path.insert(0, %r); import test_trust as t; "
                 "print(t.http('127.0.0.1', %d, 'GET', '/api/state')[0], t.http('127.0.0.1', %d, 'GET', '/api/state')[0])"
                 % (bindir, root["port"], nob["port"]))
        r = run(as_nobody(["/usr/bin/python3", "-c", probe]))
        got = r.stdout.decode().split()
        check("nobody without a token: root's mevid 401, its own mevid 200 (by uid)", got == ["401", "200"],
              repr(got) + repr(r.stderr[-200:]))
    finally:
        for pid in pids:
            try:
                os.kill(pid, 15)
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mevi-run")
    ap.add_argument("--mevid")
    ap.add_argument("--client", nargs=4, metavar=("HOST", "PORT", "TOKEN", "RECORDING"))
    a = ap.parse_args()
    if a.client:
        client_main(a.client[0], int(a.client[1]), a.client[2], a.client[3])
        return 0
    if os.geteuid() != 0:
        print("SKIP: needs root (it plays another user with setpriv)")
        return 77
    if not shutil.which("setpriv") or not os.access("/usr/bin/python3", os.X_OK):
        print("SKIP: needs setpriv and /usr/bin/python3")
        return 77
    tmp = tempfile.mkdtemp(prefix="mevi-trust-")
    os.chmod(tmp, 0o755)
    bindir = os.path.join(tmp, "bin")
    os.mkdir(bindir, 0o755)
    for src in (a.mevid, a.mevi_run, os.path.abspath(__file__), os.path.abspath(mevitest.__file__)):
        shutil.copy(src, bindir)
        os.chmod(os.path.join(bindir, os.path.basename(src)), 0o755)
    header = b""
    try:
        test_fake_daemon_in_victims_dir(bindir, tmp)
        test_peer_of_another_uid(bindir, tmp)
        test_daemon_refuses_other_uid(bindir, tmp)
        test_http(bindir, tmp)
        rec = os.path.join(bindir, "rec.mevi")
        header = open(rec, "rb").read()[:64] if os.path.exists(rec) else b"MEVIREC\n"
        test_network(bindir, tmp)
        test_spawn_listen(bindir, tmp)
        test_uploads(bindir, tmp, header[:40])
        test_headers(bindir, tmp)
        test_second_user_port(bindir, tmp)
    finally:
        pass
    return finish(tmp, "files")


if __name__ == "__main__":
    sys.exit(main())
