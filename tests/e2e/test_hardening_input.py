"""Hardening of input handling (issue #12, items 5 and 7-11): deep
nesting, NaN/Infinity, invalid UTF-8, UUID case, empty ?index=/?wait=,
times and integers out of range.  Replies are checked as raw bytes:
strictly decodable UTF-8 JSON with no bare NaN or Infinity."""
import json

import pytest

from conftest import Server, acl_on, q
from conftest import pg_refuses_invalid_utf8, sqlite_only

MGMT = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a"
ON = acl_on(MGMT)
H = {"X-Consul-Token": MGMT}


def strict_json(raw):
    """Decode reply bytes as Go's strict clients would: valid UTF-8,
    no NaN/Infinity constants."""
    def no_constant(name):
        raise AssertionError("reply holds bare %s" % name)
    return json.loads(raw.decode("utf-8", errors="strict"),
                      parse_constant=no_constant)


@pytest.fixture(scope="module")
def acl():
    s = Server(ON)
    yield s
    s.stop()


@pytest.mark.parametrize("json_rules", [False, True])
def test_translate_refuses_deep_nesting_with_400_and_the_worker_lives(
        acl, json_rules):
    n = 100000
    if json_rules:
        body = "{" + '"key":{' * n + '"policy":"read"' + "}" * n + "}"
    else:
        body = "key {" * n + 'policy = "read"' + "}" * n
    r = acl.post("/v1/acl/rules/translate", raw=body, headers=H)
    assert r.status_code == 400, r.text
    assert "nesting too deep (more than 100 levels)" in r.text
    assert r.text.startswith("Failed to parse rules: At 1:")
    r = acl.post("/v1/acl/rules/translate", raw='key "" { policy = "read" }',
                 headers=H)
    assert r.status_code == 200
    assert r.text == 'key_prefix "" {\n  policy = "read"\n}'


# Item 7: NaN/Infinity in map-typed fields, refused as Go refuses them.

@pytest.mark.parametrize("lit,text", [
    ("NaN", "invalid character 'N' looking for beginning of value"),
    ("Infinity", "invalid character 'I' looking for beginning of value"),
    ("-Infinity", "invalid character 'I' in numeric literal"),
])
def test_auth_method_config_with_nan_or_infinity_is_400(acl, lit, text):
    raw = ('{"Name": "nan-m", "Type": "jwt", "Config": '
           '{"JWTValidationPubKeys": [], "X": %s}}' % lit)
    r = acl.put("/v1/acl/auth-method", raw=raw, headers=H)
    assert r.status_code == 400
    assert r.text == "AuthMethod decoding failed: " + text
    r = acl.get("/v1/acl/auth-method/nan-m", headers=H)
    assert r.status_code == 404


@pytest.mark.parametrize("lit,text", [
    ("NaN", "invalid character 'N' looking for beginning of value"),
    ("-Infinity", "invalid character 'I' in numeric literal"),
    ("1e400", "json: cannot unmarshal number 1e400 into Go struct field "
              "CAConfiguration.Config of type float64"),
])
def test_ca_config_with_non_finite_number_is_400_and_not_stored(
        server, lit, text):
    raw = ('{"Provider": "consul", "Config": {"LeafCertTTL": "72h", '
           '"Extra": %s}}' % lit)
    r = server.put("/v1/connect/ca/configuration", raw=raw)
    assert r.status_code == 400
    assert r.text == "Request decode failed: " + text
    r = server.get("/v1/connect/ca/configuration")
    assert r.status_code == 200
    assert "Extra" not in strict_json(r.content)["Config"]


def test_ca_config_reply_bytes_hold_no_bare_nan(server):
    r = server.get("/v1/connect/ca/configuration")
    for word in (b"NaN", b"Infinity"):
        assert word not in r.content
    strict_json(r.content)


# Item 10: status codes of empty ?index=/?wait=, times, integers.

def test_empty_index_and_wait_are_skipped_as_consul_does(server):
    for qs in ("?index=", "?wait=", "?index=&wait=", "?wait=&index="):
        r = server.get("/v1/connect/intentions" + qs, timeout=5)
        assert r.status_code == 200, (qs, r.text)
        assert r.content == b"[]"
    r = server.get("/v1/connect/intentions?index=x")
    assert r.status_code == 400 and r.text == "Invalid index"
    r = server.get("/v1/connect/intentions?wait=x")
    assert r.status_code == 400 and r.text == "Invalid wait time"


