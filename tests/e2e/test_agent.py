"""The node table and the endpoints that read it: /v1/status/leader,
/v1/status/peers, /v1/status/store (our load balancers' check),
/v1/agent/self and /v1/agent/members, on both backends; with several
nodes on one PostgreSQL database, members, peers and leader across
them, a clean stop (left) and a SIGKILL (failed by heartbeat age)."""
import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import (BACKEND, BIN, Server, acl_on, node, postgres_instance,
                      q, wait_for)

MGMT = "5a1e2d3c-4b5a-4968-8776-a5b4c3d2e1f7"
ACL_ON = acl_on(MGMT)
H = {"X-Consul-Token": MGMT}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                  r"[0-9a-f]{12}$")
# Fast failure detection for the tests: a heartbeat every 200 ms, failed
# after 2 s without one (the defaults are 2 s and 15 s).
FAST = "heartbeat_interval_ms = 200\nheartbeat_timeout_ms = 2000\n"

pg_only = pytest.mark.skipif(
    BACKEND != "postgres", reason="several nodes need the postgres backend")


def addr(s):
    return "127.0.0.1:%d" % s.port


def token(s, rules):
    p = s.put("/v1/acl/policy", {"Name": "p%d" % time.monotonic_ns(),
                                 "Rules": rules}, headers=H)
    assert p.status_code == 200, p.text
    t = s.put("/v1/acl/token", {"Policies": [{"ID": p.json()["ID"]}]},
              headers=H)
    assert t.status_code == 200, t.text
    return {"X-Consul-Token": t.json()["SecretID"]}


@pytest.fixture(scope="module")
def acl_server():
    s = Server(node("agent-n1", ACL_ON))
    yield s
    s.stop()


def test_status_leader_is_this_nodes_advertised_address(server):
    r = server.get("/v1/status/leader")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == addr(server)
    assert "X-Consul-Index" not in r.headers


def test_status_peers_lists_the_live_nodes(server):
    r = server.get("/v1/status/peers")
    assert r.status_code == 200
    assert r.json() == [addr(server)]


def test_status_store_answers_200_when_the_store_answers(server):
    r = server.get("/v1/status/store")
    assert r.status_code == 200, r.text
    assert r.json() == {"Node": "portcullis", "Store": "reachable"}


def test_agent_self_reports_config_member_and_meta_in_consuls_shape(server):
    r = server.get("/v1/agent/self")
    assert r.status_code == 200, r.text
    j = r.json()
    c = j["Config"]
    assert c["Datacenter"] == "dc1" and c["PrimaryDatacenter"] == "dc1"
    assert c["NodeName"] == "portcullis" and c["Server"] is True
    assert UUID.match(c["NodeID"]), c["NodeID"]
    assert c["Version"] == "1.22.0"
    assert c["Revision"].startswith("portcullis-")
    m = j["Member"]
    assert (m["Name"], m["Addr"], m["Port"], m["Status"]) == (
        "portcullis", "127.0.0.1", server.port, 1)
    assert m["Tags"]["role"] == "consul" and m["Tags"]["dc"] == "dc1"
    assert m["Tags"]["id"] == c["NodeID"]
    assert j["Meta"]["consul-network-segment"] == ""
    assert j["Coord"] is None and "xDS" not in j
    d = j["DebugConfig"]
    assert d["NodeID"] == c["NodeID"] and d["ServerMode"] is True
    assert d["AdvertiseAddrLAN"] == "127.0.0.1"
    # The node ID is the one in the data dir.
    with open(os.path.join(server.dir, "node-id")) as f:
        assert f.read().strip() == c["NodeID"]


def test_agent_self_shows_nothing_secret(make_server):
    s = make_server(node("secretive", ACL_ON))
    r = s.get("/v1/agent/self", headers=H)
    assert r.status_code == 200, r.text
    assert MGMT not in r.text
    assert "dsn" not in r.text.lower() and "initial_management" not in r.text
    if s.dsn:
        assert s.dsn not in r.text and "dbname" not in r.text
    assert r.json()["DebugConfig"]["ACLsEnabled"] is True


