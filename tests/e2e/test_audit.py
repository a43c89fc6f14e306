"""The audit log (beyond Consul; audit.c): one hash-chained record per
committed change, written in the change's own transaction; the sink;
retention; `portcullis audit verify`; GET /v1/operator/audit.  Runs on
both backends: the tampering goes through the sqlite3 CLI or psql."""
import hashlib
import json
import os
import signal
import subprocess
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from authfakes import Fake, common
from conftest import (BACKEND, BIN, Server, acl_on, node, postgres_instance,
                      q, wait_for)

MGMT = "3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
H = {"X-Consul-Token": MGMT}
ACL_ON = acl_on(MGMT)
FIELDS = {"Seq", "Index", "Time", "Node", "Actor", "Source", "Method",
          "Route", "Kind", "Object", "Outcome", "PrevHash", "Hash"}


def sql(s, text):
    """Run SQL on s's store (sqlite3 CLI / psql); returns stdout."""
    if BACKEND == "postgres":
        db = s.dsn.split("dbname=", 1)[1].split()[0]
        r = postgres_instance().psql(db, text)
    else:
        r = subprocess.run(["sqlite3", os.path.join(s.dir, "portcullis.db")],
                           input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def verify(s):
    return subprocess.run([BIN, "-c", os.path.join(s.dir, "portcullis.hcl"),
                           "audit", "verify"], capture_output=True, text=True)


def records(s, after=0, headers=H):
    out = []
    while True:
        r = s.get("/v1/operator/audit" + q(after=after, limit=1000),
                  headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        out += page
        if len(page) < 1000:
            return out
        after = page[-1]["Seq"]


def head(s):
    rs = records(s)
    return rs[-1]["Seq"] if rs else 0


def ok(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    return r.json() if r.text.startswith(("{", "[", "t")) else r.text


def one_new(s, before, **want):
    """The single record written since seq before, checked against want."""
    new = records(s, after=before)
    assert len(new) == 1, new
    rec = new[0]
    assert set(rec) == FIELDS
    for k, v in want.items():
        assert rec[k] == v, (k, rec)
    assert rec["Source"] == "127.0.0.1" and rec["Node"] == "audit-a"
    return rec


@pytest.fixture(scope="module")
def keys():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def s():
    srv = Server(node("audit-a", ACL_ON))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mgmt_accessor(s):
    return ok(s.get("/v1/acl/token/self", headers=H))["AccessorID"]


def test_a_change_of_each_family_is_recorded_once_with_its_fields(
        s, keys, mgmt_accessor):
    me = {"Actor": mgmt_accessor, "Outcome": "ok"}
    n = head(s)
    p = ok(s.put("/v1/acl/policy", {"Name": "au-pol"}, headers=H))
    one_new(s, n, Kind="acl-policies", Object=p["ID"], Method="PUT",
            Route="/v1/acl/policy", **me)
    n = head(s)
    r = ok(s.put("/v1/acl/role", {"Name": "au-role",
                                  "Policies": [{"Name": "au-pol"}]},
                 headers=H))
    one_new(s, n, Kind="acl-roles", Object=r["ID"], **me)
    n = head(s)
    t = ok(s.put("/v1/acl/token", {"Description": "au"}, headers=H))
    one_new(s, n, Kind="acl-tokens", Object=t["AccessorID"],
            Route="/v1/acl/token", **me)
    n = head(s)
    ok(s.delete("/v1/acl/token/" + t["AccessorID"], headers=H))
    one_new(s, n, Kind="acl-tokens", Object=t["AccessorID"],
            Method="DELETE", Route="/v1/acl/token/:id", **me)
    n = head(s)
    ok(s.put("/v1/acl/auth-method", {"Name": "au-jwt", "Type": "jwt",
             "Config": {"JWTValidationPubKeys": [common.pub_pem(keys)],
                        "BoundAudiences": ["pc"]}}, headers=H))
    one_new(s, n, Kind="acl-auth-methods", Object="au-jwt", **me)
    n = head(s)
    b = ok(s.put("/v1/acl/binding-rule", {"AuthMethod": "au-jwt",
                                          "BindType": "service",
                                          "BindName": "web"}, headers=H))
    one_new(s, n, Kind="acl-binding-rules", Object=b["ID"], **me)
    n = head(s)
    ok(s.put("/v1/connect/intentions/exact" + q(source="web",
             destination="au-db"), {"Action": "allow"}, headers=H))
    one_new(s, n, Kind="intentions", Object="au-db",
            Route="/v1/connect/intentions/exact", **me)
    n = head(s)
    ok(s.put("/v1/connect/ca/configuration", {"Provider": "consul",
             "Config": {"PrivateKeyType": "ec", "PrivateKeyBits": 384}},
             headers=H))
    one_new(s, n, Kind="ca-config", Object="consul",
            Route="/v1/connect/ca/configuration", **me)
    ok(s.get("/v1/agent/connect/ca/leaf/au-svc", headers=H))
    n = head(s)
    rv = ok(s.put("/v1/connect/ca/revoke", {"Service": "au-svc"}, headers=H))
    rec = one_new(s, n, Kind="ca-revocations", **me)
    assert rv["SerialNumbers"] and all(x in rec["Object"]
                                       for x in rv["SerialNumbers"])
    # Login (no token: no actor), logout (the object is the token).
    now = int(time.time())
    jwt = common.sign_jws("RS256", keys, {"aud": "pc", "sub": "u",
                                          "iat": now, "exp": now + 60})
    n = head(s)
    lt = ok(s.post("/v1/acl/login", {"AuthMethod": "au-jwt",
                                     "BearerToken": jwt}))
    one_new(s, n, Kind="acl-tokens", Object=lt["AccessorID"], Actor="",
            Method="POST", Route="/v1/acl/login", Outcome="ok")
    n = head(s)
    ok(s.post("/v1/acl/logout", headers={"X-Consul-Token": lt["SecretID"]}))
    one_new(s, n, Kind="acl-tokens", Object=lt["AccessorID"],
            Actor=lt["AccessorID"], Route="/v1/acl/logout", Outcome="ok")
    # A failed login: its own record.
    n = head(s)
    bad = common.sign_jws("RS256", keys, {"aud": "other", "iat": now,
                                          "exp": now + 60})
    r = s.post("/v1/acl/login", {"AuthMethod": "au-jwt", "BearerToken": bad})
    assert r.status_code >= 400 and r.status_code != 429, r.text
    one_new(s, n, Kind="login", Object="au-jwt", Route="/v1/acl/login",
            Outcome="failed: %d" % r.status_code)
    assert verify(s).returncode == 0


def test_bootstrap_is_recorded(make_server):
    srv = make_server('acl {\n enabled = true\n default_policy = "deny"\n}\n')
    boot = ok(srv.put("/v1/acl/bootstrap"))
    h = {"X-Consul-Token": boot["SecretID"]}
    rs = [x for x in records(srv, headers=h)
          if x["Route"] == "/v1/acl/bootstrap"]
    assert len(rs) == 1 and rs[0]["Object"] == boot["AccessorID"]
    assert rs[0]["Kind"] == "acl-tokens" and rs[0]["Method"] == "PUT"


# The fields a record's hash covers, in order (audit.c, rec_hash()).
HASHED = ("Index", "Time", "Node", "Actor", "Source", "Method", "Route",
          "Kind", "Object", "Outcome", "PrevHash")


def test_each_hash_is_sha256_over_the_length_prefixed_fields_in_order(s):
    # The chain's format is fixed: `audit verify` must keep accepting
    # the records earlier builds wrote, so it is pinned here from
    # outside the C code.
    ok(s.put("/v1/connect/intentions/exact" + q(source="au-fmt",
             destination="au-fmt-db"), {"Action": "allow"}, headers=H))
    rs = records(s)
    assert rs
    prev = rs[0]["PrevHash"]
    for rec in rs:
        assert rec["PrevHash"] == prev
        d = hashlib.sha256()
        for k in HASHED:
            v = str(rec[k]).encode()
            d.update(b"%d:" % len(v) + v)
        assert rec["Hash"] == d.hexdigest(), rec
        prev = rec["Hash"]


def test_a_rolled_back_write_leaves_no_record(s):
    ok(s.put("/v1/acl/policy", {"Name": "au-dup"}, headers=H))
    n = head(s)
    idx = s.get("/v1/operator/audit", headers=H).headers["X-Consul-Index"]
    # Refused inside the transaction: a duplicate name.
    r = s.put("/v1/acl/policy", {"Name": "au-dup"}, headers=H)
    assert r.status_code in (400, 409, 500), r.text
    # A legacy update of an intention that does not exist.
    r = s.put("/v1/connect/intentions/7e0b3c2e-0000-4000-8000-000000000000",
              {"SourceName": "a", "DestinationName": "b", "Action": "allow"},
              headers=H)
    assert r.status_code >= 400, r.text
    # A role linking a policy that does not exist (checked after BEGIN).
    r = s.put("/v1/acl/role", {"Name": "au-bad-role", "Policies": [
              {"ID": "7e0b3c2e-0000-4000-8000-000000000001"}]}, headers=H)
    assert r.status_code >= 400, r.text
    assert head(s) == n
    assert s.get("/v1/operator/audit",
                 headers=H).headers["X-Consul-Index"] == idx
    assert verify(s).returncode == 0


def test_verify_names_an_altered_record(s):
    for i in range(3):
        ok(s.put("/v1/acl/policy", {"Name": "au-v%d" % i}, headers=H))
    n = head(s)
    k = n - 1
    old = sql(s, "SELECT object FROM audit_log WHERE seq = %d;" % k).strip()
    sql(s, "UPDATE audit_log SET object = 'forged' WHERE seq = %d;" % k)
    v = verify(s)
    assert v.returncode == 1 and "record %d altered" % k in v.stdout, v.stdout
    sql(s, "UPDATE audit_log SET object = '%s' WHERE seq = %d;" % (old, k))
    v = verify(s)
    assert v.returncode == 0 and "chain OK" in v.stdout, v.stdout


def test_verify_names_a_removed_record(s):
    for i in range(3):
        ok(s.put("/v1/acl/policy", {"Name": "au-r%d" % i}, headers=H))
    k = head(s) - 1
    sql(s, "CREATE TABLE audit_saved AS SELECT * FROM audit_log "
           "WHERE seq = %d;" % k)
    sql(s, "DELETE FROM audit_log WHERE seq = %d;" % k)
    v = verify(s)
    assert v.returncode == 1 and "record %d removed" % k in v.stdout, v.stdout
    # The last one removed: the head says it was there.
    last = head(s)
    sql(s, "INSERT INTO audit_log SELECT * FROM audit_saved;"
           "DELETE FROM audit_saved;"
           "INSERT INTO audit_saved SELECT * FROM audit_log WHERE seq = %d;"
           "DELETE FROM audit_log WHERE seq = %d;" % (last, last))
    v = verify(s)
    assert v.returncode == 1 and "record %d removed" % last in v.stdout, \
        v.stdout
    sql(s, "INSERT INTO audit_log SELECT * FROM audit_saved;"
           "DROP TABLE audit_saved;")
    assert verify(s).returncode == 0


def test_verify_names_an_inserted_record(s):
    for i in range(3):
        ok(s.put("/v1/acl/policy", {"Name": "au-i%d" % i}, headers=H))
    k = head(s) - 1
    cols = ("idx, time, node, actor, source, method, route, kind, object, "
            "outcome, prev, hash")
    # Make room at k (renumbering the rest) and slip a forged copy in.
    sql(s, "UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= %d;"
           "UPDATE audit_log SET seq = seq - 999999 WHERE seq >= 1000000;"
           "INSERT INTO audit_log (seq, %s) SELECT %d, idx, time, node, "
           "actor, source, method, route, kind, 'forged', outcome, prev, "
           "hash FROM audit_log WHERE seq = %d;" % (k, cols, k, k + 1))
    v = verify(s)
    assert v.returncode == 1 and "record %d inserted" % k in v.stdout, \
        v.stdout
    sql(s, "DELETE FROM audit_log WHERE seq = %d;"
           "UPDATE audit_log SET seq = seq + 1000000 WHERE seq > %d;"
           "UPDATE audit_log SET seq = seq - 1000001 WHERE seq >= 1000000;"
           % (k, k))
    assert verify(s).returncode == 0
    # After the head.
    last = head(s)
    sql(s, "INSERT INTO audit_log (seq, %s) SELECT %d, %s FROM audit_log "
           "WHERE seq = %d;" % (cols, last + 1, cols, last))
    v = verify(s)
    assert v.returncode == 1 and "record %d inserted" % (last + 1) in \
        v.stdout, v.stdout
    sql(s, "DELETE FROM audit_log WHERE seq = %d;" % (last + 1))
    assert verify(s).returncode == 0


def test_pruning_by_count_keeps_the_anchor_and_verify_passes(make_server):
    srv = make_server(ACL_ON + 'audit {\n retention_max_count = 5\n}\n')
    for i in range(12):
        ok(srv.put("/v1/acl/policy", {"Name": "au-p%d" % i}, headers=H))
    rs = records(srv)
    assert len(rs) == 5
    assert [x["Seq"] for x in rs] == list(range(rs[0]["Seq"],
                                                rs[0]["Seq"] + 5))
    v = verify(srv)
    assert v.returncode == 0 and "anchor %d" % (rs[0]["Seq"] - 1) in \
        v.stdout, v.stdout
    # The first kept record still names the pruned one's hash: remove it
    # and verify notices.
    sql(srv, "DELETE FROM audit_log WHERE seq = %d;" % rs[0]["Seq"])
    assert verify(srv).returncode == 1


def test_pruning_by_age_drops_old_records(make_server):
    srv = make_server(ACL_ON + 'audit {\n retention_max_age = "2s"\n}\n')
    ok(srv.put("/v1/acl/policy", {"Name": "au-old"}, headers=H))
    time.sleep(3)
    ok(srv.put("/v1/acl/policy", {"Name": "au-new"}, headers=H))
    rs = records(srv)
    assert [x["Object"] for x in rs if x["Kind"] == "acl-policies"] == \
        [ok(srv.get("/v1/acl/policy/name/au-new", headers=H))["ID"]]
    assert verify(srv).returncode == 0


def test_no_secret_reaches_a_record_or_a_sink_line(make_server, tmp_path):
    idp = Fake("fake_oidc.py")
    try:
        sink = tmp_path / "audit.jsonl"
        srv = make_server(ACL_ON + 'audit {\n sink_file = "%s"\n}\n' % sink)
        t = ok(srv.put("/v1/acl/token", {"Description": "s"}, headers=H))
        secret = idp.info["client_secret"]
        ok(srv.put("/v1/acl/auth-method", {"Name": "au-oidc", "Type": "oidc",
                   "Config": {"OIDCDiscoveryURL": idp.url,
                              "OIDCDiscoveryCACert": idp.ca,
                              "OIDCClientID": idp.info["client_id"],
                              "OIDCClientSecret": secret,
                              "AllowedRedirectURIs": ["http://x/cb"]}},
                   headers=H))
        ok(srv.put("/v1/connect/ca/configuration", {"Provider": "consul",
                   "Config": {"PrivateKeyType": "ec",
                              "PrivateKeyBits": 384}}, headers=H))
        keys = [k for k in sql(srv, "SELECT private_key FROM ca_root;")
                .split("\n") if len(k) > 40 and "-----" not in k]
        assert keys
        wait_for(lambda: sink.exists() and len(sink.read_text().splitlines())
                 >= 3, what="sink lines")
        api = json.dumps(records(srv))
        lines = sink.read_text()
        dump = sql(srv, "SELECT * FROM audit_log;")
        for text in (api, lines, dump):
            for s_ in [MGMT, t["SecretID"], secret] + keys:
                assert s_ not in text
        for line in lines.splitlines():
            assert set(json.loads(line)) == FIELDS
    finally:
        idp.stop()


def test_the_sink_streams_json_lines_and_rotates(make_server, tmp_path):
    sink = tmp_path / "audit.jsonl"
    srv = make_server(ACL_ON + 'audit {\n sink_file = "%s"\n'
                      ' sink_max_bytes = 2000\n}\n' % sink)
    for i in range(12):
        ok(srv.put("/v1/acl/policy", {"Name": "au-s%d" % i}, headers=H))
    last = head(srv)
    rotated = tmp_path / "audit.jsonl.1"
    wait_for(rotated.exists, what="rotation by size")
    seqs = []
    for f in (rotated, sink):
        for line in f.read_text().splitlines():
            seqs.append(json.loads(line)["Seq"])
    assert seqs == sorted(seqs) and seqs[-1] == last
    assert len(set(seqs)) == len(seqs)
    # logrotate-style: move the file away, SIGHUP, and writes go on in a
    # new file at the configured path.
    os.rename(sink, tmp_path / "moved.jsonl")
    srv.master.send_signal(signal.SIGHUP)
    time.sleep(1)
    wait_for(srv._up, what="workers after SIGHUP")
    ok(srv.put("/v1/acl/policy", {"Name": "au-after-hup"}, headers=H))
    wait_for(sink.exists, what="a new sink file")
    assert json.loads(sink.read_text().splitlines()[-1])["Seq"] == head(srv)


def test_the_endpoint_needs_operator_read(s):
    def token(rules):
        p = ok(s.put("/v1/acl/policy", {"Name": "au-acl-%d" % time.time_ns(),
                                        "Rules": rules}, headers=H))
        return ok(s.put("/v1/acl/token", {"Policies": [{"ID": p["ID"]}]},
                        headers=H))["SecretID"]
    yes = token('operator = "read"')
    no = token('acl = "write"')
    assert s.get("/v1/operator/audit",
                 headers={"X-Consul-Token": yes}).status_code == 200
    r = s.get("/v1/operator/audit", headers={"X-Consul-Token": no})
    assert r.status_code == 403 and "operator:read" in r.text
    assert s.get("/v1/operator/audit").status_code == 403


def test_paging_takes_after_and_limit_and_refuses_bad_ones(s):
    for i in range(3):
        ok(s.put("/v1/acl/policy", {"Name": "au-pg%d" % i}, headers=H))
    n = head(s)
    page = ok(s.get("/v1/operator/audit" + q(after=n - 3, limit=2),
                    headers=H))
    assert [x["Seq"] for x in page] == [n - 2, n - 1]
    assert page[1]["PrevHash"] == page[0]["Hash"]
    for bad in ({"limit": 0}, {"limit": 1001}, {"after": -1},
                {"after": "x"}):
        r = s.get("/v1/operator/audit" + q(**bad), headers=H)
        assert r.status_code == 400, (bad, r.text)


def test_a_blocking_query_on_the_audit_log_is_woken_by_a_change(s):
    r = s.get("/v1/operator/audit" + q(after=head(s)), headers=H)
    idx = int(r.headers["X-Consul-Index"])
    got = {}

    def block():
        got["r"] = s.get("/v1/operator/audit" + q(after=head(s), index=idx,
                                                  wait="60s"), headers=H,
                         timeout=90)
    th = threading.Thread(target=block)
    t0 = time.monotonic()
    th.start()
    time.sleep(0.5)
    p = ok(s.put("/v1/acl/policy", {"Name": "au-wake"}, headers=H))
    th.join(90)
    assert time.monotonic() - t0 < 45
    r = got["r"]
    assert r.status_code == 200 and int(r.headers["X-Consul-Index"]) > idx
    assert [x["Object"] for x in r.json()] == [p["ID"]]


@pytest.mark.skipif(BACKEND != "postgres",
                    reason="a cluster needs the postgres backend")
def test_two_nodes_writing_concurrently_extend_one_chain():
    a = Server(node("audit-a", ACL_ON))
    b = Server(node("audit-b", ACL_ON), dsn=a.dsn)
    try:
        n0 = head(a)
        errs = []

        def write(srv, tag):
            for i in range(15):
                r = srv.put("/v1/acl/policy", {"Name": "au-%s-%d" % (tag, i)},
                            headers=H)
                if r.status_code != 200:
                    errs.append(r.text)
        ts = [threading.Thread(target=write, args=(srv, tag))
              for srv, tag in ((a, "a1"), (a, "a2"), (b, "b1"), (b, "b2"))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert not errs
        rs = records(a, after=n0)
        assert len(rs) == 60
        assert [x["Seq"] for x in rs] == list(range(n0 + 1, n0 + 61))
        assert {x["Node"] for x in rs} == {"audit-a", "audit-b"}
        for x, y in zip(rs, rs[1:]):
            assert y["PrevHash"] == x["Hash"]
        v = verify(b)
        assert v.returncode == 0, v.stdout
    finally:
        b.stop()
        a.stop()
