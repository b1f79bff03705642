#!/usr/bin/env python3
"""fault_proxy.py: an HTTP-aware fault-injecting proxy between sealpub and a real S3 server (radosgw), for tests.

Why a proxy and not a fake server: the project's rule is that S3 tests run
against the real server. This proxy sits on 127.0.0.1 in front of radosgw
and passes every request through byte-exact (the Host header included, so
the SigV4 signature sealpub computed for the proxy's address is what
radosgw verifies), except where a rule says to inject a fault. It parses
HTTP/1.1 only as far as it must to find request and response boundaries,
name the S3 operation, hash request bodies and apply faults.

Usage
-----
  fault_proxy.py serve --upstream http://127.0.0.1:7480 --rules RULES.json --log LOG.jsonl
                       [--port 0] [--port-file F] [--forbid-env NAME ...]
      Listens on 127.0.0.1 (port 0: any free port), prints the port on
      stdout (and into --port-file), serves until SIGTERM/SIGINT.
  fault_proxy.py count LOG [filters]     prints how many log records match
  fault_proxy.py gap LOG [filters]       seconds from the first matching fault to
                                         the next request for the same operation/part
  fault_proxy.py check LOG [--tag T]     protocol checks over every logged request
  fault_proxy.py show LOG [--tag T]      one line per record, for people

Rules file (re-read before every request; when its content changes, every
rule's counters start again from zero):
  {"tag": "case-1",
   "rules": [{"op": "UploadPart", "part": 2, "skip": 0, "times": 3,
              "action": "error", "status": 503, "code": "SlowDown"}]}
Matching fields (all optional): op (name or list; see s3_op), method,
path_contains, query_has (string or list), part (partNumber). A rule lets
`skip` matching requests through, then fires `times` times (default 1; -1:
forever). The first rule that fires decides. Actions:
  error              answer status/code/message itself (the request body is
                     read first, as a server would); status 200 with a code
                     is S3's "200 with an <Error> body" (CompleteMultipartUpload)
  reset              forward the head and `after_bytes` of the body, then
                     reset both connections (SO_LINGER 0: an RST, not a FIN)
  stall              forward the head and `after_bytes` of the body, then move
                     no byte in either direction for `seconds`, then reset
  drop_response      forward the whole request, read the server's answer,
                     then reset the client instead of answering (the server
                     did the work; the client never hears of it)
  head_length_delta  forward; add `delta` to the Content-Length of the HEAD
                     answer (a HEAD answer has no body, so framing is intact)
  delay              wait `seconds` (default 1), then forward unchanged
  flexible_checksums forward, and answer about flexible checksums as AWS S3
                     documents it, which radosgw 16 does not: the proxy
                     itself checks each x-amz-checksum-crc32c against the
                     body it forwarded and echoes it (a mismatch is answered
                     400 BadDigest instead of the server's answer); a
                     CreateMultipartUpload that names an algorithm gets
                     x-amz-checksum-algorithm and x-amz-checksum-type back.
                     With "wrong_echo": true, parts' CRCs are echoed as
                     another value.
                     The server still stores the bytes and checks the
                     signature's SHA-256.
  (error rules may add "region": R, answered as S3 does for a request signed
  for another region: an x-amz-bucket-region header and <Region> element)

Log: one JSON object per request, appended to the log file (re-opened for
every line, so a test may truncate or rotate it): tag, conn, seq, t (request
head received), method, path, query, op, part, host, auth (SigV4
Authorization present), scope (its credential scope without the key id), amz_date, amz_sha (x-amz-content-sha256), crc32c
(x-amz-checksum-crc32c), crc32c_ok (whether it is the CRC32C of the body
received; null without one or for an incomplete body), checksum_algorithm
(x-amz-checksum-algorithm), checksum_type (x-amz-checksum-type),
complete_crc32c (the ChecksumCRC32C values a CompleteMultipartUpload body lists),
content_length, chunked, expect, range, body_bytes, body_complete, body_sha_ok
(whether the header equals the SHA-256 of the body received; null for
UNSIGNED-PAYLOAD or an incomplete body), forbidden (a --forbid-env value
appeared in the request head), action, rule, status (the status the client
got or, for drop_response, the one it would have got), t_fault, t_end, note.
Records of faults are written when the fault fires, so a test can wait for
them; forwarded requests when the exchange ends.
"""
import argparse
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import queue
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

