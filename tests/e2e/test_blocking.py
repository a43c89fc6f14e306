"""Blocking queries across workers, worker supervision, and crash safety."""
import asyncio
import os
import re
import resource
import subprocess
import signal
import threading
import time

import pytest

from conftest import SRC, q, wait_for, write_while_killing_workers
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


def test_a_short_wait_parked_behind_long_ones_comes_back_on_its_own_deadline_and_a_write_still_releases_them(server):
    """The blocking thread skips its pass over the parked requests while
    no table moved and no deadline came (blocking.c, sweep()): a request
    that comes in with a nearer deadline than every parked one must
    still be answered on it, and the first write after idle passes must
    release the others at once."""
    idx = int(server.get("/v1/connect/intentions").headers["X-Consul-Index"])
    got = []

    def long_waiter():
        got.append(server.request(
            "GET", "/v1/connect/intentions?index=%d&wait=60s" % idx,
            timeout=90))
    threads = [threading.Thread(target=long_waiter) for _ in range(20)]
    for t in threads:
        t.start()
    time.sleep(2.5)    # two safety polls: passes with nothing to do
    assert not got, "nothing changed: they stay parked"
    t0 = time.monotonic()
    r = server.get("/v1/connect/intentions?index=%d&wait=1s" % idx)
    took = time.monotonic() - t0
    assert r.status_code == 200
    assert int(r.headers["X-Consul-Index"]) == idx
    assert 1.0 <= took < 1.0 + 1.0 / 16 + 0.5, took
    assert not got
    t_write = time.monotonic()
    put_exact(server, "sweep-src", "sweep-dst")
    for t in threads:
        t.join(10)
    assert time.monotonic() - t_write < 1.0
    assert len(got) == 20
    assert all(x.status_code == 200 and
               int(x.headers["X-Consul-Index"]) > idx for x in got)


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
    acked = write_while_killing_workers(s, "kdb", writers=4, kills=3,
                                        pause=0.4)
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


# --- Waiters a write does not concern (issue #16) ------------------------

def counter(server, name):
    """A counter's count from GET /v1/agent/metrics (0 when absent)."""
    m = server.get("/v1/agent/metrics").json()
    return next((int(c["Count"]) for c in m["Counters"] if c["Name"] == name), 0)


def gauge(server, name):
    m = server.get("/v1/agent/metrics").json()
    return next(int(g["Value"]) for g in m["Gauges"] if g["Name"] == name)


RERUN = "portcullis.blocking.rerun_unchanged"


def park(server, paths, wait="3s", timeout=30):
    """One thread per path, each a blocking GET ?wait=; returns (threads, out)."""
    out = {}
    threads = []
    for p in paths:
        sep = "&" if "?" in p else "?"

        def go(p=p, sep=sep):
            out[p] = (server.request("GET", p + sep + "wait=" + wait, timeout=timeout),
                      time.monotonic())
        t = threading.Thread(target=go)
        t.start()
        threads.append(t)
    wait_for(lambda: gauge(server, "portcullis.blocking.parked") >= len(paths),
             what="parked")
    return threads, out


def test_a_write_to_another_table_leaves_parked_queries_parked_and_uncounted(server):
    idx = int(server.get("/v1/connect/intentions").headers["X-Consul-Index"])
    before = counter(server, RERUN)
    paths = ["/v1/connect/intentions?index=%d&n=%d" % (idx, i) for i in range(5)]
    threads, out = park(server, paths, wait="2s")
    t_write = time.monotonic()
    # A new leaf writes the leaves table, which no intention query watches.
    assert server.get("/v1/agent/connect/ca/leaf/othertable").status_code == 200
    time.sleep(0.8)
    assert not out, "answered by a write to another table"
    assert counter(server, RERUN) == before, "re-run by a write to another table"
    for t in threads:
        t.join(10)
    for p in paths:
        r, t = out[p]
        assert r.status_code == 200
        assert int(r.headers["X-Consul-Index"]) == idx
        assert t - t_write >= 1.0, "released %.2fs after the write" % (t - t_write)


def test_a_leaf_write_for_another_service_leaves_a_leaf_query_parked(server):
    first = server.get("/v1/agent/connect/ca/leaf/lweb")
    assert first.status_code == 200, first.text
    idx = int(first.headers["X-Consul-Index"])
    before = counter(server, RERUN)
    threads, out = park(server, ["/v1/agent/connect/ca/leaf/lweb?index=%d" % idx], wait="2s")
    assert server.get("/v1/agent/connect/ca/leaf/lother").status_code == 200
    # The leaves table moved: the query was asked again and sent back.
    wait_for(lambda: counter(server, RERUN) > before, what="re-run")
    assert not out, "a leaf query woken by another service's leaf"
    threads[0].join(10)
    r, _ = next(iter(out.values()))
    assert r.status_code == 200
    assert r.json()["SerialNumber"] == first.json()["SerialNumber"]


