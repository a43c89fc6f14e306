"""Login and logout end to end (acl.md §8): kubernetes (fake TokenReview
server over TLS), jwt with static PEM keys, a JWKS URL and OIDC
discovery (fake provider); binding rules into service and node
identities, roles and policies; MaxTokenTTL and TokenLocality; logout;
the failed-login rate limit and the audit log (beyond Consul)."""
import datetime
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authfakes import (H, Fake, acl_hcl, common, idp, k8s, k8s_method,  # noqa: F401 (idp, k8s: fixtures)
                       login, login_from, ok, put_method, put_rule)
from conftest import Server


@pytest.fixture(scope="module")
def s():
    srv = Server(acl_hcl())
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def keys():
    return {"rsa": rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048),
            "ec": ec.generate_private_key(ec.SECP256R1()),
            "other": rsa.generate_private_key(public_exponent=65537,
                                              key_size=2048)}


def claims(**kw):
    now = int(time.time())
    c = {"iss": "https://issuer.example", "aud": "portcullis", "sub": "u1",
         "iat": now, "nbf": now - 5, "exp": now + 300, "team": "Payments",
         "groups": ["admins", "dev"]}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


@pytest.fixture(scope="module")
def jwt_static(s, keys):
    ok(put_method(s, {"Name": "jwt-static", "Type": "jwt", "Config": {
        "JWTValidationPubKeys": [common.pub_pem(keys["rsa"]),
                                 common.pub_pem(keys["ec"])],
        "JWTSupportedAlgs": ["RS256", "ES256"],
        "BoundIssuer": "https://issuer.example",
        "BoundAudiences": ["portcullis"],
        "ClaimMappings": {"team": "team", "sub": "user"},
        "ListClaimMappings": {"groups": "groups"}}}))
    ok(put_rule(s, AuthMethod="jwt-static", BindType="service",
                BindName="${value.team}-${value.user}",
                Selector='"admins" in list.groups'))
    return "jwt-static"


# ------------------------------------------------------------------
# kubernetes

