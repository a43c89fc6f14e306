#!/usr/bin/env python3
"""snapload.py -- the helpers of tests/bench/snap.sh.

  snapload.py bulk DB NIXN NTOK POLICY_ID
      Write NIXN intentions (destinations d0.., ten sources s0..s9 each)
      and NTOK tokens (accessor/secret from tok_ids(), each linked to
      POLICY_ID) straight into the SQLite store of a *stopped* instance,
      as the API would write them (same columns, precedence 9, one
      modify index per row), and raise table_index so that the restarted
      master loads the new indexes.  The set-up is not a benchmark row:
      60,000 API writes take minutes on the unpatched server, where every
      token write makes every thread rebuild the ACL snapshot.

  snapload.py write URL MGMT RATE POLICY_ID   (BENCH_IXNS, BENCH_TOKENS)
      RATE writes a second until SIGTERM (one connection per 5/s, each
      paced), alternating an intention update (PUT intentions/exact on
      an existing pair) and a token update (PUT acl/token/<accessor>);
      prints "writes seconds" when stopped.

  snapload.py probe URL MGMT N TD
      N times: write (toggle the probe -> db intention; set a token's
      Description), then poll the reader until it answers from the new
      snapshot (authorize's Authorized; token/self's Description); the
      time from the write's reply to that answer.  Baseline: the same
      client's latency of the same request with no write.  Prints
      "ixn_ms tok_ms base_az_ms base_tok_ms" (medians).
"""
import http.client
import json
import os
import signal
import sqlite3
import statistics
import sys
import threading
import time
import urllib.parse


def tok_ids(i):
    return ("%08x-0000-4000-8000-%012x" % (0xacce5500 + 0, i),
            "%08x-0000-4000-8000-%012x" % (0x5ec4e700 + 0, i))


def bulk(db, nixn, ntok, policy):
    c = sqlite3.connect(db)
    idx = c.execute("SELECT idx FROM table_index WHERE name = 'raft'") \
        .fetchone()[0]
    with c:
        i = 0
        d = 0
        while i < nixn:
            idx += 1
            c.execute("INSERT INTO intention_entry (dest_name, meta, "
                      "create_index, modify_index) VALUES (?, NULL, ?, ?)",
                      ("d%d" % d, idx, idx))
            for s in range(10):
                if i >= nixn:
                    break
                c.execute("INSERT INTO intention (dest_name, source_name, "
                          "source_peer, action, precedence) "
                          "VALUES (?, ?, '', ?, 9)",
                          ("d%d" % d, "s%d" % s,
                           "allow" if s % 2 else "deny"))
                i += 1
            d += 1
        ixn_idx = idx
        pol = json.dumps([policy])
        for t in range(ntok):
            idx += 1
            acc, sec = tok_ids(t)
            c.execute("INSERT INTO acl_token (accessor_id, secret_id, "
                      "description, policies, create_time, hash, "
                      "create_index, modify_index) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (acc, sec, "bench %d" % t, pol,
                       "2026-01-01T00:00:00Z", "YmVuY2g=", idx, idx))
        for name, v in (("intentions", ixn_idx), ("acl-tokens", idx),
                        ("raft", idx)):
            c.execute("UPDATE table_index SET idx = ? WHERE name = ?",
                      (v, name))
    c.close()


class Client:
    def __init__(self, url, token=None):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.c = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def req(self, method, path, body=None, token=None):
        h = {"X-Consul-Token": token or self.token}
        data = json.dumps(body) if body is not None else None
        for attempt in range(3):
            try:
                self.c.request(method, path, body=data, headers=h)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.c.close()
                self.c = http.client.HTTPConnection(self.host, self.port,
                                                    timeout=30)
        raise RuntimeError("request failed: %s %s" % (method, path))


def write(url, mgmt, rate, policy):
    # One connection per 5 writes/s: on a loaded host one write can take
    # longer than the pace allows, and a single client would fall short.
    ndest = max(1, int(os.environ.get("BENCH_IXNS", "50000")) // 10)
    ntok = max(3, int(os.environ.get("BENCH_TOKENS", "10000")))
    nthr = max(1, int(rate // 5))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    done = [0] * nthr
    t0 = time.monotonic()

    def one(k):
        cl = Client(url, mgmt)
        i = 0
        while not stop.is_set():
            n = i * nthr + k            # this thread's share of the writes
            if n % 2 == 0:
                d, s = (n * 7919) % ndest, (n // 2) % 10
                st, b = cl.req("PUT", "/v1/connect/intentions/exact"
                               "?source=s%d&destination=d%d" % (s, d),
                               {"Action": "allow" if s % 2 else "deny",
                                "Description": "w%d" % n})
            else:
                acc, _ = tok_ids((n * 104729) % ntok)
                if acc in (tok_ids(0)[0], tok_ids(1)[0]):
                    acc = tok_ids(2)[0]
                st, b = cl.req("PUT", "/v1/acl/token/" + acc,
                               {"Description": "w%d" % n,
                                "Policies": [{"ID": policy}]})
            if st != 200:
                print("write: status %d: %s" % (st, b[:200]),
                      file=sys.stderr)
            i += 1
            done[k] = i
            stop.wait(max(0, t0 + i * nthr / rate - time.monotonic()))

    ts = [threading.Thread(target=one, args=(k,)) for k in range(nthr)]
    for t in ts:
        t.start()
    while not stop.is_set():
        stop.wait(0.2)
    for t in ts:
        t.join()
    print(sum(done), round(time.monotonic() - t0, 2))


def probe(url, mgmt, n, td, policy):
    w = Client(url, mgmt)
    tok_acc, tok_sec = tok_ids(1)
    rd = Client(url, tok_ids(0)[1])
    trd = Client(url, tok_sec)
    azbody = {"Target": "db", "ClientCertURI":
              "spiffe://%s/ns/default/dc/dc1/svc/probe" % td}

    def az():
        st, b = rd.req("POST", "/v1/agent/connect/authorize", azbody)
        return json.loads(b)["Authorized"]

    def desc():
        st, b = trd.req("GET", "/v1/acl/token/self")
        return json.loads(b)["Description"]

    def lat(f):
        t = time.monotonic()
        f()
        return (time.monotonic() - t) * 1000

    ixn, tok, baz, btok = [], [], [], []
    for i in range(n):
        for _ in range(5):
            baz.append(lat(az))
            btok.append(lat(desc))
        want = i % 2 == 0
        st, _ = w.req("PUT", "/v1/connect/intentions/exact?source=probe"
                      "&destination=db",
                      {"Action": "allow" if want else "deny"})
        t = time.monotonic()
        while az() != want:
            pass
        ixn.append((time.monotonic() - t) * 1000)
        st, _ = w.req("PUT", "/v1/acl/token/" + tok_acc,
                      {"Description": "p%d" % i, "Policies": [{"ID": policy}]})
        t = time.monotonic()
        while desc() != "p%d" % i:
            pass
        tok.append((time.monotonic() - t) * 1000)
        time.sleep(0.05)
    print("%.2f %.2f %.2f %.2f" % (statistics.median(ixn),
                                   statistics.median(tok),
                                   statistics.median(baz),
                                   statistics.median(btok)))


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "bulk":
        bulk(a[2], int(a[3]), int(a[4]), a[5])
    elif a[1] == "write":
        write(a[2], a[3], float(a[4]), a[5])
    elif a[1] == "probe":
        probe(a[2], a[3], int(a[4]), a[5], a[6])
    elif a[1] == "tok":
        print(tok_ids(int(a[2]))[int(a[3])])
