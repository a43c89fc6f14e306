"""End-to-end fixture: a real Portcullis master (>= 2 workers) behind a
real nginx, on a free loopback port, with a temporary data dir.

Configuration comes from contrib/mkconf.sh, the same script the README's
start command uses.  `server` is shared by a module; `make_server` builds
one with extra HCL for tests that need their own (ACL settings, kills).

The store backend is SQLite unless PORTCULLIS_TEST_BACKEND=postgres: then
one real PostgreSQL (Debian's postgresql package) runs for the session,
started on first use (`Postgres`, also the `postgres` fixture), and each
Server gets a fresh database of its own in it.
"""
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
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


BACKEND = os.environ.get("PORTCULLIS_TEST_BACKEND", "sqlite")


class Postgres:
    """A throwaway PostgreSQL server: initdb in a temp dir owned by an
    unprivileged user (the `postgres` system user, else nobody: CI runs
    as root and PostgreSQL refuses root), a free port, its unix socket in
    the temp dir and no TCP listener, fsync on.  Trust authentication:
    only the socket's directory (0700, that user's) reaches it."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda d: int(d.split("/")[-2]))
        if not bins:
            raise RuntimeError("PostgreSQL not installed: "
                               "apt-get install postgresql")
        self.bin = bins[-1]
        self.dir = tempfile.mkdtemp(prefix="pc-pg-")
        self.port = free_port()
        self.ndb = 0
        user = "postgres"
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            pw = pwd.getpwnam("nobody")
        self.priv = []
        if os.getuid() == 0:
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.priv = ["setpriv", "--reuid=%d" % pw.pw_uid,
                         "--regid=%d" % pw.pw_gid, "--clear-groups"]
        os.chmod(self.dir, 0o700)
        self.data = os.path.join(self.dir, "data")
        self.logf = os.path.join(self.dir, "postgres.log")
        subprocess.run(self.priv + [
            os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "pc",
            "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True, cwd="/")
        self.start()

    def start(self):
        """(Re)start the server on its data dir and port."""
        self.proc = subprocess.Popen(self.priv + [
            os.path.join(self.bin, "postgres"), "-D", self.data,
            "-p", str(self.port), "-k", self.dir, "-c", "listen_addresses=",
            "-c", "fsync=on", "-c", "max_connections=400",
            "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning"],
            stdout=open(self.logf, "a"), stderr=subprocess.STDOUT, cwd="/")
        wait_for(self._ready, timeout=30, what="PostgreSQL")

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("PostgreSQL exited: " + open(self.logf).read())
        return self.psql("postgres", "SELECT 1").returncode == 0

    def psql(self, db, sql):
        return subprocess.run(
            [os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t",
             "-h", self.dir, "-p", str(self.port), "-U", "pc", "-d", db,
             "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True)

    def dsn(self, db):
        return "host=%s port=%d dbname=%s user=pc" % (self.dir, self.port, db)

    def create_db(self):
        """A fresh database; returns its DSN."""
        self.ndb += 1
        name = "pc_%d_%d" % (os.getpid(), self.ndb)
        r = self.psql("postgres", "CREATE DATABASE %s" % name)
        if r.returncode != 0:
            raise RuntimeError("CREATE DATABASE: " + r.stderr)
        return self.dsn(name)

    def halt(self, mode="fast"):
        """Stop the server as `pg_ctl stop -m fast|immediate` would
        (SIGINT: backends terminated; SIGQUIT: killed, crash recovery at
        the next start), keeping its data for start()."""
        sig = {"fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        self.proc.send_signal(sig)
        self.proc.wait(30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)	# fast shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


_postgres = None


def postgres_instance():
    """The session's PostgreSQL, started on first use."""
    global _postgres
    if _postgres is None:
        _postgres = Postgres()
    return _postgres


def pytest_sessionfinish(session, exitstatus):
    global _postgres
    if _postgres is not None:
        _postgres.stop()
        _postgres = None


