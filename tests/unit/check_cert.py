#!/usr/bin/env python3
"""check_cert.py -- an independent second opinion for tests/unit/test_x509.c.

Reads certificates, CSRs and CRLs with python3-cryptography (not GnuTLS)
and prints their fields as "key=value" lines the C test compares, and
makes inputs GnuTLS did not make (operator keys, roots and odd CSRs).

  check_cert.py cert FILE          dump a certificate
  check_cert.py csr FILE           dump a CSR
  check_cert.py crl FILE CAFILE    dump a CRL, checking its signature
  check_cert.py genkey KIND        print a private key PEM
  check_cert.py mkroot KEYFILE [noca]  print a self-signed root PEM
  check_cert.py mkcsr KIND         print a CSR PEM for a negative test
"""

import datetime
import hashlib
import ipaddress
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

TD = "11111111-2222-3333-4444-555555555555.consul"


def colon(b):
    return ":".join("%02x" % x for x in b)


def epoch(dt):
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp())


def crit(ext):
    return "critical" if ext.critical else "noncritical"


def key_desc(pub):
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return "ec:%d" % pub.curve.key_size
    if isinstance(pub, rsa.RSAPublicKey):
        return "rsa:%d" % pub.key_size
    return "other"


def spki_sha256(pub):
    der = pub.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return colon(hashlib.sha256(der).digest())


def san_desc(ext):
    out = []
    for n in ext.value:
        if isinstance(n, x509.UniformResourceIdentifier):
            out.append("URI:" + n.value)
        elif isinstance(n, x509.DNSName):
            out.append("DNS:" + n.value)
        elif isinstance(n, x509.IPAddress):
            out.append("IP:" + str(n.value))
        elif isinstance(n, x509.RFC822Name):
            out.append("EMAIL:" + n.value)
        else:
            out.append("OTHER")
    return crit(ext) + ":" + ",".join(out)


KU_FLAGS = ["digital_signature", "content_commitment", "key_encipherment",
            "data_encipherment", "key_agreement", "key_cert_sign",
            "crl_sign"]


def ku_desc(ext):
    v = ext.value
    on = [f for f in KU_FLAGS if getattr(v, f)]
    return crit(ext) + ":" + ",".join(on)


