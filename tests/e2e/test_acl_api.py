"""The ACL API end to end (acl.md): bootstrap and its reset, tokens,
policies, roles, redaction, list filters, expiry, blocking queries,
resolution and enforcement details.  Tests named "..._as_consul_code"
follow Consul's code where its docs say otherwise."""
import os
import threading
import time

import pytest

from conftest import Server, acl_on, q

MGMT = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a"
ON = acl_on(MGMT)
H = {"X-Consul-Token": MGMT}


@pytest.fixture(scope="module")
def acl():
    s = Server(ON)
    yield s
    s.stop()


def policy(s, name, rules):
    r = s.put("/v1/acl/policy", body={"Name": name, "Rules": rules},
              headers=H)
    assert r.status_code == 200, r.text
    return r.json()


def token(s, **body):
    r = s.put("/v1/acl/token", body=body, headers=H)
    assert r.status_code == 200, r.text
    return r.json()


def test_acl_routes_answer_401_acl_support_disabled_when_acls_are_off(server):
    r = server.get("/v1/acl/tokens")
    assert r.status_code == 401 and r.text == "ACL support disabled"
    assert server.put("/v1/acl/bootstrap").status_code == 401
    assert r.headers["X-Consul-Default-ACL-Policy"] == "allow"


def test_bootstrap_once_then_403_with_reset_index_then_reset_file(make_server):
    s = make_server('acl { enabled = true\n default_policy = "deny" }\n')
    r = s.put("/v1/acl/bootstrap")
    assert r.status_code == 200, r.text
    b = r.json()
    assert list(b)[0] == "ID" and b["ID"] == b["SecretID"]
    assert b["Description"] == "Bootstrap Token (Global Management)"
    assert b["Policies"] == [{"ID": "00000000-0000-0000-0000-000000000001",
                              "Name": "global-management"}]
    r = s.put("/v1/acl/bootstrap")
    assert r.status_code == 403
    idx = b["CreateIndex"]
    assert r.text == ("Permission denied: ACL bootstrap no longer allowed "
                      "(reset index: %d)" % idx)
    datadir = [l.split('"')[1] for l in open(os.path.join(
        s.dir, "portcullis.hcl")) if l.strip().startswith("data_dir")][0]
    reset = os.path.join(datadir, "acl-bootstrap-reset")
    with open(reset, "w") as f:
        f.write("%d\n" % (idx + 1000))
    r = s.put("/v1/acl/bootstrap")
    assert r.status_code == 500 and r.text == (
        "Invalid bootstrap reset index (specified %d, reset index: %d)" %
        (idx + 1000, idx))
    assert not os.path.exists(reset)
    with open(reset, "w") as f:
        f.write("%d" % idx)
    r = s.put("/v1/acl/bootstrap")
    assert r.status_code == 200 and r.json()["SecretID"] != b["SecretID"]
    # The old management token still works.
    assert s.get("/v1/acl/tokens", headers={
        "X-Consul-Token": b["SecretID"]}).status_code == 200


def test_initial_management_counts_as_bootstrap(acl):
    r = acl.put("/v1/acl/bootstrap")
    assert r.status_code == 403 and "reset index" in r.text


def test_token_precedence_query_then_header_then_bearer(acl):
    assert acl.get("/v1/acl/token/self" + q(token=MGMT),
                   headers={"X-Consul-Token": "bogus"}).status_code == 200
    assert acl.get("/v1/acl/token/self",
                   headers={"X-Consul-Token": MGMT,
                            "Authorization": "Bearer bogus"}).status_code == 200
    assert acl.get("/v1/acl/token/self", headers={
        "Authorization": "bearer " + MGMT}).status_code == 200
    r = acl.get("/v1/acl/token/self")
    assert r.status_code == 404 and r.text == "Supplied token does not exist"


def test_unknown_secret_is_403_acl_not_found_even_if_it_is_an_accessor(acl):
    t = token(acl)
    for secret in (t["AccessorID"], "00000000-1111-2222-3333-444444444444"):
        r = acl.get("/v1/connect/intentions/check" +
                    q(source="a", destination="b"),
                    headers={"X-Consul-Token": secret})
        assert r.status_code == 403 and r.text == "ACL not found"


def test_root_secrets_are_500_cannot_resolve_root_acl(acl):
    r = acl.get("/v1/acl/tokens", headers={"X-Consul-Token": "manage"})
    assert r.status_code == 500 and r.text == "Cannot resolve root ACL"


