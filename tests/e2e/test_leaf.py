"""Leaf certificates: the agent leaf endpoint (fields checked by
cryptography, openssl and certtool; a cache shared by every worker;
blocking; renewal on rotation and revocation; ACL on every call; CSR
rate limits), a real mutual-TLS handshake between two leaves before and
during a rotation, and the /v1/connect/ca/sign extension."""
import datetime
import os
import re
import signal
import subprocess
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import certs
from conftest import wait_for
from conftest import sqlite_only


# The order of P-256's base point (SEC 2).
SECP256R1_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551


def leaf(server, svc, **kw):
    r = server.get("/v1/agent/connect/ca/leaf/" + svc, **kw)
    assert r.status_code == 200, r.text
    return r


def roots(server):
    return server.get("/v1/connect/ca/roots").json()


def active(rs):
    return next(x for x in rs["Roots"] if x["Active"])


def all_roots_pem(rs):
    return "".join(x["RootCert"] for x in rs["Roots"])


def test_leaf_fields_match_modern_consul_empty_subject_not_1_2_cn(server):
    """Modern leaves have an empty subject and SKI = SHA-256 of their own
    key (seed 000 shows the 1.2-era CN=<service> and a copied key id)."""
    t0 = datetime.datetime.utcnow().replace(microsecond=0)
    r = leaf(server, "web")
    j = r.json()
    assert list(j) == ["SerialNumber", "CertPEM", "PrivateKeyPEM", "Service", "ServiceURI",
                       "ValidAfter", "ValidBefore", "CreateIndex", "ModifyIndex"]
    rs = roots(server)
    root = active(rs)
    td = rs["TrustDomain"]
    assert j["Service"] == "web"
    assert j["ServiceURI"] == "spiffe://%s/ns/default/dc/dc1/svc/web" % td
    assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2})*", j["SerialNumber"])
    assert j["CreateIndex"] == j["ModifyIndex"] == int(r.headers["X-Consul-Index"])
    assert j["PrivateKeyPEM"].startswith("-----BEGIN EC PRIVATE KEY-----\n")
    assert j["CertPEM"].endswith("\n")
    c = certs.load(certs.pems(j["CertPEM"])[0])
    assert certs.colon_hex(c.serial_number.to_bytes((c.serial_number.bit_length() + 7) // 8, "big")) \
        == j["SerialNumber"]
    assert len(c.subject) == 0
    assert c.issuer == certs.load(root["RootCert"]).subject
    san = certs.ext(c, x509.SubjectAlternativeName)
    assert san.critical
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [j["ServiceURI"]]
    assert san.value.get_values_for_type(x509.DNSName) == []
    ku = certs.ext(c, x509.KeyUsage)
    assert ku.critical
    assert (ku.value.digital_signature, ku.value.key_encipherment, ku.value.data_encipherment,
            ku.value.key_agreement, ku.value.key_cert_sign) == (True, True, True, True, False)
    assert not certs.ext(c, x509.ExtendedKeyUsage).critical
    assert certs.eku_order(c) == certs.EKU_CLIENT_SERVER
    bc = certs.ext(c, x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    assert certs.ext(c, x509.SubjectKeyIdentifier).value.digest == certs.spki_sha256(c)
    assert certs.colon_hex(certs.ext(c, x509.AuthorityKeyIdentifier).value.key_identifier) == \
        root["SigningKeyID"]
    assert isinstance(c.public_key(), ec.EllipticCurvePublicKey)
    assert c.public_key().curve.name == "secp256r1"
    assert c.not_valid_after - c.not_valid_before == datetime.timedelta(hours=72)
    assert abs((c.not_valid_before - (t0 - datetime.timedelta(minutes=1))).total_seconds()) <= 2
    assert j["ValidAfter"] == c.not_valid_before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert j["ValidBefore"] == c.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    ok, out = certs.openssl_verify(root["RootCert"], j["CertPEM"])
    assert ok, out
    ok, out = certs.certtool_verify(j["CertPEM"] + root["RootCert"], root["RootCert"])
    assert ok, out


def test_agent_leaf_keys_are_fresh_p256_pairs_matching_their_certificates(server):
    """The agent's key pair is generated with nettle directly (x509.c):
    recompute each public point from the private scalar (cryptography),
    check it is the certificate's, sign with the key and verify with the
    certificate, have openssl check the key and verify the leaf against
    the root, and see that no two keys repeat."""
    root = active(roots(server))["RootCert"]
    scalars = set()
    for i in range(12):
        j = leaf(server, "keypair-%d" % i).json()
        key = serialization.load_pem_private_key(j["PrivateKeyPEM"].encode(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
        d = key.private_numbers().private_value
        assert 0 < d < SECP256R1_ORDER and d not in scalars
        scalars.add(d)
        pub = certs.load(certs.pems(j["CertPEM"])[0]).public_key()
        assert ec.derive_private_key(d, ec.SECP256R1()).public_key().public_numbers() == \
            pub.public_numbers()
        sig = key.sign(b"proof of possession", ec.ECDSA(hashes.SHA256()))
        pub.verify(sig, b"proof of possession", ec.ECDSA(hashes.SHA256()))
        out = subprocess.run(["openssl", "pkey", "-check", "-noout"], input=j["PrivateKeyPEM"],
                             capture_output=True, text=True)
        assert out.returncode == 0 and "valid" in (out.stdout + out.stderr).lower(), out
        ok, out = certs.openssl_verify(root, j["CertPEM"])
        assert ok, out


def test_leaf_is_cached_across_workers_until_renewal(server):
    first = leaf(server, "cached-svc")
    assert first.headers["X-Cache"] == "MISS"
    serials = set()
    for _ in range(20):
        r = leaf(server, "cached-svc")
        assert r.headers["X-Cache"] == "HIT" and r.headers["Age"] == "0"
        assert r.json() == first.json()
        serials.add(r.json()["SerialNumber"])
    assert serials == {first.json()["SerialNumber"]}
    # Both workers answered (the fixture runs two).
    assert len(server.workers()) == 2


@sqlite_only
def test_leaf_private_keys_are_never_written_to_the_store(server):
    """The cache is in memory shared by the workers, as Consul's agent
    keeps it: no line of a leaf's private key reaches the database or
    its WAL (the store held them until migration 006)."""
    keys = [leaf(server, "nokey-%d" % i).json()["PrivateKeyPEM"] for i in range(5)]
    assert leaf(server, "nokey-0").headers["X-Cache"] == "HIT"
    blob = b""
    for name in ("portcullis.db", "portcullis.db-wal"):
        path = os.path.join(server.dir, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                blob += f.read()
    assert len(blob) > 0
    for k in keys:
        lines = k.strip().splitlines()
        assert lines[0] == "-----BEGIN EC PRIVATE KEY-----"
        for line in lines[1:-1]:
            assert line.encode() not in blob


def test_leaf_cache_survives_reloads_and_killed_workers_not_a_restart(make_server):
    s = make_server()
    first = leaf(s, "kept-svc").json()
    before = s.workers()
    os.kill(s.master.pid, signal.SIGHUP)
    wait_for(lambda: len(s.workers()) == 2 and not set(s.workers()) & set(before),
             timeout=15, what="reload")
    r = leaf(s, "kept-svc")
    assert r.headers["X-Cache"] == "HIT" and r.json() == first
    before = s.workers()
    os.kill(before[0], signal.SIGKILL)
    wait_for(lambda: len(s.workers()) == 2 and s.workers() != before,
             timeout=10, what="restart")
    for _ in range(6):          # whichever worker answers
        r = leaf(s, "kept-svc")
        assert r.headers["X-Cache"] == "HIT" and r.json() == first
    # A restart forgets it, like an agent restart: a fresh key and leaf.
    s.stop_master()
    s.start()
    r = leaf(s, "kept-svc")
    assert r.headers["X-Cache"] == "MISS"
    assert r.json()["SerialNumber"] != first["SerialNumber"]
    assert r.json()["PrivateKeyPEM"] != first["PrivateKeyPEM"]


def test_leaf_endpoint_rejects_namespaces_and_other_datacenters(server):
    r = server.get("/v1/agent/connect/ca/leaf/web?ns=foo")
    assert (r.status_code, r.text) == (400, 'Invalid query parameter: "ns" - Namespaces are a Consul '
                                            'Enterprise feature')
    r = server.get("/v1/agent/connect/ca/leaf/web?dc=dc9")
    assert r.status_code == 500


def test_two_leaves_complete_mutual_tls_before_and_during_rotation(make_server):
    s = make_server()
    rs0 = roots(s)
    old_root = active(rs0)["RootCert"]
    web = leaf(s, "web").json()
    db = leaf(s, "db").json()
    ok, out = certs.mtls(web, db, all_roots_pem(rs0), all_roots_pem(rs0))
    assert ok, out

    r = s.put("/v1/connect/ca/configuration",
              {"Provider": "consul", "Config": {"PrivateKeyType": "ec", "PrivateKeyBits": 384}})
    assert r.status_code == 200, r.text
    rs1 = roots(s)
    assert len(rs1["Roots"]) == 2
    # db re-issues under the new root; web still holds its old-root leaf.
    db2 = leaf(s, "db").json()
    assert db2["SerialNumber"] != db["SerialNumber"]
    assert len(certs.pems(db2["CertPEM"])) == 2, "new leaves carry the cross-signed root"
    # Both sides trust every root the API lists.
    ok, out = certs.mtls(web, db2, all_roots_pem(rs1), all_roots_pem(rs1))
    assert ok, out
    ok, out = certs.mtls(db2, web, all_roots_pem(rs1), all_roots_pem(rs1))
    assert ok, out
    # A peer that only knows the old root accepts the new leaf through
    # the cross-signed intermediate sent in its chain.
    ok, out = certs.mtls(web, db2, old_root, all_roots_pem(rs1))
    assert ok, out
    ok, out = certs.openssl_verify(old_root, certs.pems(db2["CertPEM"])[0],
                                   untrusted_pem=certs.pems(db2["CertPEM"])[1])
    assert ok, out


def test_blocking_leaf_query_is_released_by_a_rotation_with_a_new_leaf(make_server):
    s = make_server()
    first = leaf(s, "web")
    idx = int(first.headers["X-Consul-Index"])
    out = {}

    def wait():
        out["r"] = s.get("/v1/agent/connect/ca/leaf/web?index=%d&wait=20s" % idx, timeout=40)

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.5)
    assert "r" not in out
    r = s.put("/v1/connect/ca/configuration",
              {"Provider": "consul", "Config": {"PrivateKeyType": "ec", "PrivateKeyBits": 384}})
    assert r.status_code == 200
    t.join(30)
    j = out["r"].json()
    assert int(out["r"].headers["X-Consul-Index"]) > idx
    assert j["SerialNumber"] != first.json()["SerialNumber"]
    new_root = active(roots(s))
    c = certs.load(certs.pems(j["CertPEM"])[0])
    assert certs.colon_hex(certs.ext(c, x509.AuthorityKeyIdentifier).value.key_identifier) == \
        new_root["SigningKeyID"]
    ok, o = certs.openssl_verify(new_root["RootCert"], certs.pems(j["CertPEM"])[0])
    assert ok, o
    # A non-blocking read now returns the same new leaf.
    assert leaf(s, "web").json()["SerialNumber"] == j["SerialNumber"]


def test_blocking_leaf_query_times_out_with_the_same_leaf(server):
    first = leaf(server, "quiet")
    idx = int(first.headers["X-Consul-Index"])
    t0 = time.monotonic()
    r = leaf(server, "quiet", params={"index": idx, "wait": "1s"})
    assert time.monotonic() - t0 >= 0.9
    assert r.json()["SerialNumber"] == first.json()["SerialNumber"]


def test_blocking_leaf_query_is_not_released_by_another_services_leaf(server):
    # A new leaf for another service moves the leaves table's index; the
    # parked query is re-run, finds its own leaf unchanged and keeps
    # waiting until its deadline (Consul's agent cache is per service).
    first = leaf(server, "steady")
    idx = int(first.headers["X-Consul-Index"])
    out = {}

    def wait():
        t0 = time.monotonic()
        out["r"] = leaf(server, "steady", params={"index": idx, "wait": "3s"}, timeout=20)
        out["t"] = time.monotonic() - t0

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.5)
    for i in range(3):
        other = leaf(server, "elsewhere-%d" % i)
        assert other.headers["X-Cache"] == "MISS"
        assert int(other.headers["X-Consul-Index"]) > idx
    t.join(20)
    assert out["t"] >= 2.9, "released after %.2fs by another service's leaf" % out["t"]
    assert out["r"].json()["SerialNumber"] == first.json()["SerialNumber"]
    assert int(out["r"].headers["X-Consul-Index"]) == idx


def test_revoked_leaf_is_replaced_and_recorded(make_server):
    s = make_server()
    a = leaf(s, "web").json()
    idx = a["ModifyIndex"]
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", s.get(
        "/v1/agent/connect/ca/leaf/web?index=%d&wait=20s" % idx, timeout=40)))
    t.start()
    time.sleep(0.4)
    r = s.put("/v1/connect/ca/revoke", {"SerialNumbers": [a["SerialNumber"]]})
    assert r.status_code == 200
    t.join(30)
    b = out["r"].json()
    assert b["SerialNumber"] != a["SerialNumber"] and b["PrivateKeyPEM"] != a["PrivateKeyPEM"]
    assert leaf(s, "web").json()["SerialNumber"] == b["SerialNumber"]
    # The store records every issued leaf: revoking the first again is
    # idempotent, the second is known too.
    r = s.put("/v1/connect/ca/revoke", {"SerialNumbers": [a["SerialNumber"], b["SerialNumber"]]})
    assert r.json() == {"SerialNumbers": [a["SerialNumber"], b["SerialNumber"]]}


def test_leaf_without_service_write_is_403_on_every_call(make_server):
    s = make_server('acl {\n  enabled = true\n  default_policy = "deny"\n}\n')
    for _ in range(3):
        r = s.get("/v1/agent/connect/ca/leaf/web")
        assert r.status_code == 403 and r.text.startswith("Permission denied")


def test_csr_rate_limit_answers_429_with_consul_text(make_server):
    s = make_server()
    r = s.put("/v1/connect/ca/configuration",
              {"Provider": "consul", "Config": {"CSRMaxPerSecond": 0.2}})
    assert r.status_code == 200
    leaf(s, "first")
    r = s.get("/v1/agent/connect/ca/leaf/second")
    assert (r.status_code, r.text) == (429, "Rate limit reached, try again later")
    # The cached leaf is still served under the limit.
    assert leaf(s, "first").headers["X-Cache"] == "HIT"


def test_csr_concurrency_limit_serialises_signing(make_server):
    s = make_server()
    r = s.put("/v1/connect/ca/configuration",
              {"Provider": "consul", "Config": {"CSRMaxPerSecond": 0, "CSRMaxConcurrent": 1}})
    assert r.status_code == 200
    codes = []
    ts = [threading.Thread(target=lambda i=i: codes.append(
        s.get("/v1/agent/connect/ca/leaf/c%d" % i).status_code)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert set(codes) <= {200, 429} and 200 in codes


def test_sign_extension_signs_a_pem_csr_without_returning_a_key(server):
    td = roots(server)["TrustDomain"]
    uri = "spiffe://%s/ns/default/dc/dc1/svc/billing" % td
    csr, key = certs.make_csr([uri])
    r = server.request("POST", "/v1/connect/ca/sign", raw=csr)
    assert r.status_code == 200, r.text
    j = r.json()
    assert "PrivateKeyPEM" not in j and j["Service"] == "billing" and j["ServiceURI"] == uri
    c = certs.load(certs.pems(j["CertPEM"])[0])
    assert c.public_key().public_numbers() == key.public_key().public_numbers()
    ok, out = certs.openssl_verify(active(roots(server))["RootCert"], j["CertPEM"])
    assert ok, out
    r = server.post("/v1/connect/ca/sign", {"CSR": csr})
    assert r.status_code == 200 and r.json()["SerialNumber"] != j["SerialNumber"]


def test_sign_extension_rejects_bad_csrs_with_clear_400s(server):
    td = roots(server)["TrustDomain"]
    svc = "spiffe://%s/ns/default/dc/dc1/svc/" % td
    cases = [
        ("garbage", "Request decode failed: invalid character 'g' looking for beginning of value"),
        ('{"CSR": "garbage"}', "no PEM-encoded data found"),
        ("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", None),
        (certs.make_csr([svc + "a", svc + "b"])[0], "CSR SAN contains an invalid number of URIs: 2"),
        (certs.make_csr([])[0], "CSR SAN contains an invalid number of URIs: 0"),
        (certs.make_csr([svc + "a"], emails=["a@example.com"])[0],
         "CSR SAN does not allow specifying email addresses"),
        (certs.make_csr(["spiffe://other.consul/ns/default/dc/dc1/svc/a"])[0],
         "SPIFFE ID in CSR from a different trust domain: other.consul, we are %s" % td),
        (certs.make_csr([svc.replace("/dc1/", "/dc2/") + "a"])[0],
         "SPIFFE ID in CSR from a different datacenter: dc2, we are dc1"),
        (certs.make_csr(["spiffe://%s/agent/client/dc/dc1/id/node1" % td])[0],
         "SPIFFE ID in CSR must be a service ID, not a agent ID"),
        (certs.make_csr(["https://example.com/x"])[0], "SPIFFE ID must have 'spiffe' scheme"),
        (certs.make_csr([svc + "a"], key=ed25519.Ed25519PrivateKey.generate())[0], None),
        (certs.make_csr([svc + "a"], key=rsa.generate_private_key(65537, 1024))[0], None),
    ]
    for pem, text in cases:
        r = server.request("POST", "/v1/connect/ca/sign", raw=pem)
        assert r.status_code == 400, (pem[:60], r.status_code, r.text)
        if text is not None:
            assert r.text == text
        else:
            assert r.text and "PRIVATE" not in r.text
    r = server.post("/v1/connect/ca/sign", {"CSR": 5})
    assert r.status_code == 400 and r.text.startswith("Request decode failed: json: cannot unmarshal number")
    r = server.request("POST", "/v1/connect/ca/sign", raw="[1]")
    assert r.status_code == 400 and r.text.startswith("Request decode failed: ")
    # The workers survived all of it.
    assert leaf(server, "still-alive").status_code == 200
