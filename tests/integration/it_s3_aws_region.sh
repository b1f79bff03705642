#!/usr/bin/env bash
# it_s3_aws_region.sh: on AWS itself (no custom endpoint) with no region
# configured, sealpub asks the bucket's region once, at open (HeadBucket,
# whose answer names it in x-amz-bucket-region), then sends every request to
# that region's endpoint signed for that region, and says in the store's
# description that the region was learnt from the server
# (store_s3.c discover_region). With a region configured it asks nothing.
#
# AWS is unreachable from the test machines, so its endpoint names are served
# here, hermetically (no /etc/hosts, no system CA store is touched):
#
#   sealpub --HTTPS_PROXY--> connect_tls.py   CONNECT s3.REGION.amazonaws.com:443;
#                                             TLS ended with a certificate for that
#                                             name from a CA made in $WORK, which
#                                             sealpub trusts only via AWS_CA_BUNDLE
#           --plain HTTP, byte-exact--> tests/faults/fault_proxy.py (logs Host and
#                                             SigV4 credential scope of each request)
#           --> the real radosgw of scripts/services.sh
#
# The proxy stands in for AWS for one answer only, the HeadBucket answer that
# names the bucket's region (301 with x-amz-bucket-region: eu-west-3, as AWS
# answers a request sent to a region that is not the bucket's; radosgw has one
# region and cannot). Every other request, the artifact's bytes included, goes
# to the real radosgw, which checks each SigV4 signature: over the Host sealpub
# signed (s3.eu-west-3.amazonaws.com) and a scope naming eu-west-3 (radosgw 16
# accepts any region name in the scope, as it_s3_settings.sh relies on too).
# Path-style addressing keeps the bucket in the path, where radosgw finds it
# whatever the Host; virtual-hosted names would need radosgw's "rgw dns name"
# set to amazonaws.com, which the shared gateway has not.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
FP=$SP_SOURCE_DIR/tests/faults/fault_proxy.py
use_s3_and_pg it-s3-aws-region
TUNNEL_PID=
trap 'kill $TUNNEL_PID ${PROXY_PID:-} 2>/dev/null; psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1; rm -rf "$WORK"' EXIT

# A throwaway CA and one certificate for AWS's S3 names in the two regions;
# another CA, which signed nothing of the tunnel's, for the negative check.
mkdir "$WORK/tls"
(
    cd "$WORK/tls" &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
            -subj "/CN=sealpub test CA (it_s3_aws_region)" -keyout ca.key -out ca.crt &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=s3.amazonaws.com" \
            -keyout s3.key -out s3.csr &&
        {
            printf 'subjectAltName=DNS:s3.amazonaws.com,DNS:*.s3.amazonaws.com'
            for r in us-east-1 eu-west-3; do printf ',DNS:s3.%s.amazonaws.com,DNS:*.s3.%s.amazonaws.com' $r $r; done
            printf '\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'
        } >san.ext &&
        openssl x509 -req -in s3.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out s3.crt &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
            -subj "/CN=another CA (it_s3_aws_region)" -keyout other.key -out other.crt
) >"$WORK/tls/openssl.log" 2>&1 || { echo "FAIL - making the test CA: $(tail -3 "$WORK/tls/openssl.log")"; exit 1; }

start_fault_proxy '{"tag":"start","rules":[]}'
TUNNEL_LOG=$WORK/tunnel.log
python3 "$SP_SOURCE_DIR/tests/integration/connect_tls.py" --cert "$WORK/tls/s3.crt" --key "$WORK/tls/s3.key" \
    --upstream "${PROXY_URL##*:}" --log "$TUNNEL_LOG" --port-file "$WORK/tunnel.port" >/dev/null 2>&1 &
TUNNEL_PID=$!
wait_until 30 test -s "$WORK/tunnel.port" || { echo "FAIL - connect_tls.py did not start"; exit 1; }
TUNNEL_URL=http://127.0.0.1:$(cat "$WORK/tunnel.port")

# AWS's 301 to a HeadBucket sent to another region than the bucket's: no body
# (HEAD), the region in x-amz-bucket-region. Only the first HeadBucket of a run
# gets it; a new tag starts the rule's count again.
redirect_rule() { # tag
    printf '{"tag":"%s","rules":[{"op":"HeadBucket","times":1,"action":"error","status":301,"code":"PermanentRedirect","region":"eu-west-3"}]}' "$1" >"$PROXY_RULES"
    : >"$PROXY_LOG"
    : >"$TUNNEL_LOG"
}

