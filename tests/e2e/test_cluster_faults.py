"""Faults of a cluster: three nodes on one PostgreSQL database under a
write load spread over them while a node is killed (SIGKILL, master and
workers), while PostgreSQL is stopped and started again, and while its
backends are terminated.  Invariants: every write acknowledged (200) is
in the store afterwards, every failure is a 5xx with a message (never
the DSN) in bounded time, reads served from snapshots keep answering,
and the nodes serve writes again by themselves.  The last test kills a
node on either backend and restarts it on its store."""
import os
import signal
import threading
import time

import pytest
import requests

from conftest import (BACKEND, Postgres, Server, acl_on, node,
                      postgres_instance, q, wait_for)

on_postgres = pytest.mark.skipif(
    BACKEND != "postgres", reason="a cluster needs the postgres backend")

MGMT = "7a1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5c"
ACL_ON = acl_on(MGMT)
H = {"X-Consul-Token": MGMT}
# A failed write answers within this (the store's deadlines are 10-12 s;
# a stopped or terminated server is noticed at once).
ERROR_BOUND_S = 15.0


def three_nodes(dsn=None, **kw):
    a = Server(node("fa", ACL_ON), dsn=dsn, **kw)
    b = Server(node("fb", ACL_ON), dsn=a.dsn)
    c = Server(node("fc", ACL_ON), dsn=a.dsn)
    return a, b, c


class Load:
    """Threads (self.threads, made by the subclass) that run until
    finish() sets self.stop."""

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)


class WriteLoad(Load):
    """Writer threads, two per node, each PUTting intentions with names
    of its own; records what was acknowledged and every failure."""

    def __init__(self, nodes, tag):
        self.nodes = nodes
        self.tag = tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = []
        self.errors = {n.url: [] for n in nodes}
        self.threads = [threading.Thread(target=self.run, args=(k,))
                        for k in range(2 * len(nodes))]

    def run(self, k):
        n = self.nodes[k % len(self.nodes)]
        s = requests.Session()
        i = 0
        while not self.stop.is_set():
            name = "%s-%d-%d" % (self.tag, k, i)
            i += 1
            t0 = time.monotonic()
            try:
                r = s.put(n.url + "/v1/connect/intentions/exact" +
                          q(source=name, destination="fdb"),
                          json={"Action": "allow"}, headers=H, timeout=30)
                res = (r.status_code, r.text)
            except requests.RequestException as x:
                res = (None, repr(x))
                s = requests.Session()
            dt = time.monotonic() - t0
            with self.lock:
                if res[0] == 200:
                    self.acked.append(name)
                else:
                    self.errors[n.url].append((res[0], res[1], dt))
            if res[0] != 200:
                time.sleep(0.05)


