"""contrib/cluster.sh, the local cluster (issue #17): the real script on
free ports in a temp dir (a PostgreSQL, three nodes, one balancing
nginx), and the balancer's retry rules (nginx/balance.conf) against
real nginx with fake nodes that fail in known ways."""
import http.client
import http.server
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import BACKEND, SRC, free_port, q, wait_for
from test_hardening_ops import children, pid_alive, port_free

needs_postgres = pytest.mark.skipif(
    BACKEND != "postgres", reason="the cluster runs on PostgreSQL; run "
    "with PORTCULLIS_TEST_BACKEND=postgres (contrib/test.sh does)")


def descendants(root):
    """PIDs of root's live descendants (from /proc, one pass per level)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class ClusterSh:
    """sh contrib/cluster.sh with its ports free and its data in a temp
    dir (0711: PostgreSQL, run as another user when we are root, must
    pass through it)."""

    def __init__(self, workers=1, again=None):
        if again is None:
            self.dir = tempfile.mkdtemp(prefix="pc-clsh-")
            os.chmod(self.dir, 0o711)
            self.port = free_port()
            self.node_ports = [free_port() for _ in range(3)]
        else:	# the same data dir and ports as a stopped one
            self.dir, self.port, self.node_ports = again.dir, again.port, again.node_ports
        self.data = os.path.join(self.dir, "cluster")
        self.out = open(os.path.join(self.dir, "cluster.log"), "a")
        env = dict(os.environ, PORTCULLIS_DATA=self.data,
                   PORTCULLIS_PORT=str(self.port),
                   PORTCULLIS_NODE_PORTS=" ".join(map(str, self.node_ports)),
                   PORTCULLIS_WORKERS=str(workers))
        env.pop("PORTCULLIS_EXTRA_HCL", None)
        # Its own session: a terminal's Ctrl-C reaches the whole group.
        self.proc = subprocess.Popen(
            ["sh", os.path.join(SRC, "contrib", "cluster.sh")], env=env,
            stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pids = set()
        try:
            wait_for(self.up, timeout=240, what="cluster.sh serving")
        except BaseException:
            self.cleanup()
            raise
        self.pids = set(descendants(self.proc.pid))

    def url(self, port=None):
        return "http://127.0.0.1:%d" % (port or self.port)

    def up(self):
        assert self.proc.poll() is None, self.log()
        try:
            return all(requests.get(self.url(p) + "/v1/connect/intentions",
                                    timeout=1).status_code == 200
                       for p in [self.port] + self.node_ports)
        except requests.RequestException:
            return False

    def log(self):
        with open(os.path.join(self.dir, "cluster.log")) as f:
            return f.read()

    def master(self, n):
        """PID of node n's (1-based) master: the script's own child (its
        workers, the master's children, have the same command line)."""
        conf = os.path.join(self.data, "node%d" % n, "portcullis.hcl")
        for pid in children(self.proc.pid):
            if cmdline(pid).endswith(conf + " "):
                return pid
        raise AssertionError("no master of node%d: %s" % (n, self.log()))

    def postmaster(self):
        with open(os.path.join(self.data, "pg", "data", "postmaster.pid")) as f:
            return int(f.readline())

    def leftovers(self):
        """What still runs of ours: a PID seen under the script, or any
        process naming the temp dir (orphaned workers of a killed
        master)."""
        mine = [p for p in self.pids if pid_alive(p)]
        for d in os.listdir("/proc"):
            if d.isdigit() and self.dir in cmdline(int(d)) and \
                    pid_alive(int(d)):
                mine.append(int(d))
        return sorted(set(mine))

    def assert_all_stopped(self, timeout=30):
        self.proc.wait(timeout)
        wait_for(lambda: not self.leftovers(), timeout=timeout,
                 what="every process to stop: %s" % [
                     cmdline(p) for p in self.leftovers()])
        for p in [self.port] + self.node_ports:
            assert port_free(p), p

    def cleanup(self):
        for p in self.leftovers():
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster_sh():
    made = []

    def make(**kw):
        c = ClusterSh(**kw)
        made.append(c)
        return c
    yield make
    for c in made:
        c.cleanup()


def put_intention(url, src, dst="db"):
    return requests.put(url + "/v1/connect/intentions/exact" +
                        q(source=src, destination=dst),
                        json={"Action": "allow"}, timeout=30)


def exact(url, src, dst="db"):
    return requests.get(url + "/v1/connect/intentions/exact" +
                        q(source=src, destination=dst), timeout=30)


@needs_postgres
def test_cluster_sh_serves_one_store_on_every_node_and_survives_a_killed_node(cluster_sh):
    c = cluster_sh()
    r = put_intention(c.url(), "cs-web")
    assert r.status_code == 200, r.text
    # Each node sees the write once its NOTIFY arrived: poll, never
    # assume it instant.
    for p in c.node_ports:
        wait_for(lambda: exact(c.url(p), "cs-web").status_code == 200,
                 timeout=10, what="node on %d reading the write" % p)
        assert exact(c.url(p), "cs-web").json()["Action"] == "allow"

    # A blocking query through the balancer is released by a write
    # through the balancer, whichever nodes the two reach.
    idx = int(requests.get(c.url() + "/v1/connect/intentions",
                           timeout=30).headers["X-Consul-Index"])
    out = {}

    def block():
        out["r"] = requests.get(c.url() + "/v1/connect/intentions" +
                                q(index=idx, wait="30s"), timeout=40)
    t = threading.Thread(target=block)
    t.start()
    time.sleep(0.3)
    assert "r" not in out
    t0 = time.monotonic()
    assert put_intention(c.url(), "cs-wake").status_code == 200
    t.join(10)
    assert "r" in out and out["r"].status_code == 200
    assert int(out["r"].headers["X-Consul-Index"]) > idx
    assert time.monotonic() - t0 < 5

    os.kill(c.master(2), signal.SIGKILL)
    # The balancer keeps answering reads while the node goes down (a
    # read that reaches it is retried on the next node) and after.
    codes = [requests.get(c.url() + "/v1/connect/intentions",
                          timeout=30).status_code for _ in range(30)]
    assert codes == [200] * 30, codes
    wait_for(lambda: "node2 (127.0.0.1:%d): Portcullis exited" % c.node_ports[1]
             in c.log(), timeout=10, what="cluster.sh noticing node2")
    assert c.proc.poll() is None, c.log()
    # Once the node's nginx is stopped too, a write is never sent to it
    # (refused connection: retried on the next node), so writes go on.
    for i in range(6):
        r = put_intention(c.url(), "cs-after-%d" % i)
        assert r.status_code == 200, r.text
    wait_for(lambda: exact(c.url(c.node_ports[2]), "cs-after-5").status_code == 200,
             timeout=10, what="node3 reading a write made after node2 died")
    with pytest.raises(requests.ConnectionError):
        requests.get(c.url(c.node_ports[1]) + "/v1/connect/intentions", timeout=5)

    os.kill(c.proc.pid, signal.SIGTERM)
    c.assert_all_stopped()
    assert c.proc.returncode == 143, c.log()
    # PostgreSQL was shut down, not killed: it removed its pid file.
    assert not os.path.exists(os.path.join(c.data, "pg", "data", "postmaster.pid"))


@needs_postgres
def test_cluster_sh_stops_everything_and_exits_1_when_postgresql_dies(cluster_sh):
    c = cluster_sh()
    os.kill(c.postmaster(), signal.SIGKILL)
    c.assert_all_stopped()
    assert c.proc.returncode == 1, c.log()
    assert "PostgreSQL exited; stopping the cluster" in c.log()


@needs_postgres
def test_cluster_sh_stops_when_its_balancer_dies_and_starts_again_on_its_data(cluster_sh):
    c = cluster_sh()
    assert put_intention(c.url(), "cs-kept").status_code == 200
    with open(os.path.join(c.data, "balancer", "nginx", "nginx.pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    c.assert_all_stopped()
    assert c.proc.returncode == 1, c.log()
    assert "the balancer (nginx on 127.0.0.1:%d) exited" % c.port in c.log()
    # Same data dir: the database is kept, the dead balancer's socket is
    # no obstacle.
    c2 = cluster_sh(again=c)
    for p in c2.node_ports:
        assert exact(c2.url(p), "cs-kept").status_code == 200
    assert put_intention(c2.url(), "cs-second").status_code == 200
    os.kill(c2.proc.pid, signal.SIGTERM)
    c2.assert_all_stopped()


@needs_postgres
def test_cluster_sh_stops_everything_on_ctrl_c(cluster_sh):
    c = cluster_sh()
    os.killpg(c.proc.pid, signal.SIGINT)	# what a terminal's Ctrl-C does
    c.assert_all_stopped()
    assert c.proc.returncode == 130, c.log()


# ---------------------------------------------------------------------
# The balancer's retry rules, with fake nodes.

class GoodNode:
    """An HTTP node that answers 200 and records each request line."""

    def __init__(self):
        seen = self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def any(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                seen.append((self.command, self.path))
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = any

            def log_message(self, *a):
                pass
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


class DyingNode:
    """A node that takes the whole request, then drops the connection
    without answering: a node that died mid-request."""

    def __init__(self):
        self.seen = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        buf = b""
        c.settimeout(5)
        try:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            line = buf.split(b"\r\n", 1)[0].decode().split()
            self.seen.append((line[0], line[1]))
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.sock.close()


class Balancer:
    """nginx from nginx/cluster-dev.conf.in (mkconf.sh -n), in front of
    the given node ports; max_fails=0 unless told: every request tries
    the nodes in turn, so each rule is exercised."""

    def __init__(self, ports, opts="max_fails=0"):
        self.dir = tempfile.mkdtemp(prefix="pc-bal-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        subprocess.run(["sh", os.path.join(SRC, "contrib", "mkconf.sh"), "-n",
                        os.path.join(SRC, "nginx", "cluster-dev.conf.in"),
                        self.dir, str(self.port)], check=True)
        with open(os.path.join(self.dir, "nodes.conf"), "w") as f:
            for p in ports:
                f.write("server 127.0.0.1:%d %s;\n" % (p, opts))
        self.log = open(os.path.join(self.dir, "nginx.log"), "w")
        self.proc = subprocess.Popen(
            ["nginx", "-p", os.path.join(self.dir, "nginx"),
             "-c", os.path.join(self.dir, "nginx.conf"), "-e", "stderr"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: not port_free(self.port), what="balancer listening")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def fakes():
    made = []

    def make(cls, *a):
        x = cls(*a)
        made.append(x)
        return x
    yield make
    for x in reversed(made):
        x.stop()


UNSAFE = ["PUT", "POST", "DELETE"]


def test_the_balancer_retries_every_method_on_the_next_node_when_a_node_refuses(fakes):
    good = fakes(GoodNode)
    refused = free_port()	# nothing listens there
    b = fakes(Balancer, [refused, good.port])
    for i in range(12):
        for m in ["GET", "HEAD"] + UNSAFE:
            path = "/v1/x/%s-%d" % (m, i)
            r = requests.request(m, b.url + path, data="{}" if m in UNSAFE else None,
                                 timeout=30)
            assert r.status_code == 200, (m, i, r.status_code)
    # Every request reached the good node exactly once.
    assert len(good.seen) == len(set(good.seen)) == 12 * 5


def test_the_balancer_retries_reads_but_never_a_write_a_dying_node_was_sent(fakes):
    good, dying = fakes(GoodNode), fakes(DyingNode)
    b = fakes(Balancer, [dying.port, good.port])
    for i in range(12):
        # Half with ?token= (the locations that log no errors), not
        # every other one: those may all go to the same node first.
        r = requests.get(b.url + "/v1/x/GET-%d" % i +
                         ("?token=s" if i % 4 >= 2 else ""), timeout=30)
        assert r.status_code == 200, r.status_code
    assert any(m == "GET" for m, _ in dying.seen), dying.seen
    assert any(m == "GET" and "token" in p for m, p in dying.seen), dying.seen
    assert len([1 for m, _ in good.seen if m == "GET"]) == 12
    codes = {}
    for i in range(12):
        for m in UNSAFE:
            path = "/v1/x/%s-%d" % (m, i)
            # ?token= goes through the locations that log no errors:
            # the same rules there.
            if i % 2:
                path += "?token=secret"
            codes[(m, path)] = requests.request(m, b.url + path, data="{}",
                                                timeout=30).status_code
    for req, code in codes.items():
        # Answered by the good node, or 502 from the one that took it
        # and died; never both (which would be the write applied twice).
        assert (code == 200) == (req in good.seen), (req, code)
        assert (code == 502) == (req in dying.seen), (req, code)
        assert code in (200, 502), (req, code)
    assert 502 in codes.values() and 200 in codes.values(), codes


def test_the_balancer_leaves_a_failed_node_out_for_fail_timeout(fakes):
    good, dying = fakes(GoodNode), fakes(DyingNode)
    b = fakes(Balancer, [dying.port, good.port], "max_fails=1 fail_timeout=60s")
    for i in range(20):
        r = requests.get(b.url + "/v1/x/%d" % i, timeout=30)
        assert r.status_code == 200
    # One failure (shared by nginx's workers: zone) and it is left out.
    assert len(dying.seen) == 1, dying.seen


def test_the_balancer_passes_the_request_line_and_method_unchanged(fakes):
    good = fakes(GoodNode)
    b = fakes(Balancer, [good.port])
    # http.client sends the target as given (requests would normalize
    # %64 to d); writes take the extra hop and come out the same.
    path = "/v1/connect/intentions/exact%2Fx?source=a%2Fb&destination=%64b"
    for m in ["GET", "HEAD", "PUT", "POST", "DELETE"]:
        c = http.client.HTTPConnection("127.0.0.1", b.port, timeout=30)
        c.request(m, path, body="{}" if m in UNSAFE else None)
        assert c.getresponse().status == 200, m
        c.close()
        assert good.seen[-1] == (m, path)
    # The hop is not reachable from outside.
    r = requests.put(b.url + "/_pc/w/v1/x", headers={"X-Portcullis-Method": "DELETE"},
                     timeout=30)
    assert r.status_code == 404 and good.seen[-1][0] == "DELETE"


def test_the_balancer_sends_one_clients_oidc_flow_to_one_node(fakes):
    one, two = fakes(GoodNode), fakes(GoodNode)
    b = fakes(Balancer, [one.port, two.port])
    for i in range(10):
        for path in ("/v1/acl/oidc/auth-url", "/v1/acl/oidc/callback",
                     "/v1/acl/token"):
            r = requests.post(b.url + path + "?n=%d" % i, data="{}", timeout=30)
            assert r.status_code == 200
    # A pending flow lives in the memory of the node that began it: every
    # OIDC call of this client reached the same node; other writes both.
    oidc = [{p for _, p in n.seen if p.startswith("/v1/acl/oidc/")} for n in (one, two)]
    assert sorted(len(x) for x in oidc) == [0, 20], oidc
    assert all(any(p.startswith("/v1/acl/token") for _, p in n.seen) for n in (one, two))


def test_the_production_balancer_sample_is_valid_nginx(tmp_path):
    """nginx/cluster.conf with its paths pointed into a temp dir (the
    certificates made here) passes nginx -t."""
    d = str(tmp_path)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", d + "/k.pem",
                    "-out", d + "/c.pem", "-days", "1", "-subj", "/CN=lb"],
                   check=True, capture_output=True)
    conf = open(os.path.join(SRC, "nginx", "cluster.conf")).read()
    for a, b in [("/etc/portcullis/nginx/", SRC + "/nginx/"),
                 ("/run/nginx-portcullis", d),
                 ("/etc/portcullis/tls/server.crt", d + "/c.pem"),
                 ("/etc/portcullis/tls/server.key", d + "/k.pem"),
                 ("/etc/portcullis/tls/nodes-ca.crt", d + "/c.pem"),
                 ("/var/log/nginx", d),
                 ("listen 8501", "listen 127.0.0.1:%d" % free_port())]:
        assert a in conf, a
        conf = conf.replace(a, b)
    with open(d + "/lb.conf", "w") as f:
        f.write(conf)
    with open(d + "/nginx.conf", "w") as f:
        f.write("pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\n"
                "http {\ninclude %s/lb.conf;\n}\n" % (d, d, d))
    r = subprocess.run(["nginx", "-t", "-p", d, "-c", d + "/nginx.conf", "-e", "stderr"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
