"""Shared plumbing of the fake servers: a throw-away CA and a loopback
server certificate made at start (python3-cryptography), JWS signing,
and a threaded HTTPS server whose misbehaviour ("slow", "down", "huge")
can be switched at run time through POST /_fake/config.

Nothing here is a real secret: every key is generated at start and dies
with the process.
"""
import base64
import datetime
import ipaddress
import json
import os
import ssl
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64u(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_int(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(size, "big"))


_HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def sign_jws(alg, key, claims, kid=None, header_extra=None):
    """Compact JWS of claims (a dict, or raw bytes) signed with key."""
    hdr = {"alg": alg, "typ": "JWT"}
    if kid:
        hdr["kid"] = kid
    hdr.update(header_extra or {})
    payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing = (b64u(json.dumps(hdr)) + "." + b64u(payload)).encode()
    if alg == "none":
        sig = b""
    elif alg.startswith("HS"):
        import hmac
        import hashlib
        sig = hmac.new(key, signing, getattr(hashlib, "sha" + alg[2:])).digest()
    elif alg.startswith("RS"):
        sig = key.sign(signing, padding.PKCS1v15(), _HASH[alg[2:]]())
    elif alg.startswith("PS"):
        h = _HASH[alg[2:]]()
        sig = key.sign(signing, padding.PSS(mgf=padding.MGF1(h),
                                            salt_length=h.digest_size), h)
    elif alg.startswith("ES"):
        der = key.sign(signing, ec.ECDSA(_HASH[alg[2:]]()))
        r, s = decode_dss_signature(der)
        n = (key.curve.key_size + 7) // 8
        sig = r.to_bytes(n, "big") + s.to_bytes(n, "big")
    elif alg == "EdDSA":
        sig = key.sign(signing)
    else:
        raise ValueError(alg)
    return signing.decode() + "." + b64u(sig)


def jwk_of(pub, kid=None, alg=None):
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        k = {"kty": "RSA", "n": b64u_int(n.n), "e": b64u_int(n.e)}
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        n = pub.public_numbers()
        crv, size = {"secp256r1": ("P-256", 32), "secp384r1": ("P-384", 48),
                     "secp521r1": ("P-521", 66)}[pub.curve.name]
        k = {"kty": "EC", "crv": crv, "x": b64u_int(n.x, size),
             "y": b64u_int(n.y, size)}
    else:
        raw = pub.public_bytes(serialization.Encoding.Raw,
                               serialization.PublicFormat.Raw)
        k = {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
    if kid:
        k["kid"] = kid
    if alg:
        k["alg"] = alg
    k["use"] = "sig"
    return k


def pub_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def make_tls(dirpath):
    """A CA and a server certificate for 127.0.0.1/localhost.  Returns
    (ssl.SSLContext, ca_pem)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True,
                                       True, False, False), True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    certfile = os.path.join(dirpath, "server.pem")
    with open(certfile, "w") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM).decode())
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile)
    os.unlink(certfile)
    return ctx, ca_pem


class FakeState:
    """Misbehaviour switches, shared by all handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mode = "ok"        # ok | slow | down | huge
        self.delay = 3.0        # seconds, for "slow"
        self.huge = 4 << 20     # bytes, for "huge"
        self.extra = {}         # fake-specific settings
        self.hits = {}          # path -> count


class FakeHandler(BaseHTTPRequestHandler):
    """Base handler: /_fake/config and /_fake/hits, then the modes, then
    route(method, path, query, body) of the subclass."""

    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_VERBOSE"):
            sys.stderr.write("fake: " + fmt % args + "\n")

    def reply(self, status, obj=None, body=None, ctype="application/json",
              headers=None):
        if body is None:
            body = json.dumps(obj if obj is not None else {}).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _dispatch(self, method):
        from urllib.parse import urlsplit, parse_qs
        u = urlsplit(self.path)
        body = self._body()
        st = self.state
        if u.path == "/_fake/config" and method == "POST":
            cfg = json.loads(body or b"{}")
            with st.lock:
                st.mode = cfg.pop("mode", st.mode)
                st.delay = float(cfg.pop("delay", st.delay))
                st.huge = int(cfg.pop("huge", st.huge))
                st.extra.update(cfg)
            return self.reply(200, {"ok": True})
        if u.path == "/_fake/hits":
            with st.lock:
                return self.reply(200, dict(st.hits))
        with st.lock:
            st.hits[u.path] = st.hits.get(u.path, 0) + 1
            mode, delay, huge = st.mode, st.delay, st.huge
        if u.path.startswith("/_fake/"):
            return self.route(method, u.path, parse_qs(u.query), body)
        if mode == "down":
            return self.reply(503, {"error": "down"})
        if mode == "slow":
            time.sleep(delay)
        if mode == "huge":
            chunk = b"[" + b"0," * (huge // 2) + b"0]"
            return self.reply(200, body=chunk)
        return self.route(method, u.path, parse_qs(u.query), body)

    def do_GET(self):
        try:
            self._dispatch("GET")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass    # the client gave up (timeouts, size caps): expected

    def do_POST(self):
        try:
            self._dispatch("POST")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass    # the client gave up (timeouts, size caps): expected


class QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-handshake are expected, not news."""

    def handle_error(self, request, client_address):
        if os.environ.get("FAKE_VERBOSE"):
            super().handle_error(request, client_address)


def serve(handler_cls, ready_info, args):
    """Bind 127.0.0.1:args.port (0 = any), TLS unless args.plain, write
    the ready file (JSON) atomically, serve until killed."""
    tmp = tempfile.mkdtemp(prefix="fake-")
    httpd = QuietServer(("127.0.0.1", args.port), handler_cls)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    info = {"port": port}
    if args.plain:
        info["url"] = "http://127.0.0.1:%d" % port
        info["ca_pem"] = ""
    else:
        ctx, ca_pem = make_tls(tmp)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        info["url"] = "https://127.0.0.1:%d" % port
        info["ca_pem"] = ca_pem
    info.update(ready_info(info["url"]))
    tmpf = args.ready + ".tmp"
    with open(tmpf, "w") as f:
        json.dump(info, f)
    os.rename(tmpf, args.ready)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


def arg_parser(desc):
    import argparse
    p = argparse.ArgumentParser(description=desc)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ready", required=True,
                   help="file to write {port, url, ca_pem, ...} to")
    p.add_argument("--plain", action="store_true", help="HTTP, not HTTPS")
    return p
