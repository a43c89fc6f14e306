"""Per-worker snapshots under writes (src/snap.c): one rebuild per worker
and write, patched from the previous snapshot, through real nginx and
workers; the counters are the node's (GET /v1/agent/metrics).
"""
import concurrent.futures

import requests


def counters(s):
    r = s.get("/v1/agent/metrics")
    assert r.status_code == 200, r.text
    c = r.json()["Counters"]
    return {k: sum(x["Count"] for x in c if x["Name"] == k)
            for k in ("portcullis.snapshot.rebuilds",
                      "portcullis.snapshot.incremental")}


def hammer(s, path, threads=16, each=40):
    """threads clients at once, each with its own connection, each
    making each requests: every thread of every worker gets some."""
    def one(_):
        with requests.Session() as h:
            for _ in range(each):
                assert h.get(s.url + path, timeout=30).status_code == 200
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        list(ex.map(one, range(threads)))


def test_one_intention_write_patches_each_workers_snapshot_once(server):
    for i in range(50):
        r = server.put("/v1/connect/intentions/exact?source=s%d"
                       "&destination=d%d" % (i, i % 7),
                       body={"Action": "deny"})
        assert r.status_code == 200, r.text
    path = "/v1/connect/intentions/check?source=web&destination=db"
    # Every worker holds its snapshots now (a write reads the CA's).
    hammer(server, path)
    hammer(server, "/v1/connect/ca/roots")
    c0 = counters(server)
    r = server.put("/v1/connect/intentions/exact?source=web&destination=db",
                   body={"Action": "allow"})
    assert r.status_code == 200, r.text
    hammer(server, path)
    c1 = counters(server)
    rebuilds = (c1["portcullis.snapshot.rebuilds"] -
                c0["portcullis.snapshot.rebuilds"])
    patched = (c1["portcullis.snapshot.incremental"] -
               c0["portcullis.snapshot.incremental"])
    # 2 workers x 4 threads: at most one rebuild per worker, not per
    # thread, each a patch of the snapshot before the write (but for a
    # worker that nginx gave none of the warm-up requests: its first
    # snapshot is read whole).
    assert 1 <= rebuilds <= 2, c1
    assert 1 <= patched <= rebuilds, c1
    assert server.get(path).json() == {"Allowed": True}


def test_a_deleted_intention_is_gone_from_every_worker_after_its_patch(
        server):
    path = "/v1/connect/intentions/check?source=gone&destination=dgone"
    r = server.put("/v1/connect/intentions/exact?source=gone"
                   "&destination=dgone", body={"Action": "deny"})
    assert r.status_code == 200, r.text
    hammer(server, path, threads=8, each=10)
    assert server.get(path).json() == {"Allowed": False}
    c0 = counters(server)
    # The destination's last intention: its entry goes (a tombstone).
    r = server.delete("/v1/connect/intentions/exact?source=gone"
                      "&destination=dgone")
    assert r.status_code == 200, r.text
    for _ in range(20):
        assert server.get(path).json() == {"Allowed": True}
    c1 = counters(server)
    assert (c1["portcullis.snapshot.incremental"] -
            c0["portcullis.snapshot.incremental"]) >= 1, c1
