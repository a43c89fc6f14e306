"""End-to-end fixture: a real Portcullis master (>= 2 workers) behind a
real nginx, on a free loopback port, with a temporary data dir.

Configuration comes from contrib/mkconf.sh, the same script the README's
start command uses.  `server` is shared by a module; `make_server` builds
one with extra HCL for tests that need their own (ACL settings, kills).
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import requests

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(os.environ.get("top_builddir", SRC), "src", "portcullis")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class Server:
    def __init__(self, extra_hcl="", workers=2, threads=4):
        self.dir = tempfile.mkdtemp(prefix="pc-e2e-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        extra = os.path.join(self.dir, "extra.hcl")
        with open(extra, "w") as f:
            f.write(extra_hcl)
        env = dict(os.environ, PORTCULLIS_WORKERS=str(workers),
                   PORTCULLIS_THREADS=str(threads))
        subprocess.run(["sh", os.path.join(SRC, "contrib", "mkconf.sh"),
                        self.dir, str(self.port), extra], check=True, env=env)
        # Logs may name what only the operator should see: 0600.
        self.log = os.fdopen(os.open(os.path.join(self.dir, "portcullis.log"),
                                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w")
        self.session = requests.Session()
        self.master = None
        self.nginx = None
        self.start()

    def start(self):
        self.master = subprocess.Popen(
            [BIN, "-c", os.path.join(self.dir, "portcullis.hcl")],
            stdout=self.log, stderr=subprocess.STDOUT)
        sock = os.path.join(self.dir, "portcullis.sock")
        wait_for(lambda: os.path.exists(sock), what="socket")
        if self.nginx is None:
            self.nginx = subprocess.Popen(
                ["nginx", "-p", os.path.join(self.dir, "nginx"),
                 "-c", os.path.join(self.dir, "nginx.conf"), "-e", "stderr"],
                stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._up, what="HTTP")

    def _up(self):
        try:
            r = requests.get(self.url + "/v1/connect/intentions", timeout=1)
            return r.status_code == 200
        except requests.RequestException:
            return False

    def workers(self):
        """PIDs of the master's worker processes."""
        out = subprocess.run(["pgrep", "-P", str(self.master.pid)],
                             capture_output=True, text=True).stdout
        return sorted(int(p) for p in out.split())

    def request(self, method, path, body=None, raw=None, headers=None,
                params=None, timeout=30):
        data = raw
        if body is not None:
            data = json.dumps(body)
        return self.session.request(method, self.url + path, data=data,
                                    headers=headers or {}, params=params,
                                    timeout=timeout)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def stop_master(self, sig=signal.SIGTERM, timeout=20):
        if self.master and self.master.poll() is None:
            self.master.send_signal(sig)
            try:
                self.master.wait(timeout)
            except subprocess.TimeoutExpired:
                self.master.kill()
                self.master.wait()

    def stop(self):
        self.stop_master()
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(10)
        self.log.close()

    def logtext(self):
        with open(os.path.join(self.dir, "portcullis.log")) as f:
            return f.read()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def make_server():
    made = []

    def make(extra_hcl="", **kw):
        s = Server(extra_hcl, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


def q(**kw):
    return "?" + urllib.parse.urlencode(kw)