HEAD_MAX = 64 * 1024
IO_CHUNK = 256 * 1024


def _isal_crc():
    """ISA-L's CRC32C (the library sealpub builds with), or None."""
    name = ctypes.util.find_library("isal") or "libisal.so.2"
    try:
        f = ctypes.CDLL(name).crc32_iscsi
    except (OSError, AttributeError):
        return None
    f.restype = ctypes.c_uint32
    f.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint32]
    return f


_ISAL_CRC = _isal_crc()
_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


class Crc32c:
    """CRC32C (Castagnoli) of a stream, as x-amz-checksum-crc32c carries it."""

    def __init__(self):
        self.reg = 0xFFFFFFFF

    def update(self, data):
        if _ISAL_CRC is not None:
            self.reg = _ISAL_CRC(bytes(data), len(data), self.reg)
            return
        reg, t = self.reg, _CRC_TABLE
        for b in data:
            reg = t[(reg ^ b) & 0xFF] ^ (reg >> 8)
        self.reg = reg

    def value(self):
        return self.reg ^ 0xFFFFFFFF

    def b64(self):
        return crc_b64(self.value())


def crc_b64(v):
    return base64.b64encode(struct.pack(">I", v)).decode()


def _mul_mod_p(a, b):
    """a * b modulo the CRC32C polynomial, reflected (bit 31 is x^0)."""
    p = 0
    m = 1 << 31
    while m:
        if a & m:
            p ^= b
        b = (b >> 1) ^ 0x82F63B78 if b & 1 else b >> 1
        m >>= 1
    return p


def crc32c_combine(a, b, len_b):
    """CRC32C of A+B from CRC(A), CRC(B) and len(B): how S3 checks a FULL_OBJECT checksum."""
    xpow, shift, n = 1 << 23, 1 << 31, len_b
    while n:
        if n & 1:
            shift = _mul_mod_p(xpow, shift)
        xpow = _mul_mod_p(xpow, xpow)
        n >>= 1
    return _mul_mod_p(shift, a) ^ b


class Closed(Exception):
    """The peer went away (EOF or a socket error)."""


class Reader:
    """Buffered reads from a socket: heads up to CRLFCRLF, exact byte counts, lines."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        try:
            data = self.sock.recv(IO_CHUNK)
        except OSError as e:
            raise Closed(str(e))
        if not data:
            raise Closed("eof")
        self.buf += data

    def _take(self, n):
        """The first n buffered bytes, taken out of the buffer."""
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _take_through(self, sep):
        """The buffered bytes up to sep, sep included, taken out; None while sep is not buffered."""
        i = self.buf.find(sep)
        return self._take(i + len(sep)) if i >= 0 else None

    def head(self):
        """The bytes of one head, CRLFCRLF included; None at a clean EOF before any byte."""
        while True:
            out = self._take_through(b"\r\n\r\n")
            if out is not None:
                return out
            if len(self.buf) > HEAD_MAX:
                raise Closed("head too large")
            try:
                self._fill()
            except Closed:
                if not self.buf:
                    return None
                raise

    def line(self):
        while True:
            out = self._take_through(b"\r\n")
            if out is not None:
                return out
            self._fill()

    def some(self, limit):
        """Up to limit bytes (at least one)."""
        if not self.buf:
            self._fill()
        return self._take(min(limit, len(self.buf)))


def parse_head(raw):
    """(first line, [(name, value)]) of an HTTP head."""
    lines = raw[:-4].split(b"\r\n")
    first = lines[0].decode("latin-1")
    hdrs = []
    for ln in lines[1:]:
        name, _, value = ln.partition(b":")
        hdrs.append((name.decode("latin-1").strip(), value.decode("latin-1").strip()))
    return first, hdrs


def header(hdrs, name):
    name = name.lower()
    for n, v in hdrs:
        if n.lower() == name:
            return v
    return None


def s3_op(method, path, query):
    """The S3 operation of a path-style request (/bucket[/key]?query)."""
    segs = path.lstrip("/").split("/", 1)
    has_key = len(segs) == 2 and segs[1] != ""
    q = query
    if method == "PUT":
        if "partNumber" in q and "uploadId" in q:
            return "UploadPart"
        return "PutObject" if has_key else "CreateBucket"
    if method == "POST":
        if "uploads" in q:
            return "CreateMultipartUpload"
        if "uploadId" in q:
            return "CompleteMultipartUpload"
        return "Post"
    if method == "DELETE":
        if "uploadId" in q:
            return "AbortMultipartUpload"
        return "DeleteObject" if has_key else "DeleteBucket"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "GET":
        if "uploads" in q and not has_key:
            return "ListMultipartUploads"
        if "uploadId" in q:
            return "ListParts"
        return "GetObject" if has_key else "ListObjects"
    return method


def s3_error_body(code, message, resource, rid, region=None):
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    extra = "<Region>%s</Region>" % esc(region) if region else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>%s'
            "<Resource>%s</Resource><RequestId>%s</RequestId></Error>" %
            (esc(code), esc(message), extra, esc(resource), rid)).encode()


DEFAULT_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Please reduce your request rate.",
    "InvalidPart": "One or more of the specified parts could not be found.",
}
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Slow Down", 504: "Gateway Timeout"}


def rst_close(sock):
    """Closes with an RST (SO_LINGER 0), waking any thread blocked reading it."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def send_all(sock, data):
    try:
        sock.sendall(data)
    except OSError as e:
        raise Closed(str(e))


