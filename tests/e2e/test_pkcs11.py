"""The CA key in a PKCS#11 token (issue #14, item 2), on SoftHSM
(Debian's softhsm2): a token initialised with softhsm2-util in a temp
dir (SOFTHSM2_CONF), the key pair made inside it, checked with p11tool;
leaves and cross-signed roots verified with openssl; the token taken
away mid-run and given back."""
import base64
import os
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import certs
from authfakes import H, acl_hcl, ok
from conftest import BACKEND, postgres_instance, wait_for

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "4321"

pytestmark = pytest.mark.skipif(not os.path.exists(MODULE),
                                reason="softhsm2 not installed")


@pytest.fixture
def token(tmp_path, monkeypatch):
    """A fresh SoftHSM token "portcullis" in tmp_path; the servers made
    after this inherit SOFTHSM2_CONF."""
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text("directories.tokendir = %s\nobjectstore.backend = file\n"
                    "log.level = ERROR\n" % tokens)
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    r = subprocess.run(["softhsm2-util", "--init-token", "--free",
                        "--label", "portcullis", "--pin", PIN,
                        "--so-pin", "87654321"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    pin = tmp_path / "pin"
    pin.write_text(PIN + "\n")
    pin.chmod(0o600)
    return {"dir": tokens, "pin": str(pin), "hcl": (
        'connect {\n  enabled = true\n  ca_key {\n'
        '    pkcs11_module = "%s"\n    pkcs11_url = "pkcs11:token=portcullis"\n'
        '    pin_file = "%s"\n  }\n}\n' % (MODULE, pin))}


def p11tool(*args):
    r = subprocess.run(["p11tool", "--provider", MODULE] + list(args),
                       capture_output=True, text=True,
                       env=dict(os.environ, GNUTLS_PIN=PIN))
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def privkeys():
    """The token's private key objects: [(label, flags line)]."""
    out = p11tool("--login", "--list-all-privkeys", "pkcs11:token=portcullis")
    keys, label = [], None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Label:"):
            label = line.split(":", 1)[1].strip()
        elif line.startswith("Flags:"):
            keys.append((label, line))
    return keys


def stored(s, text_sql):
    if BACKEND == "postgres":
        r = postgres_instance().psql(s.dsn.split("dbname=")[1].split()[0],
                                     text_sql)
        assert r.returncode == 0, r.stderr
        return [line.split("|") for line in r.stdout.splitlines() if line]
    import sqlite3
    con = sqlite3.connect(os.path.join(s.dir, "portcullis.db"))
    try:
        return [list(r) for r in con.execute(text_sql)]
    finally:
        con.close()


def unseal(s, table, row, column, text):
    """Open a sealed value with the server's seal key, independently of
    the C code (AES-256-GCM, associated data table\\0row\\0column)."""
    with open(os.path.join(s.dir, "seal.key")) as f:
        key = bytes.fromhex(f.read().strip())
    prefix, ver, kid, b64 = text.split(":", 3)
    assert (prefix, ver) == ("seal", "1")
    raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
    ad = b"\0".join([table.encode(), row.encode(), column.encode()])
    return AESGCM(key).decrypt(raw[:12], raw[12:], ad).decode()


def roots(s):
    r = s.get("/v1/connect/ca/roots")
    assert r.status_code == 200, r.text
    return r.json()


def active(rs):
    return next(x for x in rs["Roots"] if x["Active"])


def leaf_verifies(s, service):
    r = s.get("/v1/agent/connect/ca/leaf/" + service)
    assert r.status_code == 200, r.text
    good, out = certs.openssl_verify(
        s.get("/v1/connect/ca/roots?pem=true").text,
        certs.pems(r.json()["CertPEM"])[0])
    assert good, out


def test_the_ca_key_is_made_in_the_token_and_only_its_uri_is_stored(
        make_server, token):
    s = make_server(token["hcl"])
    root = active(roots(s))
    leaf_verifies(s, "web")
    keys = privkeys()
    assert len(keys) == 1, keys
    label, flags = keys[0]
    assert label.startswith("portcullis-ca-")
    assert "CKA_SENSITIVE" in flags and "CKA_PRIVATE" in flags
    assert "CKA_EXTRACTABLE" not in flags, flags
    rows = stored(s, "SELECT id, private_key FROM ca_root")
    assert len(rows) == 1
    uri = unseal(s, "ca_root", rows[0][0], "private_key", rows[0][1])
    assert uri.startswith("pkcs11:token=portcullis;") and label in uri
    assert "PRIVATE KEY" not in uri
    # The root's public key is the token's.
    pub = p11tool("--export", uri + ";type=public")
    tok = serialization.load_pem_public_key(pub.encode())
    cert = x509.load_pem_x509_certificate(root["RootCert"].encode())
    assert tok.public_numbers() == cert.public_key().public_numbers()
    # The token refuses to hand the private key out.
    r = subprocess.run(["p11tool", "--provider", MODULE, "--login",
                        "--export", uri + ";type=private"],
                       capture_output=True, text=True,
                       env=dict(os.environ, GNUTLS_PIN=PIN))
    assert r.returncode != 0 or "PRIVATE KEY" not in r.stdout


def test_rotation_makes_a_new_key_in_the_token_and_cross_signs(
        make_server, token):
    s = make_server(token["hcl"])
    old = active(roots(s))
    r = s.put("/v1/connect/ca/configuration", body={
        "Provider": "consul", "Config": {"PrivateKeyType": "ec",
                                         "PrivateKeyBits": 384}})
    assert r.status_code == 200, r.text
    new = active(roots(s))
    assert new["ID"] != old["ID"] and new["PrivateKeyBits"] == 384
    assert len(privkeys()) == 2
    good, out = certs.openssl_verify(old["RootCert"],
                                     new["IntermediateCerts"][0])
    assert good, out
    leaf_verifies(s, "db")


def test_a_token_that_goes_away_gives_500s_for_signing_only_and_recovers(
        make_server, token):
    s = make_server(token["hcl"])
    leaf_verifies(s, "web")
    away = str(token["dir"]) + ".away"
    os.rename(token["dir"], away)
    try:
        r = s.get("/v1/agent/connect/ca/leaf/api")
        assert r.status_code == 500, r.text
        assert r.text
        # Everything else keeps working.
        assert s.get("/v1/connect/ca/roots").status_code == 200
        assert s.put("/v1/connect/intentions/exact?source=web&destination=api",
                     body={"Action": "allow"}).status_code == 200
        assert s.get("/v1/connect/ca/configuration").status_code == 200
    finally:
        os.rename(away, token["dir"])
    wait_for(lambda: s.get("/v1/agent/connect/ca/leaf/api").status_code == 200,
             timeout=30, what="signing again")
    leaf_verifies(s, "api")
    assert s.master.poll() is None