def test_a_write_of_another_intention_leaves_exact_and_match_queries_parked(server):
    put_exact(server, "xweb", "xdb")
    m = "/v1/connect/intentions/match" + q(by="destination", name="xdb")
    e = "/v1/connect/intentions/exact" + q(source="xweb", destination="xdb")
    mi = int(server.get(m).headers["X-Consul-Index"])
    ei = int(server.get(e).headers["X-Consul-Index"])
    before = counter(server, RERUN)
    threads, out = park(server, [m + "&index=%d" % mi, e + "&index=%d" % ei], wait="20s")
    # Moves the intentions index past both, changes neither answer.
    put_exact(server, "xweb", "elsewhere")
    wait_for(lambda: counter(server, RERUN) >= before + 2, what="re-runs")
    time.sleep(0.3)
    assert not out, "exact/match woken by another destination's intention"
    # A write that changes them releases both with the news.
    put_exact(server, "xweb", "xdb", action="deny")
    for t in threads:
        t.join(10)
    rm, _ = out[m + "&index=%d" % mi]
    re_, _ = out[e + "&index=%d" % ei]
    assert rm.json()["xdb"][0]["Action"] == "deny"
    assert re_.json()["Action"] == "deny"
    assert int(re_.headers["X-Consul-Index"]) > ei


def mkconf(tmp, env):
    subprocess.run(["sh", os.path.join(SRC, "contrib", "mkconf.sh"), tmp, "18599"],
                   check=True, env=env)
    with open(os.path.join(tmp, "nginx.conf")) as f:
        ngx = f.read()
    with open(os.path.join(tmp, "portcullis.hcl")) as f:
        hcl = f.read()
    num = lambda pat, s: int(re.search(pat, s).group(1))
    return (num(r"worker_processes (\d+);", ngx), num(r"worker_connections (\d+);", ngx),
            num(r"worker_rlimit_nofile (\d+);", ngx), num(r"workers\s*=\s*(\d+)", hcl), ngx)


def test_the_generated_config_is_sized_for_50000_parked_queries(tmp_path):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    env = {k: v for k, v in os.environ.items()
           if k not in ("PORTCULLIS_WORKERS", "PORTCULLIS_NGINX_WORKERS", "PORTCULLIS_PARKED")}
    nw, conns, nofile, workers, ngx = mkconf(str(tmp_path / "a"), env)
    assert nofile <= hard and conns <= nofile
    # Two connections per query in nginx, one in a Portcullis worker,
    # which parks up to its limit less 1,024: all with a quarter to spare
    # (or 8 processes, the most mkconf makes, under a low hard limit).
    assert nw * conns >= 2.5 * 50000 or nw == 8
    assert workers * (nofile - 1024) >= 1.25 * 50000 or workers == 8
    if hard >= 20000:
        assert nw * conns >= 2.5 * 50000
        assert workers * (nofile - 1024) >= 1.25 * 50000
    assert "reuseport" in ngx
    assert "fastcgi_read_timeout" in open(os.path.join(SRC, "nginx", "fastcgi.conf")).read()
    # A smaller target: fewer processes, never below two.
    env["PORTCULLIS_PARKED"] = "1000"
    nw, _, _, workers, _ = mkconf(str(tmp_path / "b"), env)
    assert (nw, workers) == (2, 2)


async def _hold(port, path, n, results):
    async def one():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError as e:
            results.append(("connect", str(e)))
            return
        w.write(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        data = await r.read()
        w.close()
        results.append(("reply", data))
    return [asyncio.ensure_future(one()) for _ in range(n)]


def test_thousands_of_parked_queries_through_the_generated_config_are_released_by_one_write(server):
    n = 3000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n + 200:
        pytest.skip("needs %d descriptors" % (n + 200))
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 200), hard))
    idx = int(server.get("/v1/connect/intentions").headers["X-Consul-Index"])
    before = gauge(server, "portcullis.blocking.parked")
    results = []

    async def run():
        tasks = await _hold(server.port, "/v1/connect/intentions?index=%d&wait=60s" % idx, n, results)
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        while gauge(server, "portcullis.blocking.parked") < before + n:
            assert time.monotonic() - t0 < 15, "parked %d of %d" % (
                gauge(server, "portcullis.blocking.parked") - before, n)
            await asyncio.sleep(0.2)
        assert not results, "answered before the write"
        await loop.run_in_executor(None, put_exact, server, "many", "parked")
        await asyncio.wait_for(asyncio.gather(*tasks), 15)

    try:
        asyncio.run(run())
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(results) == n
    bad = [r for r in results if r[0] != "reply" or not r[1].startswith(b"HTTP/1.1 200")]
    assert not bad, "%d of %d not 200, e.g. %r" % (len(bad), n, bad[0][1][:200])
    for _, data in results[:50]:
        head = data.split(b"\r\n\r\n", 1)[0].decode()
        got = int(re.search(r"(?im)^X-Consul-Index: (\d+)", head).group(1))
        assert got > idx
