"""Connect intentions end to end through nginx: every endpoint, field and
error path of spec connect.md §6 (Consul CE 1.9+ behaviour)."""
import json
import re
import uuid

import pytest

from conftest import acl_on, q

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


@pytest.fixture(autouse=True)
def clean(server):
    """Each test starts with no intentions."""
    for ixn in server.get("/v1/connect/intentions").json():
        server.delete("/v1/connect/intentions/exact" + q(
            source=ixn["SourceName"], destination=ixn["DestinationName"]))
    yield


def put_exact(server, src, dst, body):
    return server.put("/v1/connect/intentions/exact" + q(source=src, destination=dst), body)


def test_list_is_an_empty_array_with_consul_headers(server):
    r = server.get("/v1/connect/intentions")
    assert r.status_code == 200
    assert r.json() == []
    assert r.headers["Content-Type"] == "application/json"
    assert int(r.headers["X-Consul-Index"]) >= 1
    assert r.headers["X-Consul-KnownLeader"] == "true"
    assert r.headers["X-Consul-LastContact"] == "0"
    assert r.headers["X-Consul-Default-ACL-Policy"] == "allow"
    assert r.headers["X-Consul-Query-Backend"] == "blocking-query"


def test_legacy_create_returns_id_and_read_by_id_shows_all_fields(server):
    r = server.post("/v1/connect/intentions", {
        "SourceName": "web", "DestinationName": "db", "Action": "allow",
        "Description": "web may talk to db", "Meta": {"b": "2", "a": "1"}})
    assert r.status_code == 200, r.text
    ixn_id = r.json()["ID"]
    assert UUID_RE.match(ixn_id)
    r = server.get("/v1/connect/intentions/" + ixn_id)
    assert r.status_code == 200
    x = r.json()
    assert x["ID"] == ixn_id
    assert x["SourceNS"] == "default" and x["DestinationNS"] == "default"
    assert x["SourceName"] == "web" and x["DestinationName"] == "db"
    assert x["SourceType"] == "consul"
    assert x["Action"] == "allow"
    assert x["Description"] == "web may talk to db"
    assert x["Meta"] == {"a": "1", "b": "2"}
    assert list(x["Meta"]) == ["a", "b"], "Go renders map keys sorted"
    assert x["Precedence"] == 9
    assert TIME_RE.match(x["CreatedAt"]) and x["CreatedAt"] == x["UpdatedAt"]
    assert x["CreateIndex"] == x["ModifyIndex"] > 0
    assert "Permissions" not in x


def test_exact_put_creates_intention_without_id_or_timestamps(server):
    r = put_exact(server, "web", "api", {"Action": "deny", "Description": "no"})
    assert r.status_code == 200 and r.json() is True
    x = server.get("/v1/connect/intentions/exact" + q(source="web", destination="api")).json()
    assert "ID" not in x and "CreatedAt" not in x and "UpdatedAt" not in x
    assert "Meta" not in x, "empty Meta is omitted (modern Consul, not the pre-1.9 docs)"
    assert x["Action"] == "deny" and x["Description"] == "no"


def test_precedence_numbers_for_every_ce_wildcard_shape(server):
    for src, dst, prec in [("web", "db", 9), ("*", "db", 8), ("web", "*", 6), ("*", "*", 5)]:
        assert put_exact(server, src, dst, {"Action": "allow"}).status_code == 200
        x = server.get("/v1/connect/intentions/exact" + q(source=src, destination=dst)).json()
        assert x["Precedence"] == prec, (src, dst)


def test_client_supplied_precedence_is_ignored(server):
    put_exact(server, "a", "b", {"Action": "allow", "Precedence": 1})
    x = server.get("/v1/connect/intentions/exact" + q(source="a", destination="b")).json()
    assert x["Precedence"] == 9


def test_list_is_in_evaluation_order(server):
    for src, dst in [("*", "*"), ("web", "*"), ("*", "db"), ("b", "db"), ("a", "db")]:
        put_exact(server, src, dst, {"Action": "allow"})
    got = [(x["SourceName"], x["DestinationName"], x["Precedence"])
           for x in server.get("/v1/connect/intentions").json()]
    assert got == [("a", "db", 9), ("b", "db", 9), ("*", "db", 8), ("web", "*", 6), ("*", "*", 5)]


