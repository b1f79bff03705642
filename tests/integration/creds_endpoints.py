#!/usr/bin/env python3
"""creds_endpoints.py: the EC2 instance metadata service (IMDSv2) and the ECS/EKS container credentials endpoint, served on 127.0.0.1 for tests.

Why a stand-in: both exist only inside AWS (169.254.169.254 and
169.254.170.2), so they cannot run here. This server follows their
documented protocols, and only as far as a client sees them:

IMDSv2 (docs: "Use the Instance Metadata Service to access instance metadata"):
  PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds: 1..21600
      -> 200, the session token (text); without or with a bad TTL -> 400
  GET with X-aws-ec2-metadata-token: <token>
      /latest/meta-data/iam/security-credentials/        -> the role name
      /latest/meta-data/iam/security-credentials/<role>  -> JSON: Code, LastUpdated,
          Type, AccessKeyId, SecretAccessKey, Token, Expiration
  a GET without a valid token (IMDSv1) -> 401, as on instances that require v2

Container credentials (docs: "Amazon ECS task IAM role", "EKS Pod Identity"):
  GET /ecs/creds with Authorization: <token> (when --auth-token is given)
      -> JSON: AccessKeyId, SecretAccessKey, Token, Expiration, RoleArn; 401 otherwise

The credentials handed out are the real ones of the local radosgw, so that
sealpub's requests are checked by a real server: by default the pair in
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. With --rotate-uid, every
credentials request creates a fresh key for that radosgw user
(radosgw-admin key create) that "expires" --ttl seconds later: the server
removes the key from radosgw then, so a request signed with it after its
Expiration is refused by radosgw, as AWS refuses expired credentials.

Every request is logged as one JSON line to --log: method, path, status,
and for credentials the access key handed out.

Usage: creds_endpoints.py --port-file F --log L [--ttl S] [--auth-token T]
                          [--rotate-uid UID --ceph-conf CONF] [--grace S]
"""
import argparse
import datetime
import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
import time

ROLE = "sealpub-test-role"


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    def __init__(self, args):
        self.args = args
        self.tokens = {}  # IMDS session token -> expiry
        self.lock = threading.Lock()
        self.n = 0

    def log(self, rec):
        with self.lock:
            with open(self.args.log, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def credentials(self):
        now = time.time()
        exp = now + self.args.ttl
        if not self.args.rotate_uid:
            ak, sk = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
        else:
            with self.lock:
                self.n += 1
                n = self.n
            ak = "ROT%05d%s" % (n, secrets.token_hex(6).upper())
            sk = secrets.token_hex(20)
            subprocess.run(["radosgw-admin", "-c", self.args.ceph_conf, "key", "create", "--uid", self.args.rotate_uid,
                            "--key-type", "s3", "--access-key", ak, "--secret-key", sk],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Expiry is enforced by the real server: the key is removed
            # from radosgw when it expires (plus a grace for clock reads).
            threading.Timer(self.args.ttl + self.args.grace, self.revoke, [ak]).start()
        return {"AccessKeyId": ak, "SecretAccessKey": sk, "Token": "session-" + secrets.token_hex(16),
                "Expiration": iso(exp)}

    def revoke(self, ak):
        subprocess.run(["radosgw-admin", "-c", self.args.ceph_conf, "key", "rm", "--uid", self.args.rotate_uid,
                        "--key-type", "s3", "--access-key", ak], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.log({"event": "revoked", "access_key": ak, "t": time.time()})


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, ctype="text/plain", extra=None):
        # Logged before the answer goes out, so the log's order is the
        # order in which the client could see the answers.
        rec = {"method": self.command, "path": self.path, "status": status, "t": time.time()}
        rec.update(extra or {})
        self.server.state.log(rec)
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.path != "/latest/api/token":
            return self.reply(404, "not found")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400, "missing or invalid X-aws-ec2-metadata-token-ttl-seconds")
        tok = secrets.token_urlsafe(32)
        st.tokens[tok] = time.time() + int(ttl)
        self.reply(200, tok, extra={"ttl": int(ttl)})

    def do_GET(self):
        st = self.server.state
        if self.path == "/ecs/creds":
            want = st.args.auth_token
            if want and self.headers.get("Authorization") != want:
                return self.reply(401, '{"message":"unauthorized"}', "application/json")
            c = st.credentials()
            c["RoleArn"] = "arn:aws:iam::000000000000:role/" + ROLE
            return self.reply(200, json.dumps(c), "application/json", {"access_key": c["AccessKeyId"]})
        base = "/latest/meta-data/iam/security-credentials/"
        if not self.path.startswith("/latest/"):
            return self.reply(404, "not found")
        tok = self.headers.get("X-aws-ec2-metadata-token")
        if not tok or st.tokens.get(tok, 0) < time.time():
            return self.reply(401, "")
        if self.path == base:
            return self.reply(200, ROLE)
        if self.path == base + ROLE:
            c = st.credentials()
            c.update({"Code": "Success", "LastUpdated": iso(time.time()), "Type": "AWS-HMAC"})
            return self.reply(200, json.dumps(c), "application/json", {"access_key": c["AccessKeyId"]})
        return self.reply(404, "not found")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ttl", type=int, default=3600)
    ap.add_argument("--grace", type=float, default=1.0)
    ap.add_argument("--auth-token")
    ap.add_argument("--rotate-uid")
    ap.add_argument("--ceph-conf")
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