def test_expiration_time_february_30_is_400_day_out_of_range(acl):
    r = acl.put("/v1/acl/token", headers=H,
                body={"ExpirationTime": "2099-02-30T00:00:00Z"})
    assert r.status_code == 400
    assert r.text == ('Token decoding failed: parsing time '
                      '"2099-02-30T00:00:00Z": day out of range')
    r = acl.put("/v1/acl/token", headers=H,
                body={"ExpirationTime": "2099-13-01T00:00:00Z"})
    assert r.status_code == 400
    assert r.text.endswith(': month out of range')


def test_expiration_time_in_year_9999_is_too_far_not_before_create(acl):
    r = acl.put("/v1/acl/token", headers=H,
                body={"ExpirationTime": "9999-12-31T23:59:59Z"})
    assert r.status_code == 500
    assert r.text == ("ExpirationTime cannot be more than 24h0m0s in the "
                      "future (was 2562047h47m16.854775807s)")


@pytest.mark.parametrize("lit", ["1e30", "18446744073709551616",
                                 "9223372036854775808",
                                 "-9223372036854775809", "1.5"])
def test_expiration_ttl_beyond_int64_is_400_as_go_words_it(acl, lit):
    r = acl.put("/v1/acl/token", headers=H,
                raw='{"ExpirationTTL": %s}' % lit)
    assert r.status_code == 400
    assert r.text == ("Token decoding failed: json: cannot unmarshal "
                      "number %s into Go struct field "
                      "ACLToken.ExpirationTTL of type time.Duration" % lit)


# Item 9: UUID-keyed objects compare IDs as UUIDs (any letter case),
# store them as given; SecretIDs stay case-sensitive.

ACC = "4C2E8A7B-1D3F-4E5A-9B6C-7D8E9F0A1B2C"


def test_accessor_id_in_other_case_is_already_in_use_and_reads_back(acl):
    r = acl.put("/v1/acl/token", headers=H,
                body={"AccessorID": ACC, "Description": "upper"})
    assert r.status_code == 200, r.text
    assert r.json()["AccessorID"] == ACC        # stored and echoed as given
    r = acl.put("/v1/acl/token", headers=H,
                body={"AccessorID": ACC.lower(), "Description": "lower"})
    assert r.status_code == 500
    assert r.text == "Invalid Token: AccessorID is already in use"
    r = acl.get("/v1/acl/token/" + ACC.lower(), headers=H)
    assert r.status_code == 200, r.text
    assert r.json()["AccessorID"] == ACC
    assert r.json()["Description"] == "upper"
    r = acl.put("/v1/acl/token/" + ACC.lower(), headers=H,
                body={"Description": "updated"})
    assert r.status_code == 200, r.text
    assert r.json()["AccessorID"] == ACC
    toks = [t for t in acl.get("/v1/acl/tokens", headers=H).json()
            if t["AccessorID"].lower() == ACC.lower()]
    assert [t["Description"] for t in toks] == ["updated"]
    r = acl.delete("/v1/acl/token/" + ACC.lower(), headers=H)
    assert r.status_code == 200 and r.text == "true"
    assert acl.get("/v1/acl/token/" + ACC, headers=H).status_code == 404


def test_secret_id_stays_case_sensitive(acl):
    sec = "9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D"
    r = acl.put("/v1/acl/token", headers=H, body={"SecretID": sec})
    assert r.status_code == 200, r.text
    r = acl.get("/v1/acl/token/self", headers={"X-Consul-Token": sec})
    assert r.status_code == 200
    r = acl.get("/v1/acl/token/self",
                headers={"X-Consul-Token": sec.lower()})
    assert r.status_code in (403, 404) and r.status_code != 200