def test_agent_self_needs_agent_read_on_this_nodes_name(acl_server):
    s = acl_server
    ok = token(s, 'agent "agent-n1" { policy = "read" }')
    other = token(s, 'agent "agent-n2" { policy = "write" }')
    assert s.get("/v1/agent/self", headers=ok).status_code == 200
    r = s.get("/v1/agent/self", headers=other)
    assert r.status_code == 403
    assert "lacks permission 'agent:read' on \"agent-n1\"" in r.text, r.text
    assert s.get("/v1/agent/self").status_code == 403


def test_agent_members_lists_this_node_alive_in_serfs_member_shape(server):
    r = server.get("/v1/agent/members")
    assert r.status_code == 200, r.text
    ms = r.json()
    assert len(ms) == 1
    m = ms[0]
    assert set(m) == {"Name", "Addr", "Port", "Tags", "Status", "ProtocolMin",
                      "ProtocolMax", "ProtocolCur", "DelegateMin",
                      "DelegateMax", "DelegateCur"}
    assert (m["Name"], m["Addr"], m["Port"], m["Status"]) == (
        "portcullis", "127.0.0.1", server.port, 1)
    assert m["Tags"]["role"] == "consul" and m["Tags"]["dc"] == "dc1"
    assert m["Tags"]["port"] == str(server.port)
    assert "X-Consul-Results-Filtered-By-ACLs" not in r.headers


def test_agent_members_wan_names_members_node_dot_dc(server):
    r = server.get("/v1/agent/members" + q(wan=1))
    assert r.status_code == 200
    assert [m["Name"] for m in r.json()] == ["portcullis.dc1"]
    # As in Consul, an empty wan= is the LAN.
    r = server.get("/v1/agent/members?wan=")
    assert [m["Name"] for m in r.json()] == ["portcullis"]


def test_agent_members_accepts_segments_as_consul_ce_does(server):
    assert server.get("/v1/agent/members" + q(segment="")).status_code == 200
    r = server.get("/v1/agent/members" + q(segment="_all"))
    assert r.status_code == 200 and len(r.json()) == 1
    r = server.get("/v1/agent/members" + q(segment="alpha"))
    assert (r.status_code, r.text) == (
        500, "Network segments are not supported in this version of Consul")
    r = server.get("/v1/agent/members" + q(wan=1, segment="alpha"))
    assert (r.status_code, r.text) == (
        400, "Cannot provide a segment with wan=true")
    r = server.get("/v1/agent/members" + q(wan=1, segment="_all"))
    assert r.status_code == 200


def test_agent_members_drops_nodes_the_token_may_not_read(acl_server):
    s = acl_server
    ok = token(s, 'node "agent-n1" { policy = "read" }')
    other = token(s, 'node "elsewhere" { policy = "read" }')
    r = s.get("/v1/agent/members", headers=ok)
    assert r.status_code == 200 and [m["Name"] for m in r.json()] == [
        "agent-n1"]
    r = s.get("/v1/agent/members", headers=other)
    assert r.status_code == 200 and r.json() == []
    assert r.headers.get("X-Consul-Results-Filtered-By-ACLs") == "true"
    # On the WAN the name checked is node.dc, as in Consul.
    wan = token(s, 'node_prefix "agent-n1." { policy = "read" }')
    r = s.get("/v1/agent/members" + q(wan=1), headers=wan)
    assert [m["Name"] for m in r.json()] == ["agent-n1.dc1"]


def test_status_endpoints_need_no_token_with_acls_on(acl_server):
    s = acl_server
    for p in ("/v1/status/leader", "/v1/status/peers", "/v1/status/store"):
        r = s.get(p)
        assert r.status_code == 200, (p, r.text)
    assert s.get("/v1/status/leader").json() == addr(s)


