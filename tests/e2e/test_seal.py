"""Secrets at rest (issue #14, item 1): the CA private keys and the
auth-method secrets are sealed with AES-256-GCM under a seal key kept
out of the store.  The store is read directly (the SQLite file and a
VACUUM INTO backup with sqlite3; on PostgreSQL psql and pg_dump), the
start-up refusals are checked on the master's exit status and output,
and leaves are verified with openssl."""
import os
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest

import certs
from authfakes import H, acl_hcl, k8s, k8s_method, ok, put_method  # noqa: F401 (k8s: fixture)
from conftest import BACKEND, BIN, postgres_instance, wait_for

PEM_KEY = b"PRIVATE KEY"


def dbname(s):
    return s.dsn.split("dbname=")[1].split()[0]


def sql(s, text):
    """Run one statement against the server's store; rows as tuples
    of strings."""
    if BACKEND == "postgres":
        r = postgres_instance().psql(dbname(s), text)
        assert r.returncode == 0, r.stderr
        return [tuple(line.split("|")) for line in r.stdout.splitlines()
                if line]
    con = sqlite3.connect(os.path.join(s.dir, "portcullis.db"), timeout=30)
    try:
        rows = [tuple("" if v is None else str(v) for v in row)
                for row in con.execute(text)]
        con.commit()
        return rows
    finally:
        con.close()