class Rules:
    """The rules file, re-read per request; counters reset when it changes."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.raw = None
        self.tag = ""
        self.rules = []
        self.state = []
        self.note = ""

    def _reload(self):
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except OSError:
            raw = b""
        if raw == self.raw:
            return
        self.raw = raw
        self.note = ""
        try:
            doc = json.loads(raw.decode() or "{}")
        except ValueError as e:
            doc = {}
            self.note = "rules file unreadable: %s" % e
        self.tag = str(doc.get("tag", ""))
        self.rules = list(doc.get("rules", []))
        self.state = [{"matched": 0, "fired": 0} for _ in self.rules]

    def decide(self, rec):
        """The rule (a dict, with its index) that fires for this request, or None; sets rec's tag."""
        with self.lock:
            self._reload()
            rec["tag"] = self.tag
            if self.note:
                rec["note"] = self.note
            for i, r in enumerate(self.rules):
                if not matches(r, rec):
                    continue
                st = self.state[i]
                st["matched"] += 1
                if st["matched"] <= int(r.get("skip", 0)):
                    continue
                times = int(r.get("times", 1))
                if times >= 0 and st["fired"] >= times:
                    continue
                st["fired"] += 1
                rule = dict(r)
                rule["_index"] = i
                return rule
        return None


def matches(r, rec):
    op = r.get("op")
    if op is not None and rec["op"] not in ([op] if isinstance(op, str) else op):
        return False
    if "method" in r and r["method"] != rec["method"]:
        return False
    if "path_contains" in r and r["path_contains"] not in rec["path"]:
        return False
    qh = r.get("query_has")
    if qh is not None:
        for s in [qh] if isinstance(qh, str) else qh:
            if s not in rec["query"]:
                return False
    if "part" in r and rec.get("part") != int(r["part"]):
        return False
    return True


class Log:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, rec):
        line = json.dumps({k: v for k, v in rec.items() if not k.startswith("_")}, sort_keys=True) + "\n"
        with self.lock:
            with open(self.path, "a") as f:
                f.write(line)


class Proxy:
    def __init__(self, upstream, rules, log, forbid):
        self.upstream = upstream
        self.rules = rules
        self.log = log
        self.forbid = [f.encode() for f in forbid if f]
        self.conn_ids = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.part_crcs = {}  # (path, uploadId) -> {partNumber: (crc, length)}, for FULL_OBJECT checks

    def next_conn(self):
        with self.lock:
            self.conn_ids += 1
            return self.conn_ids