def test_intentions_to_one_destination_share_the_config_entry_indexes(server):
    put_exact(server, "a", "db", {"Action": "allow"})
    first = server.get("/v1/connect/intentions/exact" + q(source="a", destination="db")).json()
    put_exact(server, "b", "db", {"Action": "deny"})
    a = server.get("/v1/connect/intentions/exact" + q(source="a", destination="db")).json()
    b = server.get("/v1/connect/intentions/exact" + q(source="b", destination="db")).json()
    assert a["ModifyIndex"] == b["ModifyIndex"] > first["ModifyIndex"]
    assert a["CreateIndex"] == first["CreateIndex"] == b["CreateIndex"]


def test_exact_put_strips_legacy_ids_of_the_destination(server):
    r = server.post("/v1/connect/intentions", {"SourceName": "web", "DestinationName": "db", "Action": "allow"})
    ixn_id = r.json()["ID"]
    assert put_exact(server, "api", "db", {"Action": "allow"}).status_code == 200
    assert server.get("/v1/connect/intentions/" + ixn_id).status_code == 404
    x = server.get("/v1/connect/intentions/exact" + q(source="web", destination="db")).json()
    assert "ID" not in x


def test_exact_put_rejects_when_legacy_meta_would_be_lost(server):
    server.post("/v1/connect/intentions", {"SourceName": "web", "DestinationName": "db",
                                           "Action": "allow", "Meta": {"k": "v"}})
    r = put_exact(server, "api", "db", {"Action": "allow"})
    assert r.status_code == 500
    assert re.match(r"Sources\[\d+\]\.LegacyMeta must be omitted", r.text)


def test_legacy_create_after_exact_put_is_refused(server):
    put_exact(server, "web", "db", {"Action": "allow"})
    r = server.post("/v1/connect/intentions", {"SourceName": "api", "DestinationName": "db", "Action": "allow"})
    assert r.status_code == 500
    assert r.text == ('cannot use legacy intention API to edit intentions with a destination of "db" '
                      'after editing them via a service-intentions config entry')


def test_legacy_create_duplicate_is_500(server):
    body = {"SourceName": "web", "DestinationName": "db", "Action": "allow"}
    assert server.post("/v1/connect/intentions", body).status_code == 200
    r = server.post("/v1/connect/intentions", body)
    assert r.status_code == 500
    assert r.text == 'Sources[1] defines "web" more than once'


def test_legacy_validation_errors_are_a_multierror_500(server):
    r = server.post("/v1/connect/intentions", {"SourceName": "we*b", "DestinationName": "", "Action": "maybe"})
    assert r.status_code == 500
    assert r.text == ("3 errors occurred:\n"
                      "\t* DestinationName must be set\n"
                      "\t* SourceName: wildcard character '*' cannot be used with partial values\n"
                      "\t* Action must be set to 'allow' or 'deny'\n\n")
    r = server.post("/v1/connect/intentions", {"SourceName": "a", "DestinationName": "b", "Action": "ALLOW"})
    assert r.text == "1 error occurred:\n\t* Action must be set to 'allow' or 'deny'\n\n"


def test_legacy_validation_limits(server):
    base = {"SourceName": "a", "DestinationName": "b", "Action": "allow"}
    r = server.post("/v1/connect/intentions", dict(base, Description="x" * 513))
    assert "Description exceeds maximum length 512" in r.text and r.status_code == 500
    r = server.post("/v1/connect/intentions", dict(base, Meta={str(i): "v" for i in range(65)}))
    assert "Meta exceeds maximum element count 64" in r.text
    r = server.post("/v1/connect/intentions", dict(base, Meta={"k" * 129: "v"}))
    assert 'exceeds maximum length 128' in r.text
    r = server.post("/v1/connect/intentions", dict(base, Meta={"k": "v" * 513}))
    assert 'Meta value for key "k" exceeds maximum length 512' in r.text
    r = server.post("/v1/connect/intentions", dict(base, Permissions=[{"Action": "allow", "HTTP": {"PathExact": "/"}}]))
    assert "Permissions must not be set when using the legacy APIs" in r.text
    r = server.post("/v1/connect/intentions", dict(base, SourceType="aws"))
    assert "SourceType must be set to 'consul'" in r.text
    r = server.post("/v1/connect/intentions", dict(base, ID=str(uuid.uuid4())))
    assert r.status_code == 500 and r.text == "ID must be empty when creating a new intention"
    assert server.get("/v1/connect/intentions").json() == [], "no half-written rows"


