"""The ACL matrix: for EVERY route in the routing table, one token that
is allowed and one that is denied, through real nginx.

The routes come from `portcullis -R` (the table itself), so a route added
later is tested without editing this file.  Each route's declared ACL
(routes.c) picks the pair of tokens:

  ACL_READ / ACL_WRITE / OPERATOR_READ / OPERATOR_WRITE
      allowed: a token holding exactly that grant;
      denied:  a token holding the level just below it (acl:read for
               acl:write, operator:read for operator:write) or nothing.
  BY_HANDLER
      the recipe below for routes we know (intentions, leaf, authorize,
      sign, translate) names the exact grant on the exact object; an
      unknown route falls back to the management token (allowed) and a
      token with no policy (denied).
  NONE
      no token is refused: a token with no policy gets the same status
      as the management token (bootstrap, for instance, is 403 for both
      once done; that is not an ACL decision).

"Allowed" means the ACL layer let the request through (no 401/403 from
it: any other status, the handler's own 400/404/500, is fine); "denied"
means 403 with a "Permission denied" body.
"""
import base64
import os
import subprocess
import uuid

import pytest

from conftest import BIN, acl_on

MGMT = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
HCL = acl_on(MGMT)


def routes():
    out = subprocess.run([BIN, "-R"], capture_output=True, text=True,
                         check=True).stdout
    rows = [line.split("\t") for line in out.splitlines() if line]
    assert rows, "portcullis -R printed no routes"
    return rows


