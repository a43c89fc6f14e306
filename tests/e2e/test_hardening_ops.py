"""Operational hardening (issue #12): shared counters given back when a
worker dies mid-signing, secrets kept from local users and out of logs,
and contrib/run.sh stopping nginx and Portcullis together however it
ends."""
import itertools
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

from conftest import SRC, free_port, wait_for


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
    r = s.put("/v1/connect/ca/configuration",
              {"Provider": "consul",
               "Config": {"CSRMaxPerSecond": 0, "CSRMaxConcurrent": 1}})
    assert r.status_code == 200, r.text
    for rnd in range(3):
        stop, codes = threading.Event(), []
        ts = [threading.Thread(target=hammer_leaves, args=(s, stop, codes, "r%dt%d" % (rnd, i)))
              for i in range(12)]
        for t in ts:
            t.start()
        # Signing is busy (one at a time, the rest queue on the limit).
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
        assert "(pid %d) killed by signal 9" % before[0] in s.logtext()


# ---------------------------------------------------------------------
# contrib/run.sh stops nginx and Portcullis together, however it ends.

def pid_alive(pid):
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
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