def test_legacy_namespace_and_partition_fields_are_enterprise_only(server):
    base = {"SourceName": "a", "DestinationName": "b", "Action": "allow"}
    r = server.post("/v1/connect/intentions", dict(base, SourceNS="team"))
    assert r.status_code == 400
    assert r.text == "Invalid SourceNS(team): Namespaces is a Consul Enterprise feature"
    r = server.post("/v1/connect/intentions", dict(base, DestinationPartition="p"))
    assert r.status_code == 400 and r.text == "Cannot specify a destination partition with this endpoint"
    assert server.post("/v1/connect/intentions", dict(base, SourceNS="Default")).status_code == 200


def test_legacy_create_body_errors_are_500_failed_to_decode(server):
    r = server.post("/v1/connect/intentions", raw="{not json")
    assert r.status_code == 500 and r.text.startswith("Failed to decode request body: ")
    r = server.post("/v1/connect/intentions", {"SourceName": "a", "Bogus": 1})
    assert r.text == 'Failed to decode request body: json: unknown field "Bogus"'
    r = server.post("/v1/connect/intentions", raw="")
    assert r.text == "Failed to decode request body: EOF"
    r = server.post("/v1/connect/intentions", raw="[1]")
    assert r.text == ("Failed to decode request body: json: cannot unmarshal array "
                      "into Go value of type structs.Intention")
    r = server.post("/v1/connect/intentions", {"SourceName": 5})
    assert r.text == ("Failed to decode request body: json: cannot unmarshal number "
                      "into Go struct field Intention.SourceName of type string")


def test_body_keys_are_case_insensitive(server):
    r = server.post("/v1/connect/intentions", {"sourcename": "a", "DESTINATIONNAME": "b", "action": "deny"})
    assert r.status_code == 200, r.text
    x = server.get("/v1/connect/intentions/exact" + q(source="a", destination="b")).json()
    assert x["Action"] == "deny"


def test_legacy_update_keeps_created_at_and_may_change_source(server):
    ixn_id = server.post("/v1/connect/intentions", {"SourceName": "web", "DestinationName": "db",
                                                    "Action": "allow"}).json()["ID"]
    before = server.get("/v1/connect/intentions/" + ixn_id).json()
    r = server.put("/v1/connect/intentions/" + ixn_id, {"SourceName": "api", "DestinationName": "db",
                                                         "Action": "deny", "Description": "changed"})
    assert r.status_code == 200 and r.json() == {"ID": ixn_id}
    after = server.get("/v1/connect/intentions/" + ixn_id).json()
    assert after["SourceName"] == "api" and after["Action"] == "deny"
    assert after["CreatedAt"] == before["CreatedAt"]
    assert after["UpdatedAt"] >= before["UpdatedAt"]
    assert after["ModifyIndex"] > before["ModifyIndex"]
    assert server.get("/v1/connect/intentions/exact" + q(source="web", destination="db")).status_code == 404


def test_legacy_update_errors(server):
    missing = str(uuid.uuid4())
    r = server.put("/v1/connect/intentions/" + missing, {"SourceName": "a", "DestinationName": "b", "Action": "allow"})
    assert r.status_code == 500 and r.text == "Cannot modify non-existent intention: '%s'" % missing
    ixn_id = server.post("/v1/connect/intentions", {"SourceName": "a", "DestinationName": "b",
                                                    "Action": "allow"}).json()["ID"]
    r = server.put("/v1/connect/intentions/" + ixn_id, {"SourceName": "a", "DestinationName": "c", "Action": "allow"})
    assert r.status_code == 500
    assert r.text == "Cannot modify Destination partition/namespace/name for an intention once it exists."
    r = server.put("/v1/connect/intentions/" + ixn_id, raw="nope")
    assert r.status_code == 400 and r.text.startswith("Request decode failed: ")


def test_legacy_delete_then_delete_again(server):
    ixn_id = server.post("/v1/connect/intentions", {"SourceName": "a", "DestinationName": "b",
                                                    "Action": "allow"}).json()["ID"]
    r = server.delete("/v1/connect/intentions/" + ixn_id)
    assert r.status_code == 200 and r.json() is True
    r = server.delete("/v1/connect/intentions/" + ixn_id)
    assert r.status_code == 500 and r.text == "Cannot delete non-existent intention: '%s'" % ixn_id


