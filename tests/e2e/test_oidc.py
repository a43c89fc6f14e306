"""The OIDC authorization-code flow end to end (acl.md §9; Enterprise
endpoints in Consul): auth-url -> the fake provider's authorize redirect
-> callback -> token; states stored in SQLite (any worker, single use,
expiring); redirect URI checks; ID token failures; provider failures."""
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from authfakes import (REDIRECT, H, Fake, acl_hcl, idp, k8s_method, ok,  # noqa: F401 (idp: fixture)
                       oidc_method, put_method, put_rule)
from conftest import Server


@pytest.fixture(scope="module")
def s(idp):
    srv = Server(acl_hcl())
    oidc_method(srv, idp)
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def fresh_provider(idp):
    idp.config(mode="ok", id_token="", claims={})
    yield
    idp.config(mode="ok", id_token="", claims={})


def auth_url(s, method="oidc", redirect=REDIRECT, **kw):
    body = {"AuthMethod": method, "RedirectURI": redirect}
    body.update(kw)
    return s.post("/v1/acl/oidc/auth-url", body=body)


def authorize(idp, url):
    """Follow the provider's authorize step as a browser would; return
    (code, state) from its redirect to our RedirectURI."""
    u = urlsplit(url)
    assert url.startswith(idp.url + "/authorize?")
    r = idp.call("GET", u.path + "?" + u.query)
    assert r.status_code == 302, r.text
    q = parse_qs(urlsplit(r.headers["Location"]).query)
    return q["code"][0], q["state"][0]


def callback(s, code, state, method="oidc", **kw):
    body = {"AuthMethod": method, "State": state, "Code": code}
    body.update(kw)
    return s.post("/v1/acl/oidc/callback", body=body)


def flow(s, idp, **kw):
    url = ok(auth_url(s, **kw))["AuthURL"]
    return authorize(idp, url)


def test_full_oidc_flow_creates_a_login_token(s, idp):
    r = ok(auth_url(s, Meta={"via": "browser"}))
    q = parse_qs(urlsplit(r["AuthURL"]).query)
    assert q["client_id"] == ["portcullis"] and q["response_type"] == ["code"]
    assert q["redirect_uri"] == [REDIRECT] and "openid" in q["scope"][0]
    assert len(q["state"][0]) == 40 and len(q["nonce"][0]) == 40
    code, state = authorize(idp, r["AuthURL"])
    assert state == q["state"][0]
    t = ok(callback(s, code, state))
    assert t["ServiceIdentities"] == [{"ServiceName": "payments"}]
    assert t["AuthMethod"] == "oidc" and t["Local"] is True
    assert t["Description"] == ('token created via OIDC login: '
                                '{"via":"browser"}')
    assert "ExpirationTime" in t        # MaxTokenTTL 5m
    me = ok(s.get("/v1/acl/token/self",
                  headers={"X-Consul-Token": t["SecretID"]}))
    assert me["AccessorID"] == t["AccessorID"]
    assert "oidc login ok: accessor=%s auth_method=oidc" % t["AccessorID"] \
        in s.logtext()
    assert ok(s.post("/v1/acl/logout",
                     headers={"X-Consul-Token": t["SecretID"]})) is True


def test_states_work_across_workers_and_are_single_use(s, idp):
    for _ in range(6):          # two workers: some flows cross them
        code, state = flow(s, idp)
        ok(callback(s, code, state))
        r = callback(s, code, state)
        assert (r.status_code, r.text) == (
            500, "Provider login failed: Expired or missing OAuth state.")


def test_unknown_state_is_refused(s):
    r = callback(s, "code", "0" * 40)
    assert (r.status_code, r.text) == (
        500, "Provider login failed: Expired or missing OAuth state.")


def test_expired_state_is_refused(make_server, idp):
    srv = make_server(acl_hcl(state_ttl=1))
    oidc_method(srv, idp)
    code, state = flow(srv, idp)
    time.sleep(1.5)
    r = callback(srv, code, state)
    assert (r.status_code, r.text) == (
        500, "Provider login failed: Expired or missing OAuth state.")


def test_state_of_another_method_is_refused(s, idp):
    oidc_method(s, idp, name="oidc-two")
    code, state = flow(s, idp)
    r = callback(s, code, state, method="oidc-two")
    assert r.text == "Provider login failed: Expired or missing OAuth state."