@pytest.fixture(scope="session")
def postgres():
    return postgres_instance()


def store_hcl(dsn=None):
    """The store block for the backend under test ('' for SQLite): a
    fresh database's, or the one of dsn (another Server's, to run
    several nodes on one database)."""
    if BACKEND != "postgres":
        return ""
    return '\nstore {\n  backend = "postgres"\n  dsn = "%s"\n}\n' % (
        dsn or postgres_instance().create_db())


def acl_on(mgmt):
    """HCL that turns ACLs on, default deny, with mgmt (a SecretID) as
    the initial management token."""
    return ('acl {\n enabled = true\n default_policy = "deny"\n'
            ' tokens { initial_management = "%s" }\n}\n' % mgmt)


def node(name, extra=""):
    """HCL that names the node (a cluster's nodes need distinct names),
    then extra."""
    return 'node_name = "%s"\n%s' % (name, extra)


# Tests that look inside the SQLite file (its mode, size, bytes) have no
# PostgreSQL counterpart here: the database's files belong to its server.
sqlite_only = pytest.mark.skipif(
    BACKEND == "postgres", reason="inspects the SQLite store file")

# Known difference: PostgreSQL's text type refuses invalid UTF-8, which
# SQLite stores as given and the JSON writer escapes as \ufffd (as
# Consul's memdb + Go do); on PostgreSQL such a write answers 500.
pg_refuses_invalid_utf8 = pytest.mark.xfail(
    BACKEND == "postgres", strict=True,
    reason="PostgreSQL text refuses invalid UTF-8 (500)")


# The seal key of each PostgreSQL database: every node of one cluster
# needs the same one (README, "Secrets at rest"), so a Server joining a
# database gets the key of the first (written where the default is).
_seal_keys = {}


class Server:
    def __init__(self, extra_hcl="", workers=2, threads=4, dsn=None,
                 own_group=False):
        # own_group: the master leads a process group of its own, so a
        # test can kill a whole node (master and workers) at once.
        self.own_group = own_group
        self.dir = tempfile.mkdtemp(prefix="pc-e2e-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        extra = os.path.join(self.dir, "extra.hcl")
        # Tests that rewrite extra.hcl append this to keep their store.
        # PostgreSQL: self.dsn is the database, which another Server
        # may share (Server(..., dsn=a.dsn): two nodes of one cluster).
        self.store_hcl = store_hcl(dsn)
        self.dsn = None
        if BACKEND == "postgres":
            self.dsn = self.store_hcl.split('dsn = "', 1)[1].split('"')[0]
            key = _seal_keys.setdefault(self.dsn, os.urandom(32).hex())
            fd = os.open(os.path.join(self.dir, "seal.key"),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(key + "\n")
        with open(extra, "w") as f:
            f.write(extra_hcl + self.store_hcl)
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
            stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=self.own_group)
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


def write_while_killing_workers(s, dest, writers, kills, pause):
    """writers threads PUT new intentions (sources "w<k>-<i>") to dest
    while s's first worker is SIGKILLed `kills` times, `pause` seconds
    apart (after 0.5 s of load); returns the sources acknowledged (200).
    Connection errors from the killed worker are expected and ignored."""
    import requests
    stop = threading.Event()
    acked = []

    def writer(k):
        i = 0
        while not stop.is_set():
            try:
                r = requests.put(s.url + "/v1/connect/intentions/exact" +
                                 q(source="w%d-%d" % (k, i), destination=dest),
                                 json={"Action": "allow"}, timeout=5)
                if r.status_code == 200:
                    acked.append("w%d-%d" % (k, i))
            except Exception:
                pass
            i += 1
    ts = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    for _ in range(kills):
        for pid in s.workers()[:1]:
            os.kill(pid, signal.SIGKILL)
        time.sleep(pause)
    stop.set()
    for t in ts:
        t.join(10)
    return acked