def test_read_by_id_errors(server):
    r = server.get("/v1/connect/intentions/not-a-uuid")
    assert r.status_code == 400 and "UUID" in r.text
    assert r.text == "failed config entry lookup: UUID must be 36 characters"
    r = server.get("/v1/connect/intentions/" + str(uuid.uuid4()))
    assert r.status_code == 404 and r.text == "Intention not found"


def test_exact_errors(server):
    r = server.get("/v1/connect/intentions/exact" + q(source="web"))
    assert r.status_code == 500 and r.text == "required query parameter 'destination' not set"
    r = server.get("/v1/connect/intentions/exact" + q(destination="web"))
    assert r.text == "required query parameter 'source' not set"
    r = server.get("/v1/connect/intentions/exact" + q(source="x", destination="y"))
    assert r.status_code == 404 and r.text == "Intention not found"
    r = server.get("/v1/connect/intentions/exact" + q(source="a/b/c/d", destination="y"))
    assert r.status_code == 500 and "at most two '/'" in r.text
    r = server.get("/v1/connect/intentions/exact" + q(source="team/web", destination="y"))
    assert r.status_code == 500 and "Namespaces is a Consul Enterprise feature" in r.text
    r = server.get("/v1/connect/intentions/exact" + q(source="default/web", destination="y"))
    assert r.status_code == 404


def test_exact_put_error_names_the_source_by_its_place_in_the_entry(server):
    # Sources sort by precedence (exact 9 before wildcard 8), then name;
    # counted in the intention_order index (sql/007).
    for src in ("api", "web", "*"):
        assert put_exact(server, src, "db", {"Action": "allow"}).status_code == 200
    bad = {"Action": "maybe"}
    for src, place in (("aaa", 0), ("cache", 1), ("web", 1), ("zed", 2), ("*", 2)):
        r = put_exact(server, src, "db", bad)
        assert r.status_code == 500
        assert r.text == "Sources[%d].Action must be set to 'allow' or 'deny'" % place, src
    r = put_exact(server, "zed", "other", bad)
    assert r.text == "Sources[0].Action must be set to 'allow' or 'deny'"


def test_exact_put_validation(server):
    r = put_exact(server, "web", "db", {"Action": "maybe"})
    assert r.status_code == 500 and r.text == "Sources[0].Action must be set to 'allow' or 'deny'"
    r = put_exact(server, "web", "db", {})
    assert r.text == "Sources[0].Action must be set to 'allow' or 'deny'"
    r = put_exact(server, "we*", "db", {"Action": "allow"})
    assert r.text == "Sources[0].Name: wildcard character '*' cannot be used with partial values"
    r = put_exact(server, "web", "d*", {"Action": "allow"})
    assert r.text == "Name: wildcard character '*' cannot be used with partial values"
    r = put_exact(server, "web", "db", {"Action": "allow", "Meta": {"a": "b"}})
    assert r.status_code == 500 and r.text == "Meta must not be specified"
    r = put_exact(server, "web", "db", {"Action": "allow", "SourcePeer": "p"})
    assert r.text == "SourcePeer field is not supported on this endpoint. Use config entries instead"
    r = put_exact(server, "web", "db", {"Action": "allow", "Description": "d" * 513})
    assert r.text == "Sources[0].Description exceeds maximum length 512"
    r = server.put("/v1/connect/intentions/exact" + q(source="web", destination="db"), raw="")
    assert r.status_code == 400 and r.text == "Request decode failed: EOF"
    r = server.put("/v1/connect/intentions/exact" + q(source="web"), {"Action": "allow"})
    assert r.status_code == 500 and r.text == "required query parameter 'destination' not set"
    assert server.get("/v1/connect/intentions").json() == []


def test_exact_put_meta_on_existing_entry_must_be_unchanged(server):
    put_exact(server, "web", "db", {"Action": "allow"})
    r = put_exact(server, "api", "db", {"Action": "allow", "Meta": {"a": "b"}})
    assert r.status_code == 500
    assert r.text == "Meta must not be specified, or should be unchanged during an update."


L7 = [{"Action": "allow", "HTTP": {"PathPrefix": "/api", "Methods": ["get", "POST"]}},
      {"Action": "deny", "HTTP": {"Header": [{"Name": "x-debug", "Present": True}]}}]


