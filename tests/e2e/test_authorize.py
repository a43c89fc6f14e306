"""POST /v1/agent/connect/authorize as modern Consul answers it, plus
the two extensions (trust-domain check, revoked serials).  Table tests:
one line per case."""
import pytest

from conftest import q


def td(server):
    return server.get("/v1/connect/ca/roots").json()["TrustDomain"]


def uri(server, svc, host=None, ns="default", dc="dc1"):
    return "spiffe://%s/ns/%s/dc/%s/svc/%s" % (host or td(server), ns, dc, svc)


def authz(server, target, client_uri, **extra):
    body = {"Target": target, "ClientCertURI": client_uri}
    body.update(extra)
    return server.post("/v1/agent/connect/authorize", body)


@pytest.fixture(scope="module")
def ixns(server):
    def put(src, dst, body):
        r = server.put("/v1/connect/intentions/exact" + q(source=src, destination=dst), body)
        assert r.status_code == 200, r.text
    put("web", "db", {"Action": "allow"})
    put("*", "db", {"Action": "deny"})
    put("web", "*", {"Action": "allow"})
    put("*", "*", {"Action": "deny"})
    put("web", "api", {"Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/v1"}},
                                       {"Action": "deny", "HTTP": {"PathExact": "/admin"}}]})
    r = server.post("/v1/connect/intentions", {"SourceName": "legacy", "DestinationName": "cache",
                                              "Action": "deny"})
    return r.json()["ID"]


CASES = [
    # source, target, authorized, reason
    ("web", "db", True, "Matched L4 intention: default/web => default/db (Precedence: 9, Action: ALLOW)"),
    ("api", "db", False, "Matched L4 intention: default/* => default/db (Precedence: 8, Action: DENY)"),
    # Precedence, not deny-overrides: web->* (6) beats *->* (5) ...
    ("web", "mail", True, "Matched L4 intention: default/web => default/* (Precedence: 6, Action: ALLOW)"),
    # ... and *->db (8) beats web->* (6) for another source.
    ("other", "mail", False, "Matched L4 intention: default/* => default/* (Precedence: 5, Action: DENY)"),
    ("web", "api", False, "Matched L7 intention: default/web => default/api (Precedence: 9, Permissions: 2)"),
]


@pytest.mark.parametrize("src,target,allowed,reason", CASES)
def test_authorize_decision_table(server, ixns, src, target, allowed, reason):
    r = authz(server, target, uri(server, src))
    assert r.status_code == 200, r.text
    assert r.json() == {"Authorized": allowed, "Reason": reason}
    assert list(r.json()) == ["Authorized", "Reason"]
    assert "X-Consul-Index" not in r.headers


def test_legacy_intention_reason_carries_its_id(server, ixns):
    r = authz(server, "cache", uri(server, "legacy"))
    assert r.json() == {"Authorized": False, "Reason": "Matched L4 intention: default/legacy => "
                        "default/cache (ID: %s, Precedence: 9, Action: DENY)" % ixns}


def test_precedence_ties_resolve_by_name_order_in_evaluation_order(server, ixns):
    # Same precedence (9) for two sources to one destination: each source
    # matches only its own; the evaluation order is by name.
    for s in ("tie-b", "tie-a"):
        server.put("/v1/connect/intentions/exact" + q(source=s, destination="tie"),
                   {"Action": "allow" if s == "tie-a" else "deny"})
    m = server.get("/v1/connect/intentions/match" + q(by="destination", name="tie")).json()["tie"]
    assert [x["SourceName"] for x in m][:2] == ["tie-a", "tie-b"]
    assert authz(server, "tie", uri(server, "tie-a")).json()["Authorized"] is True
    assert authz(server, "tie", uri(server, "tie-b")).json()["Authorized"] is False


def test_default_is_acl_default_allow_when_acls_are_off(make_server):
    s = make_server()
    r = authz(s, "db", uri(s, "web"))
    assert r.json() == {"Authorized": True, "Reason": "Default behavior configured by ACLs"}


def test_default_intention_policy_decides_when_set(make_server):
    s = make_server('default_intention_policy = "deny"\n')
    r = authz(s, "db", uri(s, "web"))
    assert r.json() == {"Authorized": False, "Reason": "Default intention policy"}


def test_uri_namespace_other_than_default_falls_to_the_default_in_ce(server, ixns):
    r = authz(server, "db", uri(server, "web", ns="team"))
    assert r.json()["Reason"] in ("Default behavior configured by ACLs", "Default intention policy")