def store_bytes(s):
    """Every byte a thief of the store would get: the SQLite file, its
    WAL and a VACUUM INTO backup; on PostgreSQL a pg_dump."""
    if BACKEND == "postgres":
        pg = postgres_instance()
        r = subprocess.run([os.path.join(pg.bin, "pg_dump"), "-h", pg.dir,
                            "-p", str(pg.port), "-U", "pc", dbname(s)],
                           capture_output=True)
        assert r.returncode == 0, r.stderr
        return r.stdout
    db = os.path.join(s.dir, "portcullis.db")
    out = b""
    for p in (db, db + "-wal"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                out += f.read()
    bak = os.path.join(s.dir, "backup.db")
    if os.path.exists(bak):
        os.unlink(bak)
    r = subprocess.run(["sqlite3", db, "VACUUM INTO '%s'" % bak],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(bak, "rb") as f:
        out += f.read()
    os.unlink(bak)
    return out


def logical_dump(s):
    """The store's rows, for 'nothing changed' (not the file bytes: a
    WAL checkpoint may move them without changing anything)."""
    rows = []
    for t in ("meta", "table_index", "ca_root", "ca_config",
              "acl_auth_method", "acl_token"):
        rows.append(sorted(sql(s, "SELECT * FROM %s" % t)))
    return rows


def start_refused(s):
    """Start the master on s's config and expect it to refuse: returns
    its output."""
    r = subprocess.run([BIN, "-c", os.path.join(s.dir, "portcullis.hcl")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def leaf_verifies(s, service="web"):
    r = s.get("/v1/agent/connect/ca/leaf/" + service, headers=H)
    assert r.status_code == 200, r.text
    roots = s.get("/v1/connect/ca/roots?pem=true", headers=H).text
    good, out = certs.openssl_verify(roots, certs.pems(r.json()["CertPEM"])[0])
    assert good, out
    return r.json()


def active_root(s):
    rs = s.get("/v1/connect/ca/roots", headers=H).json()
    return next(x for x in rs["Roots"] if x["Active"])


def key_id(hexkey):
    """A seal key's ID as seal.c computes it."""
    import hashlib
    return hashlib.sha256(b"portcullis seal" + bytes.fromhex(hexkey)) \
        .hexdigest()[:16]


def key_file(s):
    return os.path.join(s.dir, "seal.key")


def read(path):
    with open(path) as f:
        return f.read()


def test_store_and_backup_hold_no_private_key_and_no_auth_method_secret(
        make_server, k8s):
    s = make_server(acl_hcl())
    assert os.stat(key_file(s)).st_mode & 0o777 == 0o600
    assert len(read(key_file(s)).strip()) == 64
    jwt = k8s.info["reviewer_jwt"]
    k8s_method(s, k8s, name="k8s")
    # A rotation: a rotated-out root and a supplied key in the CA config.
    cid = s.get("/v1/connect/ca/roots", headers=H).json()["TrustDomain"] \
        .split(".")[0]
    root_pem, key_pem = certs.self_signed_ca(cid)
    ok(s.put("/v1/connect/ca/configuration", body={
        "Provider": "consul",
        "Config": {"PrivateKey": key_pem, "RootCert": root_pem}},
        headers=H))
    leaf_verifies(s)
    raw = store_bytes(s)
    assert PEM_KEY not in raw
    assert key_pem.split("\n")[1].encode() not in raw
    assert jwt.encode() not in raw
    assert jwt.split(".")[2].encode() not in raw
    keys = sql(s, "SELECT private_key FROM ca_root")
    assert len(keys) == 2 and all(k[0].startswith("seal:1:") for k in keys)
    # The API is unchanged: Config comes back whole to acl:read.
    m = ok(s.get("/v1/acl/auth-method/k8s", headers=H))
    assert m["Config"]["ServiceAccountJWT"] == jwt
    c = ok(s.get("/v1/connect/ca/configuration", headers=H))
    assert c["Config"]["RootCert"] == root_pem
    assert "PRIVATE KEY" not in s.logtext()
    assert jwt not in s.logtext()


def test_a_ciphertext_copied_to_another_row_fails_cleanly_then_refuses_start(
        make_server, k8s):
    s = make_server(acl_hcl())
    k8s_method(s, k8s, name="a")
    k8s_method(s, k8s, name="b", Description="other")
    a = sql(s, "SELECT config FROM acl_auth_method WHERE name_key = 'a'")[0][0]
    sql(s, "UPDATE acl_auth_method SET config = '%s' WHERE name_key = 'b'"
        % a.replace("'", "''"))
    r = s.get("/v1/acl/auth-method/b", headers=H)
    assert r.status_code == 500, r.text
    assert "another row" in r.text, r.text
    # Everything else keeps working.
    ok(s.get("/v1/acl/auth-method/a", headers=H))
    leaf_verifies(s)
    assert "acl_auth_method b config.ServiceAccountJWT does not open" in \
        s.logtext()
    # A CA key moved to another root is refused at start, naming the row.
    ok(s.put("/v1/connect/ca/configuration", body={
        "Provider": "consul", "Config": {"PrivateKeyType": "ec",
                                         "PrivateKeyBits": 384}},
        headers=H))
    sql(s, "UPDATE acl_auth_method SET config = NULL WHERE name_key = 'b'")
    s.stop_master()
    rows = sql(s, "SELECT id, private_key, active FROM ca_root")
    old = next(r for r in rows if r[2] == "0")
    new = next(r for r in rows if r[2] == "1")
    sql(s, "UPDATE ca_root SET private_key = '%s' WHERE id = '%s'"
        % (old[1], new[0]))
    before = logical_dump(s)
    out = start_refused(s)
    assert "refusing to start" in out and new[0] in out
    assert "another row" in out
    assert logical_dump(s) == before


def test_a_wrong_or_missing_seal_key_refuses_start_and_changes_nothing(
        make_server, k8s):
    s = make_server(acl_hcl())
    k8s_method(s, k8s, name="k8s")
    root = active_root(s)["ID"]
    s.stop_master()
    good = read(key_file(s))
    before = logical_dump(s)
    os.rename(key_file(s), key_file(s) + ".saved")
    out = start_refused(s)
    assert "no seal key" in out and "seal.key does not exist" in out
    assert not os.path.exists(key_file(s)), "no new key over a sealed store"
    assert logical_dump(s) == before
    with open(key_file(s), "w") as f:
        f.write("%064x\n" % 12345)
    os.chmod(key_file(s), 0o600)
    out = start_refused(s)
    assert "is not this store's" in out
    assert good.strip() not in out
    assert logical_dump(s) == before
    with open(key_file(s), "w") as f:
        f.write("not a key\n")
    out = start_refused(s)
    assert "a seal key is 64 hex digits" in out
    assert logical_dump(s) == before
    os.rename(key_file(s) + ".saved", key_file(s))
    s.start()
    assert active_root(s)["ID"] == root
    leaf_verifies(s, "db")
    assert ok(s.get("/v1/acl/auth-method/k8s", headers=H))["Config"][
        "ServiceAccountJWT"] == k8s.info["reviewer_jwt"]


def test_plaintext_rows_of_an_older_store_are_sealed_at_start(
        make_server, k8s):
    s = make_server(acl_hcl())
    cid = s.get("/v1/connect/ca/roots", headers=H).json()["TrustDomain"] \
        .split(".")[0]
    root_pem, key_pem = certs.self_signed_ca(cid)
    ok(s.put("/v1/connect/ca/configuration", body={
        "Provider": "consul",
        "Config": {"PrivateKey": key_pem, "RootCert": root_pem}},
        headers=H))
    jwt = k8s.info["reviewer_jwt"]
    k8s_method(s, k8s, name="k8s")
    s.stop_master()
    # What an older Portcullis left: plaintext, no seal key ID.
    root = active_root_id = sql(s, "SELECT id FROM ca_root WHERE active = 1")[0][0]
    sql(s, "UPDATE ca_root SET private_key = '%s' WHERE id = '%s'"
        % (key_pem, active_root_id))
    sql(s, """UPDATE acl_auth_method SET config = '{"Host":"%s","CACert":%s,"""
        """"ServiceAccountJWT":"%s"}' WHERE name_key = 'k8s'"""
        % (k8s.url, _json(k8s.ca).replace("'", "''"), jwt))
    sql(s, "DELETE FROM meta WHERE key = 'seal_key_id'")
    assert PEM_KEY in store_bytes(s)
    s.start()
    assert "sealed 2 plaintext value(s)" in s.logtext()
    raw = store_bytes(s)
    assert PEM_KEY not in raw and jwt.encode() not in raw
    assert active_root(s)["ID"] == root
    leaf = leaf_verifies(s)
    good, out = certs.openssl_verify(root_pem, certs.pems(leaf["CertPEM"])[0])
    assert good, out
    assert ok(s.get("/v1/acl/auth-method/k8s", headers=H))["Config"][
        "ServiceAccountJWT"] == jwt


def _json(v):
    import json
    return json.dumps(v)


def rotate(s):
    return subprocess.run([BIN, "-c", os.path.join(s.dir, "portcullis.hcl"),
                           "seal", "rotate"], capture_output=True, text=True,
                          timeout=120)


def test_seal_rotate_under_writes_loses_nothing_and_retires_the_old_key(
        make_server, k8s):
    s = make_server(acl_hcl())
    jwt = k8s.info["reviewer_jwt"]
    k8s_method(s, k8s, name="k8s")
    leaf_verifies(s)
    old = read(key_file(s))
    done = threading.Event()
    written, errors = [], []

    def load():
        i = 0
        while not done.is_set():
            name = "m%d" % i
            body = {"Name": name, "Type": "kubernetes", "Config": {
                "Host": k8s.url, "CACert": k8s.ca,
                "ServiceAccountJWT": jwt}}
            r = put_method(s, body)
            if r.status_code == 200:
                written.append(name)
            else:
                errors.append(r.text)
            i += 1
    t = threading.Thread(target=load)
    t.start()
    try:
        wait_for(lambda: len(written) >= 3, timeout=60, what="writes")
        r = rotate(s)
        n0 = len(written)
        wait_for(lambda: len(written) >= n0 + 3 or errors, timeout=60,
                 what="writes after the rotation")
    finally:
        done.set()
        t.join(60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "re-sealed under key" in r.stdout
    assert "the new key replaced" in r.stdout
    assert errors == []
    new = read(key_file(s))
    assert new != old and len(new.strip()) == 64
    assert not os.path.exists(key_file(s) + ".new")
    assert os.stat(key_file(s)).st_mode & 0o777 == 0o600
    # Every method written before, during and after opens; leaves sign.
    for name in ["k8s"] + written:
        assert ok(s.get("/v1/acl/auth-method/" + name, headers=H))[
            "Config"]["ServiceAccountJWT"] == jwt
    leaf_verifies(s, "api")
    s.stop_master()
    # The old key no longer opens anything: refused.
    with open(key_file(s), "w") as f:
        f.write(old)
    before = logical_dump(s)
    out = start_refused(s)
    assert "is not this store's" in out
    assert logical_dump(s) == before
    with open(key_file(s), "w") as f:
        f.write(new)
    s.start()
    leaf_verifies(s, "db")
    assert ok(s.get("/v1/acl/auth-method/k8s", headers=H))["Config"][
        "ServiceAccountJWT"] == jwt


def test_seal_key_file_and_key_env_settings(make_server, tmp_path,
                                            monkeypatch):
    kf = tmp_path / "elsewhere.key"
    # A configured key file must exist: it is never created.
    s = None
    with pytest.raises(Exception):
        s = make_server('seal {\n  key_file = "%s"\n}\n' % kf)
    kf.write_text("%064x\n" % 77)
    kf.chmod(0o600)
    s = make_server('seal {\n  key_file = "%s"\n}\n' % kf)
    leaf_verifies(s)
    kid = sql(s, "SELECT value FROM meta WHERE key = 'seal_key_id'")[0][0]
    assert kid == key_id("%064x" % 77), "sealed under key_file's key"
    assert PEM_KEY not in store_bytes(s)
    # key_env: the key in an environment variable.
    monkeypatch.setenv("PC_TEST_SEAL_KEY", "%064x" % 99)
    e = make_server('seal {\n  key_env = "PC_TEST_SEAL_KEY"\n}\n')
    leaf_verifies(e)
    eid = sql(e, "SELECT value FROM meta WHERE key = 'seal_key_id'")[0][0]
    assert eid == key_id("%064x" % 99), "sealed under key_env's key"
    e.stop_master()
    monkeypatch.setenv("PC_TEST_SEAL_KEY", "%064x" % 98)
    out = start_refused(e)
    assert "environment variable PC_TEST_SEAL_KEY" in out
    assert "is not this store's" in out
    monkeypatch.delenv("PC_TEST_SEAL_KEY")
    out = start_refused(e)
    assert "no seal key: environment variable PC_TEST_SEAL_KEY does not " \
        "exist" in out
    # Rotation with key_env leaves the new key in a file to install.
    monkeypatch.setenv("PC_TEST_SEAL_KEY", "%064x" % 99)
    r = rotate(e)
    assert r.returncode == 0, r.stderr
    newf = os.path.join(e.dir, "seal.key.new")
    assert newf in r.stdout and "PC_TEST_SEAL_KEY" in r.stdout
    monkeypatch.setenv("PC_TEST_SEAL_KEY", read(newf).strip())
    e.start()
    leaf_verifies(e, "db")