# sealpub as on AWS: no endpoint variable, credentials from the environment
# (IMDS off, no shared files, so nothing else is tried), the test CA only.
aws_sealpub() {
    env -u AWS_ENDPOINT_URL_S3 -u AWS_ENDPOINT_URL -u AWS_DEFAULT_REGION -u AWS_PROFILE -u NO_PROXY -u no_proxy \
        HTTPS_PROXY="$TUNNEL_URL" AWS_CA_BUNDLE="$WORK/tls/ca.crt" SEALPUB_S3_ADDRESSING_STYLE=path \
        AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE="$WORK/no-aws-config" \
        AWS_SHARED_CREDENTIALS_FILE="$WORK/no-aws-credentials" SEALPUB_S3_PART_SIZE=5MiB "$@"
}

# check_requests WHAT MODE: the requests of the last run, from the fault
# proxy's log and the tunnel's. MODE learnt: the first request is the one
# HeadBucket signed for us-east-1, sent to s3.us-east-1, answered 301; every
# later one goes to s3.eu-west-3 signed for eu-west-3 (the HeadBucket is not
# resent in the bucket's region: its answer's region was all it was for).
# MODE configured: no HeadBucket at all; everything to s3.us-east-1 signed
# for us-east-1. Both: every request went through a tunnel whose CONNECT
# target and TLS server name are the Host it carries, and each op in NEED
# (comma-separated) was among them.
check_requests() { # what mode need
    local out
    if out=$(python3 - "$PROXY_LOG" "$TUNNEL_LOG" "$2" "$3" 2>&1 <<'PY'
import json, sys
log, tunnel_log, mode, need = sys.argv[1:]
recs = sorted((r for r in map(json.loads, filter(str.strip, open(log))) if "op" in r), key=lambda r: r["t"])
tunnels = [json.loads(l) for l in open(tunnel_log) if l.strip()]
bad = []
def host_scope(r, region):
    if r["host"] != "s3.%s.amazonaws.com" % region:
        bad.append("%s went to host %s, not s3.%s.amazonaws.com" % (r["op"], r["host"], region))
    if not (r["scope"] or "").endswith("/%s/s3/aws4_request" % region):
        bad.append("%s signed with scope %s, not .../%s/s3/aws4_request" % (r["op"], r["scope"], region))
if not recs:
    print("no request reached the proxy")
    sys.exit(1)
heads = [r for r in recs if r["op"] == "HeadBucket"]
if mode == "learnt":
    first, rest = recs[0], recs[1:]
    if first["op"] != "HeadBucket":
        bad.append("the first request is %s, not HeadBucket" % first["op"])
    host_scope(first, "us-east-1")
    if first["status"] != 301 or first["action"] != "error":
        bad.append("the first HeadBucket was not answered 301 by the proxy: %s" % first["status"])
    signed_east = [r for r in heads if "/us-east-1/" in (r["scope"] or "")]
    if len(signed_east) != 1:
        bad.append("%d HeadBucket requests signed for us-east-1, not 1" % len(signed_east))
    if len(heads) != 1:
        bad.append("HeadBucket requests: %d, wanted only the one at open (its answer's region is all it needs)" % len(heads))
    for r in rest:
        host_scope(r, "eu-west-3")
        if not 200 <= (r["status"] or 0) < 300:
            bad.append("%s answered %s (%s)" % (r["op"], r["status"], r["action"]))
    targets = [t.get("target") for t in tunnels]
    if targets[:1] != ["s3.us-east-1.amazonaws.com:443"] or any(t != "s3.eu-west-3.amazonaws.com:443" for t in targets[1:]) \
            or len(targets) < 2:
        bad.append("tunnels opened to %s; wanted one to s3.us-east-1, then only s3.eu-west-3" % targets)
else:
    if heads:
        bad.append("%d HeadBucket requests with the region configured" % len(heads))
    for r in recs:
        host_scope(r, "us-east-1")
        if not 200 <= (r["status"] or 0) < 300:
            bad.append("%s answered %s (%s)" % (r["op"], r["status"], r["action"]))
    if not tunnels or any(t.get("target") != "s3.us-east-1.amazonaws.com:443" for t in tunnels):
        bad.append("tunnels opened to %s; wanted only s3.us-east-1" % [t.get("target") for t in tunnels])
for t in tunnels:
    if (t.get("sni") or "") + ":443" != t.get("target"):
        bad.append("tunnel %s: TLS server name %s, error %s" % (t.get("target"), t.get("sni"), t.get("tls_error")))
ops = {r["op"] for r in recs}
for op in need.split(","):
    if op not in ops:
        bad.append("no %s among %s" % (op, sorted(ops)))
for b in bad:
    print(b)
print("%d requests (%s) through %d tunnels" % (len(recs), ", ".join("%s %s" % (r["op"], r["status"]) for r in recs[:3]) + ", ...", len(tunnels)))
sys.exit(1 if bad else 0)
PY
    ); then ok "$1: ${out##*$'\n'}"; else bad "$1: $out"; fi
}