class Exchange:
    """One request and its answer; the two directions each finish their half."""

    def __init__(self, rec, rule, log):
        self.rec = rec
        self.rule = rule
        self.log = log
        self.lock = threading.Lock()
        self.halves = 0
        self.hold = rule is not None and rule.get("action") == "stall"
        self.logged = False
        self.request_read = threading.Event()  # the whole request body went upstream (checks done)

    def half_done(self):
        with self.lock:
            self.halves += 1
            if self.halves == 2 and not self.logged:
                self.logged = True
                self.rec["t_end"] = round(time.time(), 4)
                self.log.write(self.rec)

    def write_now(self):
        with self.lock:
            if not self.logged:
                self.logged = True
                self.log.write(self.rec)


class Connection:
    """One client connection and its upstream twin (opened lazily, renewed when the server closed an idle one)."""

    def __init__(self, proxy, csock):
        self.p = proxy
        self.c = csock
        self.cid = proxy.next_conn()
        self.cr = Reader(csock)
        self.u = None
        self.pending = None
        self.wlock = threading.Lock()  # writes to the client
        self.dead = threading.Event()
        self.seq = 0
        self.current = None  # the latest forwarded exchange

    # ---- upstream side
    def _upstream(self):
        if self.u is not None:
            # The server may have closed an idle keep-alive connection: a
            # readable socket between exchanges means EOF (or junk).
            try:
                self.u.setblocking(False)
                try:
                    peek = self.u.recv(1, socket.MSG_PEEK)
                    stale = True if not peek else False
                except BlockingIOError:
                    stale = False
                except OSError:
                    stale = True
            finally:
                try:
                    self.u.setblocking(True)
                except OSError:
                    pass
            if not stale:
                return
            self.pending.put(None)
            rst_close(self.u)
            self.u = None
        host, port = self.p.upstream
        self.u = socket.create_connection((host, port), timeout=None)
        self.u.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = queue.Queue()
        threading.Thread(target=self._responses, args=(self.u, self.pending), daemon=True).start()

    def _responses(self, usock, pending):
        """Upstream to client: forwards each answer, in request order."""
        ur = Reader(usock)
        try:
            while True:
                ex = pending.get()
                if ex is None:
                    return
                rec, rule = ex.rec, ex.rule
                while True:
                    head = ur.head()
                    if head is None:
                        raise Closed("upstream closed")
                    first, hdrs = parse_head(head)
                    status = int(first.split(" ", 2)[1])
                    if 100 <= status < 200:
                        # "100 Continue" passes even for a stalled request:
                        # the server asked for the body, then stopped reading.
                        self._to_client(head)
                        continue
                    break
                rec["status"] = status
                if ex.hold:
                    return  # stalled: the server's answer never reaches the client
                action = rule.get("action") if rule else None
                if action == "drop_response":
                    rec["t_fault"] = round(time.time(), 4)
                    ex.write_now()
                    self._kill()
                    return
                if action == "head_length_delta" and rec["method"] == "HEAD":
                    head = rewrite_length(head, int(rule.get("delta", 0)))
                if action == "flexible_checksums" and 200 <= status < 300:
                    ex.request_read.wait(30)
                    if rec.get("crc32c_ok") is False:
                        # A server that checks the CRC refuses the part.
                        self._forward_body(ur, rec["method"], status, hdrs, lambda raw: None, None)
                        body = s3_error_body("BadDigest", "The CRC32C you specified did not match the calculated checksum.",
                                             rec["path"], "fault-%d-%d" % (self.cid, rec["seq"]))
                        rec["status"] = 400
                        self._to_client(("HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\n"
                                         "Content-Length: %d\r\n\r\n" % len(body)).encode() + body)
                        ex.half_done()
                        continue
                    head = add_headers(head, checksum_answer(rec, bool(rule.get("wrong_echo"))))
                self._to_client(head)
                self._forward_body(ur, rec["method"], status, hdrs, self._to_client, None)
                ex.half_done()
                conn_hdr = (header(hdrs, "Connection") or "").lower()
                if conn_hdr == "close":
                    self._close_client()
                    return
        except Closed as e:
            # The server closed or reset: the client sees the same.
            ex = self.current
            if ex is not None and not ex.logged and ex.halves < 2:
                ex.rec["note"] = "upstream: %s" % e
            self._close_client()
        finally:
            rst_close(usock)

    def _to_client(self, data):
        with self.wlock:
            send_all(self.c, data)

    def _close_client(self):
        self.dead.set()
        try:
            self.c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _kill(self):
        """RST to the client and to the server."""
        self.dead.set()
        rst_close(self.c)
        rst_close(self.u)

    @staticmethod
    def _forward_body(reader, method, status, hdrs, sink, on_data, limit=None):
        """Forwards one message body (raw bytes to sink, decoded bytes to
        on_data); stops after `limit` raw bytes if given. Returns the raw byte
        count and whether the body ended."""
        if method == "HEAD" or status in (204, 304) or (status is not None and status < 200):
            return 0, True
        te = (header(hdrs, "Transfer-Encoding") or "").lower()
        cl = header(hdrs, "Content-Length")
        sent = 0

        def out(raw, decoded):
            nonlocal sent
            if limit is not None and sent + len(raw) > limit:
                raw = raw[: limit - sent]
                decoded = None
            sink(raw)
            if on_data and decoded:
                on_data(decoded)
            sent += len(raw)
            return limit is None or sent < limit

        if "chunked" in te:
            while True:
                size_line = reader.line()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if not out(size_line, None):
                    return sent, False
                if size == 0:
                    while True:  # trailers, then the empty line
                        t = reader.line()
                        if not out(t, None):
                            return sent, False
                        if t == b"\r\n":
                            return sent, True
                left = size
                while left:
                    piece = reader.some(min(left, IO_CHUNK))
                    left -= len(piece)
                    if not out(piece, piece):
                        return sent, False
                if not out(reader.line(), None):
                    return sent, False
        if cl is not None:
            left = int(cl)
            if left == 0:
                return 0, True
            while left:
                want = min(left, IO_CHUNK)
                if limit is not None:
                    want = min(want, max(limit - sent, 0))
                    if want == 0:
                        return sent, False
                piece = reader.some(want)
                left -= len(piece)
                if not out(piece, piece):
                    return sent, left == 0
            return sent, True
        if method is not None and status is None:
            return 0, True  # a request without a length has no body
        while True:  # a response delimited by close
            try:
                piece = reader.some(IO_CHUNK)
            except Closed:
                return sent, True
            if not out(piece, piece):
                return sent, False

    # ---- client side
    def run(self):
        try:
            while not self.dead.is_set():
                head = self.cr.head()
                if head is None:
                    break
                if not self._request(head):
                    break
        except Closed:
            pass
        except Exception as e:  # keep serving other connections, but say why this one ended
            self.p.log.write({"conn": self.cid, "note": "proxy error: %r" % e, "t": round(time.time(), 4)})
        finally:
            ex = self.current
            if ex is not None and not ex.logged:
                # The client may close as soon as it has the answer, before
                # the response side has noted it: give that side a moment.
                for _ in range(50):
                    if ex.logged:
                        break
                    time.sleep(0.01)
                if not ex.logged:
                    ex.rec["note"] = ex.rec.get("note") or "the connection ended mid-exchange"
                    ex.write_now()
            if self.pending is not None:
                self.pending.put(None)
            rst_close(self.u)
            try:
                self.c.close()
            except OSError:
                pass

    def _request(self, head):
        """Handles one request; False when the connection is finished."""
        self.seq += 1
        first, hdrs = parse_head(head)
        parts = first.split(" ")
        method, target = parts[0], parts[1] if len(parts) > 1 else "/"
        path, _, query = target.partition("?")
        qd = urllib.parse.parse_qs(query, keep_blank_values=True)
        part = None
        if "partNumber" in qd:
            try:
                part = int(qd["partNumber"][0])
            except ValueError:
                part = None
        cl = header(hdrs, "Content-Length")
        amz_sha = header(hdrs, "x-amz-content-sha256")
        auth = header(hdrs, "Authorization") or ""
        rec = {
            "conn": self.cid, "seq": self.seq, "t": round(time.time(), 4), "method": method,
            "path": urllib.parse.unquote(path), "query": query, "op": s3_op(method, urllib.parse.unquote(path), qd),
            "part": part, "host": header(hdrs, "Host"),
            "auth": auth.startswith("AWS4-HMAC-SHA256 Credential="),
            # The credential scope without the key id: DATE/REGION/SERVICE/aws4_request.
            "scope": auth.split("Credential=", 1)[1].split(",", 1)[0].split("/", 1)[-1] if "Credential=" in auth else None,
            "amz_date": header(hdrs, "x-amz-date") is not None, "amz_sha": amz_sha,
            "crc32c": header(hdrs, "x-amz-checksum-crc32c"),
            "crc32c_ok": None,
            "checksum_algorithm": header(hdrs, "x-amz-checksum-algorithm"),
            "checksum_type": header(hdrs, "x-amz-checksum-type"),
            "content_length": int(cl) if cl is not None and cl.isdigit() else None,
            "chunked": "chunked" in (header(hdrs, "Transfer-Encoding") or "").lower(),
            "expect": (header(hdrs, "Expect") or "").lower() == "100-continue",
            "range": header(hdrs, "Range"),
            "forbidden": any(f in head for f in self.p.forbid),
            "action": "forward", "rule": None, "status": None, "body_bytes": 0, "body_complete": False,
            "body_sha_ok": None,
        }
        rule = self.p.rules.decide(rec)
        action = rule.get("action", "forward") if rule else "forward"
        if rule:
            rec["action"] = action
            rec["rule"] = rule["_index"]
        h = hashlib.sha256()
        crc = Crc32c() if rec["crc32c"] and rec["op"] in ("UploadPart", "PutObject") else None
        xml = bytearray() if rec["op"] == "CompleteMultipartUpload" else None
        ex = None

        def finish_hash(complete):
            rec["body_complete"] = complete
            if complete and amz_sha and re.fullmatch(r"[0-9a-f]{64}", amz_sha):
                rec["body_sha_ok"] = h.hexdigest() == amz_sha
            upload = (rec["path"], qd.get("uploadId", [""])[0])
            if complete and crc is not None:
                rec["crc32c_ok"] = crc.b64() == rec["crc32c"]
                if rec["op"] == "UploadPart" and rec["crc32c_ok"]:
                    with self.p.lock:
                        self.p.part_crcs.setdefault(upload, {})[part] = (crc.value(), rec["body_bytes"])
            if complete and xml is not None:
                rec["complete_crc32c"] = re.findall(r"<ChecksumCRC32C>([^<]*)</ChecksumCRC32C>", xml.decode("latin-1"))
                if rec["crc32c"] and (rec.get("checksum_type") or "").upper() == "FULL_OBJECT":
                    # The object's CRC32C, combined from the parts as received.
                    with self.p.lock:
                        got = self.p.part_crcs.get(upload, {})
                    whole = 0
                    for no in sorted(got):
                        whole = crc32c_combine(whole, got[no][0], got[no][1])
                    rec["crc32c_ok"] = bool(got) and crc_b64(whole) == rec["crc32c"]
            if ex is not None:
                ex.request_read.set()

        def count(data):
            h.update(data)
            if crc is not None:
                crc.update(data)
            if xml is not None and len(xml) < HEAD_MAX * 16:
                xml.extend(data)
            rec["body_bytes"] += len(data)

        if action == "delay":
            # A slow network: hold the request `seconds`, then forward it as is.
            time.sleep(float(rule.get("seconds", 1)))
            action = "forward"
        if action == "error":
            # Read the body as a server would, then answer from here.
            if rec["expect"]:
                self._to_client(b"HTTP/1.1 100 Continue\r\n\r\n")
            _, complete = self._forward_body(self.cr, method, None, hdrs, lambda raw: None, count)
            finish_hash(complete)
            status = int(rule.get("status", 503))
            code = rule.get("code", "SlowDown" if status == 503 else "InternalError")
            message = rule.get("message", DEFAULT_MESSAGES.get(code, code))
            region = rule.get("region")  # S3's answer for a request signed for another region
            body = b"" if method == "HEAD" else s3_error_body(code, message, rec["path"],
                                                               "fault-%d-%d" % (self.cid, self.seq), region)
            reply = ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"
                     "x-amz-request-id: fault-%d-%d\r\n%sDate: %s\r\n\r\n" %
                     (status, REASONS.get(status, "Error"), len(body), self.cid, self.seq,
                      "x-amz-bucket-region: %s\r\n" % region if region else "",
                      time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))).encode()
            rec["status"] = status
            rec["code"] = code
            rec["t_fault"] = rec["t_end"] = round(time.time(), 4)
            self._to_client(reply + body)
            self.p.log.write(rec)
            return True

        try:
            self._upstream()
        except OSError as e:
            rec["action"] = "upstream_unreachable"
            rec["note"] = str(e)
            self.p.log.write(rec)
            self._kill()
            return False
        ex = Exchange(rec, rule, self.p.log)
        self.current = ex
        self.pending.put(ex)
        u = self.u
        send_all(u, head)
        limit = None
        if action in ("reset", "stall"):
            limit = int(rule.get("after_bytes", 0))
        _, complete = self._forward_body(self.cr, method, None, hdrs, lambda raw: send_all(u, raw), count, limit)
        if action == "reset":
            finish_hash(False)
            rec["t_fault"] = round(time.time(), 4)
            ex.write_now()
            self._kill()
            return False
        if action == "stall":
            finish_hash(complete)
            rec["t_fault"] = round(time.time(), 4)
            rec["stall_seconds"] = float(rule.get("seconds", 10))
            ex.write_now()
            self.p.stop.wait(float(rule.get("seconds", 10)))
            self._kill()
            return False
        finish_hash(complete)
        ex.half_done()
        return True