def test_the_node_id_survives_a_restart_and_the_row_is_renewed(make_server):
    s = make_server(node("restarts"))
    before = s.get("/v1/agent/self").json()["Config"]["NodeID"]
    s.stop_master()
    s.start()
    after = s.get("/v1/agent/self").json()
    assert after["Config"]["NodeID"] == before
    ms = s.get("/v1/agent/members").json()
    assert [(m["Name"], m["Status"]) for m in ms] == [("restarts", 1)]


@pytest.mark.skipif(BACKEND == "postgres", reason="reads the SQLite file")
def test_a_clean_stop_marks_the_row_left_in_the_sqlite_store(make_server):
    s = make_server(node("leaver"))
    s.stop_master()
    db = sqlite3.connect(os.path.join(s.dir, "portcullis.db"))
    rows = db.execute("SELECT name, address, left_at FROM nodes").fetchall()
    db.close()
    assert len(rows) == 1
    assert rows[0][0] == "leaver" and rows[0][1] == addr(s)
    assert rows[0][2] is not None


def test_a_bad_advertise_addr_is_refused_at_start(tmp_path):
    for bad in ("10.0.0.5", "10.0.0.5:0", "10.0.0.5:70000", "host:8500",
                "[::1]8500", "10.0.0.256:1"):
        cfg = tmp_path / "c.hcl"
        cfg.write_text('data_dir = "%s"\nadvertise_addr = "%s"\n'
                       % (tmp_path, bad))
        r = subprocess.run([BIN, "-c", str(cfg), "-t"], capture_output=True,
                           text=True)
        assert r.returncode == 1, bad
        assert "advertise_addr must be" in r.stderr, r.stderr
    cfg.write_text('data_dir = "%s"\nadvertise_addr = "[::1]:8500"\n'
                   % tmp_path)
    assert subprocess.run([BIN, "-c", str(cfg), "-t"]).returncode == 0
    cfg.write_text('data_dir = "%s"\nheartbeat_interval_ms = 1000\n'
                   'heartbeat_timeout_ms = 1500\n' % tmp_path)
    r = subprocess.run([BIN, "-c", str(cfg), "-t"], capture_output=True,
                       text=True)
    assert r.returncode == 1 and "heartbeat_timeout_ms" in r.stderr


# Several nodes on one PostgreSQL database.

def members(s):
    r = s.get("/v1/agent/members")
    assert r.status_code == 200, r.text
    return {m["Name"]: m for m in r.json()}


def kill_node(s):
    """SIGKILL the master and its workers: no clean stop, no left."""
    pids = s.workers()
    os.kill(s.master.pid, signal.SIGKILL)
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    s.master.wait()


@pg_only
def test_every_node_lists_every_node_and_names_the_same_leader():
    a = Server(node("c-a", FAST))
    b = Server(node("c-b", FAST), dsn=a.dsn)
    c = Server(node("c-c", FAST), dsn=a.dsn)
    nodes = (a, b, c)
    try:
        for s in nodes:
            ms = members(s)
            assert set(ms) == {"c-a", "c-b", "c-c"}
            assert all(m["Status"] == 1 for m in ms.values())
            assert {n: ms[n]["Port"] for n in ms} == {
                "c-a": a.port, "c-b": b.port, "c-c": c.port}
            assert len({m["Tags"]["id"] for m in ms.values()}) == 3
            assert sorted(s.get("/v1/status/peers").json()) == sorted(
                addr(x) for x in nodes)
        # The leader: the live node that started first (a), everywhere.
        assert {s.get("/v1/status/leader").json() for s in nodes} == {
            addr(a)}
        assert a.get("/v1/status/peers").json()[0] == addr(a)

        # A clean stop: left (3) at once, out of the peers.
        c.stop()
        for s in (a, b):
            assert members(s)["c-c"]["Status"] == 3
            assert addr(c) not in s.get("/v1/status/peers").json()

        # SIGKILL: failed (4) once the heartbeat is older than 2 s.
        # b's last heartbeat was at most 200 ms before t0, so it cannot
        # turn failed before t0 + 1.8 s.
        t0 = time.monotonic()
        kill_node(b)
        wait_for(lambda: members(a)["c-b"]["Status"] == 4, timeout=20,
                 what="b failed by heartbeat age")
        assert time.monotonic() - t0 > 1.5
        assert members(a)["c-a"]["Status"] == 1
        assert a.get("/v1/status/peers").json() == [addr(a)]
        assert a.get("/v1/status/leader").json() == addr(a)

        # b comes back with its data dir: the same node, alive again, and
        # the leader stays a (b's new run began later).
        b.start()
        wait_for(lambda: members(a)["c-b"]["Status"] == 1, timeout=20,
                 what="b alive again")
        assert members(b)["c-b"]["Tags"]["id"] == members(a)["c-b"]["Tags"][
            "id"]
        assert b.get("/v1/status/leader").json() == addr(a)
        # a stops: the leader moves to b on b.
        a.stop()
        assert b.get("/v1/status/leader").json() == addr(b)
    finally:
        for s in nodes:
            s.stop()