# check_store FILE REGION LEARNT: the --json object's store description and
# its region part; LEARNT yes: the description says the server named it.
check_store() {
    python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
region, learnt = sys.argv[2], sys.argv[3] == "yes"
want = "s3://%s (%s%s)" % (d["store"].split(" ", 1)[0][5:], region,
                           ", the bucket's region, learnt from the server" if learnt else "")
assert d["store"] == want, "store %r, wanted %r" % (d["store"], want)
p = d["store_parts"]
assert p["region"] == region and p["endpoint"] is None, p
PY
}

head -c $((11 * 1024 * 1024 + 4321)) /dev/urandom >"$WORK/in.bin" # three 5 MiB parts
P=("$B" publish "$WORK/in.bin" --name obj --stage dev --arch amd64 --content raw --level 0)
F=("$B" fetch --name obj --stage dev --arch amd64)

# 1. No region configured: learnt from HeadBucket at open.
redirect_rule publish-learn
expect_exit 0 "publish on AWS, no region configured" -- aws_sealpub env -u AWS_REGION "${P[@]}" --version 1 --json
cp "$WORK/stdout" "$WORK/learn.json"
check_requests "publish: HeadBucket at open signed for us-east-1 answered 301, the rest to s3.eu-west-3 signed for eu-west-3" \
    learnt CreateMultipartUpload,UploadPart,CompleteMultipartUpload
n=$(python3 "$FP" count "$PROXY_LOG" --op UploadPart)
[[ $n == 3 ]] && ok "publish: 3 parts uploaded, each once" || bad "publish: $n UploadPart requests, wanted 3"
err=$(check_store "$WORK/learn.json" eu-west-3 yes 2>&1) && ok "publish --json: store names eu-west-3 as learnt from the server" ||
    bad "publish --json store: $err: $(cat "$WORK/learn.json")"

redirect_rule fetch-learn
expect_exit 0 "fetch on AWS, no region configured" -- aws_sealpub env -u AWS_REGION "${F[@]}" --version 1 -o "$WORK/out1.bin"
cmp -s "$WORK/in.bin" "$WORK/out1.bin" && ok "fetch: the bytes came back identical" || bad "fetch: the bytes differ"
check_requests "fetch: the same region learnt at open, the reads from s3.eu-west-3" learnt GetObject

# 2. AWS_REGION=us-east-1 configured: nothing is asked, everything stays in us-east-1.
redirect_rule publish-configured
expect_exit 0 "publish on AWS, AWS_REGION=us-east-1" -- aws_sealpub env AWS_REGION=us-east-1 "${P[@]}" --version 2 --json
cp "$WORK/stdout" "$WORK/configured.json"
check_requests "publish with AWS_REGION: no HeadBucket, all to s3.us-east-1 signed for us-east-1" \
    configured CreateMultipartUpload,UploadPart,CompleteMultipartUpload
err=$(check_store "$WORK/configured.json" us-east-1 no 2>&1) && ok "publish --json: store names us-east-1, not as learnt" ||
    bad "publish --json store: $err: $(cat "$WORK/configured.json")"
redirect_rule fetch-configured
expect_exit 0 "fetch on AWS, AWS_REGION=us-east-1" -- aws_sealpub env AWS_REGION=us-east-1 "${F[@]}" --version 2 -o "$WORK/out2.bin"
cmp -s "$WORK/in.bin" "$WORK/out2.bin" && ok "fetch with AWS_REGION: the bytes came back identical" || bad "fetch with AWS_REGION: bytes differ"
check_requests "fetch with AWS_REGION: no HeadBucket, reads from s3.us-east-1" configured GetObject

# 3. The tunnel's TLS is really verified: trusting another CA than the one
# that signed the tunnel's certificate, the handshake fails and nothing
# reaches the server.
redirect_rule untrusted
expect_exit 7 "publish trusting another CA fails" -- aws_sealpub env -u AWS_REGION \
    AWS_CA_BUNDLE="$WORK/tls/other.crt" SEALPUB_S3_MAX_ATTEMPTS=1 "${P[@]}" --version 3
expect_err_contains "certificate" "the error names the certificate"
n=$(python3 "$FP" count "$PROXY_LOG")
tls_err=$(grep -c '"tls_error"' "$TUNNEL_LOG" || true)
[[ $n == 0 && $tls_err -ge 1 ]] && ok "no request passed an unverified tunnel ($tls_err handshakes refused)" ||
    bad "$n requests reached the proxy, $tls_err handshakes failed"

stop_fault_proxy
for k in $(s3_keys "$prefix/"); do # the two 11 MiB objects, straight at radosgw
    s3_curl -f -X DELETE -H "x-amz-content-sha256: $EMPTY_SHA" "$AWS_ENDPOINT_URL_S3/$bucket/$k" >/dev/null ||
        echo "note: could not delete s3://$bucket/$k"
done
finish