def test_secret_is_hidden_without_acl_write(acl):
    p = policy(acl, "reader", 'acl = "read"')
    t = token(acl, Policies=[{"ID": p["ID"]}])
    r = acl.get("/v1/acl/token/" + t["AccessorID"],
                headers={"X-Consul-Token": t["SecretID"]})
    assert r.status_code == 200 and r.json()["SecretID"] == "<hidden>"
    assert '"\\u003chidden\\u003e"' in r.text
    r = acl.get("/v1/acl/tokens", headers={"X-Consul-Token": t["SecretID"]})
    assert all(x["SecretID"] == "<hidden>" for x in r.json())
    r = acl.get("/v1/acl/token/" + t["AccessorID"], headers=H)
    assert r.json()["SecretID"] == t["SecretID"]
    r = acl.get("/v1/acl/token/self", headers={
        "X-Consul-Token": t["SecretID"]})
    assert r.json()["SecretID"] == t["SecretID"]


def test_deleted_token_stops_working_on_the_next_request_in_every_worker(acl):
    t = token(acl, Policies=[{"Name": "global-management"}])
    h = {"X-Consul-Token": t["SecretID"]}
    for _ in range(8):          # warm both workers' caches
        assert acl.get("/v1/acl/tokens", headers=h).status_code == 200
    assert acl.delete("/v1/acl/token/" + t["AccessorID"],
                      headers=H).text == "true"
    for _ in range(8):
        r = acl.get("/v1/acl/tokens", headers=h)
        assert r.status_code == 403 and r.text == "ACL not found"


def test_policy_edit_takes_effect_on_the_next_request(acl):
    p = policy(acl, "flip", 'service "web" { policy = "read" }')
    t = token(acl, Policies=[{"ID": p["ID"]}])
    h = {"X-Consul-Token": t["SecretID"]}
    url = "/v1/connect/intentions/check" + q(source="a", destination="web")
    assert acl.get(url, headers=h).status_code == 200
    r = acl.put("/v1/acl/policy/" + p["ID"], body={
        "Name": "flip", "Rules": 'service "web" { policy = "deny" }'},
        headers=H)
    assert r.status_code == 200
    for _ in range(6):
        assert acl.get(url, headers=h).status_code == 403


def test_create_token_errors_are_500_with_consul_texts(acl):
    cases = [
        ({"AccessorID": "00000000-0000-0000-0000-000000000099"},
         'Invalid Token: AccessorID - UUIDs with the prefix '
         '"00000000-0000-0000-0000-0000000000" are reserved'),
        ({"AccessorID": "nope"}, "Invalid Token: AccessorID - not a valid UUID"),
        ({"SecretID": MGMT}, "Invalid Token: SecretID is already in use"),
        ({"Policies": [{"Name": "missing"}]},
         'No such ACL policy with name "missing"'),
        ({"Roles": [{}]}, 'No such ACL role with name ""'),
        ({"ServiceIdentities": [{"ServiceName": "Web"}]},
         'Service identity "Web" has an invalid name. Only lowercase '
         "alphanumeric characters, '-' and '_' are allowed"),
        ({"Local": True, "ServiceIdentities": [{"ServiceName": "web",
                                                "Datacenters": ["dc1"]}]},
         'Service identity "web" cannot specify a list of datacenters on a '
         'local token'),
        ({"NodeIdentities": [{"NodeName": "n1"}]},
         "Node identity is missing the datacenter field on this token"),
        ({"ExpirationTTL": "48h"},
         "ExpirationTime cannot be more than 24h0m0s in the future (was "
         "48h0m0s)"),
        ({"ExpirationTTL": "-5s"}, "Token Expiration TTL '-5s' should be > 0"),
        ({"AuthMethod": "k8s"}, "AuthMethod field is disallowed outside of login"),
    ]
    for body, text in cases:
        r = acl.put("/v1/acl/token", body=body, headers=H)
        assert (r.status_code, r.text) == (500, text), body
    r = acl.put("/v1/acl/token", raw="", headers=H)
    assert (r.status_code, r.text) == (400, "Token decoding failed: EOF")
    r = acl.put("/v1/acl/token", body={"Foo": 1}, headers=H)
    assert (r.status_code, r.text) == (
        400, 'Token decoding failed: json: unknown field "Foo"')


