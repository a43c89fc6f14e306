"""Connect CA: bootstrap, roots (JSON, PEM, agent form), configuration,
rotation with cross-signing, pruning, revocation and the CRL.  Every
certificate is checked by independent tools (python3-cryptography,
openssl verify -x509_strict, certtool)."""
import datetime
import hashlib
import os
import subprocess
import tempfile
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import certs
from conftest import wait_for
from conftest import sqlite_only


def roots(server):
    r = server.get("/v1/connect/ca/roots")
    assert r.status_code == 200, r.text
    return r


def active(rs):
    return next(x for x in rs["Roots"] if x["Active"])


def config(server):
    r = server.get("/v1/connect/ca/configuration")
    assert r.status_code == 200, r.text
    return r.json()


def put_config(server, cfg, **kw):
    body = {"Provider": "consul", "Config": cfg}
    body.update(kw)
    return server.put("/v1/connect/ca/configuration", body)


def test_bootstrap_root_matches_modern_consul_not_the_1_2_seed(server):
    """Modern: CN pri-<uid>.consul.ca.<cid8>.consul, Name "Consul CA
    Primary Cert", raw SHA-256 SKI, no name constraints, PrivateKeyType
    and Bits filled (seed 000 shows the 1.2 forms)."""
    r = roots(server)
    body = r.json()
    assert list(body) == ["ActiveRootID", "TrustDomain", "Roots"]
    assert len(body["Roots"]) == 1
    root = body["Roots"][0]
    assert list(root) == ["ID", "Name", "SerialNumber", "SigningKeyID", "ExternalTrustDomain",
                          "NotBefore", "NotAfter", "RootCert", "IntermediateCerts", "Active",
                          "PrivateKeyType", "PrivateKeyBits", "CreateIndex", "ModifyIndex"]
    cid = root["ExternalTrustDomain"]
    assert body["TrustDomain"] == cid + ".consul"
    assert body["ActiveRootID"] == root["ID"]
    assert root["Name"] == "Consul CA Primary Cert"
    assert root["Active"] is True and root["IntermediateCerts"] is None
    assert (root["PrivateKeyType"], root["PrivateKeyBits"]) == ("ec", 256)
    assert root["RootCert"].endswith("-----END CERTIFICATE-----\n")
    assert int(r.headers["X-Consul-Index"]) >= root["ModifyIndex"]

    c = certs.load(root["RootCert"])
    der = c.public_bytes(certs.serialization.Encoding.DER)
    assert root["ID"] == certs.colon_hex(hashlib.sha1(der).digest())
    assert root["SerialNumber"] == c.serial_number
    ski = certs.ext(c, x509.SubjectKeyIdentifier).value.digest
    assert ski == certs.spki_sha256(c)
    assert root["SigningKeyID"] == certs.colon_hex(ski)
    assert certs.ext(c, x509.AuthorityKeyIdentifier).value.key_identifier == ski
    cn = c.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    assert cn.startswith("pri-") and cn.endswith(".consul.ca.%s.consul" % cid[:8])
    assert c.issuer == c.subject and len(c.subject) == 1
    bc = certs.ext(c, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length is None
    ku = certs.ext(c, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.key_encipherment
    san = certs.ext(c, x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://%s.consul" % cid]
    with pytest.raises(x509.ExtensionNotFound):
        certs.ext(c, x509.NameConstraints)
    assert isinstance(c.public_key(), ec.EllipticCurvePublicKey)
    assert c.public_key().curve.name == "secp256r1"
    nb = c.not_valid_before
    assert root["NotBefore"] == nb.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (c.not_valid_after - nb) == datetime.timedelta(hours=87600)
    ok, out = certs.openssl_verify(root["RootCert"], root["RootCert"])
    assert ok, out
    ok, out = certs.certtool_verify(root["RootCert"], root["RootCert"])
    assert ok, out


def test_roots_pem_is_every_root_and_intermediate_in_order(server):
    r = server.get("/v1/connect/ca/roots?pem=true")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/pem-certificate-chain"
    rs = roots(server).json()
    want = "".join(x["RootCert"] + "".join(x["IntermediateCerts"] or []) for x in rs["Roots"])
    assert r.text == want
    assert server.get("/v1/connect/ca/roots?pem=false").headers["Content-Type"] == "application/json"
    bad = server.get("/v1/connect/ca/roots?pem=yes")
    assert bad.status_code == 400
    assert bad.text == "The 'pem' query parameter must be a boolean value"


def test_agent_roots_send_x_cache_and_the_same_body(server):
    seen = set()
    for _ in range(8):
        r = server.get("/v1/agent/connect/ca/roots")
        assert r.status_code == 200
        assert r.json() == roots(server).json()
        seen.add(r.headers["X-Cache"])
        if r.headers["X-Cache"] == "HIT":
            assert r.headers["Age"] == "0"
        else:
            assert "Age" not in r.headers
    assert "HIT" in seen
    pretty = server.get("/v1/agent/connect/ca/roots?pretty")
    assert pretty.text.startswith("{\n    \"ActiveRootID\"") and pretty.text.endswith("}\n")


def test_config_get_shows_bootstrap_defaults_without_index_header(server):
    r = server.get("/v1/connect/ca/configuration")
    assert r.status_code == 200
    assert "X-Consul-Index" not in r.headers
    c = r.json()
    assert list(c) == ["Provider", "Config", "State", "ForceWithoutCrossSigning",
                       "CreateIndex", "ModifyIndex"]
    assert c["Provider"] == "consul" and c["State"] is None
    assert c["Config"] == {"IntermediateCertTTL": "8760h", "LeafCertTTL": "72h", "RootCertTTL": "87600h"}


@pytest.mark.parametrize("cfg,text", [
    ({"RootCertTTL": "100h"},
     "root cert TTL is set and is not greater than intermediate cert ttl. "
     "root cert ttl: 100h0m0s, intermediate cert ttl: 8760h0m0s"),
    ({"LeafCertTTL": "30m"}, "leaf cert TTL must be greater or equal than 1h0m0s"),
    ({"LeafCertTTL": "9000h", "IntermediateCertTTL": "30000h", "RootCertTTL": "90000h"},
     "leaf cert TTL must be less than 8760h0m0s"),
    ({"IntermediateCertTTL": "2h"}, "Intermediate Cert TTL must be greater or equal than 3h"),
    ({"LeafCertTTL": "72h", "IntermediateCertTTL": "100h"},
     "Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL (>=216h0m0s)."),
    ({"PrivateKeyBits": 512}, "EC key length must be one of (224, 256, 384, 521) bits"),
    ({"PrivateKeyType": "rsa"}, "RSA key length must be 2048 or 4096 bits"),
    ({"PrivateKeyType": "dsa"}, "private key type must be either 'ec' or 'rsa'"),
    ({"RootCert": "-----BEGIN CERTIFICATE-----\n"},
     "must provide a private key when providing a root cert"),
    ({"LeafCertTTL": "soon"},
     "error decoding config: 1 error(s) decoding:\n\n"
     "* error decoding 'LeafCertTTL': time: invalid duration \"soon\""),
    # Finite but beyond int64: Go's conversion is unspecified, C's is UB (#12 item 11).
    ({"LeafCertTTL": 1e30},
     "error decoding config: 1 error(s) decoding:\n\n"
     "* error decoding 'LeafCertTTL': 1e+30 overflows time.Duration"),
    ({"PrivateKeyBits": -1e300},
     "error decoding config: 1 error(s) decoding:\n\n"
     "* error decoding 'PrivateKeyBits': -1e+300 overflows int"),
    ({"PrivateKeyBits": "many"},
     "error decoding config: 1 error(s) decoding:\n\n"
     "* cannot parse 'PrivateKeyBits' as int: strconv.ParseInt: parsing \"many\": invalid syntax"),
])
def test_config_validation_is_500_error_configuring_provider(server, cfg, text):
    before = config(server)
    r = put_config(server, cfg)
    assert r.status_code == 500
    assert r.text == "error configuring provider: " + text
    assert config(server) == before


def test_config_body_errors(server):
    r = server.request("PUT", "/v1/connect/ca/configuration", raw="not json")
    assert r.status_code == 400 and r.text.startswith("Request decode failed: invalid character ")
    r = server.request("PUT", "/v1/connect/ca/configuration", raw="")
    assert (r.status_code, r.text) == (400, "Request decode failed: EOF")
    r = server.put("/v1/connect/ca/configuration", {"Provider": "consul", "ClusterID": "x"})
    assert (r.status_code, r.text) == (400, 'Request decode failed: json: unknown field "ClusterID"')
    r = server.put("/v1/connect/ca/configuration", {"Provider": "consul", "Config": "x"})
    assert r.status_code == 400 and "cannot unmarshal string" in r.text
    r = put_config(server, {"LeafCertTTL": "24h"}, State={"a": "b"})
    assert (r.status_code, r.text) == (400, "Provider State is read-only. It must be omitted or "
                                            "identical to the current value")
    r = server.put("/v1/connect/ca/configuration", {"Provider": "vault", "Config": {}})
    assert (r.status_code, r.text) == (500, 'could not initialize provider: unknown CA provider "vault"')


def test_identical_config_is_a_no_op(server):
    c = config(server)
    idx = roots(server).headers["X-Consul-Index"]
    r = put_config(server, c["Config"])
    assert r.status_code == 200 and r.text == ""
    assert config(server)["ModifyIndex"] == c["ModifyIndex"]
    assert roots(server).headers["X-Consul-Index"] == idx


def test_ttl_only_change_stores_config_and_keeps_the_root(server):
    before = roots(server).json()
    r = put_config(server, {"LeafCertTTL": "48h", "RotationPeriod": "2160h", "CSRMaxPerSecond": "100",
                            "SomethingUnknown": 1})
    assert r.status_code == 200, r.text
    c = config(server)
    # The stored map is exactly the body's (no merge with defaults).
    assert c["Config"] == {"CSRMaxPerSecond": "100", "LeafCertTTL": "48h", "RotationPeriod": "2160h",
                           "SomethingUnknown": 1}
    assert c["ModifyIndex"] > c["CreateIndex"]
    after = roots(server).json()
    assert after["ActiveRootID"] == before["ActiveRootID"] and len(after["Roots"]) == len(before["Roots"])


def test_key_type_change_rotates_with_a_cross_signed_intermediate(make_server):
    s = make_server()
    old = active(roots(s).json())
    r = put_config(s, {"PrivateKeyType": "ec", "PrivateKeyBits": 384})
    assert r.status_code == 200, r.text
    rs = roots(s).json()
    assert len(rs["Roots"]) == 2
    assert [x["ID"] for x in rs["Roots"]] == sorted(x["ID"] for x in rs["Roots"])
    new = active(rs)
    assert rs["ActiveRootID"] == new["ID"] != old["ID"]
    oldnow = next(x for x in rs["Roots"] if x["ID"] == old["ID"])
    assert oldnow["Active"] is False
    assert oldnow["CreateIndex"] == old["CreateIndex"]
    assert oldnow["ModifyIndex"] == new["ModifyIndex"] == new["CreateIndex"]
    assert (new["PrivateKeyType"], new["PrivateKeyBits"]) == ("ec", 384)
    assert new["SerialNumber"] > old["SerialNumber"]
    assert len(new["IntermediateCerts"]) == 1
    cross = certs.load(new["IntermediateCerts"][0])
    nroot = certs.load(new["RootCert"])
    oroot = certs.load(old["RootCert"])
    assert cross.subject == nroot.subject and cross.issuer == oroot.subject
    assert certs.ext(cross, x509.SubjectKeyIdentifier).value == certs.ext(nroot, x509.SubjectKeyIdentifier).value
    assert certs.ext(cross, x509.AuthorityKeyIdentifier).value.key_identifier == \
        certs.ext(oroot, x509.SubjectKeyIdentifier).value.digest
    assert cross.not_valid_after - cross.not_valid_before == datetime.timedelta(days=7)
    assert cross.serial_number > nroot.serial_number
    # The cross-signed certificate chains to the old root.
    ok, out = certs.openssl_verify(old["RootCert"], new["IntermediateCerts"][0])
    assert ok, out
    ok, out = certs.certtool_verify(new["IntermediateCerts"][0], old["RootCert"])
    assert ok, out


def test_force_without_cross_signing_rotates_without_intermediate(make_server):
    s = make_server()
    r = put_config(s, {"PrivateKeyType": "rsa", "PrivateKeyBits": 2048}, ForceWithoutCrossSigning=True)
    assert r.status_code == 200, r.text
    new = active(roots(s).json())
    assert new["IntermediateCerts"] is None
    assert (new["PrivateKeyType"], new["PrivateKeyBits"]) == ("rsa", 2048)
    c = certs.load(new["RootCert"])
    assert isinstance(c.public_key(), rsa.RSAPublicKey) and c.public_key().key_size == 2048
    ok, out = certs.openssl_verify(new["RootCert"], new["RootCert"])
    assert ok, out
    assert config(s)["ForceWithoutCrossSigning"] is True


def test_supplied_key_and_root_rotate_and_the_key_is_never_returned(make_server):
    s = make_server()
    cid = roots(s).json()["TrustDomain"].split(".")[0]
    root_pem, key_pem = certs.self_signed_ca(cid)
    r = put_config(s, {"PrivateKey": key_pem, "RootCert": root_pem})
    assert r.status_code == 200, r.text
    rs = roots(s).json()
    new = active(rs)
    assert certs.load(new["RootCert"]) == certs.load(root_pem)
    assert len(new["IntermediateCerts"]) == 1
    leaf = s.get("/v1/agent/connect/ca/leaf/web").json()
    ok, out = certs.openssl_verify(root_pem, certs.pems(leaf["CertPEM"])[0])
    assert ok, out
    # No endpoint returns a CA key; the log never shows one.
    c = config(s)
    assert "PrivateKey" not in c["Config"] and c["Config"]["RootCert"] == root_pem
    for path in ("/v1/connect/ca/roots", "/v1/agent/connect/ca/roots", "/v1/connect/ca/configuration",
                 "/v1/connect/ca/roots?pem=true", "/v1/connect/ca/crl?pem=true"):
        assert "PRIVATE KEY" not in s.get(path).text
    assert "PRIVATE KEY" not in s.logtext()
    # A key that does not match the root is refused.
    other_root, _ = certs.self_signed_ca(cid)
    r = put_config(s, {"PrivateKey": key_pem, "RootCert": other_root})
    assert r.status_code == 500 and r.text.startswith("error configuring provider: ")
    r = put_config(s, {"PrivateKey": "-----BEGIN EC PRIVATE KEY-----\nnope\n-----END EC PRIVATE KEY-----\n"})
    assert r.status_code == 500 and r.text.startswith("error configuring provider: ")


def test_blocking_roots_queries_are_released_by_a_rotation(make_server):
    s = make_server()
    idx = int(roots(s).headers["X-Consul-Index"])
    out = {}

    def wait(path, key):
        out[key] = s.get(path + "?index=%d&wait=20s" % idx, timeout=40)

    ts = [threading.Thread(target=wait, args=(p, k)) for p, k in
          (("/v1/connect/ca/roots", "roots"), ("/v1/agent/connect/ca/roots", "agent"))]
    for t in ts:
        t.start()
    time.sleep(0.5)
    assert not out
    t0 = time.monotonic()
    assert put_config(s, {"PrivateKeyType": "ec", "PrivateKeyBits": 384}).status_code == 200
    for t in ts:
        t.join(30)
    assert time.monotonic() - t0 < 5
    for k in ("roots", "agent"):
        assert int(out[k].headers["X-Consul-Index"]) > idx
        assert len(out[k].json()["Roots"]) == 2


def test_rotated_out_root_is_pruned_after_twice_the_leaf_ttl(make_server):
    s = make_server()
    # SkipValidate lets a 1s LeafCertTTL through: pruning after 2 s.
    r = put_config(s, {"SkipValidate": True, "LeafCertTTL": "1s", "PrivateKeyBits": 384})
    assert r.status_code == 200, r.text
    assert len(roots(s).json()["Roots"]) == 2
    time.sleep(3.2)
    rs = roots(s).json()
    assert len(rs["Roots"]) == 1 and rs["Roots"][0]["Active"]
    assert rs["Roots"][0]["ModifyIndex"] > rs["Roots"][0]["CreateIndex"]


def test_revoke_then_crl_lists_the_serials_and_verifies(make_server):
    s = make_server()
    a = s.get("/v1/agent/connect/ca/leaf/web").json()
    b = s.get("/v1/agent/connect/ca/leaf/db").json()
    r = s.put("/v1/connect/ca/revoke", {"SerialNumbers": [a["SerialNumber"]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"SerialNumbers": [a["SerialNumber"]]}
    r = s.put("/v1/connect/ca/revoke", {"Service": "db"})
    assert r.json() == {"SerialNumbers": [b["SerialNumber"]]}
    der = s.get("/v1/connect/ca/crl")
    assert der.status_code == 200 and der.headers["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(der.content)
    root = active(roots(s).json())
    assert crl.is_signature_valid(certs.load(root["RootCert"]).public_key())
    serials = sorted(x.serial_number for x in crl)
    assert serials == sorted(int(x["SerialNumber"].replace(":", ""), 16) for x in (a, b))
    pem = s.get("/v1/connect/ca/crl?pem=true")
    assert pem.headers["Content-Type"] == "application/x-pem-file"
    assert pem.text.startswith("-----BEGIN X509 CRL-----")
    d = tempfile.mkdtemp()
    crlf = certs.write(d, "crl.pem", pem.text)
    rootf = certs.write(d, "root.pem", root["RootCert"])
    p = subprocess.run(["openssl", "crl", "-in", crlf, "-CAfile", rootf, "-noout"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "verify OK" in p.stdout + p.stderr, p.stdout + p.stderr
    p = subprocess.run(["certtool", "--verify-crl", "--load-ca-certificate", rootf, "--infile", crlf],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "Verified" in p.stdout + p.stderr, p.stdout + p.stderr
    # openssl refuses the revoked leaf when the CRL is checked.
    leaf = certs.write(d, "leaf.pem", certs.pems(a["CertPEM"])[0])
    p = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", rootf, "-CRLfile", crlf, leaf],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "revoked" in p.stdout + p.stderr


def test_revoke_errors(server):
    for body, status, text in [
        ({}, 400, "Exactly one of SerialNumbers or Service must be given"),
        ({"SerialNumbers": ["01"], "Service": "web"}, 400, "Exactly one of SerialNumbers or Service must be given"),
        ({"SerialNumbers": ["zz"]}, 400, 'Invalid serial number: "zz"'),
        ({"SerialNumbers": [7]}, 400, "Invalid serial number: 7"),
        ({"SerialNumbers": ["ff:ff:ff"]}, 404, "Certificate not found: ff:ff:ff"),
        ({"Serials": []}, 400, 'Request decode failed: json: unknown field "Serials"'),
    ]:
        r = server.put("/v1/connect/ca/revoke", body)
        assert (r.status_code, r.text) == (status, text), body


def test_connect_disabled_answers_500(make_server):
    s = make_server("connect {\n  enabled = false\n}\n")
    for path in ("/v1/connect/ca/roots", "/v1/agent/connect/ca/roots", "/v1/connect/ca/configuration",
                 "/v1/agent/connect/ca/leaf/web", "/v1/connect/ca/crl"):
        r = s.get(path)
        assert (r.status_code, r.text) == (500, "Connect must be enabled in order to use this endpoint"), path


def test_file_ca_config_seeds_the_bootstrap_config(make_server):
    s = make_server('connect {\n  ca_config {\n    leaf_cert_ttl = "24h"\n'
                    '    private_key_type = "rsa"\n    private_key_bits = 2048\n  }\n}\n')
    c = config(s)["Config"]
    assert c["LeafCertTTL"] == "24h" and c["PrivateKeyType"] == "rsa" and c["PrivateKeyBits"] == 2048
    root = active(roots(s).json())
    assert (root["PrivateKeyType"], root["PrivateKeyBits"]) == ("rsa", 2048)
    leaf = s.get("/v1/agent/connect/ca/leaf/web").json()
    c = certs.load(certs.pems(leaf["CertPEM"])[0])
    assert c.not_valid_after - c.not_valid_before == datetime.timedelta(hours=24)


@sqlite_only
def test_store_file_holding_ca_keys_is_0600(server):
    st = os.stat(os.path.join(server.dir, "portcullis.db"))
    assert st.st_mode & 0o777 == 0o600
