"""Operational hardening (issue #12): shared counters given back when a
worker dies mid-signing, secrets kept from local users and out of logs,
and contrib/run.sh stopping nginx and Portcullis together however it
ends."""
import itertools
import os
import re
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

from conftest import SRC, acl_on, free_port, wait_for
from conftest import sqlite_only


def hammer_leaves(s, stop, codes, tag):
    """Ask for leaves of ever new services (cache misses) until stop."""
    n = itertools.count()
    sess = requests.Session()
    while not stop.is_set():
        try:
            r = sess.get("%s/v1/agent/connect/ca/leaf/%s-%d" % (s.url, tag, next(n)),
                         timeout=10)
            codes.append(r.status_code)
        except requests.RequestException:
            codes.append(0)


def test_leaf_issuance_recovers_after_workers_die_mid_signing(make_server):
    s = make_server(workers=2, threads=4)
    # An RSA-4096 CA: signing is slow, so kills land in it.
    r = s.put("/v1/connect/ca/configuration",
              {"Provider": "consul",
               "Config": {"PrivateKeyType": "rsa", "PrivateKeyBits": 4096,
                          "CSRMaxPerSecond": 0, "CSRMaxConcurrent": 2}})
    assert r.status_code == 200, r.text
    landed = 0
    for rnd in range(6):
        stop, codes = threading.Event(), []
        ts = [threading.Thread(target=hammer_leaves, args=(s, stop, codes, "r%dt%d" % (rnd, i)))
              for i in range(12)]
        for t in ts:
            t.start()
        # Signing is busy (two at a time, the rest queue on the limit).
        wait_for(lambda: codes.count(200) >= 3, timeout=20, what="leaves")
        before = s.workers()
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: len(s.workers()) == 2 and not set(s.workers()) & set(before),
                 timeout=15, what="workers restarted")
        stop.set()
        for t in ts:
            t.join(30)
        # Within a few seconds of the restart, new leaves are issued again.
        end = time.time() + 5
        while True:
            r = s.get("/v1/agent/connect/ca/leaf/after-%d" % rnd)
            if r.status_code == 200 or time.time() > end:
                break
            time.sleep(0.2)
        assert r.status_code == 200, (rnd, r.status_code, r.text)
        log = s.logtext()
        assert "(pid %d) killed by signal 9" % before[0] in log
        # The master says when a kill landed while a share was held.
        landed += sum(bool(re.search(r"\(pid %d\) died signing; gave back [12] "
                                     r"CSRMaxConcurrent share" % p, log)) for p in before)
        if landed >= 2 and rnd >= 2:
            break
    assert landed >= 1, "no kill landed mid-signing"


# ---------------------------------------------------------------------
# contrib/run.sh stops nginx and Portcullis together, however it ends.

