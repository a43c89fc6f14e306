"""Token secrets hashed at rest (issue #14, item 3): with
acl { hash_secrets = true } the store keeps only an HMAC-SHA256 of each
SecretID (under a random key sealed in the store), lookups go by the
hash, and a SecretID is shown once, in the reply that creates it.  The
store is read as a thief would (test_seal.store_bytes)."""
import subprocess

from authfakes import (H, MGMT, acl_hcl, k8s, k8s_method, login, ok,  # noqa: F401 (k8s: fixture)
                       put_rule)
from conftest import SRC
from test_seal import sql, start_refused, store_bytes


def hashed_hcl():
    return acl_hcl().replace("acl {\n", "acl {\n hash_secrets = true\n", 1)


def T(secret):
    return {"X-Consul-Token": secret}


def test_hashed_secrets_are_shown_once_and_never_stored(make_server, k8s):
    s = make_server(hashed_hcl())
    # The initial management token works by its secret.
    ok(s.get("/v1/acl/token/self", headers=H))
    made = ok(s.put("/v1/acl/token", body={"Description": "ci"}, headers=H))
    sec = made["SecretID"]
    assert len(sec) == 36 and sec != "<hidden>"
    me = ok(s.get("/v1/acl/token/self", headers=T(sec)))
    assert me["AccessorID"] == made["AccessorID"]
    assert me["SecretID"] == "<hidden>"
    # Afterwards it is hidden even to acl:write.
    assert ok(s.get("/v1/acl/token/" + made["AccessorID"],
                    headers=H))["SecretID"] == "<hidden>"
    assert all(t.get("SecretID", "<hidden>") == "<hidden>"
               for t in ok(s.get("/v1/acl/tokens", headers=H)))
    # Updates take the SecretID back, or <hidden>, not another one.
    for given in (sec, "<hidden>"):
        ok(s.put("/v1/acl/token/" + made["AccessorID"], body={
            "SecretID": given, "Description": "ci2"}, headers=H))
    r = s.put("/v1/acl/token/" + made["AccessorID"], body={
        "SecretID": "11111111-2222-3333-4444-555555555555"}, headers=H)
    assert (r.status_code, r.text) == (
        500, "Changing a token's SecretID is not permitted")
    # A chosen SecretID is hashed too, and refused when in use.
    chosen = "0b6e3e0e-8d43-4c9b-a8a1-3c4d5e6f7a8b"
    ok(s.put("/v1/acl/token", body={"SecretID": chosen}, headers=H))
    ok(s.get("/v1/acl/token/self", headers=T(chosen)))
    r = s.put("/v1/acl/token", body={"SecretID": chosen}, headers=H)
    assert r.status_code == 500 and "already in use" in r.text
    # Clone: the new secret shown once, and it works.
    cl = ok(s.put("/v1/acl/token/%s/clone" % made["AccessorID"], body={},
                  headers=H))
    assert cl["SecretID"] not in ("<hidden>", sec)
    ok(s.get("/v1/acl/token/self", headers=T(cl["SecretID"])))
    # Login tokens too.
    k8s_method(s, k8s, name="k8s")
    ok(put_rule(s, AuthMethod="k8s", BindType="service",
                BindName="${serviceaccount.name}"))
    lt = ok(login(s, "k8s", k8s.info["tokens"]["valid"]))
    assert lt["SecretID"] != "<hidden>"
    ok(s.get("/v1/acl/token/self", headers=T(lt["SecretID"])))
    assert ok(s.get("/v1/acl/token/" + lt["AccessorID"],
                    headers=H))["SecretID"] == "<hidden>"
    r = s.post("/v1/acl/logout", headers=T(lt["SecretID"]))
    assert r.status_code == 200, r.text
    # The anonymous token still resolves (no token: anonymous).
    assert s.get("/v1/acl/token/self").status_code in (403, 404)
    # Nothing in the store.
    raw = store_bytes(s)
    for secret in (MGMT, sec, chosen, cl["SecretID"], lt["SecretID"]):
        assert secret.encode() not in raw
    rows = sql(s, "SELECT secret_id FROM acl_token")
    assert rows and all(r[0].startswith("hmac-sha256:") for r in rows)


def test_bootstrap_shows_the_hashed_secret_once(make_server):
    s = make_server(hashed_hcl().replace(
        ' tokens { initial_management = "%s" }\n' % MGMT, ""))
    b = ok(s.put("/v1/acl/bootstrap"))
    assert b["ID"] == b["SecretID"] != "<hidden>"
    me = ok(s.get("/v1/acl/token/self", headers=T(b["SecretID"])))
    assert me["SecretID"] == "<hidden>"
    assert b["SecretID"].encode() not in store_bytes(s)


def rewrite(s, hcl):
    with open(s.dir + "/extra.hcl", "w") as f:
        f.write(hcl + s.store_hcl)
    subprocess.run(["sh", "contrib/mkconf.sh", s.dir, str(s.port),
                    s.dir + "/extra.hcl"], check=True, cwd=SRC)


def test_turning_it_on_hashes_existing_secrets_and_off_is_refused(
        make_server):
    s = make_server(acl_hcl())
    made = ok(s.put("/v1/acl/token", body={}, headers=H))
    assert made["SecretID"].encode() in store_bytes(s)
    listed = s.get("/v1/acl/tokens", headers=H)
    s.stop_master()
    rewrite(s, hashed_hcl())
    s.start()
    assert "hashed" in s.logtext()
    # Hashing is a write like any other: the tokens' ModifyIndex and the
    # table's index move, so every node's token snapshot patches them.
    after = ok(s.get("/v1/acl/token/" + made["AccessorID"], headers=H))
    assert after["ModifyIndex"] > made["ModifyIndex"]
    assert int(s.get("/v1/acl/tokens", headers=H).headers[
        "X-Consul-Index"]) > int(listed.headers["X-Consul-Index"])
    ok(s.get("/v1/acl/token/self", headers=T(made["SecretID"])))
    ok(s.get("/v1/acl/token/self", headers=H))
    raw = store_bytes(s)
    assert made["SecretID"].encode() not in raw and MGMT.encode() not in raw
    s.stop_master()
    rewrite(s, acl_hcl())
    out = start_refused(s)
    assert "acl.hash_secrets" in out and "cannot be turned off" in out
    # seal rotate re-seals the token hash key: tokens still resolve.
    rewrite(s, hashed_hcl())
    r = subprocess.run([__import__("conftest").BIN, "-c",
                        s.dir + "/portcullis.hcl", "seal", "rotate"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    s.start()
    ok(s.get("/v1/acl/token/self", headers=T(made["SecretID"])))