def test_update_keeps_immutables_and_replaces_the_rest(acl):
    p = policy(acl, "upd", "")
    t = token(acl, Description="a", Policies=[{"ID": p["ID"]}],
              ExpirationTTL="1h")
    url = "/v1/acl/token/" + t["AccessorID"]
    r = acl.put(url, body={"Description": "b"}, headers=H)
    assert r.status_code == 200
    u = r.json()
    assert u["Description"] == "b" and "Policies" not in u
    assert u["SecretID"] == t["SecretID"]
    assert u["ExpirationTime"] == t["ExpirationTime"]
    assert u["CreateTime"] == t["CreateTime"] and u["Hash"] != t["Hash"]
    for body, text in [
            ({"SecretID": MGMT},
             "Changing a token's SecretID is not permitted"),
            ({"Local": True}, "Cannot toggle local mode of " +
             t["AccessorID"]),
            ({"ExpirationTTL": "2h"}, "Cannot change expiration time of " +
             t["AccessorID"])]:
        r = acl.put(url, body=body, headers=H)
        assert (r.status_code, r.text) == (500, text)
    r = acl.put(url, body={"AccessorID": MGMT}, headers=H)
    assert (r.status_code, r.text) == (
        400, "Token Accessor ID in URL and payload do not match")
    r = acl.put(url, body={"SecretID": "manage"}, headers=H)
    assert (r.status_code, r.text) == (
        403, "Permission denied: Cannot modify root ACL")