def pid_alive(pid):
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):    # gone between open and read
        return False


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class RunSh:
    """sh contrib/run.sh PORT with PORTCULLIS_DATA in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pc-runsh-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.out = open(os.path.join(self.dir, "run.log"), "w")
        env = dict(os.environ, PORTCULLIS_DATA=self.data, PORTCULLIS_WORKERS="2")
        env.pop("PORTCULLIS_EXTRA_HCL", None)
        # Its own session: a terminal's Ctrl-C reaches the whole group.
        self.proc = subprocess.Popen(["sh", os.path.join(SRC, "contrib", "run.sh"),
                                      str(self.port)], env=env, stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self.up, timeout=120, what="run.sh serving")
        self.master = self.child("portcullis")
        with open(os.path.join(self.data, "nginx", "nginx.pid")) as f:
            self.nginx = int(f.read())
        self.pids = [self.master, self.nginx] + children(self.master) + children(self.nginx)

    def up(self):
        assert self.proc.poll() is None, self.log()
        try:
            return requests.get("http://127.0.0.1:%d/v1/connect/intentions" % self.port,
                                timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def child(self, name):
        for pid in children(self.proc.pid):
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == name:
                    return pid
        raise AssertionError("no %s under run.sh: %s" % (name, self.log()))

    def log(self):
        with open(os.path.join(self.dir, "run.log")) as f:
            return f.read()

    def assert_all_stopped(self, timeout=10):
        wait_for(lambda: not any(pid_alive(p) for p in self.pids), timeout=timeout,
                 what="nginx and Portcullis to stop: %s" % [p for p in self.pids if pid_alive(p)])
        wait_for(lambda: port_free(self.port), timeout=timeout, what="port freed")
        self.proc.wait(timeout)

    def cleanup(self):
        for p in self.pids:
            if pid_alive(p):
                os.kill(p, signal.SIGKILL)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.fixture
def run_sh():
    made = []

    def make():
        r = RunSh()
        made.append(r)
        return r
    yield make
    for r in made:
        r.cleanup()


def test_run_sh_stops_nginx_when_the_master_is_killed(run_sh):
    r = run_sh()
    os.kill(r.master, signal.SIGKILL)
    r.assert_all_stopped()
    assert r.proc.returncode == 1
    assert "Portcullis exited; stopping nginx" in r.log()


def test_run_sh_stops_portcullis_when_nginx_is_killed(run_sh):
    r = run_sh()
    os.kill(r.nginx, signal.SIGKILL)
    r.assert_all_stopped(timeout=20)
    assert r.proc.returncode == 1


def test_run_sh_stops_both_on_ctrl_c(run_sh):
    r = run_sh()
    os.killpg(r.proc.pid, signal.SIGINT)     # what a terminal's Ctrl-C does
    r.assert_all_stopped(timeout=20)
    assert r.proc.returncode == 130


def test_run_sh_stops_both_on_sigint_to_the_script_alone(run_sh):
    r = run_sh()
    os.kill(r.proc.pid, signal.SIGINT)
    r.assert_all_stopped(timeout=20)
    assert r.proc.returncode == 130


def test_run_sh_stops_both_on_sigterm_to_the_script(run_sh):
    r = run_sh()
    os.kill(r.proc.pid, signal.SIGTERM)
    r.assert_all_stopped(timeout=20)
    assert r.proc.returncode == 143


# ---------------------------------------------------------------------
# Secrets: files only their owner reads; no token in any log.

MGMT = "5d0f9e1c-2b7a-4c3d-8e6f-0a1b2c3d4e5f"
ACL_ON = 'log_debug = true\n' + acl_on(MGMT)


def nobody_reads(path):
    """True when the unprivileged user nobody can read path."""
    r = subprocess.run(["runuser", "-u", "nobody", "--", "cat", path],
                       capture_output=True)
    return r.returncode == 0


def secret_files(s):
    d = s.dir
    return [os.path.join(d, f) for f in ("portcullis.hcl", "nginx.conf", "portcullis.log",
                                         "portcullis.db", "portcullis.db-wal",
                                         "portcullis.db-shm", "portcullis.db.wlock")] + \
        [os.path.join(d, "nginx", "error.log")]


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to nobody needs root")
@sqlite_only
def test_config_logs_and_store_are_unreadable_by_other_local_users(make_server):
    s = make_server(ACL_ON)
    assert s.get("/v1/acl/token/self", headers={"X-Consul-Token": MGMT}).status_code == 200
    for d in (s.dir, os.path.join(s.dir, "nginx")):
        assert os.stat(d).st_mode & 0o777 == 0o700, d
    files = secret_files(s)
    for f in files:
        assert os.path.exists(f), f
        assert os.stat(f).st_mode & 0o077 == 0, (f, oct(os.stat(f).st_mode))
        assert not nobody_reads(f), f
    # Even with the directories opened to traversal, each file itself
    # refuses nobody (and the check does see a world-readable file).
    probe = os.path.join(s.dir, "probe")
    with open(probe, "w") as f:
        f.write("x")
    os.chmod(probe, 0o644)
    os.chmod(s.dir, 0o711)
    os.chmod(os.path.join(s.dir, "nginx"), 0o711)
    try:
        assert nobody_reads(probe)
        for f in files:
            assert not nobody_reads(f), f
    finally:
        os.chmod(s.dir, 0o700)
        os.chmod(os.path.join(s.dir, "nginx"), 0o700)


def test_mkconf_closes_a_data_dir_an_older_run_left_open(tmp_path):
    data = tmp_path / "data"
    (data / "nginx").mkdir(parents=True)
    os.chmod(data, 0o755)
    os.chmod(data / "nginx", 0o755)
    for f in ("portcullis.hcl", "nginx.conf", "nginx/error.log"):
        (data / f).write_text("old\n")
        os.chmod(data / f, 0o644)
    extra = tmp_path / "extra.hcl"
    extra.write_text(ACL_ON)
    subprocess.run(["sh", os.path.join(SRC, "contrib", "mkconf.sh"), str(data), "8599",
                    str(extra)], check=True)
    assert os.stat(data).st_mode & 0o777 == 0o700
    assert os.stat(data / "nginx").st_mode & 0o777 == 0o700
    for f in ("portcullis.hcl", "nginx.conf", "nginx/error.log"):
        assert os.stat(data / f).st_mode & 0o777 == 0o600, f
    assert MGMT in (data / "portcullis.hcl").read_text()


def test_the_master_warns_of_a_data_dir_or_config_open_to_others(make_server):
    s = make_server(ACL_ON)
    assert "open to other users" not in s.logtext()
    s.stop_master()
    os.chmod(s.dir, 0o755)
    os.chmod(os.path.join(s.dir, "portcullis.hcl"), 0o644)
    s.start()
    log = s.logtext()
    assert "data_dir %s is open to other users (mode 0755); chmod o-rwx it" % s.dir in log
    assert "configuration %s/portcullis.hcl is open to other users (mode 0644)" % s.dir in log


def test_a_query_token_works_and_reaches_no_log_when_portcullis_is_down(make_server):
    s = make_server(ACL_ON)
    tq = {"token": MGMT}
    # Through the location that serves token queries: ACL, bodies, paths.
    assert s.get("/v1/acl/tokens", params=tq).status_code == 200
    assert s.get("/v1/acl/tokens").status_code == 403
    r = s.put("/v1/connect/intentions/exact?source=web&destination=db&token=" + MGMT,
              {"Action": "allow"})
    assert (r.status_code, r.text) == (200, "true")
    r = s.get("/v1/connect/intentions/exact?source=web&destination=db&%74oken=" + MGMT)
    assert r.status_code == 200 and r.json()["Action"] == "allow"
    # Served as through the header, odd paths included.
    for path in ("/v1/agent/connect/ca/leaf/web-1%2Fx", "/v1/agent/connect/ca/leaf/a%20b",
                 "/v1/connect/intentions/exact?source=web&destination=db", "/v1/acl/tokens",
                 "/v1/nope", "/v1/acl/policy/..%2F..%2Fx", "/v1/acl/policy/a%3Fb%0Ac%23d",
                 "/v1/connect/intentions?filter=" + urllib.parse.quote('SourceName == "web"')):
        a = s.get(path + ("&" if "?" in path else "?") + "token=" + MGMT)
        b = s.get(path, headers={"X-Consul-Token": MGMT})
        assert (a.status_code, a.text) == (b.status_code, b.text), path
    r = s.get("/v1/agent/connect/ca/leaf/web-1", params=tq)
    assert r.status_code == 200 and r.json()["ServiceURI"].endswith("/svc/web-1")

    secrets = []

    def send_secrets(tag):
        forms = [
            lambda v: s.get("/v1/connect/intentions?token=" + v),
            lambda v: s.get("/v1/connect/intentions?stale&TOKEN=" + v),
            lambda v: s.get("/v1/connect/intentions?%74ok%65n=" + v),
            lambda v: s.put("/v1/connect/intentions/exact?source=a&destination=b&token=" + v,
                            {"Action": "deny"}),
            lambda v: s.get("/v1/connect/intentions", headers={"X-Consul-Token": v}),
            lambda v: s.get("/v1/connect/intentions", headers={"Authorization": "Bearer " + v}),
        ]
        codes = []
        for i, form in enumerate(forms):
            v = "sekrit-%s-%d-%s" % (tag, i, os.urandom(6).hex())
            secrets.append(v)
            codes.append(form(v).status_code)
        codes.append(s.get("/v1/connect/intentions", params=tq).status_code)
        codes.append(s.get("/v1/connect/intentions?filter=marker-" + tag).status_code)
        return codes

    # Up: unknown tokens are refused (403), nothing logged with them.
    # (?TOKEN= is no token to Portcullis: anonymous, 200.)
    up = send_secrets("up")
    assert up[:6] == [403, 200, 403, 403, 403, 403], up
    # The master killed (socket left behind: nginx logs "connection
    # refused" errors), then stopped (socket gone: "no such file", crit).
    s.stop_master(signal.SIGKILL)
    wait_for(lambda: not s.workers(), timeout=10, what="workers gone")
    assert set(send_secrets("refused")) == {502}
    s.start()
    s.stop_master(signal.SIGTERM)
    assert set(send_secrets("nosock")) == {502}
    s.stop()

    with open(os.path.join(s.dir, "nginx", "error.log")) as f:
        errlog = f.read()
    # Errors of requests without a token are still logged, query and all.
    assert "Connection refused" in errlog and "marker-refused" in errlog
    assert "No such file or directory" in errlog and "marker-nosock" in errlog
    for root, _, names in os.walk(s.dir):
        for n in names:
            p = os.path.join(root, n)
            if not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                blob = f.read()
            for v in secrets:
                assert v.encode() not in blob, (p, v)
            if n.endswith(".log"):
                assert MGMT.encode() not in blob, p


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_an_instance_run_by_an_unprivileged_user_hides_its_files_and_tokens():
    import pwd
    nob = pwd.getpwnam("nobody")
    other = ["setpriv", "--reuid=65533", "--regid=65533", "--clear-groups"]
    as_nobody = ["setpriv", "--reuid=%d" % nob.pw_uid, "--regid=%d" % nob.pw_gid,
                 "--clear-groups"]
    base = tempfile.mkdtemp(prefix="pc-nobody-")    # /tmp: nobody reaches it
    os.chmod(base, 0o755)
    os.chown(base, nob.pw_uid, nob.pw_gid)
    # The checkout may sit where nobody cannot go (CI clones anywhere):
    # the few files an instance needs are copied beside the data.
    tree = os.path.join(base, "tree")
    for rel in ("contrib/mkconf.sh", "nginx/dev.conf.in", "nginx/fastcgi.conf",
                "src/portcullis"):
        os.makedirs(os.path.dirname(os.path.join(tree, rel)), exist_ok=True)
        shutil.copy2(os.path.join(SRC, rel), os.path.join(tree, rel))
    for d, _, files in os.walk(tree):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o755)
    data, port = os.path.join(base, "data"), free_port()
    subprocess.run(as_nobody + ["sh", os.path.join(tree, "contrib", "mkconf.sh"), data,
                                str(port)], check=True)
    log = open(os.path.join(base, "out.log"), "w")
    procs = []
    try:
        procs.append(subprocess.Popen(
            as_nobody + [os.path.join(tree, "src", "portcullis"), "-c",
                         os.path.join(data, "portcullis.hcl")], stdout=log, stderr=log))
        wait_for(lambda: os.path.exists(os.path.join(data, "portcullis.sock")), what="socket")
        procs.append(subprocess.Popen(
            as_nobody + [shutil.which("nginx"), "-p", os.path.join(data, "nginx"),
                         "-c", os.path.join(data, "nginx.conf"), "-e", "stderr"],
            stdout=log, stderr=log))
        url = "http://127.0.0.1:%d" % port

        def up():
            try:
                return requests.get(url + "/v1/connect/intentions", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        wait_for(up, what="HTTP")
        secret = "sekrit-nobody-" + os.urandom(6).hex()
        assert requests.get(url + "/v1/connect/intentions?token=" + secret).status_code == 200
        files = [os.path.join(data, f) for f in ("portcullis.hcl", "nginx.conf", "portcullis.db",
                                                 "portcullis.db-wal", "portcullis.db-shm")]
        files.append(os.path.join(data, "nginx", "error.log"))
        for f in files:
            st = os.stat(f)
            assert (st.st_uid, st.st_mode & 0o777) == (nob.pw_uid, 0o600), f
        assert os.stat(data).st_mode & 0o777 == 0o700
        for f in files:
            assert subprocess.run(other + ["cat", f], capture_output=True).returncode != 0, f
        for d in (data, os.path.join(data, "nginx")):
            os.chmod(d, 0o711)      # traversable: the files' own modes decide
        for f in files:
            assert subprocess.run(other + ["cat", f], capture_output=True).returncode != 0, f
            # (the same user does read them: the check itself works)
            assert subprocess.run(as_nobody + ["cat", f], capture_output=True).returncode == 0, f
        for d in (data, os.path.join(data, "nginx")):
            os.chmod(d, 0o700)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        # (its workers drain first: SIGTERM when their parent dies)
        wait_for(lambda: requests.get(url + "/v1/connect/intentions").status_code == 502,
                 what="workers gone")
        assert requests.get(url + "/v1/connect/intentions?token=" + secret).status_code == 502
        assert requests.get(url + "/v1/connect/intentions?filter=marker").status_code == 502
        with open(os.path.join(data, "nginx", "error.log")) as f:
            errlog = f.read()
        assert "marker" in errlog and secret not in errlog
        for root, _, names in os.walk(data):
            for n in names:
                p = os.path.join(root, n)
                if os.path.isfile(p):
                    with open(p, "rb") as f:
                        assert secret.encode() not in f.read(), p
        log.flush()
        with open(os.path.join(base, "out.log")) as f:
            assert secret not in f.read()   # Portcullis's and nginx's stderr
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(20)
        log.close()
        shutil.rmtree(base, ignore_errors=True)