def checksum_answer(rec, wrong=False):
    """The flexible-checksum headers AWS S3 answers a request with (wrong: a
    part's CRC32C echoed as another value, a server that saw other bytes)."""
    if rec["op"] == "CreateMultipartUpload" and rec.get("checksum_algorithm"):
        return [("x-amz-checksum-algorithm", rec["checksum_algorithm"]),
                ("x-amz-checksum-type", rec.get("checksum_type") or "COMPOSITE")]
    if rec["op"] in ("UploadPart", "PutObject") and rec.get("crc32c_ok"):
        return [("x-amz-checksum-crc32c", "AAAAAA==" if wrong and rec["crc32c"] != "AAAAAA==" else rec["crc32c"])]
    return []


def add_headers(head, pairs):
    extra = "".join("%s: %s\r\n" % kv for kv in pairs).encode("latin-1")
    return head[:-2] + extra + b"\r\n"


def rewrite_length(head, delta):
    def fix(m):
        return m.group(1) + str(max(int(m.group(2)) + delta, 0)).encode()
    return re.sub(rb"(?im)^(content-length:[ \t]*)(\d+)", fix, head, count=1)


def serve(args):
    u = urllib.parse.urlsplit(args.upstream if "//" in args.upstream else "http://" + args.upstream)
    if u.scheme != "http" or not u.hostname:
        sys.exit("fault_proxy: --upstream must be http://HOST:PORT")
    forbid = [os.environ.get(n, "") for n in args.forbid_env]
    proxy = Proxy((u.hostname, u.port or 80), Rules(args.rules), Log(args.log), forbid)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(128)
    port = ls.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print(port, flush=True)

    def bye(signum, frame):
        proxy.stop.set()
        os._exit(0)

    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGINT, bye)
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=Connection(proxy, c).run, daemon=True).start()