def test_policy_and_role_ids_match_in_any_case(acl):
    r = acl.put("/v1/acl/policy", headers=H,
                body={"Name": "case-pol", "Rules": 'key "" { policy = "read" }'})
    assert r.status_code == 200, r.text
    pid = r.json()["ID"]
    up = pid.upper()
    r = acl.get("/v1/acl/policy/" + up, headers=H)
    assert r.status_code == 200 and r.json()["ID"] == pid
    r = acl.put("/v1/acl/policy/" + up, headers=H,
                body={"Name": "case-pol", "Description": "d"})
    assert r.status_code == 200, r.text
    assert r.json()["ID"] == pid
    pols = [p for p in acl.get("/v1/acl/policies", headers=H).json()
            if p["Name"] == "case-pol"]
    assert len(pols) == 1 and pols[0]["ID"] == pid
    # A link by the other case resolves to the stored ID.
    r = acl.put("/v1/acl/role", headers=H,
                body={"Name": "case-role", "Policies": [{"ID": up}]})
    assert r.status_code == 200, r.text
    role = r.json()
    assert role["Policies"] == [{"ID": pid, "Name": "case-pol"}]
    r = acl.get("/v1/acl/role/" + role["ID"].upper(), headers=H)
    assert r.status_code == 200 and r.json()["ID"] == role["ID"]
    r = acl.put("/v1/acl/token", headers=H,
                body={"Roles": [{"ID": role["ID"].upper()}]})
    assert r.status_code == 200, r.text
    assert r.json()["Roles"] == [{"ID": role["ID"], "Name": "case-role"}]
    r = acl.delete("/v1/acl/role/" + role["ID"].upper(), headers=H)
    assert r.status_code == 200
    assert acl.get("/v1/acl/role/" + role["ID"], headers=H).status_code \
        == 404
    r = acl.delete("/v1/acl/policy/" + up, headers=H)
    assert r.status_code == 200
    assert acl.get("/v1/acl/policy/" + pid, headers=H).status_code == 404


def test_binding_rule_id_matches_in_any_case(acl):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    pub = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    r = acl.put("/v1/acl/auth-method", headers=H, body={
        "Name": "case-jwt", "Type": "jwt",
        "Config": {"JWTValidationPubKeys": [pub]}})
    assert r.status_code == 200, r.text
    r = acl.put("/v1/acl/binding-rule", headers=H, body={
        "AuthMethod": "case-jwt", "BindType": "service", "BindName": "web"})
    assert r.status_code == 200, r.text
    rid = r.json()["ID"]
    r = acl.get("/v1/acl/binding-rule/" + rid.upper(), headers=H)
    assert r.status_code == 200 and r.json()["ID"] == rid


def test_legacy_intention_id_matches_in_any_case(server):
    r = server.post("/v1/connect/intentions", {
        "SourceName": "case-a", "DestinationName": "case-b",
        "Action": "allow"})
    assert r.status_code == 200, r.text
    xid = r.json()["ID"]
    up = xid.upper()
    r = server.get("/v1/connect/intentions/" + up)
    assert r.status_code == 200 and r.json()["ID"] == xid
    r = server.put("/v1/connect/intentions/" + up, {
        "SourceName": "case-a", "DestinationName": "case-b",
        "Action": "deny"})
    assert r.status_code == 200, r.text
    r = server.get("/v1/connect/intentions/" + xid)
    assert r.json()["Action"] == "deny"
    lst = [x for x in server.get("/v1/connect/intentions").json()
           if x["DestinationName"] == "case-b"]
    assert len(lst) == 1
    r = server.delete("/v1/connect/intentions/" + up)
    assert r.status_code == 200, r.text
    assert server.get("/v1/connect/intentions/" + xid).status_code == 404


# Item 8: invalid UTF-8 never reaches a reply.  Consul accepts any bytes
# in intention and leaf service names (its validation checks wildcards,
# not characters), and Go's encoder writes each invalid byte as \ufffd.

