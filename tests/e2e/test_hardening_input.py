"""Hardening of input handling (issue #12, items 5 and 7-11): deep
nesting, NaN/Infinity, invalid UTF-8, UUID case, empty ?index=/?wait=,
times and integers out of range.  Replies are checked as raw bytes:
strictly decodable UTF-8 JSON with no bare NaN or Infinity."""
import json

import pytest

from conftest import Server, q

MGMT = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a"
ON = ('acl {\n enabled = true\n default_policy = "deny"\n'
      ' tokens { initial_management = "%s" }\n}\n' % MGMT)
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