def test_l7_permissions_are_stored_returned_and_deny_in_check(server):
    assert put_exact(server, "web", "api", {"Permissions": L7}).status_code == 200
    x = server.get("/v1/connect/intentions/exact" + q(source="web", destination="api")).json()
    assert x["Permissions"] == L7
    assert "Action" not in x
    r = server.get("/v1/connect/intentions/check" + q(source="web", destination="api"))
    assert r.json() == {"Allowed": False}


@pytest.mark.parametrize("perms,dst,msg", [
    ([{"Action": "allow", "HTTP": {"PathExact": "api"}}], "api",
     "Sources[0].Permissions[0].HTTP.PathExact doesn't start with '/': \"api\""),
    ([{"Action": "allow", "HTTP": {"PathExact": "/a", "PathPrefix": "/b"}}], "api",
     "Sources[0].Permissions[0].HTTP should only contain at most one of PathExact, PathPrefix, or PathRegex"),
    ([{"Action": "allow", "HTTP": {}}], "api", "Sources[0].Permissions[0].HTTP should not be empty"),
    ([{"Action": "allow"}], "api", "Sources[0].Permissions[0].HTTP is required"),
    ([{"Action": "maybe", "HTTP": {"PathExact": "/"}}], "api",
     "Sources[0].Permissions[0].Action must be set to 'allow' or 'deny'"),
    ([{"Action": "allow", "HTTP": {"Methods": ["FETCH"]}}], "api",
     "Sources[0].Permissions[0].HTTP.Methods contains an invalid method \"FETCH\""),
    ([{"Action": "allow", "HTTP": {"Methods": ["GET", "get"]}}], "api",
     "Sources[0].Permissions[0].HTTP.Methods contains \"GET\" more than once"),
    ([{"Action": "allow", "HTTP": {"Header": [{"Exact": "x"}]}}], "api",
     "Sources[0].Permissions[0].HTTP.Header[0] missing required Name field"),
    ([{"Action": "allow", "HTTP": {"Header": [{"Name": "h", "Exact": "x", "Prefix": "y"}]}}], "api",
     "Sources[0].Permissions[0].HTTP.Header[0] should only contain one of Present, Exact, Prefix, Suffix, Contains, or Regex"),
    ([{"Action": "allow", "HTTP": {"Header": [{"Name": "h", "IgnoreCase": True}]}}], "api",
     "Sources[0].Permissions[0].HTTP.Header[0] should set one of Exact, Prefix, Suffix, or Contains when using IgnoreCase"),
    ([{"Action": "allow", "HTTP": {"PathExact": "/"}}], "*",
     "Sources[0].Permissions cannot be specified on intentions with wildcarded destinations"),
])
def test_l7_permission_validation(server, perms, dst, msg):
    r = put_exact(server, "web", dst, {"Permissions": perms})
    assert r.status_code == 500
    assert r.text == msg


def test_l7_with_action_is_rejected(server):
    r = put_exact(server, "web", "api", {"Action": "allow", "Permissions": L7})
    assert r.text == "Sources[0].Action must be omitted if Permissions are specified"


def test_exact_delete_is_idempotent_and_removes_the_entry(server):
    put_exact(server, "web", "db", {"Action": "allow"})
    for _ in range(2):
        r = server.delete("/v1/connect/intentions/exact" + q(source="web", destination="db"))
        assert r.status_code == 200 and r.json() is True
    assert server.get("/v1/connect/intentions").json() == []


@pytest.mark.parametrize("intentions,src,dst,allowed", [
    ([], "web", "db", True),
    ([("web", "db", "deny")], "web", "db", False),
    ([("web", "db", "allow")], "web", "db", True),
    ([("*", "db", "deny"), ("web", "db", "allow")], "web", "db", True),
    ([("*", "db", "deny"), ("web", "db", "allow")], "api", "db", False),
    ([("web", "*", "deny"), ("*", "db", "allow")], "web", "db", True),
    ([("*", "*", "deny")], "x", "y", False),
    ([("*", "*", "deny"), ("x", "*", "allow")], "x", "y", True),
])
def test_check_follows_precedence_first_match_wins(server, intentions, src, dst, allowed):
    for s, d, a in intentions:
        put_exact(server, s, d, {"Action": a})
    r = server.get("/v1/connect/intentions/check" + q(source=src, destination=dst))
    assert r.status_code == 200 and r.json() == {"Allowed": allowed}


