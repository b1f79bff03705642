#!/usr/bin/env python3
"""oidc_issuer.py: an OpenID Connect identity provider's key endpoints and its signed tokens, served on 127.0.0.1 for tests.

Why a stand-in: the identity providers whose tokens reach STS
AssumeRoleWithWebIdentity (EKS's service account issuer, GitHub Actions,
Keycloak, Dex) run elsewhere. This one does, over https, what STS asks of
an issuer (OpenID Connect Discovery 1.0, RFC 7517, RFC 7519) and nothing
more:

  GET /.well-known/openid-configuration -> JSON: issuer, jwks_uri, ...
  GET /keys                             -> the JWKS: one RSA key with
        kty, use, alg, kid, n, e and x5c (the signing key's certificate;
        radosgw 16 reads the key from x5c and compares the certificate's
        SHA-1 with the provider's ThumbprintList)

Tokens are RS256 JWTs with iss, sub, aud, iat, nbf and exp, as EKS writes
them into AWS_WEB_IDENTITY_TOKEN_FILE.

Usage:
  oidc_issuer.py init DIR
      DIR/tls.key, tls.crt: the https certificate (127.0.0.1, localhost);
      DIR/sign.key, sign.crt: the token signing key and its self-signed
      certificate; DIR/thumbprint: the SHA-1 of sign.crt, in hex
  oidc_issuer.py serve DIR --port-file F --log L
      https on 127.0.0.1 (any free port, written to F when listening);
      one JSON line per request to L: method, path, status; or, for a
      connection that asked nothing, tls_error: the handshake's error (the
      client's alert) or "closed without a request"
  oidc_issuer.py token DIR --iss URL --aud A --sub S [--ttl S] [--key FILE]
      prints a token; --ttl below 0 makes one that has expired; --key signs
      with another RSA key (PEM) than DIR/sign.key, keeping its kid
"""
import argparse
import base64
import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import ssl
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_int(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def new_key(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return key


def self_signed(key, cn, path, san=None):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1)))
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = b.sign(key, hashes.SHA256())
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return cert


def init(d):
    os.makedirs(d, exist_ok=True)
    self_signed(new_key(os.path.join(d, "tls.key")), "sealpub-it-oidc", os.path.join(d, "tls.crt"),
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    cert = self_signed(new_key(os.path.join(d, "sign.key")), "sealpub-it-oidc-signing", os.path.join(d, "sign.crt"))
    with open(os.path.join(d, "thumbprint"), "w") as f:
        f.write(cert.fingerprint(hashes.SHA1()).hex() + "\n")


def signing_cert(d):
    with open(os.path.join(d, "sign.crt"), "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def kid_of(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()[:16]


def serve(a):
    cert = signing_cert(a.dir)
    pub = cert.public_key().public_numbers()
    jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid_of(cert), "n": b64url_int(pub.n),
           "e": b64url_int(pub.e), "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]}
    lock = threading.Lock()

    def log(rec):
        with lock, open(a.log, "a") as f:
            f.write(json.dumps(rec) + "\n")

    class H(http.server.BaseHTTPRequestHandler):
        answered = False

        def answer(self, status, doc):
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.answered = True
            log({"method": self.command, "path": self.path, "status": status})

        def do_GET(self):
            iss = "https://127.0.0.1:%d" % self.server.server_address[1]
            if self.path == "/.well-known/openid-configuration":
                self.answer(200, {"issuer": iss, "jwks_uri": iss + "/keys", "response_types_supported": ["id_token"],
                                  "subject_types_supported": ["public"],
                                  "id_token_signing_alg_values_supported": ["RS256"]})
            elif self.path == "/keys":
                self.answer(200, {"keys": [jwk]})
            else:
                self.answer(404, {"error": "not found"})

        def log_message(self, *args):
            pass

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(a.dir, "tls.crt"), os.path.join(a.dir, "tls.key"))

    class S(http.server.ThreadingHTTPServer):
        # The handshake on the connection's own thread, so that a client
        # that does not trust this issuer's certificate is logged: it sends
        # an alert in the handshake, or closes after it, asking nothing.
        def finish_request(self, request, client_address):
            try:
                conn = ctx.wrap_socket(request, server_side=True)
                try:
                    h = H(conn, client_address, self)
                finally:
                    conn.close()
            except (ssl.SSLError, OSError) as e:
                log({"tls_error": getattr(e, "reason", None) or str(e)})
                return
            if not h.answered:
                log({"tls_error": "closed without a request"})

    srv = S(("127.0.0.1", 0), H)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever()


def token(a):
    cert = signing_cert(a.dir)
    with open(a.key or os.path.join(a.dir, "sign.key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    now = int(time.time())
    head = {"alg": "RS256", "typ": "JWT", "kid": kid_of(cert)}
    # An expired token is one issued a while ago, so iat and nbf stay before exp.
    start = now - 60 if a.ttl > 0 else now + a.ttl - 600
    body = {"iss": a.iss, "sub": a.sub, "aud": a.aud, "iat": start, "nbf": start, "exp": now + a.ttl}
    signing_input = (b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(body).encode())).encode()
    sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    print(signing_input.decode() + "." + b64url(sig))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("init")
    p.add_argument("dir")
    p = sub.add_parser("serve")
    p.add_argument("dir")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p = sub.add_parser("token")
    p.add_argument("dir")
    p.add_argument("--iss", required=True)
    p.add_argument("--aud", required=True)
    p.add_argument("--sub", required=True)
    p.add_argument("--ttl", type=int, default=3600)
    p.add_argument("--key")
    a = ap.parse_args()
    if a.cmd == "init":
        init(a.dir)
    elif a.cmd == "serve":
        serve(a)
    else:
        token(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