# ---------------------------------------------------------------- log queries

def load(path, tag=None):
    out = []
    try:
        with open(path) as f:
            for ln in f:
                ln = ln.strip()
                if not ln:
                    continue
                try:
                    r = json.loads(ln)
                except ValueError:
                    continue
                if "op" not in r:
                    continue
                if tag is not None and r.get("tag") != tag:
                    continue
                out.append(r)
    except OSError:
        pass
    return out


def select(recs, a):
    def ok(r):
        if a.op and r.get("op") not in a.op.split(","):
            return False
        if a.action and r.get("action") not in a.action.split(","):
            return False
        if a.part is not None and r.get("part") != a.part:
            return False
        if a.status is not None and r.get("status") != a.status:
            return False
        if a.method and r.get("method") != a.method:
            return False
        if a.crc32c and r.get("crc32c") != (None if a.crc32c == "-" else a.crc32c):
            return False
        if a.amz_sha and r.get("amz_sha") != a.amz_sha:
            return False
        if a.crc32c_ok and r.get("crc32c_ok") is not {"yes": True, "no": False}[a.crc32c_ok]:
            return False
        if a.checksum_algorithm and r.get("checksum_algorithm") != (None if a.checksum_algorithm == "-" else a.checksum_algorithm):
            return False
        if a.checksum_type and r.get("checksum_type") != (None if a.checksum_type == "-" else a.checksum_type):
            return False
        if a.complete_crc32c and ",".join(r.get("complete_crc32c") or []) != ("" if a.complete_crc32c == "-" else a.complete_crc32c):
            return False
        return True
    return [r for r in recs if ok(r)]