def test_check_errors(server):
    r = server.get("/v1/connect/intentions/check" + q(source="a"))
    assert r.status_code == 500 and r.text == "required query parameter 'destination' not set"
    r = server.get("/v1/connect/intentions/check" + q(**{"source": "a", "destination": "b", "source-type": "aws"}))
    assert r.status_code == 500 and r.text == 'unsupported SourceType: "aws"'


def test_check_default_follows_acl_default_policy_deny(make_server):
    # Even the management token gets the default decision (connect §6.6).
    mgmt = "5b0c7f3e-8d6a-4f1e-9c2b-3a4d5e6f7a8b"
    s = make_server(acl_on(mgmt))
    r = s.get("/v1/connect/intentions/check" + q(source="a", destination="b"),
              headers={"X-Consul-Token": mgmt})
    assert r.json() == {"Allowed": False}
    assert r.headers["X-Consul-Default-ACL-Policy"] == "deny"


def test_check_default_intention_policy_option_wins(make_server):
    s = make_server('default_intention_policy = "deny"\n')
    r = s.get("/v1/connect/intentions/check" + q(source="a", destination="b"))
    assert r.json() == {"Allowed": False}


def test_match_by_destination_and_source_in_order(server):
    for s, d, a in [("web", "db", "allow"), ("*", "db", "deny"), ("web", "*", "allow"), ("api", "cache", "allow")]:
        put_exact(server, s, d, {"Action": a})
    r = server.get("/v1/connect/intentions/match?by=destination&name=db&name=nothing")
    assert r.status_code == 200
    m = r.json()
    assert [(x["SourceName"], x["DestinationName"]) for x in m["db"]] == [("web", "db"), ("*", "db"), ("web", "*")]
    assert [(x["SourceName"], x["DestinationName"]) for x in m["nothing"]] == [("web", "*")]
    assert r.headers["X-Consul-Effective-Consistency"] == "leader"
    r = server.get("/v1/connect/intentions/match?by=source&name=web&name=zzz")
    m = r.json()
    assert [(x["SourceName"], x["DestinationName"]) for x in m["web"]] == [("web", "db"), ("*", "db"), ("web", "*")]
    assert [(x["SourceName"], x["DestinationName"]) for x in m["zzz"]] == [("*", "db")]


def test_match_with_no_match_is_null(server):
    put_exact(server, "web", "db", {"Action": "allow"})
    m = server.get("/v1/connect/intentions/match?by=destination&name=other").json()
    assert m == {"other": None}


def test_match_errors(server):
    r = server.get("/v1/connect/intentions/match?name=a")
    assert r.status_code == 500 and r.text == "required query parameter 'by' not set"
    r = server.get("/v1/connect/intentions/match?by=both&name=a")
    assert r.text == "'by' parameter must be one of 'source' or 'destination'"
    r = server.get("/v1/connect/intentions/match?by=source")
    assert r.text == "required query parameter 'name' not set"


def test_list_filter_expressions(server):
    server.post("/v1/connect/intentions", {"SourceName": "web", "DestinationName": "db", "Action": "allow",
                                           "Meta": {"env": "prod"}})
    server.post("/v1/connect/intentions", {"SourceName": "api", "DestinationName": "db", "Action": "deny"})
    put_exact(server, "*", "cache", {"Action": "deny"})

    def names(expr):
        r = server.get("/v1/connect/intentions", params={"filter": expr})
        assert r.status_code == 200, r.text
        return sorted(x["SourceName"] + ">" + x["DestinationName"] for x in r.json())

    assert names('SourceName == "web"') == ["web>db"]
    assert names('Action != "deny"') == ["web>db"]
    assert names('Meta.env == "prod"') == ["web>db"]
    assert names('"env" in Meta') == ["web>db"]
    assert names('Meta is empty') == ["*>cache", "api>db"]
    assert names('Precedence == 8') == ["*>cache"]
    assert names('DestinationName == "db" and (SourceName == "api" or SourceName == "web")') == ["api>db", "web>db"]
    assert names('not (DestinationName == "db")') == ["*>cache"]
    assert names('SourceName matches "^a"') == ["api>db"]
    assert names('"eb" in SourceName') == ["web>db"]
    assert names('SourceName not matches "^a"') == ["*>cache", "web>db"]


