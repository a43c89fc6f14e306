"""Blocking queries across workers, worker supervision, and crash safety."""
import os
import signal
import threading
import time

import pytest

from conftest import q, wait_for
from conftest import sqlite_only


def put_exact(server, src, dst, action="allow"):
    r = server.put("/v1/connect/intentions/exact" + q(source=src, destination=dst), {"Action": action})
    assert r.status_code == 200, r.text


def test_blocking_list_is_released_by_a_write_in_another_worker_within_100ms(server):
    idx = int(server.get("/v1/connect/intentions").headers["X-Consul-Index"])
    result = {}

    def waiter():
        t0 = time.monotonic()
        r = server.request("GET", "/v1/connect/intentions?index=%d&wait=30s" % idx, timeout=60)
        result["t"] = time.monotonic()
        result["r"] = r
        result["t0"] = t0

    # Several waiters, so that whichever worker the write lands on, most
    # of the parked queries live in another worker.
    threads = [threading.Thread(target=waiter) for _ in range(1)]
    extra = []
    for _ in range(6):
        t = threading.Thread(target=lambda: extra.append(
            server.request("GET", "/v1/connect/intentions?index=%d&wait=30s" % idx, timeout=60)))
        t.start()
        threads.append(t)
    threads[0].start()
    time.sleep(0.5)
    assert "r" not in result, "must block while nothing changes"
    import requests
    t_write = time.monotonic()
    requests.put(server.url + "/v1/connect/intentions/exact" + q(source="bw", destination="bd"),
                 json={"Action": "allow"}, timeout=10)
    for t in threads:
        t.join(10)
    r = result["r"]
    assert r.status_code == 200
    assert int(r.headers["X-Consul-Index"]) > idx
    assert any(x["SourceName"] == "bw" for x in r.json())
    assert result["t"] - t_write < 0.1 + 0.05, "released %.3fs after the write" % (result["t"] - t_write)
    assert len(extra) == 6 and all(int(x.headers["X-Consul-Index"]) > idx for x in extra)


def test_blocking_query_times_out_with_current_index(server):
    idx = int(server.get("/v1/connect/intentions").headers["X-Consul-Index"])
    t0 = time.monotonic()
    r = server.get("/v1/connect/intentions?index=%d&wait=1s" % idx)
    took = time.monotonic() - t0
    assert r.status_code == 200
    assert int(r.headers["X-Consul-Index"]) == idx
    assert 1.0 <= took < 1.0 + 1.0 / 16 + 0.5


def test_index_zero_and_index_ahead_of_the_store_return_at_once(server):
    t0 = time.monotonic()
    assert server.get("/v1/connect/intentions?index=0&wait=10s").status_code == 200
    assert server.get("/v1/connect/intentions?index=999999999&wait=10s").status_code == 200
    assert time.monotonic() - t0 < 1.0


def test_blocked_worker_still_answers_other_requests(server):
    idx = int(server.get("/v1/connect/intentions").headers["X-Consul-Index"])
    holders = []
    for _ in range(20):
        t = threading.Thread(target=lambda: server.request(
            "GET", "/v1/connect/intentions?index=%d&wait=3s" % idx, timeout=30))
        t.start()
        holders.append(t)
    time.sleep(0.3)
    t0 = time.monotonic()
    for _ in range(20):
        assert server.get("/v1/connect/intentions/check" + q(source="a", destination="b")).status_code == 200
    assert time.monotonic() - t0 < 2.0
    for t in holders:
        t.join(10)


def test_blocking_match_and_exact_wake_on_write(server):
    idx = int(server.get("/v1/connect/intentions/match?by=destination&name=mdb").headers["X-Consul-Index"])
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", server.request(
        "GET", "/v1/connect/intentions/match?by=destination&name=mdb&index=%d&wait=20s" % idx, timeout=30)))
    t.start()
    time.sleep(0.3)
    put_exact(server, "mweb", "mdb")
    t.join(10)
    assert out["r"].json()["mdb"][0]["SourceName"] == "mweb"


