"""Certificate helpers for the CA, leaf and authorize tests: independent
checks with python3-cryptography, openssl and certtool, CSRs made by
cryptography, and a real mutual-TLS handshake with openssl s_server /
s_client."""
import hashlib
import os
import socket
import subprocess
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def load(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def pems(bundle):
    """Split a PEM bundle into single-certificate PEM strings."""
    out, cur = [], []
    for line in bundle.splitlines(keepends=True):
        cur.append(line)
        if line.startswith("-----END"):
            out.append("".join(cur))
            cur = []
    return out


def colon_hex(b):
    return ":".join("%02x" % x for x in b)


def spki_sha256(cert):
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def write(dirname, name, text):
    path = os.path.join(dirname, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def openssl_verify(trust_pem, cert_pem, untrusted_pem=None, strict=True):
    """openssl verify [-x509_strict]; returns (ok, output)."""
    d = tempfile.mkdtemp(prefix="pc-verify-")
    args = ["openssl", "verify"]
    if strict:
        args.append("-x509_strict")
    args += ["-CAfile", write(d, "trust.pem", trust_pem)]
    if untrusted_pem:
        args += ["-untrusted", write(d, "untrusted.pem", untrusted_pem)]
    args.append(write(d, "cert.pem", cert_pem))
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode == 0 and ": OK" in p.stdout, p.stdout + p.stderr


def certtool_verify(chain_pem, trust_pem):
    d = tempfile.mkdtemp(prefix="pc-certtool-")
    p = subprocess.run(["certtool", "--verify", "--load-ca-certificate",
                        write(d, "ca.pem", trust_pem), "--infile", write(d, "chain.pem", chain_pem)],
                       capture_output=True, text=True)
    return p.returncode == 0, p.stdout + p.stderr


def make_csr(uris=(), key=None, emails=(), dns=()):
    """A PEM CSR (empty subject) with the given SANs and its key."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.UniformResourceIdentifier(u) for u in uris]
    names += [x509.RFC822Name(m) for m in emails]
    names += [x509.DNSName(n) for n in dns]
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=True)
    csr = b.sign(key, hashes.SHA256() if not _is_edwards(key) else None)
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def _is_edwards(key):
    from cryptography.hazmat.primitives.asymmetric import ed25519
    return isinstance(key, ed25519.Ed25519PrivateKey)


def self_signed_ca(cluster_id, key=None):
    """An operator root: EC P-256 CA with SKI and the signing SPIFFE URI."""
    import datetime
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Operator Root")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(4242)
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                           critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier("spiffe://%s.consul" % cluster_id)]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mtls(server_leaf, client_leaf, server_trust, client_trust):
    """Real mutual TLS: openssl s_server requiring a client certificate
    verified against server_trust, s_client verifying the server against
    client_trust.  Each leaf is a leaf-endpoint reply (CertPEM may carry
    intermediates, sent as the chain).  Returns (ok, transcript)."""
    d = tempfile.mkdtemp(prefix="pc-mtls-")
    files = {}
    for who, leaf in (("srv", server_leaf), ("cli", client_leaf)):
        certs = pems(leaf["CertPEM"])
        files[who] = (write(d, who + ".crt", certs[0]), write(d, who + ".key", leaf["PrivateKeyPEM"]),
                      write(d, who + "-chain.pem", "".join(certs[1:]) or certs[0]))
    st = write(d, "srv-trust.pem", server_trust)
    ct = write(d, "cli-trust.pem", client_trust)
    port = _free_port()
    log = os.path.join(d, "server.log")
    with open(log, "w") as out:
        srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "1",
                                "-cert", files["srv"][0], "-key", files["srv"][1],
                                "-cert_chain", files["srv"][2], "-CAfile", st, "-Verify", "3",
                                "-verify_return_error", "-x509_strict", "-tls1_3"],
                               stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
    try:
        end = time.time() + 10
        while time.time() < end and "ACCEPT" not in open(log).read():
            time.sleep(0.02)
        cli = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                              "-cert", files["cli"][0], "-key", files["cli"][1],
                              "-cert_chain", files["cli"][2], "-CAfile", ct, "-verify", "3",
                              "-verify_return_error", "-x509_strict", "-tls1_3", "-brief"],
                             input="hello\n", capture_output=True, text=True, timeout=20)
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            pass
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    sout = open(log).read()
    text = cli.stdout + cli.stderr + "\n--- server ---\n" + sout
    ok = (cli.returncode == 0 and "Verification: OK" in cli.stderr + cli.stdout
          and "CONNECTION ESTABLISHED" in cli.stderr + cli.stdout and "hello" in sout)
    return ok, text


def eku_order(cert):
    return list(ext(cert, x509.ExtendedKeyUsage).value)


EKU_CLIENT_SERVER = [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