def test_list_bad_filter_is_500(server):
    r = server.get("/v1/connect/intentions", params={"filter": 'SourceName =='})
    assert r.status_code == 500 and r.text
    r = server.get("/v1/connect/intentions", params={"filter": 'Bogus == "x"'})
    assert r.status_code == 500 and "Bogus" in r.text


def test_namespace_and_partition_query_parameters_are_rejected(server):
    r = server.get("/v1/connect/intentions?ns=team")
    assert r.status_code == 400
    assert r.text == 'Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature'
    r = server.get("/v1/connect/intentions", headers={"X-Consul-Namespace": "team"})
    assert r.status_code == 400
    assert r.text == 'Invalid header: "X-Consul-Namespace" - Namespaces are a Consul Enterprise feature'
    r = server.get("/v1/connect/intentions/check?source=a&destination=b&partition=x")
    assert r.status_code == 400
    assert r.text == 'Invalid query parameter: "partition" - Partitions are a Consul Enterprise feature'


def test_other_datacenter_has_no_path(server):
    r = server.get("/v1/connect/intentions?dc=dc9")
    assert r.status_code == 500 and r.text == "No path to datacenter"
    assert server.get("/v1/connect/intentions?dc=dc1").status_code == 200


def test_unknown_path_is_404_and_wrong_method_405(server):
    r = server.get("/v1/connect/nothing")
    assert r.status_code == 404
    assert r.text == "Invalid URL path: not a recognized HTTP API endpoint\n"
    r = server.request("PATCH", "/v1/connect/intentions")
    assert r.status_code == 405 and r.text == "method PATCH not allowed"
    assert r.headers["Allow"] == "OPTIONS,GET,POST"
    r = server.delete("/v1/connect/intentions/check")
    assert r.status_code == 405 and r.headers["Allow"] == "OPTIONS,GET"
    r = server.request("OPTIONS", "/v1/connect/intentions/exact")
    assert r.status_code == 200 and r.text == ""
    assert r.headers["Allow"] == "OPTIONS,GET,PUT,DELETE"


def test_bad_index_and_wait_are_400(server):
    r = server.get("/v1/connect/intentions?index=abc")
    assert r.status_code == 400 and r.text == "Invalid index"
    r = server.get("/v1/connect/intentions?index=1&wait=soon")
    assert r.status_code == 400 and r.text == "Invalid wait time"
    r = server.get("/v1/connect/intentions?stale&consistent")
    assert r.status_code == 400


def test_body_over_limit_is_413_and_writes_nothing(server):
    big = {"SourceName": "a", "DestinationName": "b", "Action": "allow", "Description": "x" * (2 << 20)}
    r = server.post("/v1/connect/intentions", big)
    assert r.status_code == 413
    r = server.post("/v1/connect/intentions", raw="{" + " " * (1 << 20) + "}")
    assert r.status_code == 413 and "too large" in r.text
    assert server.get("/v1/connect/intentions").json() == []


def test_pretty_output_is_indented_with_four_spaces(server):
    put_exact(server, "web", "db", {"Action": "allow"})
    r = server.get("/v1/connect/intentions/exact?source=web&destination=db&pretty")
    assert r.text.startswith('{\n    "SourceNS"') and r.text.endswith("}\n")
    assert json.loads(r.text)["SourceName"] == "web"


def test_go_escapes_html_characters_in_strings(server):
    put_exact(server, "web", "db", {"Action": "allow", "Description": "<a&b>"})
    r = server.get("/v1/connect/intentions/exact?source=web&destination=db")
    assert "\\u003ca\\u0026b\\u003e" in r.text
    assert r.json()["Description"] == "<a&b>"


@pytest.mark.parametrize("raw", ["{", "[]", "null", '{"Action": ["x"]}', '{"Permissions": {}}',
                                 '"\\ud800"', "\x00\x01\x02", '{"Meta": {"a": {"b": 1}}}',
                                 '{"Permissions": [{"HTTP": {"Header": [1]}}]}'])
def test_malformed_bodies_get_4xx_or_5xx_never_a_crash(server, raw):
    r = server.put("/v1/connect/intentions/exact?source=a&destination=b", raw=raw)
    assert r.status_code in (400, 500), r.text
    assert r.text
    assert server.get("/v1/connect/intentions").status_code == 200