def test_clone_copies_links_and_expiry_with_fresh_ids(acl):
    p = policy(acl, "clonep", "")
    t = token(acl, Description="orig", Policies=[{"ID": p["ID"]}],
              ServiceIdentities=[{"ServiceName": "web"}], ExpirationTTL="1h")
    r = acl.put("/v1/acl/token/%s/clone" % t["AccessorID"], body={},
                headers=H)
    c = r.json()
    assert c["AccessorID"] != t["AccessorID"] and c["Description"] == "orig"
    assert c["Policies"] == t["Policies"]
    assert c["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert c["ExpirationTime"] == t["ExpirationTime"]
    r = acl.put("/v1/acl/token/%s/clone" % t["AccessorID"], raw="",
                headers=H)
    assert (r.status_code, r.text) == (400, "Token decoding failed: EOF")
    r = acl.put("/v1/acl/token/11111111-2222-3333-4444-555555555555/clone",
                body={}, headers=H)
    assert (r.status_code, r.text) == (403, "ACL not found")


def test_delete_rules_anonymous_self_missing_as_consul_code(acl):
    r = acl.delete("/v1/acl/token/00000000-0000-0000-0000-000000000002",
                   headers=H)
    assert (r.status_code, r.text) == (
        500, "Delete operation not permitted on the anonymous token")
    self_id = acl.get("/v1/acl/token/self", headers=H).json()["AccessorID"]
    r = acl.delete("/v1/acl/token/" + self_id, headers=H)
    assert (r.status_code, r.text) == (
        500, "Deletion of the request's authorization token is not permitted")
    r = acl.delete("/v1/acl/token/11111111-2222-3333-4444-555555555555",
                   headers=H)
    assert (r.status_code, r.text) == (200, "true")


def test_read_missing_is_404_and_non_uuid_is_500_as_consul_code(acl):
    r = acl.get("/v1/acl/token/11111111-2222-3333-4444-555555555555",
                headers=H)
    assert (r.status_code, r.text) == (
        404, "Requested token does not exist: ACL not found")
    r = acl.get("/v1/acl/token/abc", headers=H)
    assert (r.status_code, r.text) == (
        500, "failed acl token lookup: index error: UUID must be 36 characters")
    r = acl.get("/v1/acl/token/", headers=H)
    assert (r.status_code, r.text) == (400, "Missing token AccessorID")


def test_expanded_token_lists_policies_roles_and_synthetic(acl):
    p = policy(acl, "expp", 'node_prefix "" { policy = "read" }')
    role = acl.put("/v1/acl/role", body={"Name": "expr", "Policies": [
        {"ID": p["ID"]}]}, headers=H).json()
    t = token(acl, Roles=[{"Name": "expr"}],
              ServiceIdentities=[{"ServiceName": "api"}])
    r = acl.get("/v1/acl/token/%s?expanded" % t["AccessorID"], headers=H)
    x = r.json()
    names = [e["Name"] for e in x["ExpandedPolicies"]]
    assert "expp" in names and any(n.startswith("synthetic-policy-")
                                   for n in names)
    assert [e["ID"] for e in x["ExpandedRoles"]] == [role["ID"]]
    assert x["AgentACLDefaultPolicy"] == "deny"
    assert x["NamespaceDefaultPolicyIDs"] is None


def test_list_filters_one_at_a_time_and_bexpr(acl):
    p = policy(acl, "lf", "")
    a = token(acl, Description="lf-a", Policies=[{"ID": p["ID"]}])
    token(acl, Description="lf-b", ServiceIdentities=[{"ServiceName": "lfs"}])
    r = acl.get("/v1/acl/tokens" + q(policy=p["ID"]), headers=H)
    assert [x["AccessorID"] for x in r.json()] == [a["AccessorID"]]
    r = acl.get("/v1/acl/tokens" + q(servicename="lfs"), headers=H)
    assert [x["Description"] for x in r.json()] == ["lf-b"]
    r = acl.get("/v1/acl/tokens" + q(policy=p["ID"], servicename="x"),
                headers=H)
    assert (r.status_code, r.text) == (500, "can only filter by one of "
                                       "policy, role, serviceName, or "
                                       "methodName at a time")
    r = acl.get("/v1/acl/tokens" + q(filter='Description == "lf-a"'),
                headers=H)
    assert [x["Description"] for x in r.json()] == ["lf-a"]
    ids = [x["AccessorID"] for x in acl.get("/v1/acl/tokens",
                                            headers=H).json()]
    assert ids == sorted(ids)


def test_expiration_window_is_checked_against_create_time(acl):
    # The minimum TTL is 1m, so expiry itself (never resolved, listed,
    # then reaped) is tested in-process: tests/unit/test_acl.c.
    t = token(acl, ExpirationTTL="61s")
    assert t["ExpirationTime"] > t["CreateTime"]
    r = acl.put("/v1/acl/token", body={"ExpirationTime":
                                       "2001-01-01T00:00:00Z"}, headers=H)
    assert (r.status_code, r.text) == (
        500, "ExpirationTime cannot be before CreateTime")


def test_policy_name_rules_and_builtins(acl):
    r = acl.put("/v1/acl/policy", body={"Name": "builtin/x"}, headers=H)
    assert (r.status_code, r.text) == (
        500, "Invalid Policy: invalid Name. Only alphanumeric characters, "
        "'-' and '_' are allowed")
    r = acl.put("/v1/acl/policy", body={"ID": "x", "Name": "y"}, headers=H)
    assert (r.status_code, r.text) == (
        400, "Cannot specify the ID when creating a new policy")
    gm = "00000000-0000-0000-0000-000000000001"
    r = acl.put("/v1/acl/policy/" + gm, body={"Name": "global-management",
                                              "Rules": "acl = \"read\""},
                headers=H)
    assert (r.status_code, r.text) == (
        500, "Changing the Rules for the builtin global-management policy "
        "is not permitted")
    r = acl.get("/v1/acl/policy/name/builtin/global-read-only", headers=H)
    assert r.status_code == 200 and r.json()["ID"].endswith("0002")
    r = acl.get("/v1/acl/policies", headers=H)
    stub = r.json()[0]
    assert "Rules" not in stub and stub["Datacenters"] is None


def test_builtin_read_only_may_keep_its_builtin_name_on_update(acl):
    """acl.md §14 item 20: we let a builtin keep its own name."""
    ro = "00000000-0000-0000-0000-000000000002"
    cur = acl.get("/v1/acl/policy/" + ro, headers=H).json()
    r = acl.put("/v1/acl/policy/" + ro, body={
        "Name": cur["Name"], "Description": "edited", "Rules": cur["Rules"]},
        headers=H)
    assert r.status_code == 200 and r.json()["Description"] == "edited"


def test_policy_datacenters_exclude_it_elsewhere(acl):
    p = acl.put("/v1/acl/policy", body={
        "Name": "otherdc", "Rules": 'service "dcx" { policy = "read" }',
        "Datacenters": ["dc9"]}, headers=H).json()
    t = token(acl, Policies=[{"ID": p["ID"]}])
    r = acl.get("/v1/connect/intentions/check" +
                q(source="a", destination="dcx"),
                headers={"X-Consul-Token": t["SecretID"]})
    assert r.status_code == 403


def test_roles_link_by_name_and_grant_through_tokens(acl):
    policy(acl, "rolep", 'service "rsvc" { policy = "read" }')
    r = acl.put("/v1/acl/role", body={"Name": "r1", "Policies": [
        {"Name": "rolep"}]}, headers=H)
    assert r.status_code == 200, r.text
    role = r.json()
    t = token(acl, Roles=[{"ID": role["ID"]}])
    r = acl.get("/v1/connect/intentions/check" +
                q(source="a", destination="rsvc"),
                headers={"X-Consul-Token": t["SecretID"]})
    assert r.status_code == 200
    r = acl.get("/v1/acl/role/name/r1", headers=H)
    assert r.json()["ID"] == role["ID"]
    r = acl.put("/v1/acl/role", body={"Name": "R1"}, headers=H)
    assert (r.status_code, r.text) == (
        500, 'Invalid Role: A Role with Name "R1" already exists')
    r = acl.put("/v1/acl/role", body={"Name": "r2", "Policies": [
        {"ID": "11111111-2222-3333-4444-555555555555"}]}, headers=H)
    assert (r.status_code, r.text) == (
        500, "Failed to apply role upsert request: No such policy with ID: "
        "11111111-2222-3333-4444-555555555555")
    r = acl.get("/v1/acl/roles" + q(policy=role["Policies"][0]["ID"]),
                headers=H)
    assert [x["Name"] for x in r.json()] == ["r1"]


def test_anonymous_token_may_be_given_policies(acl):
    anon = "00000000-0000-0000-0000-000000000002"
    p = policy(acl, "anonp", 'service "anon" { policy = "read" }')
    r = acl.put("/v1/acl/token/" + anon, body={
        "Policies": [{"ID": p["ID"]}]}, headers=H)
    assert r.status_code == 200 and r.json()["SecretID"] == "anonymous"
    r = acl.get("/v1/connect/intentions/check" +
                q(source="a", destination="anon"))
    assert r.status_code == 200


def test_blocking_token_list_wakes_on_token_write(acl):
    r = acl.get("/v1/acl/tokens", headers=H)
    idx = int(r.headers["X-Consul-Index"])
    out = {}

    def block():
        t0 = time.time()
        out["r"] = acl.get("/v1/acl/tokens" + q(index=idx, wait="10s"),
                           headers=H)
        out["t"] = time.time() - t0
    th = threading.Thread(target=block)
    th.start()
    time.sleep(0.3)
    token(acl, Description="wake")
    th.join(15)
    assert out["t"] < 5 and int(out["r"].headers["X-Consul-Index"]) > idx
    assert any(x["Description"] == "wake" for x in out["r"].json())


def test_blocking_policy_list_wakes_on_policy_write(acl):
    r = acl.get("/v1/acl/policies", headers=H)
    idx = int(r.headers["X-Consul-Index"])
    out = {}

    def block():
        out["r"] = acl.get("/v1/acl/policies" + q(index=idx, wait="10s"),
                           headers=H)
    th = threading.Thread(target=block)
    th.start()
    time.sleep(0.3)
    policy(acl, "wakep", "")
    th.join(15)
    assert any(x["Name"] == "wakep" for x in out["r"].json())


def test_check_needs_service_read_not_intentions_read_as_consul_code(acl):
    """connect.md §6.5: docs say intentions:read; code: service:read."""
    p = policy(acl, "ixnonly",
               'service "cx" { policy = "deny" intentions = "read" }')
    t = token(acl, Policies=[{"ID": p["ID"]}])
    r = acl.get("/v1/connect/intentions/check" +
                q(source="a", destination="cx"),
                headers={"X-Consul-Token": t["SecretID"]})
    assert r.status_code == 403 and "'service:read' on \"cx\"" in r.text


def test_replication_reports_zero_values_in_the_primary(acl):
    r = acl.get("/v1/acl/replication")
    assert r.status_code == 200 and r.json()["Enabled"] is False
    assert "X-Consul-Index" not in r.headers


def test_translate_maps_legacy_words_and_denies_bare(acl):
    r = acl.post("/v1/acl/rules/translate",
                 raw='agent "" { policy = "read" }', headers=H)
    assert r.text == 'agent_prefix "" {\n  policy = "read"\n}'
    r = acl.post("/v1/acl/rules/translate", raw='agent "" {}')
    assert (r.status_code, r.text) == (403, "Permission denied")
    t = acl.get("/v1/acl/token/self", headers=H).json()
    r = acl.get("/v1/acl/rules/translate/" + t["AccessorID"], headers=H)
    assert (r.status_code, r.text) == (
        500, "The specified token does not have any rules set")


def test_namespace_query_is_400_before_authorization(acl):
    r = acl.get("/v1/acl/tokens" + q(ns="default"))
    assert r.status_code == 400 and "Namespaces are a Consul Enterprise" \
        in r.text