def test_missing_code_is_refused_before_the_state_is_used(s, idp):
    code, state = flow(s, idp)
    r = callback(s, "", state)
    assert (r.status_code, r.text) == (
        500, "Provider login failed: OAuth code parameter not provided")
    ok(callback(s, code, state))


@pytest.mark.parametrize("redirect,text", [
    ("", "missing redirect_uri"),
    ("http://evil.example/cb", "unauthorized redirect_uri: "
     "http://evil.example/cb"),
    ("https://app.example/cb/x", "unauthorized redirect_uri: "
     "https://app.example/cb/x"),
])
def test_redirect_uri_must_be_allowed(s, redirect, text):
    r = auth_url(s, redirect=redirect)
    assert (r.status_code, r.text) == (500, text)


def test_loopback_redirect_port_is_ignored(s, idp):
    code, state = flow(s, idp, redirect="http://localhost:9999/oidc/callback")
    ok(callback(s, code, state))


def test_client_nonce_must_match(s, idp):
    code, state = flow(s, idp, ClientNonce="n-1")
    r = callback(s, code, state, ClientNonce="n-2")
    assert r.status_code == 500
    code, state = flow(s, idp, ClientNonce="n-1")
    ok(callback(s, code, state, ClientNonce="n-1"))


@pytest.mark.parametrize("how,text", [
    ("omit", "Token verification failed: No id_token found in response."),
    ("bad_nonce", "Token verification failed: Invalid ID token nonce."),
    ("wrong_aud", "Token verification failed: "),
    ("expired", "Token verification failed: "),
    ("bad_sig", "Token verification failed: "),
])
def test_bad_id_tokens_are_refused(s, idp, how, text):
    code, state = flow(s, idp)
    idp.config(id_token=how)
    r = callback(s, code, state)
    assert r.status_code == 500 and r.text.startswith(text), r.text


def test_selector_on_provider_claims_can_refuse(s, idp):
    idp.config(claims={"groups": ["dev"]})
    code, state = flow(s, idp)
    r = callback(s, code, state)
    assert (r.status_code, r.text) == (403, "Permission denied")


def test_provider_down_at_the_token_endpoint(s, idp):
    code, state = flow(s, idp)
    idp.config(mode="down")
    r = callback(s, code, state)
    assert r.status_code == 500
    assert r.text.startswith("Provider login failed: Error exchanging oidc "
                             "code: ")


def test_provider_slow_at_the_token_endpoint_times_out(s, idp):
    code, state = flow(s, idp)
    idp.config(mode="slow", delay=6)
    t0 = time.time()
    r = callback(s, code, state)
    assert r.status_code == 500 and time.time() - t0 < 5


def test_provider_huge_token_response_is_refused(s, idp):
    code, state = flow(s, idp)
    idp.config(mode="huge", huge=8 << 20)
    r = callback(s, code, state)
    assert r.status_code == 500


def test_oidc_endpoints_need_an_oidc_method(s, idp):
    r = auth_url(s, method="nope")
    assert (r.status_code, r.text) == (
        403, 'ACL not found: auth method "nope" not found')
    r = s.post("/v1/acl/login", body={"AuthMethod": "oidc",
                                      "BearerToken": "x"})
    assert (r.status_code, r.text) == (
        500, 'ClaimsFromJWT is incompatible with type "oidc"')
    k = Fake("fake_k8s.py")
    try:
        k8s_method(s, k, name="not-oidc")
        r = auth_url(s, method="not-oidc")
        assert (r.status_code, r.text) == (
            500, 'GetAuthCodeURL is incompatible with type "kubernetes"')
    finally:
        k.stop()


def test_oidc_method_config_rejects_jwt_only_keys(s, idp):
    r = put_method(s, {"Name": "oidc-bad", "Type": "oidc", "Config": {
        "OIDCDiscoveryURL": idp.url, "OIDCDiscoveryCACert": idp.ca,
        "OIDCClientID": "c", "OIDCClientSecret": "s",
        "AllowedRedirectURIs": [REDIRECT], "BoundIssuer": "x"}})
    assert r.status_code == 500 and r.text.startswith("Invalid Auth Method: ")


def test_oidc_client_secret_never_reaches_the_log(s, idp):
    code, state = flow(s, idp)
    ok(callback(s, code, state))
    log = s.logtext()
    assert idp.info["client_secret"] not in log and code not in log