def test_killed_worker_is_restarted_and_committed_intentions_survive(make_server):
    s = make_server()
    for i in range(20):
        put_exact(s, "src%d" % i, "dst")
    before = s.workers()
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    wait_for(lambda: len(s.workers()) == 2 and s.workers() != before, timeout=10, what="restart")
    assert "killed by signal 9" in s.logtext()
    got = s.get("/v1/connect/intentions").json()
    assert len(got) == 20
    put_exact(s, "after", "dst")
    assert len(s.get("/v1/connect/intentions").json()) == 21


def test_worker_killed_mid_writes_leaves_store_consistent(make_server):
    s = make_server(workers=2)
    stop = threading.Event()
    acked = []

    def writer(k):
        import requests
        i = 0
        while not stop.is_set():
            try:
                r = requests.put(s.url + "/v1/connect/intentions/exact" + q(source="w%d-%d" % (k, i), destination="kdb"),
                                 json={"Action": "allow"}, timeout=5)
                if r.status_code == 200:
                    acked.append("w%d-%d" % (k, i))
            except Exception:
                pass
            i += 1
    ts = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    for _ in range(3):
        for pid in s.workers()[:1]:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.4)
    stop.set()
    for t in ts:
        t.join(10)
    wait_for(lambda: len(s.workers()) == 2, timeout=15, what="restart")
    wait_for(lambda: s.get("/v1/connect/intentions").status_code == 200, what="serving")
    have = {x["SourceName"] for x in s.get("/v1/connect/intentions").json()}
    assert set(acked) <= have, "every acknowledged write survived"
    # Every row belongs to a complete entry: all share the entry's indexes.
    rows = s.get("/v1/connect/intentions").json()
    assert len({(x["CreateIndex"], x["ModifyIndex"]) for x in rows}) <= 1


def test_sigterm_drains_parked_queries_and_exits(make_server):
    s = make_server()
    idx = int(s.get("/v1/connect/intentions").headers["X-Consul-Index"])
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", s.request(
        "GET", "/v1/connect/intentions?index=%d&wait=60s" % idx, timeout=90)))
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    s.stop_master()
    t.join(20)
    assert s.master.returncode == 0
    assert out["r"].status_code == 200, "parked query answered on drain"
    assert time.monotonic() - t0 < 10


@sqlite_only
def test_data_files_are_private(make_server):
    s = make_server()
    for name in ("portcullis.db", "portcullis.db-wal"):
        mode = os.stat(os.path.join(s.dir, name)).st_mode & 0o777
        assert mode & 0o077 == 0, "%s is %o" % (name, mode)
    assert os.stat(os.path.join(s.dir, "portcullis.sock")).st_mode & 0o777 == 0o660


def test_sighup_reloads_config(make_server):
    s = make_server()
    with open(os.path.join(s.dir, "portcullis.hcl"), "a") as f:
        f.write('default_intention_policy = "deny"\n')
    os.kill(s.master.pid, signal.SIGHUP)
    wait_for(lambda: s.get("/v1/connect/intentions/check?source=a&destination=b").json() == {"Allowed": False},
             timeout=10, what="reload")


def test_blocking_leaf_is_not_released_by_another_services_leaf(server):
    """Consul's leaf watch is per service: a new leaf for 'other' moves the
    leaves table, but web's answer is unchanged, so web keeps waiting."""
    first = server.get("/v1/agent/connect/ca/leaf/web")
    assert first.status_code == 200, first.text
    idx = int(first.headers["X-Consul-Index"])
    out = {}
    t0 = time.monotonic()
    t = threading.Thread(target=lambda: out.setdefault("r", server.request(
        "GET", "/v1/agent/connect/ca/leaf/web?index=%d&wait=2s" % idx, timeout=30)))
    t.start()
    time.sleep(0.3)
    assert server.get("/v1/agent/connect/ca/leaf/other").status_code == 200
    t.join(20)
    took = time.monotonic() - t0
    assert took >= 2.0, "released after %.2fs by an unrelated leaf" % took
    r = out["r"]
    assert r.status_code == 200
    assert r.json()["SerialNumber"] == first.json()["SerialNumber"]
    assert int(r.headers["X-Consul-Index"]) == idx
