"""OIDC logins across the nodes of a cluster (issue #17): on PostgreSQL
a pending flow (auth-url -> callback) lives in the database, so a flow
begun on one node finishes on another, once, within the bounds the
shared-memory table of one node has (32 per source, the state TTL)."""
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from authfakes import (PENDING, REDIRECT, H, acl_hcl, idp, ok,  # noqa: F401 (idp: fixture)
                       oidc_method, pending_kept, post_from)
from conftest import BACKEND, Server, node, wait_for

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="a cluster needs the postgres backend")

EXPIRED = "Provider login failed: Expired or missing OAuth state."


def start_pair(idp, state_ttl=600):
    a = Server(node("a", acl_hcl(state_ttl=state_ttl)))
    b = Server(node("b", acl_hcl(state_ttl=state_ttl)), dsn=a.dsn)
    oidc_method(a, idp)
    # B learns of A's auth method through A's NOTIFY.
    wait_for(lambda: b.get("/v1/acl/auth-method/oidc",
                           headers=H).status_code == 200,
             timeout=5, what="B seeing the auth method written on A")
    return a, b


@pytest.fixture(scope="module")
def pair(idp):
    a, b = start_pair(idp)
    yield a, b
    b.stop()
    a.stop()


@pytest.fixture(autouse=True)
def fresh_provider(idp):
    idp.config(mode="ok", id_token="", claims={})
    yield


def auth_url(s, source="127.0.0.1"):
    r = post_from(s, source, "/v1/acl/oidc/auth-url",
                  {"AuthMethod": "oidc", "RedirectURI": REDIRECT})
    return r


def authorize(idp, url):
    """The provider's authorize step, as a browser: (code, state)."""
    u = urlsplit(url)
    r = idp.call("GET", u.path + "?" + u.query)
    assert r.status_code == 302, r.text
    q = parse_qs(urlsplit(r.headers["Location"]).query)
    return q["code"][0], q["state"][0]


def callback(s, code, state):
    return s.post("/v1/acl/oidc/callback", body={
        "AuthMethod": "oidc", "State": state, "Code": code})


def test_an_oidc_flow_begun_on_one_node_finishes_on_another(pair, idp):
    a, b = pair
    code, state = authorize(idp, ok(auth_url(a))["AuthURL"])
    t = ok(callback(b, code, state))
    assert t["AuthMethod"] == "oidc"
    assert t["ServiceIdentities"] == [{"ServiceName": "payments"}]
    h = {"X-Consul-Token": t["SecretID"]}
    assert ok(b.get("/v1/acl/token/self", headers=h))["AccessorID"] == \
        t["AccessorID"]
    # The token minted on B works on A once A has seen the commit.
    wait_for(lambda: a.get("/v1/acl/token/self", headers=h).status_code == 200,
             timeout=5, what="A accepting the token minted on B")
    assert ok(a.get("/v1/acl/token/self", headers=h))["AccessorID"] == \
        t["AccessorID"]


def test_a_state_redeemed_on_one_node_is_refused_on_the_other(pair, idp):
    a, b = pair
    code, state = authorize(idp, ok(auth_url(a))["AuthURL"])
    ok(callback(b, code, state))
    r = callback(a, code, state)
    assert (r.status_code, r.text) == (500, EXPIRED)
    r = callback(b, code, state)
    assert (r.status_code, r.text) == (500, EXPIRED)


def test_an_unknown_state_is_refused_on_every_node(pair):
    for s in pair:
        r = callback(s, "code", "0" * 40)
        assert (r.status_code, r.text) == (500, EXPIRED)


def test_the_per_source_bound_holds_across_two_nodes_together(pair, idp):
    a, b = pair
    src = "127.0.9.1"
    urls = []
    for i in range(32):     # 16 on each node, interleaved
        urls.append(ok(auth_url(a if i % 2 else b, src))["AuthURL"])
    for s in (a, b):
        r = auth_url(s, src)
        assert r.status_code == 429, r.text
        assert r.text.startswith("Too many pending OIDC logins from %s "
                                 "(at most 32); finish one or try again in "
                                 % src), r.text
        assert 1 <= int(r.headers["Retry-After"]) <= 600
    # Another source is not refused; a flow begun on B and finished on A
    # frees a place on both nodes, for one flow only.
    ok(auth_url(a, "127.0.9.2"))
    code, state = authorize(idp, urls[0])
    ok(callback(a, code, state))
    ok(auth_url(b, src))
    assert auth_url(a, src).status_code == 429
    assert auth_url(b, src).status_code == 429


def test_concurrent_auth_url_calls_on_two_nodes_keep_at_most_32_per_source(
        pair):
    a, b = pair
    src = "127.0.9.5"
    out = []

    def one(s):
        out.append(auth_url(s, src))
    th = [threading.Thread(target=one, args=(a if i % 2 else b,))
          for i in range(60)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    # As on one node: the source's bound, or the provider calls in
    # flight per worker; never a 500.
    kept = pending_kept(out, src)
    # One at a time, on either node, the rest of the 32 places fill.
    for i in range(64):
        r = auth_url(a if i % 2 else b, src)
        if r.status_code != 200:
            break
        kept += 1
    assert r.status_code == 429 and r.text.startswith(PENDING + src), r.text
    assert kept == 32


def test_expired_states_fail_on_the_other_node(idp):
    a, b = start_pair(idp, state_ttl=1)
    try:
        code, state = authorize(idp, ok(auth_url(a))["AuthURL"])
        time.sleep(1.5)
        r = callback(b, code, state)
        assert (r.status_code, r.text) == (500, EXPIRED)
        # Expired flows no longer count against their source: 32 more fit.
        src = "127.0.9.3"
        for i in range(32):
            ok(auth_url(a if i % 2 else b, src))
        time.sleep(1.5)
        ok(auth_url(b, src))
    finally:
        b.stop()
        a.stop()


def test_pending_flows_kept_move_no_modify_index_and_write_no_audit_record(
        pair):
    a, b = pair

    def idx(s):
        r = s.get("/v1/operator/audit", headers=H)
        assert r.status_code == 200, r.text
        return int(r.headers["X-Consul-Index"])
    wait_for(lambda: idx(a) == idx(b), timeout=5, what="the nodes agreeing")
    before = idx(a)
    for i in range(6):
        ok(auth_url(a if i % 2 else b, "127.0.9.4"))
    # (A failed callback is audited as a failed login, by design.)
    time.sleep(0.3)         # a NOTIFY, were there one, would arrive
    assert idx(a) == before and idx(b) == before