def test_bad_uris_are_400_as_modern_consul_not_200_false_as_1_2(server):
    t = td(server)
    cases = [
        ({"ClientCertURI": uri(server, "web")}, "Target service must be specified"),
        ({"Target": "", "ClientCertURI": uri(server, "web")}, "Target service must be specified"),
        ({"Target": "db"}, "ClientCertURI not a valid Connect identifier"),
        ({"Target": "db", "ClientCertURI": ""}, "ClientCertURI not a valid Connect identifier"),
        ({"Target": "db", "ClientCertURI": "https://example.com/web"},
         "ClientCertURI not a valid Connect identifier"),
        ({"Target": "db", "ClientCertURI": "spiffe://%s/web" % t}, "ClientCertURI not a valid Connect identifier"),
        ({"Target": "db", "ClientCertURI": "spiffe://%s" % t}, "ClientCertURI not a valid Service identifier"),
        ({"Target": "db", "ClientCertURI": "spiffe://%s/agent/client/dc/dc1/id/n1" % t},
         "ClientCertURI not a valid Service identifier"),
        ({"Target": "db", "ClientCertURI": "spiffe://%s/ap/part/ns/default/dc/dc1/svc/web" % t},
         'Mismatched partitions: "part" != "default"'),
        ({"Target": "db", "ClientCertURI": uri(server, "web"), "Namespace": "default"},
         'Request decode failed: json: unknown field "Namespace"'),
    ]
    for body, text in cases:
        r = server.post("/v1/agent/connect/authorize", body)
        assert (r.status_code, r.text) == (400, text), body


def test_non_json_bodies_are_400(server):
    for raw, text in [("", "Request decode failed: EOF"),
                      ("[1]", "Request decode failed: json: cannot unmarshal array into Go value of type "
                              "structs.ConnectAuthorizeRequest"),
                      ("{\"Target\": 5}", "Request decode failed: json: cannot unmarshal number into Go "
                                          "struct field ConnectAuthorizeRequest.Target of type string")]:
        r = server.request("POST", "/v1/agent/connect/authorize", raw=raw)
        assert (r.status_code, r.text) == (400, text)
    r = server.post("/v1/agent/connect/authorize?ns=x", {"Target": "db", "ClientCertURI": uri(server, "web")})
    assert r.status_code == 400


def test_other_trust_domain_is_refused_an_extension_modern_consul_skips(server, ixns):
    r = authz(server, "db", uri(server, "web", host="11111111-2222-3333-4444-555555555555.consul"))
    assert r.status_code == 200
    assert r.json() == {"Authorized": False, "Reason": "Identity from an external trust domain: "
                        "11111111-2222-3333-4444-555555555555.consul"}
    # Case-insensitive host comparison, as SPIFFE trust domains are.
    r = authz(server, "db", uri(server, "web", host=td(server).upper()))
    assert r.json()["Authorized"] is True


def test_revoked_client_serial_is_refused_an_extension(server, ixns):
    leaf = server.get("/v1/agent/connect/ca/leaf/web").json()
    ok = authz(server, "db", leaf["ServiceURI"], ClientCertSerial=leaf["SerialNumber"])
    assert ok.json()["Authorized"] is True
    r = server.put("/v1/connect/ca/revoke", {"SerialNumbers": [leaf["SerialNumber"]]})
    assert r.status_code == 200
    r = authz(server, "db", leaf["ServiceURI"], ClientCertSerial=leaf["SerialNumber"])
    j = r.json()
    assert j["Authorized"] is False
    assert j["Reason"].startswith("Client certificate serial %s was revoked at " % leaf["SerialNumber"])
    # Another serial, or none, is unaffected (Consul ignores the field).
    assert authz(server, "db", leaf["ServiceURI"], ClientCertSerial="04:00:00:00:00:01:15:4b:5a:c3:94") \
        .json()["Authorized"] is True
    assert authz(server, "db", leaf["ServiceURI"]).json()["Authorized"] is True


def test_x_cache_is_miss_once_then_hit(server, ixns):
    seen = [authz(server, "xcache-target", uri(server, "web")).headers["X-Cache"] for _ in range(8)]
    assert seen.count("MISS") <= 2 and "HIT" in seen   # one MISS per worker at most


def test_authorize_needs_service_write_on_target(make_server):
    s = make_server('acl {\n  enabled = true\n  default_policy = "deny"\n}\n')
    r = authz(s, "db", uri(s, "web"))
    assert r.status_code == 403 and r.text.startswith("Permission denied")
