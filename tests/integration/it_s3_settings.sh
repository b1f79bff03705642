#!/usr/bin/env bash
# it_s3_settings.sh: publish's S3 object settings as flags (issue 15) against
# the real radosgw: --tag and --storage-class reach the object, the identity
# and artifact id are its x-amz-meta-* metadata, --json reports the settings,
# and bad values are refused before anything is uploaded. (SSE needs a TLS
# gateway with a KMS key: it_s3_creds.sh covers it through SEALPUB_S3_SSE.)
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
use_s3_and_pg it-s3-settings
head -c 2000000 /dev/urandom >"$WORK/in.bin"
P=("$B" publish "$WORK/in.bin" --name obj --stage dev --arch amd64 --content raw)
key=$bucket/$prefix/dev/obj-amd64-1.enc
expect_exit 0 "publish with --tag x2 and --storage-class" -- "${P[@]}" --version 1 --tag team=ml --tag build=7 \
    --storage-class STANDARD --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["tags"]=="team=ml,build=7" and d["storage_class"]=="STANDARD" and d["sse"] is None, d' \
    "$WORK/stdout" && ok "--json reports the settings" || bad "json: $(cat "$WORK/stdout")"
tags=$(s3_curl -f -H "x-amz-content-sha256: $EMPTY_SHA" "$AWS_ENDPOINT_URL_S3/$key?tagging=")
[[ $tags == *"<Key>team</Key><Value>ml</Value>"* && $tags == *"<Key>build</Key><Value>7</Value>"* ]] &&
    ok "the object carries both tags" || bad "tags: $tags"
head=$(s3_curl -f -I -H "x-amz-content-sha256: $EMPTY_SHA" "$AWS_ENDPOINT_URL_S3/$key" | tr -d '\r')
aid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifact_id"])' "$WORK/stdout")
grep -qi "^x-amz-meta-sealpub-identity: obj/dev/amd64/1$" <<<"$head" && ok "x-amz-meta-sealpub-identity" || bad "identity metadata: $head"
grep -qi "^x-amz-meta-sealpub-artifact-id: $aid$" <<<"$head" && ok "x-amz-meta-sealpub-artifact-id" || bad "artifact metadata: $head"
expect_exit 2 "--sse with an unknown mode" -- "${P[@]}" --version 2 --sse none
expect_one_line "--sse"
expect_exit 2 "--tag without =" -- "${P[@]}" --version 2 --tag nokey
expect_exit 2 "--storage-class malformed" -- "${P[@]}" --version 2 --storage-class "standard ia"
expect_exit 11 "nothing was published by the refused ones" -- "$B" fetch --name obj --stage dev --arch amd64 --version 2 --verify
# The bucket's region, learnt from the server (issue 15). The fault proxy in
# front of radosgw answers the first PutObject as S3 answers a request signed
# for another region (400 AuthorizationHeaderMalformed naming eu-west-1).
FP=$SP_SOURCE_DIR/tests/faults/fault_proxy.py
region_rule='{"tag":"region","rules":[{"op":"PutObject","times":1,"action":"error","status":400,"code":"AuthorizationHeaderMalformed","message":"the region us-east-1 is wrong; expecting eu-west-1","region":"eu-west-1"}]}'
start_fault_proxy "$region_rule"
via=$PROXY_URL
# A region the user set is never changed: the error names both.
expect_exit 7 "AWS_REGION set, bucket elsewhere" -- env AWS_ENDPOINT_URL_S3="$via" "${P[@]}" --version r1
expect_err_contains "the bucket is in region eu-west-1, not us-east-1" "names both regions"
# Left to sealpub: resent once, signed for the bucket's region, and it works.
: >"$PROXY_LOG"
printf '%s' "${region_rule/\"region\",/\"region2\",}" >"$PROXY_RULES" # a new tag: the rule fires again
expect_exit 0 "no region set: resent with the bucket's" -- env -u AWS_REGION -u AWS_DEFAULT_REGION AWS_ENDPOINT_URL_S3="$via" \
    "${P[@]}" --version r2
n=$(python3 "$FP" count "$PROXY_LOG" --op PutObject)
[[ $n == 2 ]] && ok "exactly one resend ($n PutObject requests)" || bad "$n PutObject requests"
python3 - "$PROXY_LOG" <<'PY' && ok "the resend is signed for eu-west-1" || bad "resend not signed for eu-west-1"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
puts = [r for r in recs if r.get("op") == "PutObject"]
sys.exit(0 if len(puts) == 2 and "/us-east-1/" in (puts[0]["scope"] or "") and "/eu-west-1/" in (puts[1]["scope"] or "") else 1)
PY
expect_exit 0 "and it fetches" -- env -u AWS_REGION AWS_ENDPOINT_URL_S3="$via" "$B" fetch --name obj --stage dev --arch amd64 --version r2 --verify
stop_fault_proxy
finish