@pg_refuses_invalid_utf8
def test_intention_with_invalid_utf8_source_keeps_replies_decodable(server):
    r = server.put("/v1/connect/intentions/exact?source=%FF%FE&"
                   "destination=utf8-db", body={"Action": "allow"})
    assert r.status_code == 200 and r.content == b"true"
    for path in ("/v1/connect/intentions",
                 "/v1/connect/intentions?pretty",
                 "/v1/connect/intentions/match?by=source&name=%FF%FE",
                 "/v1/connect/intentions/match?by=destination&name=utf8-db",
                 "/v1/connect/intentions/exact?source=%FF%FE&"
                 "destination=utf8-db"):
        r = server.get(path)
        assert r.status_code == 200, (path, r.text)
        assert b"\xff" not in r.content and b"\xfe" not in r.content
        strict_json(r.content)
        assert b"\\ufffd\\ufffd" in r.content, path
    m = strict_json(server.get("/v1/connect/intentions/match?by=source&"
                               "name=%FF%FE").content)
    assert list(m) == ["\ufffd\ufffd"]
    assert m["\ufffd\ufffd"][0]["SourceName"] == "\ufffd\ufffd"
    r = server.get("/v1/connect/intentions/check?source=%FF%FE&"
                   "destination=utf8-db")
    assert r.status_code == 200 and r.content == b'{"Allowed":true}'
    r = server.delete("/v1/connect/intentions/exact?source=%FF%FE&"
                      "destination=utf8-db")
    assert r.status_code == 200


def test_legacy_intention_body_with_invalid_utf8_is_stored_as_fffd(server):
    raw = (b'{"SourceName": "bad\xff", "DestinationName": "utf8-legacy", '
           b'"Action": "allow", "Description": "d\xc3\xa9\xed\xa0\x80"}')
    r = server.post("/v1/connect/intentions", raw=raw)
    assert r.status_code == 200, r.text
    x = strict_json(server.get("/v1/connect/intentions/" +
                               r.json()["ID"]).content)
    assert x["SourceName"] == "bad\ufffd"
    assert x["Description"] == "d\u00e9\ufffd\ufffd\ufffd"
    # Go decoded the body so: the name is now U+FFFD, not the raw byte.
    r = server.get("/v1/connect/intentions/check?source=bad%EF%BF%BD&"
                   "destination=utf8-legacy")
    assert r.content == b'{"Allowed":true}'


@pg_refuses_invalid_utf8
def test_leaf_for_invalid_utf8_service_escapes_uri_and_reply(server):
    r = server.get("/v1/agent/connect/ca/leaf/%FF%FE")
    assert r.status_code == 200, r.text
    assert b"\xff" not in r.content and b"\xfe" not in r.content
    leaf = strict_json(r.content)
    assert leaf["Service"] == "\ufffd\ufffd"
    assert leaf["ServiceURI"].endswith("/svc/%FF%FE")
    r = server.get("/v1/agent/connect/ca/leaf/a%C3%A9b")
    assert r.status_code == 200
    leaf = strict_json(r.content)
    assert leaf["Service"] == "a\u00e9b"
    assert leaf["ServiceURI"].endswith("/svc/a%C3%A9b")


@sqlite_only
def test_stored_nan_from_an_older_version_goes_out_as_null(server):
    """The writer is the last line of defence: a Config stored before
    bodies were checked (here written into the store directly) still
    gives a reply that strict clients decode."""
    import os
    import sqlite3
    db = sqlite3.connect(os.path.join(server.dir, "portcullis.db"),
                         timeout=10)
    old = db.execute("SELECT config FROM ca_config").fetchone()[0]
    cfg = json.loads(old)
    try:
        db.execute("UPDATE ca_config SET config = ?",
                   (old[:-1] + ', "Stale": NaN, "Big": -Infinity}',))
        db.commit()
        r = server.get("/v1/connect/ca/configuration")
        assert r.status_code == 200
        got = strict_json(r.content)["Config"]
        assert got["Stale"] is None and got["Big"] is None
        assert got["LeafCertTTL"] == cfg["LeafCertTTL"]
    finally:
        db.execute("UPDATE ca_config SET config = ?", (old,))
        db.commit()
        db.close()


@pytest.mark.parametrize("lit", ["1e30", "-1e30", "18446744073709551616"])
def test_auth_method_max_token_ttl_beyond_int64_is_refused_not_cast(
        acl, lit):
    """Consul converts the float64 with Go's int64(), which gives the
    minimum on amd64 (a C cast would be undefined): the range check
    then refuses it."""
    raw = ('{"Name": "ttl-m", "Type": "jwt", "MaxTokenTTL": %s, '
           '"Config": {"JWTValidationPubKeys": []}}' % lit)
    r = acl.put("/v1/acl/auth-method", raw=raw, headers=H)
    assert r.status_code == 500
    assert r.text == ("MaxTokenTTL -2562047h47m16.854775808s cannot be "
                      "less than 1m0s")