class World:
    """Objects and tokens the matrix needs, made with the management
    token."""

    def __init__(self, s):
        self.s = s
        self.h = {"X-Consul-Token": MGMT}
        self.n = 0
        self.tokens = {}
        r = s.post("/v1/connect/intentions", body={
            "SourceName": "web", "DestinationName": "db",
            "Action": "allow"}, headers=self.h)
        assert r.status_code == 200, r.text
        self.ixn_id = r.json()["ID"]
        self.trust_domain = s.get("/v1/connect/ca/roots",
                                  headers=self.h).json().get("TrustDomain")

    def legacy_intention(self):
        r = self.s.post("/v1/connect/intentions", body={
            "SourceName": self.uniq("lsrc"), "DestinationName": "db",
            "Action": "allow"}, headers=self.h)
        assert r.status_code == 200, r.text
        return r.json()["ID"]

    def uniq(self, prefix):
        self.n += 1
        return "%s-%d" % (prefix, self.n)

    def token(self, rules):
        """A token whose only policy holds rules ("" = no policy)."""
        if rules in self.tokens:
            return self.tokens[rules]
        body = {"Description": "matrix " + rules}
        if rules:
            p = self.s.put("/v1/acl/policy", body={
                "Name": self.uniq("m"), "Rules": rules}, headers=self.h)
            assert p.status_code == 200, p.text
            body["Policies"] = [{"ID": p.json()["ID"]}]
        t = self.s.put("/v1/acl/token", body=body, headers=self.h)
        assert t.status_code == 200, t.text
        self.tokens[rules] = t.json()["SecretID"]
        return self.tokens[rules]

    def fresh_token(self):
        r = self.s.put("/v1/acl/token", body={}, headers=self.h)
        return r.json()["AccessorID"]

    def fresh_policy(self):
        r = self.s.put("/v1/acl/policy", body={"Name": self.uniq("fp")},
                       headers=self.h)
        return r.json()

    def fresh_role(self):
        r = self.s.put("/v1/acl/role", body={"Name": self.uniq("fr")},
                       headers=self.h)
        return r.json()

    def auth_method_body(self, name):
        """A jwt method with a static key: no network needed."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        pem = ec.generate_private_key(ec.SECP256R1()).public_key(
        ).public_bytes(serialization.Encoding.PEM,
                       serialization.PublicFormat.SubjectPublicKeyInfo)
        return {"Name": name, "Type": "jwt",
                "Config": {"JWTValidationPubKeys": [pem.decode()]}}

    def fresh_auth_method(self):
        body = self.auth_method_body(self.uniq("am"))
        r = self.s.put("/v1/acl/auth-method", body=body, headers=self.h)
        assert r.status_code == 200, r.text
        return body

    def fresh_binding_rule(self):
        m = self.fresh_auth_method()
        r = self.s.put("/v1/acl/binding-rule", body={
            "AuthMethod": m["Name"], "BindType": "service",
            "BindName": "web"}, headers=self.h)
        assert r.status_code == 200, r.text
        return r.json()

    def csr(self, service):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        key = ec.generate_private_key(ec.SECP256R1())
        uri = "spiffe://%s/ns/default/dc/dc1/svc/%s" % (
            self.trust_domain, service)
        req = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([]))
               .add_extension(x509.SubjectAlternativeName(
                   [x509.UniformResourceIdentifier(uri)]), critical=False)
               .sign(key, hashes.SHA256()))
        return req.public_bytes(serialization.Encoding.PEM).decode()


# Recipes: (method, pattern) -> (allowed rules, denied rules).  The
# boundaries are the interesting ones: intentions write is not implied
# by service write (connect.md §6.5), check needs service:read.
SVC_READ = 'service_prefix "db" { policy = "read" }'
IXN_WRITE = 'service_prefix "db" { policy = "write" intentions = "write" }'
SVC_WRITE_ONLY = 'service_prefix "db" { policy = "write" }'
OTHER = 'service "other" { policy = "write" intentions = "write" }'
RECIPES = {
    ("GET", "/v1/connect/intentions"): None,   # filtered, see below
    ("POST", "/v1/connect/intentions"): (IXN_WRITE, SVC_WRITE_ONLY),
    ("GET", "/v1/connect/intentions/exact"): (SVC_READ, OTHER),
    ("PUT", "/v1/connect/intentions/exact"): (IXN_WRITE, SVC_WRITE_ONLY),
    ("DELETE", "/v1/connect/intentions/exact"): (IXN_WRITE, SVC_WRITE_ONLY),
    ("GET", "/v1/connect/intentions/check"): (SVC_READ, OTHER),
    ("GET", "/v1/connect/intentions/match"): (SVC_READ, OTHER),
    ("GET", "/v1/connect/intentions/:id"): (SVC_READ, OTHER),
    ("PUT", "/v1/connect/intentions/:id"): (IXN_WRITE, SVC_WRITE_ONLY),
    ("DELETE", "/v1/connect/intentions/:id"): (IXN_WRITE, SVC_WRITE_ONLY),
    ("GET", "/v1/agent/connect/ca/leaf/:service"): (SVC_WRITE_ONLY,
                                                     SVC_READ),
    ("POST", "/v1/agent/connect/authorize"): (SVC_WRITE_ONLY, SVC_READ),
    ("POST", "/v1/connect/ca/sign"): (SVC_WRITE_ONLY, SVC_READ),
    ("POST", "/v1/acl/rules/translate"): ('acl = "read"', ""),
    ("GET", "/v1/acl/rules/translate/:accessor_id"): ('acl = "read"', ""),
    # agent:read on this node's name (node_name is "portcullis").
    ("GET", "/v1/agent/self"): ('agent "portcullis" { policy = "read" }',
                                'agent "other" { policy = "write" }'),
    ("GET", "/v1/agent/members"): None,        # filtered, see below
    ("GET", "/v1/agent/metrics"): ('agent_prefix "" { policy = "read" }',
                                   'node_prefix "" { policy = "write" }'),
}
DECLARED = {
    "ACL_READ": ('acl = "read"', ""),
    "ACL_WRITE": ('acl = "write"', 'acl = "read"'),
    "OPERATOR_READ": ('operator = "read"', ""),
    "OPERATOR_WRITE": ('operator = "write"', 'operator = "read"'),
}


def build(w, method, pattern):
    """Path (with query) and body for one request to this route; makes
    fresh objects for writes so that the allowed run can succeed."""
    path, body, raw = pattern, None, None
    if ":id" in pattern or ":accessor_id" in pattern:
        if pattern.startswith("/v1/acl/token/") or ":accessor_id" in pattern:
            v = w.fresh_token()
        elif pattern.startswith("/v1/acl/policy/"):
            p = w.fresh_policy()
            v = p["ID"]
            body = {"Name": p["Name"]}
        elif pattern.startswith("/v1/acl/role/"):
            r = w.fresh_role()
            v = r["ID"]
            body = {"Name": r["Name"]}
        elif pattern.startswith("/v1/acl/binding-rule/"):
            r = w.fresh_binding_rule()
            v = r["ID"]
            body = {"BindType": "node", "BindName": "n1"}
        elif pattern.startswith("/v1/connect/intentions/"):
            v = w.legacy_intention()
            body = {"SourceName": "web", "DestinationName": "db",
                    "Action": "allow"}
        else:
            v = str(uuid.uuid4())
        path = path.replace(":id", v).replace(":accessor_id", v)
    if pattern == "/v1/acl/auth-method/:name":
        body = w.fresh_auth_method()
        path = "/v1/acl/auth-method/" + body["Name"]
    if "/name/*name" in pattern or "/name/:name" in pattern:
        obj = (w.fresh_policy() if "/policy/" in pattern
               else w.fresh_role())
        path = pattern.rsplit("/", 1)[0] + "/" + obj["Name"]
    path = path.replace(":service", "db")
    parts = []
    for seg in path.split("/"):
        parts.append("sample" if seg[:1] in (":", "*") else seg)
    path = "/".join(parts)
    if pattern.startswith("/v1/connect/intentions/") and ":" not in pattern:
        # By-name writes make db-x a config entry; legacy IDs stay on db.
        path += {"match": "?by=destination&name=db"}.get(
            pattern.rsplit("/", 1)[1], "?source=web&destination=db-x")
    if method in ("PUT", "POST") and body is None:
        body = {}
        if pattern == "/v1/acl/policy":
            body = {"Name": w.uniq("cp")}
        elif pattern == "/v1/acl/role":
            body = {"Name": w.uniq("cr")}
        elif pattern == "/v1/acl/auth-method":
            body = w.auth_method_body(w.uniq("cam"))
        elif pattern == "/v1/acl/binding-rule":
            body = {"AuthMethod": w.fresh_auth_method()["Name"],
                    "BindType": "service", "BindName": "web"}
        elif pattern == "/v1/connect/intentions":
            body = {"SourceName": w.uniq("src"), "DestinationName": "db",
                    "Action": "allow"}
        elif pattern == "/v1/connect/intentions/exact":
            body = {"Action": "allow"}
        elif pattern == "/v1/agent/connect/authorize":
            body = {"Target": "db", "ClientCertURI":
                    "spiffe://%s/ns/default/dc/dc1/svc/web" %
                    w.trust_domain}
        elif pattern == "/v1/connect/ca/sign":
            body, raw = None, w.csr("db")
        elif pattern == "/v1/acl/rules/translate":
            body, raw = None, 'agent "" { policy = "read" }'
        elif pattern == "/v1/connect/ca/configuration":
            body = {"Provider": "nope"}      # never changes the CA
        elif pattern == "/v1/acl/bootstrap":
            body = None
    return path, body, raw


def send(w, method, pattern, secret):
    path, body, raw = build(w, method, pattern)
    h = {"X-Consul-Token": secret} if secret else {}
    return w.s.request(method, path, body=body, raw=raw, headers=h)


def is_denied(r):
    return r.status_code == 403 and r.text.startswith("Permission denied")


@pytest.fixture(scope="module")
def world():
    from conftest import Server
    s = Server(HCL)
    yield World(s)
    s.stop()


ROUTES = routes()


@pytest.mark.parametrize("method,pattern,need", ROUTES,
                         ids=["%s %s" % (m, p) for m, p, _ in ROUTES])
def test_every_route_allows_one_token_and_denies_another(world, method,
                                                         pattern, need):
    assert need not in ("UNSET", "?"), "route without a declared ACL"
    w = world
    if need == "NONE":
        nobody = w.token("")
        a = send(w, method, pattern, MGMT)
        b = send(w, method, pattern, nobody)
        assert b.status_code == a.status_code, (a.text, b.text)
        assert not (b.status_code == 403 and "lacks permission" in b.text)
        return
    recipe = RECIPES.get((method, pattern), DECLARED.get(need))
    if (method, pattern) == ("GET", "/v1/connect/intentions"):
        # Callable by anyone; results filtered by intentions:read.
        ok = w.s.get(pattern, headers={"X-Consul-Token":
                                       w.token(SVC_READ)})
        no = w.s.get(pattern, headers={"X-Consul-Token": w.token(OTHER)})
        assert ok.status_code == 200 and any(
            x["DestinationName"] == "db" for x in ok.json())
        assert no.status_code == 200 and not any(
            x["DestinationName"] == "db" for x in no.json())
        assert no.headers.get("X-Consul-Results-Filtered-By-ACLs") == "true"
        return
    if (method, pattern) == ("GET", "/v1/agent/members"):
        # Callable by anyone; members filtered by node:read.
        ok = w.s.get(pattern, headers={"X-Consul-Token": w.token(
            'node "portcullis" { policy = "read" }')})
        no = w.s.get(pattern, headers={"X-Consul-Token": w.token(
            'node "other" { policy = "read" }')})
        assert ok.status_code == 200 and [
            m["Name"] for m in ok.json()] == ["portcullis"]
        assert no.status_code == 200 and no.json() == []
        assert no.headers.get("X-Consul-Results-Filtered-By-ACLs") == "true"
        return
    if recipe is None:      # a BY_HANDLER route nobody wrote a recipe for
        recipe = (None, "")
    allowed = MGMT if recipe[0] is None else w.token(recipe[0])
    denied = w.token(recipe[1])
    d = send(w, method, pattern, denied)
    assert is_denied(d), "%s %s with %r: %d %s" % (
        method, pattern, recipe[1], d.status_code, d.text)
    a = send(w, method, pattern, allowed)
    assert a.status_code not in (401, 403), "%s %s with %r: %d %s" % (
        method, pattern, recipe[0], a.status_code, a.text)


def test_matrix_covers_every_route_of_the_table():
    """Structural guard: the dump and the table agree, and every row
    declares an ACL (test_router.c checks the same in C)."""
    assert all(need not in ("UNSET", "?") for _, _, need in ROUTES)
    assert any(p.startswith("/v1/acl/") for _, p, _ in ROUTES)
    assert any(p.startswith("/v1/connect/intentions") for _, p, _ in ROUTES)
    # The audit log's endpoint (test_audit.py) is in the matrix too.
    assert ["GET", "/v1/operator/audit", "OPERATOR_READ"] in ROUTES
