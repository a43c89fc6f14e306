#!/usr/bin/python3
"""Make the keys and tokens test_jwt.c and test_authmethod.c check,
fresh on every run (no committed secrets): jwt_mint.py OUTDIR writes

  OUTDIR/<key>.pub.pem   rsa ec256 ec384 ec521 ed25519 other; rsa.cert.pem
  OUTDIR/jwks.json       rsa (kid rsa1), ec256 (kid ec1), ed25519 (kid ed1)
  OUTDIR/tokens.txt      "<name> <compact JWS>" lines

Times are relative to now; claims: iss https://issuer.example, aud
portcullis, and claims for the mappings (team, groups, nested, flag...).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "e2e", "fakes"))
import common  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa
from cryptography.x509.oid import NameOID  # noqa: E402
import datetime  # noqa: E402


def main():
    out = sys.argv[1]
    now = int(time.time())
    keys = {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec256": ec.generate_private_key(ec.SECP256R1()),
        "ec384": ec.generate_private_key(ec.SECP384R1()),
        "ec521": ec.generate_private_key(ec.SECP521R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "other": rsa.generate_private_key(public_exponent=65537,
                                          key_size=2048),
    }
    for name, k in keys.items():
        with open(os.path.join(out, name + ".pub.pem"), "w") as f:
            f.write(common.pub_pem(k))
    nm = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwt signer")])
    cert = (x509.CertificateBuilder().subject_name(nm).issuer_name(nm)
            .public_key(keys["rsa"].public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2099, 1, 1))
            .sign(keys["rsa"], hashes.SHA256()))
    with open(os.path.join(out, "rsa.cert.pem"), "w") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM).decode())
    with open(os.path.join(out, "jwks.json"), "w") as f:
        json.dump({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            common.jwk_of(keys["rsa"].public_key(), "rsa1"),
            common.jwk_of(keys["ec256"].public_key(), "ec1"),
            common.jwk_of(keys["ed25519"].public_key(), "ed1"),
        ]}, f)

    base = {"iss": "https://issuer.example", "sub": "alice",
            "aud": "portcullis", "iat": now - 10, "nbf": now - 10,
            "exp": now + 600, "team": "Payments", "groups": ["admins", "dev",
                                                           ""],
            "nested": {"deep": {"id": 42}, "a/b": "slash"},
            "flag": True, "num": 3.9, "obj": {"a": 1},
            "single": "solo"}

    def c(**kw):
        d = dict(base)
        for k, v in kw.items():
            if v is None:
                d.pop(k, None)
            else:
                d[k] = v
        return d

    rsa_pem = common.pub_pem(keys["rsa"]).encode()
    toks = [
        ("rs256", "RS256", "rsa", c(), None),
        ("rs384", "RS384", "rsa", c(), None),
        ("rs512", "RS512", "rsa", c(), None),
        ("ps256", "PS256", "rsa", c(), None),
        ("ps512", "PS512", "rsa", c(), None),
        ("es256", "ES256", "ec256", c(), None),
        ("es384", "ES384", "ec384", c(), None),
        ("es512", "ES512", "ec521", c(), None),
        ("eddsa", "EdDSA", "ed25519", c(), None),
        ("rs256_kid", "RS256", "rsa", c(), "rsa1"),
        ("es256_kid", "ES256", "ec256", c(), "ec1"),
        ("eddsa_kid", "EdDSA", "ed25519", c(), "ed1"),
        ("kid_unknown", "RS256", "rsa", c(), "nope"),
        ("bad_sig", "RS256", "other", c(), None),
        ("es256_by_es384", "ES256", "ec384", c(), None),
        ("expired", "RS256", "rsa", c(iat=now - 2000, nbf=now - 2000,
                                      exp=now - 1000), None),
        ("expired_in_skew", "RS256", "rsa", c(iat=now - 2000, nbf=now - 2000,
                                              exp=now - 30), None),
        ("not_yet", "RS256", "rsa", c(iat=now, nbf=now + 1000,
                                      exp=now + 2000), None),
        ("iat_future", "RS256", "rsa", c(iat=now + 1000, nbf=None,
                                         exp=now + 2000), None),
        ("no_times", "RS256", "rsa", c(iat=None, nbf=None, exp=None), None),
        ("only_iat_old", "RS256", "rsa", c(iat=now - 300, nbf=None,
                                           exp=None), None),
        ("only_iat_new", "RS256", "rsa", c(iat=now - 100, nbf=None,
                                           exp=None), None),
        ("only_exp", "RS256", "rsa", c(iat=None, nbf=None, exp=now + 100),
         None),
        ("no_aud", "RS256", "rsa", c(aud=None), None),
        ("aud_list", "RS256", "rsa", c(aud=["x", "portcullis"]), None),
        ("aud_other", "RS256", "rsa", c(aud="someone-else"), None),
        ("iss_other", "RS256", "rsa", c(iss="https://evil.example"), None),
    ]
    with open(os.path.join(out, "tokens.txt"), "w") as f:
        for name, alg, key, claims, kid in toks:
            f.write("%s %s\n" % (name, common.sign_jws(alg, keys[key],
                                                        claims, kid=kid)))
        f.write("none %s\n" % common.sign_jws("none", None, c()))
        f.write("hs256_pub %s\n" % common.sign_jws("HS256", rsa_pem, c()))
        good = common.sign_jws("RS256", keys["rsa"], c())
        h, p, s = good.split(".")
        evil = common.b64u(json.dumps(c(sub="mallory")))
        f.write("tampered %s.%s.%s\n" % (h, evil, s))
        f.write("crit %s\n" % common.sign_jws("RS256", keys["rsa"], c(),
                                              header_extra={"crit": ["x"]}))


if __name__ == "__main__":
    main()
