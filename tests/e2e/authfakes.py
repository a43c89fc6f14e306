"""Helpers shared by the auth method tests (test_auth_methods.py,
test_login.py, test_oidc.py): start the fake Kubernetes API server and
the fake OIDC provider (tests/e2e/fakes) on loopback, a Portcullis with
ACLs on, and mint JWTs with keys made at test time."""
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest
import requests

FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes")
sys.path.insert(0, FAKES)
import common  # noqa: E402,F401  (sign_jws, pub_pem, jwk_of)

MGMT = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
H = {"X-Consul-Token": MGMT}


def acl_hcl(addr=1000, method=1000, window=60, timeout_ms=2000,
            state_ttl=600):
    return ('acl {\n enabled = true\n default_policy = "deny"\n'
            ' tokens { initial_management = "%s" }\n'
            ' login {\n  max_failures_per_address = %d\n'
            '  max_failures_per_method = %d\n  window_seconds = %d\n'
            '  outbound_timeout_ms = %d\n  oidc_state_ttl_seconds = %d\n'
            ' }\n}\n' % (MGMT, addr, method, window, timeout_ms, state_ttl))


class Fake:
    """One fake server process; info is its ready file."""

    def __init__(self, script, plain=False):
        self.dir = tempfile.mkdtemp(prefix="pc-fake-")
        ready = os.path.join(self.dir, "ready.json")
        args = [sys.executable, os.path.join(FAKES, script), "--ready", ready]
        if plain:
            args.append("--plain")
        self.proc = subprocess.Popen(args)
        end = time.time() + 30
        while not os.path.exists(ready):
            if time.time() > end or self.proc.poll() is not None:
                raise AssertionError("fake %s did not start" % script)
            time.sleep(0.05)
        with open(ready) as f:
            self.info = json.load(f)
        self.url = self.info["url"]
        self.ca = self.info["ca_pem"]
        self.cafile = os.path.join(self.dir, "ca.pem")
        with open(self.cafile, "w") as f:
            f.write(self.ca)

    def call(self, method, path, **kw):
        return requests.request(method, self.url + path,
                                verify=self.cafile if self.ca else True,
                                timeout=30, allow_redirects=False, **kw)

    def config(self, **kw):
        r = self.call("POST", "/_fake/config", json=kw)
        assert r.status_code == 200
        return r

    def reset(self):
        self.config(mode="ok", extra_reset=True)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def ok(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    return r.json() if r.text and r.headers.get(
        "Content-Type", "").startswith("application/json") else r.text


def put_method(s, body):
    return s.put("/v1/acl/auth-method", body=body, headers=H)


def put_rule(s, **body):
    return s.put("/v1/acl/binding-rule", body=body, headers=H)


def k8s_method(s, k8s, name="k8s", **extra):
    body = {"Name": name, "Type": "kubernetes", "Config": {
        "Host": k8s.url, "CACert": k8s.ca,
        "ServiceAccountJWT": k8s.info["reviewer_jwt"]}}
    body.update(extra)
    return ok(put_method(s, body))


# The redirect URI every OIDC test registers and sends.
REDIRECT = "http://localhost:8550/oidc/callback"


@pytest.fixture(scope="module")
def k8s():
    """The fake Kubernetes API server (fakes/fake_k8s.py), one per test
    module; a module uses it with `from authfakes import k8s`."""
    f = Fake("fake_k8s.py")
    yield f
    f.stop()


@pytest.fixture(scope="module")
def idp():
    """The fake OIDC provider (fakes/fake_oidc.py), one per test module;
    a module uses it with `from authfakes import idp`."""
    f = Fake("fake_oidc.py")
    yield f
    f.stop()


def oidc_method(s, idp, name="oidc", **extra):
    """An oidc auth method on idp and a binding rule that makes an
    "admins" member a service identity named after its team claim."""
    body = {"Name": name, "Type": "oidc", "MaxTokenTTL": "5m", "Config": {
        "OIDCDiscoveryURL": idp.url, "OIDCDiscoveryCACert": idp.ca,
        "OIDCClientID": idp.info["client_id"],
        "OIDCClientSecret": idp.info["client_secret"],
        "AllowedRedirectURIs": [REDIRECT, "https://app.example/cb"],
        "ClaimMappings": {"team": "team", "email": "email"},
        "ListClaimMappings": {"groups": "groups"}}}
    body.update(extra)
    m = ok(put_method(s, body))
    ok(put_rule(s, AuthMethod=name, BindType="service",
                BindName="${value.team}", Selector='"admins" in list.groups'))
    return m


def login(s, method, bearer, meta=None, headers=None):
    body = {"AuthMethod": method, "BearerToken": bearer}
    if meta is not None:
        body["Meta"] = meta
    return s.post("/v1/acl/login", body=body, headers=headers)


class Reply:
    """The parts of a response the tests read (as requests names them)."""

    def __init__(self, status, text, headers):
        self.status_code = status
        self.text = text
        self.headers = headers

    def json(self):
        return json.loads(self.text)


def post_from(srv, source, path, body, headers=None, timeout=30):
    """POST body (JSON) to srv from loopback address source (e.g.
    "127.0.0.2"): to nginx another client, with its own $remote_addr."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout,
                                   source_address=(source, 0))
    try:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", path, body=json.dumps(body), headers=h)
        r = c.getresponse()
        return Reply(r.status, r.read().decode(), dict(r.getheaders()))
    finally:
        c.close()


# A 429 of the bound on a source's pending OIDC flows (32 a source).
PENDING = "Too many pending OIDC logins from "


def pending_kept(out, source):
    """Of the auth-url replies out, sent at once from source, the count
    of 200s, checked: each is a 200 or a 429 of one of the two bounds
    (the source's pending flows (32) or, on a loaded machine or with a
    slow provider, the provider calls in flight per worker), never a
    500."""
    pending = PENDING + source
    busy = 'Too many logins in progress for auth method "oidc"'
    assert all(r.status_code == 200 or (r.status_code == 429 and
               (r.text.startswith(pending) or r.text.startswith(busy)))
               for r in out), [(r.status_code, r.text) for r in out]
    kept = sum(r.status_code == 200 for r in out)
    assert kept <= 32
    return kept


def login_from(srv, source, method, bearer):
    return post_from(srv, source, "/v1/acl/login",
                     {"AuthMethod": method, "BearerToken": bearer})