class ReadLoad(Load):
    """Snapshot reads on every node (authorize, intention check, exact
    and match, CA roots, each with token resolution); records every
    non-200."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.stop = threading.Event()
        self.bad = []
        self.count = 0
        td = nodes[0].get("/v1/connect/ca/roots").json()["TrustDomain"]
        self.uri = "spiffe://%s/ns/default/dc/dc1/svc/fweb" % td
        self.threads = [threading.Thread(target=self.run, args=(n,))
                        for n in nodes for _ in range(2)]

    def once(self, s, n):
        for method, path, body in (
                ("POST", "/v1/agent/connect/authorize",
                 {"Target": "fdb", "ClientCertURI": self.uri}),
                ("GET", "/v1/connect/intentions/check" +
                 q(source="fweb", destination="fdb"), None),
                ("GET", "/v1/connect/intentions/exact" +
                 q(source="fweb", destination="fdb"), None),
                ("GET", "/v1/connect/intentions/match" +
                 q(by="destination", name="fdb"), None),
                ("GET", "/v1/connect/ca/roots", None)):
            try:
                r = s.request(method, n.url + path, json=body, headers=H,
                              timeout=30)
                res = (r.status_code, r.text)
            except requests.RequestException as x:
                res = (None, repr(x))
            self.count += 1
            if res[0] != 200:
                self.bad.append((n.url, path, res))

    def run(self, n):
        s = requests.Session()
        while not self.stop.is_set():
            self.once(s, n)
            time.sleep(0.01)



def warm(nodes):
    """Build every worker's snapshots: concurrent reads reach each
    worker of each node (nginx opens several upstream connections)."""
    r = ReadLoad(nodes)
    ts = [threading.Thread(target=lambda n=n: [r.once(requests.Session(), n)
                                                for _ in range(10)])
          for n in nodes for _ in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert r.bad == [], r.bad[:3]


def names_on(s):
    r = s.get("/v1/connect/intentions", headers=H)
    assert r.status_code == 200, r.text
    return {x["SourceName"] for x in r.json()}


def assert_all_acked_there(load, reader, timeout=15.0):
    """Every acknowledged write is read back on reader.  Another node's
    newest commits reach reader's snapshots through its watch connection
    (NOTIFY, or the catch-up when that connection comes back after a
    fault), so give them a bounded while; a lost write never appears."""
    assert load.acked, "no write was acknowledged"
    end = time.monotonic() + timeout
    while True:
        missing = set(load.acked) - names_on(reader)
        if not missing or time.monotonic() > end:
            break
        time.sleep(0.1)
    assert not missing, "acknowledged writes lost: %s" % sorted(missing)[:5]


def serves_writes(s, tag):
    def ok():
        r = s.put("/v1/connect/intentions/exact" +
                  q(source="%s-%d" % (tag, time.monotonic_ns()),
                    destination="fdb"), {"Action": "allow"}, headers=H,
                  timeout=30)
        return r.status_code == 200
    return ok


def assert_errors_are_5xx_with_a_message(errors, dsn):
    for status, text, dt in errors:
        assert status is not None and 500 <= status < 600, (status, text)
        assert status == 500 and text.startswith("store unavailable: "), \
            (status, text)
        assert dt < ERROR_BOUND_S, (dt, text)
        assert dsn not in text and "dbname=" not in text, text


class Parked:
    """A blocking query (?index=&wait=) on node n, started now."""

    def __init__(self, n, wait_s):
        self.wait_s = wait_s
        idx = int(n.get("/v1/connect/intentions", headers=H)
                  .headers["X-Consul-Index"])
        self.url = n.url + "/v1/connect/intentions" + q(
            index=idx, wait="%ds" % wait_s)
        self.out = {}
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        try:
            r = requests.get(self.url, headers=H, timeout=120)
            self.out["r"] = (r.status_code, r.text)
        except requests.RequestException as x:
            self.out["r"] = (None, repr(x))
        self.out["dt"] = time.monotonic() - self.t0

    def assert_returned_by_its_deadline(self):
        self.thread.join(120)
        status, text = self.out["r"]
        assert status == 200 or (status == 500 and text.startswith(
            "store unavailable: ")), (status, text)
        assert self.out["dt"] < self.wait_s + ERROR_BOUND_S, self.out


def stop_all(*nodes):
    for n in nodes:
        n.stop()


@on_postgres
def test_a_node_killed_with_sigkill_under_load_loses_no_acknowledged_write():
    a, b, c = three_nodes(own_group=True)
    try:
        put = a.put("/v1/connect/intentions/exact" +
                    q(source="fweb", destination="fdb"), {"Action": "allow"},
                    headers=H)
        assert put.status_code == 200, put.text
        load = WriteLoad([a, b, c], "k").start()
        time.sleep(2.0)
        os.killpg(a.master.pid, signal.SIGKILL)
        a.master.wait(10)
        time.sleep(2.0)
        load.finish()
        assert load.errors[b.url] == [] and load.errors[c.url] == [], \
            (load.errors[b.url][:3], load.errors[c.url][:3])
        assert load.errors[a.url], "the kill did not land under load"
        assert_all_acked_there(load, b)
        assert sum(x.startswith("k-0-") or x.startswith("k-3-")
                   for x in load.acked) > 0, "node A acknowledged nothing"
        # Nothing half-written: every intention read back whole.
        for x in b.get("/v1/connect/intentions", headers=H).json():
            assert x["Action"] == "allow" and x["CreateIndex"] > 0
    finally:
        stop_all(c, b, a)


@on_postgres
def test_postgres_stopped_for_five_seconds_then_started_again():
    pg = Postgres()
    nodes = ()
    try:
        dsn = pg.create_db()
        nodes = a, b, c = three_nodes(dsn)
        put = a.put("/v1/connect/intentions/exact" +
                    q(source="fweb", destination="fdb"), {"Action": "allow"},
                    headers=H)
        assert put.status_code == 200, put.text
        wait_for(lambda: all(n.get("/v1/connect/intentions/check" +
                                   q(source="fweb", destination="fdb"),
                                   headers=H).json().get("Allowed") is True
                             for n in nodes), what="every node seeing fweb")
        load = WriteLoad(nodes, "o").start()
        time.sleep(1.0)
        warm(nodes)
        parked = [Parked(n, 3) for n in nodes]
        pg.halt("fast")
        reads = ReadLoad(nodes).start()
        t_down = time.monotonic()
        time.sleep(5.0)
        reads.finish()
        for p in parked:
            p.assert_returned_by_its_deadline()
        with load.lock:
            during = {u: list(e) for u, e in load.errors.items()}
        pg.start()
        t_up = time.monotonic()
        for n in nodes:
            wait_for(serves_writes(n, "after"), timeout=30,
                     what="%s writing again" % n.url)
        print("all three nodes wrote again %.2f s after the restart"
              % (time.monotonic() - t_up))
        load.finish()
        # Writes during the outage failed, fast and with a message.
        assert all(during[n.url] for n in nodes), \
            "some node wrote nothing during the outage"
        for n in nodes:
            assert_errors_are_5xx_with_a_message(load.errors[n.url], dsn)
        # Snapshot reads kept answering.
        assert reads.count > 30 and reads.bad == [], reads.bad[:3]
        assert time.monotonic() - t_up < 30 and t_up - t_down >= 5.0
        for n in nodes:
            # The master's watch connection is back too (its back-off
            # tops at 2 s): cross-node wake-ups work again.  Until then a
            # node does not know of the others' newest commits, so the
            # check for lost writes below comes after it.
            wait_for(lambda: "watching other nodes' commits again" in
                     n.logtext(), timeout=30, what="the watch reconnecting")
            log = n.logtext()
            assert "reconnected to PostgreSQL" in log
            assert dsn not in log and "dbname=" not in log
        assert_all_acked_there(load, b)
    finally:
        stop_all(*reversed(nodes))
        pg.stop()


class Watcher(Load):
    """A reader on node n listing intentions in a loop: every load
    write it saw (name: CreateIndex), visible but maybe not yet durable."""

    def __init__(self, n, prefix):
        self.n = n
        self.prefix = prefix
        self.stop = threading.Event()
        self.seen = {}
        self.threads = [threading.Thread(target=self.run)]

    def run(self):
        s = requests.Session()
        while not self.stop.is_set():
            try:
                r = s.get(self.n.url + "/v1/connect/intentions", headers=H,
                          timeout=30)
            except requests.RequestException:
                r = None
            if r is not None and r.status_code == 200:
                for x in r.json():
                    if x["SourceName"].startswith(self.prefix):
                        self.seen[x["SourceName"]] = x["CreateIndex"]
            time.sleep(0.02)


@on_postgres
def test_postgres_crashed_under_load_keeps_every_acknowledged_write_in_commit_order():
    # pg_ctl -m immediate: the server dies without flushing its WAL
    # buffers or a shutdown checkpoint, and recovers from its WAL at the
    # next start.  Writes commit asynchronously and are acknowledged
    # after a flush (store_pg.c), so a 200 survives; a write seen but not
    # yet flushed may be lost, but only with every write after it.
    pg = Postgres()
    nodes = ()
    try:
        dsn = pg.create_db()
        nodes = a, b, c = three_nodes(dsn)
        put = a.put("/v1/connect/intentions/exact" +
                    q(source="fweb", destination="fdb"), {"Action": "allow"},
                    headers=H)
        assert put.status_code == 200, put.text
        load = WriteLoad(nodes, "x").start()
        watch = Watcher(b, "x-").start()
        time.sleep(2.0)
        pg.halt("immediate")
        # Nothing written from here on belongs to the load: after the
        # recovery, indexes not kept are given again.
        load.finish()
        watch.finish()
        pg.start()
        for n in nodes:
            wait_for(serves_writes(n, "after"), timeout=30,
                     what="%s writing again" % n.url)
        assert len(load.acked) > 20, "too little load to crash under"
        for n in nodes:
            assert_errors_are_5xx_with_a_message(load.errors[n.url], dsn)
        assert any(load.errors[n.url] for n in nodes), \
            "the crash did not land under load"
        for n in nodes:
            wait_for(lambda: "watching other nodes' commits again" in
                     n.logtext(), timeout=30, what="the watch reconnecting")
        assert_all_acked_there(load, b)
        kept = {x["SourceName"]: x for x in
                b.get("/v1/connect/intentions", headers=H).json()}
        # Nothing half-written: every intention is read back whole.
        for x in kept.values():
            assert x["Action"] == "allow" and x["CreateIndex"] > 0, x
        # Commit order: a write seen before the crash and lost has a
        # higher index than every load write kept.
        top = max(x["CreateIndex"] for k, x in kept.items()
                  if k.startswith("x-"))
        lost = {k: i for k, i in watch.seen.items() if k not in kept}
        assert all(i > top for i in lost.values()), \
            "a gap: lost %s, yet kept up to %d" % (sorted(
                lost.items(), key=lambda kv: kv[1])[:3], top)
        assert all(kept[k]["CreateIndex"] == i for k, i in
                   watch.seen.items() if k in kept)
        print("%d writes acknowledged, %d seen, %d of those lost "
              "(visible, not yet flushed)" % (len(load.acked),
                                               len(watch.seen), len(lost)))
    finally:
        stop_all(*reversed(nodes))
        pg.stop()


@on_postgres
def test_a_hung_postgres_fails_writes_within_the_deadline_and_snapshot_reads_go_on():
    # SIGSTOP, like a partition: no answer and no error, so only the
    # store's own deadline ends a request.
    pg = Postgres()
    nodes = ()
    pids = []
    try:
        dsn = pg.create_db()
        nodes = a, = (Server(node("fh", ACL_ON), dsn=dsn),)
        put = a.put("/v1/connect/intentions/exact" +
                    q(source="fweb", destination="fdb"), {"Action": "allow"},
                    headers=H)
        assert put.status_code == 200, put.text
        warm(nodes)
        parked = Parked(a, 3)
        out = os.popen("pgrep -P %d" % pg.proc.pid).read().split()
        pids = [pg.proc.pid] + [int(p) for p in out]
        for p in pids:
            os.kill(p, signal.SIGSTOP)
        reads = ReadLoad(nodes)
        t0 = time.monotonic()
        r = a.put("/v1/connect/intentions/exact" +
                  q(source="fhung", destination="fdb"), {"Action": "allow"},
                  headers=H, timeout=120)
        dt = time.monotonic() - t0
        assert_errors_are_5xx_with_a_message([(r.status_code, r.text, dt)],
                                             dsn)
        t0 = time.monotonic()
        reads.once(requests.Session(), a)
        assert reads.bad == [] and time.monotonic() - t0 < ERROR_BOUND_S
        parked.assert_returned_by_its_deadline()
        for p in pids:
            os.kill(p, signal.SIGCONT)
        pids = []
        wait_for(serves_writes(a, "after"), timeout=30, what="writing again")
        assert a.get("/v1/connect/intentions/exact" +
                     q(source="fhung", destination="fdb"),
                     headers=H).status_code == 404
    finally:
        for p in pids:
            os.kill(p, signal.SIGCONT)
        stop_all(*nodes)
        pg.stop()


@on_postgres
def test_backends_terminated_mid_load_lose_nothing_and_the_nodes_recover():
    nodes = a, b, c = three_nodes()
    try:
        pg = postgres_instance()
        db = a.dsn.split("dbname=")[1].split()[0]
        put = a.put("/v1/connect/intentions/exact" +
                    q(source="fweb", destination="fdb"), {"Action": "allow"},
                    headers=H)
        assert put.status_code == 200, put.text
        load = WriteLoad(nodes, "t").start()
        time.sleep(1.0)
        warm(nodes)
        reads = ReadLoad(nodes).start()
        killed = 0
        for _ in range(3):
            time.sleep(0.7)
            r = pg.psql(db, "SELECT count(pg_terminate_backend(pid)) FROM"
                        " pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid()")
            assert r.returncode == 0, r.stderr
            killed += int(r.stdout.strip())
        time.sleep(0.7)
        reads.finish()
        for n in nodes:
            wait_for(serves_writes(n, "after"), timeout=30,
                     what="%s writing again" % n.url)
        load.finish()
        assert killed >= 3 * 3
        for n in nodes:
            assert_errors_are_5xx_with_a_message(load.errors[n.url], a.dsn)
        assert reads.count > 30 and reads.bad == [], reads.bad[:3]
        assert_all_acked_there(load, b)
    finally:
        stop_all(c, b, a)


def test_a_node_killed_whole_mid_write_and_restarted_has_every_acknowledged_write(make_server):
    # Either backend: SQLite's WAL or PostgreSQL's commit, a whole node
    # (master and workers) killed at once, then started on its store.
    s = make_server(node("fk", ACL_ON), own_group=True)
    load = WriteLoad([s], "w").start()
    time.sleep(1.5)
    os.killpg(s.master.pid, signal.SIGKILL)
    s.master.wait(10)
    load.finish()
    assert load.acked, "no write was acknowledged before the kill"
    s.start()
    assert_all_acked_there(load, s)
    wait_for(serves_writes(s, "after"), timeout=10, what="writing again")


@on_postgres
def test_a_node_opens_workers_times_threads_plus_one_connections_and_two_of_its_master():
    # README "Faults": 2 + workers x (threads + 1) while no login runs
    # (the master's watch and heartbeat, each worker's accept threads and
    # blocking-query thread);
    # each outbound thread adds one while it works, for 30 s.
    s = Server(node("fn", ACL_ON), workers=2, threads=3)
    try:
        pg = postgres_instance()
        db = s.dsn.split("dbname=")[1].split()[0]

        def count():
            r = pg.psql(db, "SELECT count(*) FROM pg_stat_activity WHERE"
                        " datname = current_database()"
                        " AND pid <> pg_backend_pid()")
            return int(r.stdout.strip())
        for _ in range(20):
            assert s.get("/v1/connect/ca/roots").status_code == 200
        wait_for(lambda: count() == 2 + 2 * (3 + 1), timeout=10,
                 what="2 + 2 x (3 + 1) connections, not %d" % count())
    finally:
        s.stop()


@on_postgres
def test_a_database_gone_read_only_like_a_standby_fails_writes_until_writable_again():
    # What a node sees when its DSN lands on a standby after a failover
    # (without target_session_attrs=read-write): the connection is
    # dropped at each refusal, so the next one finds the new primary.
    s = Server(node("fr", ACL_ON))
    pg = postgres_instance()
    db = s.dsn.split("dbname=")[1].split()[0]
    terminate = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                 " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    try:
        put = s.put("/v1/connect/intentions/exact" +
                    q(source="fweb", destination="fdb"), {"Action": "allow"},
                    headers=H)
        assert put.status_code == 200, put.text
        warm([s])
        assert pg.psql("postgres", "ALTER DATABASE %s SET"
                       " default_transaction_read_only = on" % db
                       ).returncode == 0
        assert pg.psql(db, terminate).returncode == 0
        # A write racing the termination may see its connection lost;
        # then each fresh connection is read-only.
        for _ in range(5):
            t0 = time.monotonic()
            r = s.put("/v1/connect/intentions/exact" +
                      q(source="fro", destination="fdb"), {"Action": "allow"},
                      headers=H)
            assert_errors_are_5xx_with_a_message(
                [(r.status_code, r.text, time.monotonic() - t0)], s.dsn)
            if "read-only" in r.text:
                break
        assert r.text == ("store unavailable: the database is read-only"
                          " (a standby?); nothing was written")
        reads = ReadLoad([s])
        reads.once(requests.Session(), s)
        assert reads.bad == []
        assert pg.psql("postgres", "ALTER DATABASE %s SET"
                       " default_transaction_read_only = off" % db
                       ).returncode == 0
        wait_for(serves_writes(s, "after"), timeout=10, what="writing again")
    finally:
        pg.psql("postgres", "ALTER DATABASE %s RESET default_transaction_read_only" % db)
        s.stop()
