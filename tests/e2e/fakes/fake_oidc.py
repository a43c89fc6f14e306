#!/usr/bin/python3
"""A fake OIDC provider: discovery, JWKS, authorize redirect, token and
userinfo endpoints, with an RSA (kid "rsa1", RS256) and a P-256 key
(kid "ec1", ES256), all generated at start.

  GET  /.well-known/openid-configuration
  GET  /jwks
  GET  /authorize?client_id&redirect_uri&state&nonce&response_type=code
       -> 302 to redirect_uri?code=...&state=...
  POST /token   grant_type=authorization_code, code, redirect_uri,
                client_id + client_secret (form or HTTP Basic)
  GET  /userinfo  (Bearer access token)
  POST /_fake/mint {"claims": {...}, "alg": "RS256", "kid": "rsa1"}
       -> {"token": "<JWS>"}: tokens for the jwt auth method tests
  POST /_fake/config {"mode": "ok"|"slow"|"down"|"huge", "delay": s,
       "alg": "ES256", "claims": {...}, "id_token": "omit"|"bad_nonce"|
       "wrong_aud"|"expired"|"bad_sig"}

The issuer is the base URL.  Client: id "portcullis", secret
"fake-secret" (test-only).  The ready file holds {port, url, ca_pem,
client_id, client_secret}.
"""
import json
import os
import secrets
import sys
import time
import base64
from urllib.parse import parse_qs, urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

CLIENT_ID = "portcullis"
CLIENT_SECRET = "fake-secret"
KEYS = {
    "rsa1": ("RS256", rsa.generate_private_key(public_exponent=65537,
                                               key_size=2048)),
    "ec1": ("ES256", ec.generate_private_key(ec.SECP256R1())),
}
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CODES = {}      # code -> {nonce, redirect_uri, client_id}
ACCESS = {}     # access token -> sub
BASE = [""]


def key_for(alg):
    for kid, (a, k) in KEYS.items():
        if a == alg:
            return kid, k
    raise ValueError(alg)


class Handler(common.FakeHandler):
    state = common.FakeState()

    def route(self, method, path, query, body):
        base = BASE[0]
        ex = self.state.extra
        if path == "/_fake/mint" and method == "POST":
            req = json.loads(body or b"{}")
            alg = req.get("alg", "RS256")
            kid, key = key_for(alg)
            kid = req.get("kid", kid)
            return self.reply(200, {"token": common.sign_jws(
                alg, key, req.get("claims", {}), kid=kid)})
        if path == "/.well-known/openid-configuration":
            return self.reply(200, {
                "issuer": ex.get("issuer", base),
                "authorization_endpoint": base + "/authorize",
                "token_endpoint": base + "/token",
                "jwks_uri": base + "/jwks",
                "userinfo_endpoint": base + "/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            })
        if path == "/jwks":
            return self.reply(200, {"keys": [
                common.jwk_of(k.public_key(), kid, a)
                for kid, (a, k) in KEYS.items()]})
        if path == "/authorize":
            q = {k: v[0] for k, v in query.items()}
            if q.get("client_id") != CLIENT_ID or \
                    q.get("response_type") != "code":
                return self.reply(400, {"error": "invalid_request"})
            code = secrets.token_urlsafe(16)
            CODES[code] = {"nonce": q.get("nonce", ""),
                           "redirect_uri": q.get("redirect_uri", ""),
                           "client_id": q["client_id"]}
            sep = "&" if "?" in q.get("redirect_uri", "") else "?"
            loc = q.get("redirect_uri", "") + sep + urlencode(
                {"code": code, "state": q.get("state", "")})
            return self.reply(302, {"code": code, "state": q.get("state", "")},
                              headers={"Location": loc})
        if path == "/token" and method == "POST":
            f = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            cid, sec = f.get("client_id"), f.get("client_secret")
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                cid, _, sec = base64.b64decode(auth[6:]).decode().partition(":")
            if cid != CLIENT_ID or sec != CLIENT_SECRET:
                return self.reply(401, {"error": "invalid_client"})
            c = CODES.pop(f.get("code", ""), None)
            if f.get("grant_type") != "authorization_code" or c is None or \
                    c["redirect_uri"] != f.get("redirect_uri"):
                return self.reply(400, {"error": "invalid_grant"})
            now = int(time.time())
            claims = {"iss": ex.get("issuer", base), "sub": "alice",
                      "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                      "nonce": c["nonce"], "email": "alice@example.com",
                      "groups": ["admins", "dev"], "team": "Payments"}
            claims.update(ex.get("claims", {}))
            how = ex.get("id_token", "")
            if how == "bad_nonce":
                claims["nonce"] = "0" * 40
            elif how == "wrong_aud":
                claims["aud"] = "someone-else"
            elif how == "expired":
                claims["iat"], claims["exp"] = now - 600, now - 300
            alg = ex.get("alg", "RS256")
            kid, key = key_for(alg)
            if how == "bad_sig":
                key = OTHER
                alg = "RS256"
                kid = "rsa1"
            at = secrets.token_urlsafe(16)
            ACCESS[at] = claims["sub"]
            out = {"access_token": at, "token_type": "Bearer",
                   "expires_in": 300}
            if how != "omit":
                out["id_token"] = common.sign_jws(alg, key, claims, kid=kid)
            return self.reply(200, out)
        if path == "/userinfo":
            auth = self.headers.get("Authorization", "")
            sub = ACCESS.get(auth[7:]) if auth.startswith("Bearer ") else None
            if sub is None:
                return self.reply(401, {"error": "invalid_token"})
            return self.reply(200, {"sub": sub, "department": "Engineering"})
        return self.reply(404, {"error": "not found"})


def main():
    args = common.arg_parser(__doc__).parse_args()

    def ready(url):
        BASE[0] = url
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    common.serve(Handler, ready, args)


if __name__ == "__main__":
    main()
