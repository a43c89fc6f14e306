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
