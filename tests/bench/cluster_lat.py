"""cluster_lat.py -- latencies between two nodes on one database (pg.sh).

    python3 cluster_lat.py wake   WRITE_URL READ_URL N TOKEN
        a blocking GET /v1/connect/intentions?index= on READ_URL, then a
        write on WRITE_URL: the time from the write's reply to the
        blocking query's reply;
    python3 cluster_lat.py revoke WRITE_URL READ_URL N TOKEN
        a fresh token that READ_URL accepts, deleted on WRITE_URL: the
        time from the delete's reply until READ_URL refuses the token
        (403; polled back to back).

Run once with two nodes and once with one node as both URLs (the
baseline, same run).  Prints "p50_ms p99_ms" over N samples.
"""
import sys
import threading
import time
import uuid

import requests


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def wake(w, r, n, h):
    out = []
    sw, sr = requests.Session(), requests.Session()
    for i in range(n):
        idx = int(sr.get(r + "/v1/connect/intentions", headers=h)
                  .headers["X-Consul-Index"])
        got = {}

        def block():
            sr.get(r + "/v1/connect/intentions?index=%d&wait=30s" % idx,
                   headers=h, timeout=60)
            got["t"] = time.monotonic()
        t = threading.Thread(target=block)
        t.start()
        time.sleep(0.05)	# parked before the write
        u = (w + "/v1/connect/intentions/exact?source=wake%d-%s"
             "&destination=wake" % (i, uuid.uuid4().hex[:8]))
        assert sw.put(u, json={"Action": "allow"}, headers=h).ok
        t0 = time.monotonic()
        t.join(60)
        out.append(max(0.0, got["t"] - t0) * 1000)
    return out


def revoke(w, r, n, h):
    out = []
    sw, sr = requests.Session(), requests.Session()
    pol = sw.put(w + "/v1/acl/policy", headers=h, json={
        "Name": "lat-" + uuid.uuid4().hex[:8],
        "Rules": 'service_prefix "" { policy = "read" }'}).json()["ID"]
    for _ in range(n):
        tok = sw.put(w + "/v1/acl/token", headers=h, json={
            "Policies": [{"ID": pol}]}).json()
        th = {"X-Consul-Token": tok["SecretID"]}
        path = "/v1/connect/intentions/check?source=a&destination=b"
        while sr.get(r + path, headers=th).status_code != 200:
            time.sleep(0.01)	# the new token reached the reader
        assert sw.delete(w + "/v1/acl/token/" + tok["AccessorID"],
                         headers=h).ok
        t0 = time.monotonic()
        while sr.get(r + path, headers=th).status_code != 403:
            pass
        out.append((time.monotonic() - t0) * 1000)
    return out


def main():
    mode, w, r, n, tok = sys.argv[1:6]
    h = {"X-Consul-Token": tok}
    v = (wake if mode == "wake" else revoke)(w, r, int(n), h)
    print("%.1f %.1f" % (pct(v, 0.5), pct(v, 0.99)))


if __name__ == "__main__":
    main()
