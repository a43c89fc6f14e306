"""Durable writes (issue #16): a 200 for a write means it is on disk.

SQLite, store { sync = "full" } (the default): every commit is made
durable by the group commit's fsync of the WAL before its reply; the
master logs the shared page's counters when it stops.  (A worker killed
mid-write loses nothing acknowledged: test_blocking.py,
test_worker_killed_mid_writes_leaves_store_consistent.)

PostgreSQL: a write commits asynchronously and is acknowledged after a
flush transaction on the same connection (store_pg.c); the master logs
the flushes and durable commits.  (A server crash loses nothing
acknowledged: test_cluster_faults.py, test_postgres_crashed_...)
"""
import re
import threading

import pytest

from conftest import BACKEND, q, sqlite_only

on_postgres = pytest.mark.skipif(BACKEND != "postgres",
                                 reason="the postgres backend's flushes")


def put_exact(s, src, dst):
    r = s.put("/v1/connect/intentions/exact" + q(source=src, destination=dst),
              {"Action": "allow"})
    assert r.status_code == 200, r.text
    return r


def counters(s):
    s.stop_master()
    m = re.findall(r"store: (\d+) commits made durable with (\d+) fsyncs "
                   r"\(sync (\w+)\)", s.logtext())
    assert m, "the master logs the durability counters at shutdown"
    return int(m[-1][0]), int(m[-1][1]), m[-1][2]


@sqlite_only
def test_each_write_is_made_durable_by_an_fsync_before_its_reply(
        make_server):
    s = make_server()
    for i in range(20):
        put_exact(s, "seq%d" % i, "dur")
    durable, fsyncs, mode = counters(s)
    assert mode == "full"
    # One client at a time: no other commit could share an fsync, so
    # each of the 20 replies waited for its own.
    assert durable >= 20
    assert fsyncs >= 20


def write_concurrently(s, prefix, each, writers=8):
    """writers threads each PUT `each` new intentions to destination
    "dur"; returns (acknowledged, errors): the status codes."""
    import requests
    acked = []
    errors = []

    def writer(k):
        for i in range(each):
            r = requests.put(s.url + "/v1/connect/intentions/exact" +
                             q(source="%s%d-%d" % (prefix, k, i),
                               destination="dur"),
                             json={"Action": "allow"}, timeout=60)
            (acked if r.status_code == 200 else errors).append(r.status_code)
    ts = [threading.Thread(target=writer, args=(k,))
          for k in range(writers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return acked, errors


@sqlite_only
def test_concurrent_writers_share_fsyncs_and_every_commit_is_durable(
        make_server):
    s = make_server(workers=2, threads=4)
    acked, errors = write_concurrently(s, "c", 40)
    assert not errors
    assert len(s.get("/v1/connect/intentions").json()) == 320
    durable, fsyncs, _ = counters(s)
    # Every acknowledged commit was counted durable; an fsync covers
    # one commit or more, never less (no performance is asserted).
    assert durable >= len(acked) == 320
    assert 1 <= fsyncs <= durable


def pg_counters(s):
    s.stop_master()
    m = re.findall(r"store: (\d+) commits made durable with (\d+) WAL "
                   r"flushes \(postgres\)", s.logtext())
    assert m, "the master logs the flush counters at shutdown"
    return int(m[-1][0]), int(m[-1][1])


@on_postgres
def test_each_write_on_postgres_is_flushed_before_its_reply(make_server):
    s = make_server(workers=2, threads=4)
    acked, errors = write_concurrently(s, "p", 25)
    assert not errors
    assert len(s.get("/v1/connect/intentions").json()) == 200
    durable, flushes = pg_counters(s)
    # A reply only after its flush: every 200 was counted durable (and
    # start-up's own writes too), each commit with a flush of its own.
    assert durable >= len(acked) == 200
    assert flushes == durable


def gate_counters(s):
    """Stop s's master; (waited, free, size) of the writer gate from its
    last words."""
    s.stop_master()
    m = re.findall(r"store: writer gate: (\d+) writes waited for an entry; "
                   r"(\d+) of (\d+) entries free", s.logtext())
    assert m, "the master logs the writer gate at shutdown"
    return int(m[-1][0]), int(m[-1][1]), int(m[-1][2])


def in_database(s):
    """How many of s's database sessions are inside a write transaction
    now: holding its xid, or waiting for a lock (the index's row); not
    the flush after a COMMIT, which runs outside the gate."""
    from test_seal import sql
    return int(sql(s, "SELECT count(*) FROM pg_stat_activity WHERE "
                   "datname = current_database() AND "
                   "pid <> pg_backend_pid() AND "
                   "(backend_xid IS NOT NULL OR wait_event_type = 'Lock') "
                   "AND query NOT LIKE 'UPDATE nodes%' AND "
                   "query NOT LIKE '%pg_logical_emit_message%'")[0][0])


@on_postgres
def test_a_node_lets_two_write_transactions_into_postgres_at_once(
        make_server):
    """The writer gate (store_pg.c): eight writers on one node, but
    never more than two of its sessions in a write transaction; the
    others wait in the node and every entry is given back."""
    s = make_server(workers=2, threads=4)
    seen = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            seen.append(in_database(s))
    t = threading.Thread(target=sample)
    t.start()
    # Rounds of 200 writes until the sampler (a psql each) saw enough:
    # writes are quicker than a few samples.
    acked, errors, rounds = [], [], 0
    while (len(seen) < 10 or not acked) and rounds < 20:
        a, e = write_concurrently(s, "g%d-" % rounds, 25)
        acked += a
        errors += e
        rounds += 1
    done.set()
    t.join(30)
    assert not errors and len(acked) == 200 * rounds
    assert len(seen) >= 10 and max(seen) >= 1, seen
    assert max(seen) <= 2, "at most two writers in the database: %s" % seen
    waited, free, size = gate_counters(s)
    assert size == 2 and free == 2, "every entry came back"
    assert waited > 0, "writers beyond the gate waited for it"


@on_postgres
def test_a_worker_killed_mid_write_gives_its_gate_entries_back(make_server):
    """SIGKILL of workers under a write load: the master gives back the
    entries they held, so writes go on at full width afterwards and the
    gate is whole (at least two free) when the node stops."""
    import time
    from conftest import wait_for, write_while_killing_workers
    s = make_server(workers=2, threads=4)
    write_while_killing_workers(s, "gk", writers=8, kills=4, pause=0.3)
    wait_for(lambda: len(s.workers()) == 2, timeout=15, what="restart")
    # Eight writers again, none waiting the gate's 10 s timeout.
    t0 = time.monotonic()
    acked, errors = write_concurrently(s, "after", 5)
    assert not errors and len(acked) == 40
    assert time.monotonic() - t0 < 8
    assert "going on without it" not in s.logtext()
    _, free, size = gate_counters(s)
    assert free >= size == 2


@sqlite_only
def test_sync_normal_acknowledges_writes_without_an_fsync(make_server):
    s = make_server('store {\n  sync = "normal"\n}\n')
    for i in range(5):
        put_exact(s, "n%d" % i, "dur")
    assert len(s.get("/v1/connect/intentions").json()) == 5
    durable, fsyncs, mode = counters(s)
    assert (durable, fsyncs, mode) == (0, 0, "normal")


def test_an_unknown_sync_mode_stops_the_start_with_a_clear_message(tmp_path):
    from test_store_backend import start
    p = start(tmp_path, 'store {\n sync = "sometimes"\n}\n')
    assert p.returncode != 0
    assert 'store.sync must be "full" or "normal"' in p.stderr
