"""Kept FastCGI connections (FCGI_KEEP_CONN), spoken directly to the
workers' socket, and what nginx's upstream keepalive pool relies on:
a connection serves request after request, an idle one pins no thread,
a parked blocking query holds only its own connection, and drains and
reloads close connections instead of stranding them (worker.c).
"""
import os
import signal
import socket
import struct
import threading
import time

from conftest import wait_for

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
KEEP_CONN = 1


def record(rtype, content, reqid=1):
    pad = -len(content) % 8
    return struct.pack("!BBHHBx", 1, rtype, reqid, len(content), pad) + \
        content + b"\0" * pad


def nv(name, value):
    out = b""
    for s in (name, value):
        n = len(s)
        out += struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 1 << 31)
    return out + name + value


class Conn:
    """One FastCGI connection to the workers' socket."""

    def __init__(self, srv):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(os.path.join(srv.dir, "portcullis.sock"))
        self.buf = b""

    def send(self, method, uri, body=b"", keep=True):
        path, _, query = uri.partition("?")
        params = {
            b"REQUEST_METHOD": method.encode(), b"REQUEST_URI": uri.encode(),
            b"DOCUMENT_URI": path.encode(), b"QUERY_STRING": query.encode(),
            b"CONTENT_LENGTH": str(len(body)).encode() if body else b"",
            b"SERVER_PROTOCOL": b"HTTP/1.1", b"REMOTE_ADDR": b"127.0.0.1",
        }
        data = record(BEGIN, struct.pack("!HB5x", 1, KEEP_CONN if keep else 0))
        data += record(PARAMS, b"".join(nv(k, v) for k, v in params.items()))
        data += record(PARAMS, b"")
        if body:
            data += record(STDIN, body)
        data += record(STDIN, b"")
        self.s.sendall(data)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def reply(self):
        """(status, headers text, body) of the next response."""
        out = b""
        while True:
            _, rtype, _, clen, pad = struct.unpack("!BBHHBx", self._read(8))
            content = self._read(clen + pad)[:clen]
            if rtype == STDOUT:
                out += content
            elif rtype == END:
                break
        head, _, body = out.partition(b"\r\n\r\n")
        status = int(head.split(b"Status: ", 1)[1][:3])
        return status, head.decode(), body

    def call(self, method, uri, body=b"", keep=True):
        self.send(method, uri, body, keep)
        return self.reply()

    def closed(self, timeout):
        """True when the server closes the connection within timeout;
        what it sent before the end is left in self.tail."""
        self.s.settimeout(timeout)
        self.tail = b""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.tail += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.s.settimeout(30)

    def close(self):
        self.s.close()


def test_one_kept_connection_serves_many_requests(server):
    c = Conn(server)
    for i in range(50):
        status, _, _ = c.call("PUT", "/v1/connect/intentions/exact?source=kc%d&destination=kd" % i,
                              b'{"Action":"allow"}')
        assert status == 200
    status, head, body = c.call("GET", "/v1/connect/intentions/check?source=kc7&destination=kd")
    assert status == 200 and body == b'{"Allowed":true}'
    assert not c.closed(0.2), "a kept connection stays open between requests"
    c.close()


def test_without_keep_conn_the_worker_closes_after_the_reply(server):
    c = Conn(server)
    status, _, _ = c.call("GET", "/v1/connect/ca/roots", keep=False)
    assert status == 200
    assert c.closed(5)
    c.close()


def test_idle_kept_connections_pin_no_thread(make_server):
    # 2 workers x 2 threads: twenty idle kept connections, each used once,
    # and a fresh connection is still served at once.
    s = make_server(workers=2, threads=2)
    idle = [Conn(s) for _ in range(20)]
    for c in idle:
        assert c.call("GET", "/v1/connect/ca/roots")[0] == 200
    t0 = time.monotonic()
    fresh = Conn(s)
    assert fresh.call("GET", "/v1/connect/intentions")[0] == 200
    assert time.monotonic() - t0 < 2
    # ... and every idle one still answers its next request.
    for c in idle:
        assert c.call("GET", "/v1/connect/intentions")[0] == 200
    for c in idle + [fresh]:
        c.close()


def test_parked_queries_hold_only_their_own_connections(make_server):
    s = make_server(workers=2, threads=2)
    c = Conn(s)
    status, head, _ = c.call("GET", "/v1/connect/intentions")
    idx = int([l for l in head.split("\r\n") if l.startswith("X-Consul-Index")][0].split(": ")[1])
    parked = [Conn(s) for _ in range(12)]
    for p in parked:
        p.send("GET", "/v1/connect/intentions?index=%d&wait=60s" % idx)
    time.sleep(0.3)
    # More parked queries than threads: the kept connection is still served.
    assert c.call("GET", "/v1/connect/ca/roots")[0] == 200
    assert c.call("PUT", "/v1/connect/intentions/exact?source=pq&destination=pd",
                  b'{"Action":"deny"}')[0] == 200
    for p in parked:
        status, head, body = p.reply()
        assert status == 200 and b'"pq"' in body
        # The released connection goes back to serving requests.
        assert p.call("GET", "/v1/connect/intentions/check?source=pq&destination=pd")[2] == \
            b'{"Allowed":false}'
    for p in parked + [c]:
        p.close()