def cmd_count(a):
    print(len(select(load(a.log, a.tag), a)))


def cmd_gap(a):
    recs = load(a.log, a.tag)
    faults = [r for r in select(recs, a) if r.get("action") not in ("forward", None)]
    if not faults:
        print("none")
        return 1
    f = faults[0]
    later = [r for r in recs if r.get("op") == f.get("op") and r.get("part") == f.get("part") and r["t"] > f["t"]
             and r is not f]
    if not later:
        print("none")
        return 1
    print("%.3f" % (min(r["t"] for r in later) - f.get("t_fault", f["t"])))
    return 0


def cmd_check(a):
    recs = load(a.log, a.tag)
    bad = []
    for r in recs:
        what = "%s %s?%s (conn %s seq %s)" % (r.get("method"), r.get("path"), r.get("query"), r.get("conn"), r.get("seq"))
        if not r.get("auth"):
            bad.append("no SigV4 Authorization: " + what)
        if not r.get("amz_date"):
            bad.append("no x-amz-date: " + what)
        sha = r.get("amz_sha")
        if not sha or not re.fullmatch(r"[0-9a-f]{64}", sha):
            bad.append("x-amz-content-sha256 missing or not a hash (%s): %s" % (sha, what))
        elif r.get("body_complete") and r.get("body_sha_ok") is False:
            bad.append("x-amz-content-sha256 is not the body's SHA-256: " + what)
        if r.get("chunked"):
            bad.append("chunked body: " + what)
        if r.get("method") in ("PUT", "POST") and r.get("content_length") is None:
            bad.append("body without Content-Length: " + what)
        if r.get("op") == "GetObject" and not r.get("range"):
            bad.append("GetObject without a Range: " + what)
        if r.get("forbidden"):
            bad.append("a forbidden value (a secret) appeared in the request head: " + what)
    for b in bad:
        print("violation: " + b)
    print("%d requests checked, %d violations" % (len(recs), len(bad)))
    return 1 if bad or not recs else 0