def test_kubernetes_login_binds_a_service_identity_from_the_sa_name(s, k8s):
    k8s_method(s, k8s, name="k8s")
    ok(put_rule(s, AuthMethod="k8s", BindType="service",
                BindName="${serviceaccount.name}",
                Selector="serviceaccount.namespace==default"))
    t = ok(login(s, "k8s", k8s.info["tokens"]["valid"]))
    assert t["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert t["AuthMethod"] == "k8s" and t["Local"] is True
    assert t["Description"] == "token created via login"
    assert "ExpirationTime" not in t
    me = ok(s.get("/v1/acl/token/self",
                  headers={"X-Consul-Token": t["SecretID"]}))
    assert me["AccessorID"] == t["AccessorID"]
    # The synthetic policy works: web may write itself.
    r = s.post("/v1/internal/acl/authorize", body=[
        {"Resource": "service", "Segment": "web", "Access": "write"}],
        headers={"X-Consul-Token": t["SecretID"]})
    if r.status_code == 200:
        assert r.json()[0]["Allow"] is True


def test_kubernetes_annotation_overrides_and_interpolation_lowercases(s,
                                                                       k8s):
    k8s_method(s, k8s, name="k8s-ann")
    ok(put_rule(s, AuthMethod="k8s-ann", BindType="service",
                BindName="k8s-${ serviceaccount.name }"))
    t = ok(login(s, "k8s-ann", k8s.info["tokens"]["annotated"]))
    assert t["ServiceIdentities"] == [{"ServiceName": "k8s-override-svc"}]


@pytest.mark.parametrize("which,text", [
    ("rejected", "lookup failed: service account jwt not valid"),
    ("error", "lookup failed: token has expired"),
    ("notsa", "lookup failed: unexpected username format"),
])
def test_kubernetes_login_rejected_by_token_review_is_500(s, k8s, which,
                                                          text):
    k8s_method(s, k8s, name="k8s-rej")
    ok(put_rule(s, AuthMethod="k8s-rej", BindType="service",
                BindName="x"))
    r = login(s, "k8s-rej", k8s.info["tokens"][which])
    assert r.status_code == 500
    assert r.text.startswith(text.split(":")[0]), r.text
    assert k8s.info["tokens"][which] not in r.text


def test_kubernetes_login_with_a_non_jwt_bearer_is_500(s, k8s):
    k8s_method(s, k8s, name="k8s-garbage")
    r = login(s, "k8s-garbage", "not-a-jwt")
    assert r.status_code == 500 and "not-a-jwt" not in r.text


def test_login_meta_goes_into_the_description_sorted(s, k8s):
    k8s_method(s, k8s, name="k8s-meta")
    ok(put_rule(s, AuthMethod="k8s-meta", BindType="service", BindName="m"))
    t = ok(login(s, "k8s-meta", k8s.info["tokens"]["valid"],
                 meta={"pod": "web-1", "a": "<b>"}))
    assert t["Description"] == ('token created via login: '
                                '{"a":"\\u003cb\\u003e","pod":"web-1"}')


def test_login_node_role_and_policy_bindings(s, k8s):
    k8s_method(s, k8s, name="k8s-all")
    pol = ok(s.put("/v1/acl/policy", body={"Name": "login-pol"}, headers=H))
    role = ok(s.put("/v1/acl/role", body={"Name": "login-role"}, headers=H))
    for bt, bn in [("node", "node-${serviceaccount.name}"),
                   ("role", "login-role"), ("policy", "login-pol"),
                   ("role", "no-such-role"), ("policy", "no-such-policy"),
                   ("service", "web"), ("service", "web")]:
        ok(put_rule(s, AuthMethod="k8s-all", BindType=bt, BindName=bn))
    t = ok(login(s, "k8s-all", k8s.info["tokens"]["valid"]))
    assert t["NodeIdentities"] == [{"NodeName": "node-web",
                                    "Datacenter": "dc1"}]
    assert t["Roles"] == [{"ID": role["ID"], "Name": "login-role"}]
    assert t["Policies"] == [{"ID": pol["ID"], "Name": "login-pol"}]
    assert t["ServiceIdentities"] == [{"ServiceName": "web"}]


def test_login_that_binds_nothing_is_403_permission_denied(s, k8s):
    k8s_method(s, k8s, name="k8s-none")
    ok(put_rule(s, AuthMethod="k8s-none", BindType="service", BindName="x",
                Selector='serviceaccount.namespace=="kube-system"'))
    ok(put_rule(s, AuthMethod="k8s-none", BindType="role",
                BindName="missing-role"))
    r = login(s, "k8s-none", k8s.info["tokens"]["valid"])
    assert (r.status_code, r.text) == (403, "Permission denied")


def test_login_without_rules_is_403(s, k8s):
    k8s_method(s, k8s, name="k8s-norules")
    r = login(s, "k8s-norules", k8s.info["tokens"]["valid"])
    assert (r.status_code, r.text) == (403, "Permission denied")


def test_login_with_an_invalid_computed_bind_name_is_500(s, k8s):
    k8s_method(s, k8s, name="k8s-badname")
    ok(put_rule(s, AuthMethod="k8s-badname", BindType="role",
                BindName="r-${serviceaccount.uid}"))
    ok(put_rule(s, AuthMethod="k8s-badname", BindType="service",
                BindName="${serviceaccount.uid}"))
    # a UID begins with a hex digit: a valid service name; fine.
    ok(login(s, "k8s-badname", k8s.info["tokens"]["valid"]))


def test_login_to_an_unknown_auth_method_is_403_acl_not_found(s):
    r = login(s, "nope", "x")
    assert (r.status_code, r.text) == (
        403, 'ACL not found: auth method "nope" not found')


def test_login_decode_errors_are_400(s):
    r = s.post("/v1/acl/login", raw="")
    assert (r.status_code, r.text) == (400,
                                       "Failed to decode request body: EOF")
    r = s.post("/v1/acl/login", body={"AuthMethod": "x", "Token": "y"})
    assert r.status_code == 400
    assert r.text == 'Failed to decode request body: json: unknown field "Token"'


def test_max_token_ttl_caps_the_login_token_and_locality_global(s, k8s):
    k8s_method(s, k8s, name="k8s-ttl", MaxTokenTTL="10m",
               TokenLocality="global")
    ok(put_rule(s, AuthMethod="k8s-ttl", BindType="service", BindName="t"))
    t = ok(login(s, "k8s-ttl", k8s.info["tokens"]["valid"]))
    assert t["Local"] is False
    exp = datetime.datetime.fromisoformat(t["ExpirationTime"][:19])
    cre = datetime.datetime.fromisoformat(t["CreateTime"][:19])
    assert abs((exp - cre).total_seconds() - 600) <= 1


# ------------------------------------------------------------------
# jwt

def test_jwt_static_keys_login_maps_claims_into_bind_names(s, keys,
                                                           jwt_static):
    for alg, k in (("RS256", keys["rsa"]), ("ES256", keys["ec"])):
        tok = common.sign_jws(alg, k, claims())
        t = ok(login(s, jwt_static, tok))
        assert t["ServiceIdentities"] == [{"ServiceName": "payments-u1"}]


def test_jwt_selector_on_list_claims_can_refuse(s, keys, jwt_static):
    tok = common.sign_jws("RS256", keys["rsa"], claims(groups=["dev"]))
    r = login(s, jwt_static, tok)
    assert (r.status_code, r.text) == (403, "Permission denied")


@pytest.mark.parametrize("case", [
    "bad_signature", "alg_none", "hs256_with_public_key", "expired",
    "not_yet_valid", "wrong_issuer", "wrong_audience", "no_times",
    "unsupported_alg_ps256"])
def test_jwt_static_keys_refuse_bad_tokens(s, keys, jwt_static, case):
    now = int(time.time())
    if case == "bad_signature":
        tok = common.sign_jws("RS256", keys["other"], claims())
    elif case == "alg_none":
        tok = common.sign_jws("none", None, claims())
    elif case == "hs256_with_public_key":
        tok = common.sign_jws("HS256", common.pub_pem(keys["rsa"]).encode(),
                              claims())
    elif case == "expired":
        tok = common.sign_jws("RS256", keys["rsa"], claims(
            iat=now - 3600, nbf=now - 3600, exp=now - 1800))
    elif case == "not_yet_valid":
        tok = common.sign_jws("RS256", keys["rsa"], claims(
            iat=now + 1800, nbf=now + 1800, exp=now + 3600))
    elif case == "wrong_issuer":
        tok = common.sign_jws("RS256", keys["rsa"], claims(
            iss="https://evil.example"))
    elif case == "wrong_audience":
        tok = common.sign_jws("RS256", keys["rsa"], claims(aud="other"))
    elif case == "no_times":
        tok = common.sign_jws("RS256", keys["rsa"], claims(
            iat=None, nbf=None, exp=None))
    else:
        tok = common.sign_jws("PS256", keys["rsa"], claims())
    r = login(s, jwt_static, tok)
    assert r.status_code == 500, (case, r.status_code, r.text)
    assert tok not in r.text and tok.split(".")[1] not in s.logtext()


def test_jwt_jwks_url_login_and_unknown_kid(s, idp):
    ok(put_method(s, {"Name": "jwt-jwks", "Type": "jwt", "Config": {
        "JWKSURL": idp.url + "/jwks", "JWKSCACert": idp.ca,
        "JWTSupportedAlgs": ["RS256", "ES256"],
        "BoundAudiences": ["portcullis"],
        "ClaimMappings": {"sub": "user"}}}))
    ok(put_rule(s, AuthMethod="jwt-jwks", BindType="service",
                BindName="jwks-${value.user}"))
    for alg in ("RS256", "ES256"):
        tok = idp.call("POST", "/_fake/mint", json={
            "alg": alg, "claims": claims(sub="bob")}).json()["token"]
        t = ok(login(s, "jwt-jwks", tok))
        assert t["ServiceIdentities"] == [{"ServiceName": "jwks-bob"}]
    tok = idp.call("POST", "/_fake/mint", json={
        "alg": "RS256", "kid": "rotated", "claims": claims()}).json()["token"]
    r = login(s, "jwt-jwks", tok)
    assert r.status_code == 500


def test_jwt_oidc_discovery_login(s, idp):
    ok(put_method(s, {"Name": "jwt-disc", "Type": "jwt", "Config": {
        "OIDCDiscoveryURL": idp.url, "OIDCDiscoveryCACert": idp.ca,
        "BoundAudiences": ["portcullis"],
        "ClaimMappings": {"sub": "user"}}}))
    ok(put_rule(s, AuthMethod="jwt-disc", BindType="service",
                BindName="disc-${value.user}"))
    tok = idp.call("POST", "/_fake/mint", json={
        "alg": "RS256", "claims": claims(iss=idp.url, sub="carol")}).json()
    t = ok(login(s, "jwt-disc", tok["token"]))
    assert t["ServiceIdentities"] == [{"ServiceName": "disc-carol"}]
    tok = idp.call("POST", "/_fake/mint", json={
        "alg": "RS256", "claims": claims(sub="carol")}).json()
    r = login(s, "jwt-disc", tok["token"])      # issuer not the provider
    assert r.status_code == 500


def test_jwt_method_write_fetches_the_jwks_and_fails_when_unreachable(s):
    r = put_method(s, {"Name": "jwt-dead", "Type": "jwt", "Config": {
        "JWKSURL": "https://127.0.0.1:9/jwks"}})
    assert r.status_code == 500 and r.text.startswith("Invalid Auth Method: ")


# ------------------------------------------------------------------
# providers that misbehave

@pytest.fixture
def sick_k8s(s):
    f = Fake("fake_k8s.py")
    k8s_method(s, f, name="k8s-sick")
    ok(put_rule(s, AuthMethod="k8s-sick", BindType="service", BindName="x"))
    yield f
    f.stop()


def test_provider_down_is_a_500(s, sick_k8s):
    sick_k8s.config(mode="down")
    r = login(s, "k8s-sick", sick_k8s.info["tokens"]["valid"])
    assert r.status_code == 500


def test_provider_slow_times_out(s, sick_k8s):
    sick_k8s.config(mode="slow", delay=6)
    t0 = time.time()
    r = login(s, "k8s-sick", sick_k8s.info["tokens"]["valid"])
    assert r.status_code == 500
    assert time.time() - t0 < 5          # outbound_timeout_ms = 2000


def test_provider_huge_response_is_refused(s, sick_k8s):
    sick_k8s.config(mode="huge", huge=8 << 20)
    r = login(s, "k8s-sick", sick_k8s.info["tokens"]["valid"])
    assert r.status_code == 500


def test_provider_gone_entirely_is_a_500(s, sick_k8s):
    sick_k8s.stop()
    r = login(s, "k8s-sick", sick_k8s.info["tokens"]["valid"])
    assert r.status_code == 500
    sick_k8s.proc = type("P", (), {"terminate": lambda self: None,
                                   "wait": lambda self, t=None: 0})()


# ------------------------------------------------------------------
# logout

def test_logout_deletes_the_login_token(s, k8s):
    k8s_method(s, k8s, name="k8s-out")
    ok(put_rule(s, AuthMethod="k8s-out", BindType="service", BindName="o"))
    t = ok(login(s, "k8s-out", k8s.info["tokens"]["valid"]))
    r = s.post("/v1/acl/logout", headers={"X-Consul-Token": t["SecretID"]})
    assert ok(r) is True
    r = s.post("/v1/acl/logout", headers={"X-Consul-Token": t["SecretID"]})
    assert (r.status_code, r.text) == (403, "ACL not found")
    assert s.get("/v1/acl/token/" + t["AccessorID"],
                 headers=H).status_code == 404


def test_logout_of_a_token_not_made_by_login_is_403(s):
    t = ok(s.put("/v1/acl/token", body={}, headers=H))
    r = s.post("/v1/acl/logout", headers={"X-Consul-Token": t["SecretID"]})
    assert (r.status_code, r.text) == (
        403, "Permission denied: token wasn't created via login")
    assert s.get("/v1/acl/token/" + t["AccessorID"],
                 headers=H).status_code == 200


def test_logout_without_a_token_is_401(s):
    r = s.post("/v1/acl/logout")
    assert (r.status_code, r.text) == (401, "Supplied token does not exist")


def test_logout_with_bearer_header_works(s, k8s):
    k8s_method(s, k8s, name="k8s-out2")
    ok(put_rule(s, AuthMethod="k8s-out2", BindType="service", BindName="o"))
    t = ok(login(s, "k8s-out2", k8s.info["tokens"]["valid"]))
    r = s.post("/v1/acl/logout",
               headers={"Authorization": "Bearer " + t["SecretID"]})
    assert ok(r) is True


# ------------------------------------------------------------------
# audit log

def test_every_login_and_logout_is_logged_without_secrets(s, k8s):
    k8s_method(s, k8s, name="k8s-log")
    ok(put_rule(s, AuthMethod="k8s-log", BindType="service", BindName="l"))
    bearer = k8s.info["tokens"]["valid"]
    t = ok(login(s, "k8s-log", bearer))
    login(s, "k8s-log", k8s.info["tokens"]["rejected"])
    ok(s.post("/v1/acl/logout", headers={"X-Consul-Token": t["SecretID"]}))
    time.sleep(0.3)
    log = s.logtext()
    assert ("login ok: accessor=%s auth_method=k8s-log addr=127.0.0.1" %
            t["AccessorID"]) in log
    assert "login failed: auth_method=k8s-log addr=127.0.0.1: 500" in log
    assert ("logout ok: accessor=%s auth_method=k8s-log addr=127.0.0.1" %
            t["AccessorID"]) in log
    assert bearer not in log and t["SecretID"] not in log
    assert k8s.info["tokens"]["rejected"] not in log


# ------------------------------------------------------------------
# rate limit (beyond Consul)

def test_a_valid_login_succeeds_after_failures_from_its_address(
        make_server, k8s):
    # Behind NAT one address is many users: their failures must not
    # refuse a valid credential (#12 item 14).
    srv = make_server(acl_hcl(addr=3, method=1000, window=60))
    k8s_method(srv, k8s, name="k8s")
    ok(put_rule(srv, AuthMethod="k8s", BindType="service", BindName="x"))
    for _ in range(3):
        assert login(srv, "k8s", k8s.info["tokens"]["rejected"]
                     ).status_code == 500
    ok(login(srv, "k8s", k8s.info["tokens"]["valid"]))
    # Further failures from that address are answered 429, by every
    # worker (the counters are shared).
    r = login(srv, "k8s", k8s.info["tokens"]["error"])
    assert r.status_code == 429
    assert r.text.startswith("Too many failed logins from 127.0.0.1; "
                             "try again in ")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert all(login(srv, "nope", "x").status_code == 429
               for _ in range(6))
    ok(login(srv, "k8s", k8s.info["tokens"]["valid"]))
    # Another address is not affected at all.
    r = login_from(srv, "127.0.0.2", "k8s", k8s.info["tokens"]["notsa"])
    assert r.status_code == 500, r.text
    assert "login failed: auth_method=k8s addr=127.0.0.1: 429" in \
        srv.logtext()


def test_a_credential_that_keeps_failing_is_refused_before_the_provider(
        make_server, k8s):
    srv = make_server(acl_hcl(addr=3, method=1000, window=60))
    k8s_method(srv, k8s, name="k8s")
    ok(put_rule(srv, AuthMethod="k8s", BindType="service", BindName="x"))
    bad = k8s.info["tokens"]["rejected"]
    for i in range(3):        # three addresses: none reaches its limit
        assert login_from(srv, "127.0.0.%d" % (10 + i), "k8s", bad
                          ).status_code == 500
    hits = k8s.call("GET", "/_fake/hits").json()
    tr = "/apis/authentication.k8s.io/v1/tokenreviews"
    r = login_from(srv, "127.0.0.20", "k8s", bad)
    assert r.status_code == 429
    assert r.text.startswith("Too many failed logins with this credential; "
                             "try again in ")
    assert k8s.call("GET", "/_fake/hits").json()[tr] == hits[tr]
    # Only that credential: a valid one from the same address logs in.
    r = login_from(srv, "127.0.0.20", "k8s", k8s.info["tokens"]["valid"])
    assert r.status_code == 200, r.text
    assert bad not in srv.logtext()


def test_failures_per_auth_method_raise_an_alarm_and_refuse_nobody(
        make_server, k8s):
    srv = make_server(acl_hcl(addr=1000, method=4, window=60))
    k8s_method(srv, k8s, name="m1")
    ok(put_rule(srv, AuthMethod="m1", BindType="service", BindName="x"))
    for i in range(8):
        assert login_from(srv, "127.0.0.%d" % (30 + i), "m1",
                          k8s.info["tokens"]["rejected"]).status_code == 500
    r = login_from(srv, "127.0.0.50", "m1", k8s.info["tokens"]["valid"])
    assert r.status_code == 200, r.text
    log = srv.logtext()
    assert log.count("login alarm: 4 failed logins for auth method m1 "
                     "within 60 s") == 1


def test_rate_limit_can_be_turned_off(make_server, k8s):
    srv = make_server(acl_hcl(addr=0, method=0))
    for _ in range(15):
        assert login(srv, "nope", "x").status_code == 403