@pg_only
def test_a_second_node_with_a_live_nodes_name_refuses_to_start():
    a = Server(node("taken"))
    b = Server(node("free"), dsn=a.dsn)
    try:
        b.stop_master()
        cfg = os.path.join(b.dir, "portcullis.hcl")
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text + '\nnode_name = "taken"\n')
        r = subprocess.run([BIN, "-c", cfg], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode != 0
        assert 'node_name "taken" is in use by the live node' in r.stderr, \
            r.stderr
        assert set(members(a)) == {"taken", "free"}
    finally:
        b.stop()
        a.stop()


@pg_only
def test_status_store_answers_503_while_the_database_refuses_connections():
    s = Server(node("lonely"))
    pg = postgres_instance()
    db = s.dsn.split("dbname=")[1].split()[0]
    try:
        assert s.get("/v1/status/store").status_code == 200
        r = pg.psql("postgres", "ALTER DATABASE %s ALLOW_CONNECTIONS false" % db)
        assert r.returncode == 0, r.stderr
        r = pg.psql("postgres", "SELECT pg_terminate_backend(pid) FROM "
                    "pg_stat_activity WHERE datname = '%s'" % db)
        assert r.returncode == 0, r.stderr
        got = [s.get("/v1/status/store") for _ in range(6)]
        assert all(x.status_code == 503 for x in got), [
            (x.status_code, x.text) for x in got]
        assert got[-1].text.startswith("Store unreachable: ")
        assert "dbname" not in got[-1].text and pg.dir not in got[-1].text
        r = pg.psql("postgres", "ALTER DATABASE %s ALLOW_CONNECTIONS true" % db)
        assert r.returncode == 0, r.stderr
        wait_for(lambda: s.get("/v1/status/store").status_code == 200,
                 timeout=20, what="the store reachable again")
    finally:
        pg.psql("postgres", "ALTER DATABASE %s ALLOW_CONNECTIONS true" % db)
        s.stop()


def test_agent_members_filter_applies_to_what_the_acl_left(server):
    r = server.get("/v1/agent/members" + q(filter='Tags.role == "consul"'))
    assert r.status_code == 200 and len(r.json()) == 1
    r = server.get("/v1/agent/members" + q(filter='Name == "nope"'))
    assert r.status_code == 200 and r.json() == []
    r = server.get("/v1/agent/members" + q(filter="Status == 1 and Port != 0"))
    assert len(r.json()) == 1
    r = server.get("/v1/agent/members" + q(filter="Nope == 1"))
    assert r.status_code == 500, r.text
    # Partitions are Enterprise, as on Consul CE.
    r = server.get("/v1/agent/members" + q(partition="other"))
    assert r.status_code in (400, 500) and r.status_code != 200