def cmd_show(a):
    for r in load(a.log, a.tag):
        print("%-6s %-5s c%-3s %-24s part=%-4s len=%-9s action=%-17s status=%s%s" % (
            r.get("tag"), r.get("method"), r.get("conn"), r.get("op"), r.get("part"), r.get("content_length"),
            r.get("action"), r.get("status"), (" note=" + r["note"]) if r.get("note") else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--upstream", required=True)
    s.add_argument("--rules", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--forbid-env", action="append", default=[])
    for name in ("count", "gap", "check", "show"):
        q = sub.add_parser(name)
        q.add_argument("log")
        q.add_argument("--tag")
        q.add_argument("--op")
        q.add_argument("--action")
        q.add_argument("--part", type=int)
        q.add_argument("--status", type=int)
        q.add_argument("--method")
        q.add_argument("--crc32c", help="x-amz-checksum-crc32c sent ('-' for none)")
        q.add_argument("--amz-sha", help="x-amz-content-sha256 sent (e.g. UNSIGNED-PAYLOAD)")
        q.add_argument("--crc32c-ok", choices=("yes", "no"), help="whether it was the body's CRC32C")
        q.add_argument("--checksum-algorithm", help="x-amz-checksum-algorithm sent ('-' for none)")
        q.add_argument("--checksum-type", help="x-amz-checksum-type sent ('-' for none)")
        q.add_argument("--complete-crc32c", help="the ChecksumCRC32C list of a Complete body, comma-joined ('-' for none)")
    a = ap.parse_args()
    if a.cmd == "serve":
        return serve(a)
    return {"count": cmd_count, "gap": cmd_gap, "check": cmd_check, "show": cmd_show}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