def eku_desc(ext):
    names = {ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
             ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth"}
    return crit(ext) + ":" + ",".join(names.get(o, o.dotted_string)
                                      for o in ext.value)


def verify_with(pub, sig, data, hash_alg):
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(sig, data, ec.ECDSA(hash_alg))
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(sig, data, padding.PKCS1v15(), hash_alg)
    else:
        raise InvalidSignature("unsupported key")


def dump_exts(exts, out):
    oids = []
    for ext in exts:
        oids.append(ext.oid.dotted_string)
        o = ext.oid
        if o == ExtensionOID.KEY_USAGE:
            out["ku"] = ku_desc(ext)
        elif o == ExtensionOID.EXTENDED_KEY_USAGE:
            out["eku"] = eku_desc(ext)
        elif o == ExtensionOID.BASIC_CONSTRAINTS:
            out["bc"] = "%s:ca=%s,pathlen=%s" % (
                crit(ext), str(ext.value.ca).lower(),
                "none" if ext.value.path_length is None
                else ext.value.path_length)
        elif o == ExtensionOID.SUBJECT_KEY_IDENTIFIER:
            out["ski"] = crit(ext) + ":" + colon(ext.value.digest)
        elif o == ExtensionOID.AUTHORITY_KEY_IDENTIFIER:
            v = ext.value
            out["aki"] = crit(ext) + ":" + colon(v.key_identifier or b"")
            out["aki_issuer"] = "yes" if v.authority_cert_issuer else "no"
        elif o == ExtensionOID.SUBJECT_ALTERNATIVE_NAME:
            out["san"] = san_desc(ext)
        elif o == ExtensionOID.NAME_CONSTRAINTS:
            out["nc"] = crit(ext)
        elif o == ExtensionOID.CRL_NUMBER:
            out["crl_number"] = str(ext.value.crl_number)
    out["ext_oids"] = ",".join(sorted(oids))
    for k in ("ku", "eku", "bc", "ski", "aki", "san"):
        out.setdefault(k, "none")


def cmd_cert(path):
    cert = x509.load_pem_x509_certificate(open(path, "rb").read())
    der = cert.public_bytes(serialization.Encoding.DER)
    out = {
        "version": cert.version.name,
        "serial": str(cert.serial_number),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": str(epoch(cert.not_valid_before)),
        "not_after": str(epoch(cert.not_valid_after)),
        "sig_hash": cert.signature_hash_algorithm.name,
        "key": key_desc(cert.public_key()),
        "spki_sha256": spki_sha256(cert.public_key()),
        "sha1": colon(hashlib.sha1(der).digest()),
    }
    dump_exts(cert.extensions, out)
    # A self-signed cert's signature, checked independently of GnuTLS.
    try:
        verify_with(cert.public_key(), cert.signature,
                    cert.tbs_certificate_bytes,
                    cert.signature_hash_algorithm)
        out["self_sig"] = "valid"
    except InvalidSignature:
        out["self_sig"] = "invalid"
    emit(out)


def cmd_csr(path):
    raw = open(path, "rb").read()
    csr = x509.load_pem_x509_csr(raw)
    out = {
        "pem_label": raw.split(b"\n", 1)[0].decode(),
        "subject": csr.subject.rfc4514_string(),
        "key": key_desc(csr.public_key()),
        "sig_hash": csr.signature_hash_algorithm.name,
        "sig": "valid" if csr.is_signature_valid else "invalid",
    }
    dump_exts(csr.extensions, out)
    emit(out)


def cmd_crl(path, capath):
    crl = x509.load_pem_x509_crl(open(path, "rb").read())
    ca = x509.load_pem_x509_certificate(open(capath, "rb").read())
    out = {
        "issuer": crl.issuer.rfc4514_string(),
        "this_update": str(epoch(crl.last_update)),
        "next_update": str(epoch(crl.next_update)),
        "sig_hash": crl.signature_hash_algorithm.name,
        "sig": "valid" if crl.is_signature_valid(ca.public_key())
        else "invalid",
        "revoked": ",".join("%d@%d" % (r.serial_number,
                                       epoch(r.revocation_date))
                            for r in crl),
    }
    dump_exts(crl.extensions, out)
    emit(out)


def emit(out):
    for k in sorted(out):
        print("%s=%s" % (k, out[k]))


def make_key(kind):
    if kind.startswith("ec"):
        curve = {"ec224": ec.SECP224R1(), "ec256": ec.SECP256R1(),
                 "ec384": ec.SECP384R1(), "ec521": ec.SECP521R1(),
                 "eck1": ec.SECP256K1()}[kind.split("-")[0]]
        return ec.generate_private_key(curve)
    if kind.startswith("rsa"):
        bits = int(kind.split("-")[0][3:])
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if kind.startswith("ed25519"):
        return ed25519.Ed25519PrivateKey.generate()
    raise SystemExit("unknown key kind " + kind)


def key_pem(key, kind):
    fmt = serialization.PrivateFormat.PKCS8
    if kind.endswith("-trad"):
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    return key.private_bytes(serialization.Encoding.PEM, fmt,
                             serialization.NoEncryption())


def cmd_genkey(kind):
    sys.stdout.write(key_pem(make_key(kind), kind).decode())


def cmd_mkroot(keypath, noca):
    key = serialization.load_pem_private_key(open(keypath, "rb").read(),
                                             None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         "Operator Root")])
    now = datetime.datetime.utcnow()
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(2 ** 64 - 5)
         .not_valid_before(now).not_valid_after(now +
                                               datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=not noca, path_length=None),
                        critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(
             key.public_key()), critical=False)
         .add_extension(x509.SubjectAlternativeName(
             [x509.UniformResourceIdentifier("spiffe://" + TD)]),
             critical=False))
    if not noca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    cert = b.sign(key, hashes.SHA256())
    sys.stdout.write(cert.public_bytes(serialization.Encoding.PEM).decode())


SVC = "spiffe://%s/ns/default/dc/dc1/svc/web" % TD


def cmd_mkcsr(kind):
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.UniformResourceIdentifier(SVC)]
    if kind == "two-uris":
        names.append(x509.UniformResourceIdentifier(SVC + "2"))
    elif kind == "no-uri":
        names = [x509.DNSName("web.example")]
    elif kind == "email":
        names.append(x509.RFC822Name("a@example.com"))
    elif kind == "dns-ip":
        names = [x509.DNSName("web.example"),
                 x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
                 x509.UniformResourceIdentifier(SVC)]
    elif kind == "bad-uri":
        names = [x509.UniformResourceIdentifier("http://example.com/")]
    elif kind == "rsa1024":
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    elif kind == "rsa2048":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "secp256k1":
        key = ec.generate_private_key(ec.SECP256K1())
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    if kind != "no-san":
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=True)
    csr = b.sign(key, None if kind == "ed25519" else hashes.SHA256())
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    if kind == "bad-sig":
        # The signature is the last thing in the DER: corrupt its tail.
        der[-3] ^= 0x01
    csr_pem = x509.load_der_x509_csr(bytes(der)) if kind != "bad-sig" \
        else None
    if csr_pem is not None:
        sys.stdout.write(csr_pem.public_bytes(
            serialization.Encoding.PEM).decode())
        return
    import base64
    b64 = base64.b64encode(bytes(der)).decode()
    sys.stdout.write("-----BEGIN CERTIFICATE REQUEST-----\n")
    for i in range(0, len(b64), 64):
        sys.stdout.write(b64[i:i + 64] + "\n")
    sys.stdout.write("-----END CERTIFICATE REQUEST-----\n")


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    cmd = argv[1]
    if cmd == "cert":
        cmd_cert(argv[2])
    elif cmd == "csr":
        cmd_csr(argv[2])
    elif cmd == "crl":
        cmd_crl(argv[2], argv[3])
    elif cmd == "genkey":
        cmd_genkey(argv[2])
    elif cmd == "mkroot":
        cmd_mkroot(argv[2], len(argv) > 3 and argv[3] == "noca")
    elif cmd == "mkcsr":
        cmd_mkcsr(argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
