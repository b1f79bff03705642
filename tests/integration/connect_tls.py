#!/usr/bin/env python3
"""connect_tls.py: an HTTPS proxy (CONNECT) that ends the TLS of the tunnel itself, for tests.

Why: AWS's own endpoints (s3.REGION.amazonaws.com) cannot be reached from
the test machines, and a test must not edit /etc/hosts or the system CAs to
make a local server answer for them. libcurl sends https requests through
the proxy named in HTTPS_PROXY with CONNECT HOST:443; this proxy accepts the
CONNECT, answers the TLS handshake with a certificate for HOST that a
throwaway test CA signed (the client trusts that CA only through its own
setting, e.g. AWS_CA_BUNDLE), and relays the plaintext of the tunnel
unchanged, in both directions, to an upstream TCP port: in the tests,
tests/faults/fault_proxy.py in front of the real radosgw. The Host header and
everything else in the requests are the client's, byte for byte.

Usage:
  connect_tls.py --cert CRT --key KEY --upstream PORT --log LOG [--port-file F]
                 [--allow-suffix .amazonaws.com]
      Listens on 127.0.0.1 (any free port, written to F, renamed into place).
      Only CONNECT to port 443 of a host ending in an allowed suffix is
      accepted; anything else is answered 403 and logged.
      One JSON line per tunnel to LOG: target (the CONNECT target), sni (the
      server name of the client's TLS hello), tls (the version agreed), or
      refused / tls_error.
"""
import argparse
import json
import os
import select
import socket
import ssl
import threading
import time

a = argparse.ArgumentParser()
a.add_argument("--cert", required=True)
a.add_argument("--key", required=True)
a.add_argument("--upstream", type=int, required=True)
a.add_argument("--log", required=True)
a.add_argument("--port-file")
a.add_argument("--allow-suffix", action="append", default=None)
args = a.parse_args()
allowed = tuple(args.allow_suffix or [".amazonaws.com"])
log_lock = threading.Lock()
sni_seen = {}  # id(SSL socket) -> server name of its hello


def log(rec):
    rec["t"] = round(time.time(), 4)
    with log_lock, open(args.log, "a") as f:
        f.write(json.dumps(rec) + "\n")


def on_sni(sslsock, name, ctx):
    sni_seen[id(sslsock)] = name


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)
ctx.sni_callback = on_sni


def read_head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        if not data or len(buf) > 16384:
            return None
        buf += data
    return buf


def pump(tls, up):
    """Both directions in one thread: an SSL object must not be read and
    written by two threads at once."""
    socks = [tls, up]
    while True:
        ready = [tls] if tls.pending() else select.select(socks, [], [])[0]
        for s in ready:
            data = s.recv(65536)
            if not data:
                return
            (up if s is tls else tls).sendall(data)


def tunnel(client):
    rec = {}
    tls = up = None
    try:
        head = read_head(client)
        if head is None:
            return
        first = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = first.split(" ")
        rec["target"] = parts[1] if len(parts) > 1 else ""
        host, _, port = rec["target"].rpartition(":")
        if parts[0] != "CONNECT" or port != "443" or not host.endswith(allowed):
            rec["refused"] = first
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            tls = ctx.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError) as e:
            rec["tls_error"] = str(e)
            return
        rec["sni"] = sni_seen.pop(id(tls), None)
        rec["tls"] = tls.version()
        log(rec)
        rec = None
        up = socket.create_connection(("127.0.0.1", args.upstream))
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pump(tls, up)
    except OSError:
        pass
    finally:
        if rec:
            log(rec)
        for s in (up, tls, client):
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
if args.port_file:
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
while True:
    c, _ = srv.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=tunnel, args=(c,), daemon=True).start()