def test_peer_closing_kept_connections_leaves_workers_serving(make_server):
    s = make_server()
    before = s.workers()
    for _ in range(30):
        c = Conn(s)
        c.call("GET", "/v1/connect/ca/roots")
        c.close()
    # Half a request, then hang up.
    c = Conn(s)
    c.s.sendall(record(BEGIN, struct.pack("!HB5x", 1, KEEP_CONN)))
    c.close()
    assert Conn(s).call("GET", "/v1/connect/ca/roots")[0] == 200
    assert s.workers() == before, "no worker died"


NUDGE = record(7, b"")     # empty FCGI_STDERR: "stop using this connection"


def test_drain_asks_nginx_to_close_idle_kept_connections(make_server):
    # Closing an idle kept connection races with nginx writing a request
    # to it (a lost POST); the draining worker instead sends an empty
    # stderr record, which makes nginx drop it, and closes it itself
    # only after its 2 s grace (a client that is not nginx).
    s = make_server()
    conns = [Conn(s) for _ in range(6)]
    for c in conns:
        assert c.call("GET", "/v1/connect/ca/roots")[0] == 200
    t0 = time.monotonic()
    s.stop_master()
    assert s.master.returncode == 0
    for c in conns:
        assert c.closed(5), "idle kept connection closed when its worker exits"
        assert c.tail == NUDGE
        c.close()
    assert time.monotonic() - t0 < 6


def test_draining_worker_serves_a_request_sent_after_the_nudge(make_server):
    # What nginx does when it took the connection from its pool before
    # reading the nudge: the request is answered (after the record nginx
    # skips), then nudged again, never dropped.
    s = make_server(workers=1)
    c = Conn(s)
    assert c.call("GET", "/v1/connect/ca/roots")[0] == 200
    os.kill(s.master.pid, signal.SIGHUP)
    c.s.settimeout(5)
    assert c._read(8) == NUDGE
    status, _, body = c.call("POST", "/v1/agent/connect/authorize",
                             b'{"Target":"db","ClientCertURI":"spiffe://x.consul/ns/default/dc/dc1/svc/web"}')
    assert status == 200 and b'"Authorized"' in body
    assert c.closed(5) and c.buf + c.tail == NUDGE
    c.close()
    # The replacement worker is being forked right now: a shutdown at
    # this moment must still reach it (it used to be lost, and the
    # master killed the worker after 15 s).
    t0 = time.monotonic()
    s.stop_master()
    assert s.master.returncode == 0
    assert time.monotonic() - t0 < 5
    assert "did not drain" not in s.logtext()


def test_reload_moves_kept_connections_to_the_new_workers(make_server):
    s = make_server()
    old = Conn(s)
    assert old.call("GET", "/v1/connect/ca/roots")[0] == 200
    before = s.workers()
    os.kill(s.master.pid, signal.SIGHUP)
    wait_for(lambda: set(s.workers()).isdisjoint(before), timeout=15, what="new workers")
    assert old.closed(10), "the old worker's idle connection is closed"
    old.close()
    assert Conn(s).call("GET", "/v1/connect/ca/roots")[0] == 200


def test_no_request_through_nginx_is_lost_across_reloads(make_server):
    # nginx's pool holds kept connections to the old workers and does not
    # retry a POST whose connection fails: every POST and GET must be
    # answered by some worker while workers are replaced five times.
    s = make_server()
    stop = threading.Event()
    bad = []
    done = [0]
    authz = '{"Target":"db","ClientCertURI":"spiffe://x.consul/ns/default/dc/dc1/svc/web"}'

    def load(i):
        import requests
        sess = requests.Session()
        while not stop.is_set():
            if i % 2:
                r = sess.post(s.url + "/v1/agent/connect/authorize", data=authz, timeout=30)
            else:
                r = sess.get(s.url + "/v1/connect/ca/roots", timeout=30)
            done[0] += 1
            if r.status_code != 200:
                bad.append((r.status_code, r.text[:80]))
    threads = [threading.Thread(target=load, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for _ in range(5):
        time.sleep(0.3)
        before = s.workers()
        os.kill(s.master.pid, signal.SIGHUP)
        wait_for(lambda: set(s.workers()).isdisjoint(before), timeout=15, what="new workers")
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert done[0] > 200
    assert bad == []
