#!/usr/bin/env bash
# it_cdn.sh: the CDN in front of the bucket (issue 19). The real radosgw
# serves a public-read prefix (a bucket policy allowing anonymous GetObject)
# as the CDN's origin; fetch --via-public-url downloads with unsigned ranged
# GETs and verifies against the registry row exactly as the S3 path does. A
# CDN that serves a stale or a truncated object is refused and nothing is
# written; publish and list show each artifact's public URL.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
use_s3_and_pg it-cdn
MiB=1048576
policy() { # JSON: PUT ?policy on the test bucket
    s3_curl -f -X PUT -H "x-amz-content-sha256: $(printf '%s' "$1" | sha256sum | cut -d' ' -f1)" --data-binary "$1" \
        "$AWS_ENDPOINT_URL_S3/$bucket?policy=" >/dev/null
}
public="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::$bucket/$prefix-cdn/*\",\"arn:aws:s3:::$bucket/$prefix/*\"]}]}"
policy "$public" && ok "bucket policy: anonymous GetObject on the test's prefixes" || bad "cannot set the bucket policy"
trap 's3_curl -X DELETE -H "x-amz-content-sha256: $EMPTY_SHA" "$AWS_ENDPOINT_URL_S3/$bucket?policy=" >/dev/null 2>&1;
      psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
export SEALPUB_PUBLIC_BASE_URL=$AWS_ENDPOINT_URL_S3/$bucket/$prefix
F=("$B" fetch --name app --stage dev --arch amd64 --quiet --via-public-url)


head -c $((9 * MiB + 123)) /dev/urandom >"$WORK/v1.bin"
head -c $((9 * MiB + 456)) /dev/urandom >"$WORK/v2.bin"
expect_exit 0 "publish app 1" -- "$B" publish "$WORK/v1.bin" --name app --stage dev --arch amd64 --version 1 --content raw --json
[[ $(curl -s -o /dev/null -w '%{http_code}' "$SEALPUB_PUBLIC_BASE_URL/dev/app-amd64-1.enc") == 200 ]] &&
    ok "an anonymous GET of the object succeeds (the origin is public-read)" || bad "anonymous GET refused"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["public_url"]==sys.argv[2]+"/dev/app-amd64-1.enc", d["public_url"]' \
    "$WORK/stdout" "$SEALPUB_PUBLIC_BASE_URL" && ok "publish --json shows the public URL" || bad "public_url: $(cat "$WORK/stdout")"
expect_exit 0 "list --json" -- "$B" list --name app --json
grep -q "\"public_url\":\"$SEALPUB_PUBLIC_BASE_URL/dev/app-amd64-1.enc\"" "$WORK/stdout" && ok "list shows the public URL" ||
    bad "list public_url: $(cat "$WORK/stdout")"

expect_exit 0 "fetch --via-public-url" -- "${F[@]}" --version 1 -o "$WORK/out" --parallel 3 --json
cmp -s "$WORK/out" "$WORK/v1.bin" && ok "the CDN download is identical" || bad "CDN download differs"
grep -q '"verified":true' "$WORK/stdout" && ok "and verified" || bad "not verified: $(cat "$WORK/stdout")"
rm -f "$WORK/out"
# No S3 credentials are used on this path.
expect_exit 0 "fetch --via-public-url without any S3 credentials" -- env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
    AWS_EC2_METADATA_DISABLED=true "${F[@]}" --version 1 --verify

# A stale CDN: its copy of version 1 is the first publish, the row the second.
stale_base=$AWS_ENDPOINT_URL_S3/$bucket/$prefix-cdn
s3_get "$bucket/$prefix/dev/app-amd64-1.enc" "$WORK/v1.enc"
s3_put "$bucket/$prefix-cdn/dev/app-amd64-1.enc" "$WORK/v1.enc"
expect_exit 0 "republish app 1" -- "$B" publish "$WORK/v2.bin" --name app --stage dev --arch amd64 --version 1 --content raw --quiet
expect_exit 0 "fetch from the fresh origin" -- "${F[@]}" --version 1 -o "$WORK/out"
cmp -s "$WORK/out" "$WORK/v2.bin" && ok "fresh: the new version" || bad "fresh fetch differs"
rm -f "$WORK/out"
rc=0
SEALPUB_PUBLIC_BASE_URL=$stale_base "${F[@]}" --version 1 -o "$WORK/out" 2>"$WORK/err" || rc=$?
[[ $rc != 0 ]] && ok "a stale CDN copy is refused (exit $rc)" || bad "stale copy accepted"
[[ ! -e $WORK/out && -z $(ls "$WORK" | grep '^out\.') ]] && ok "stale: nothing written" || bad "stale: output left"
grep -q "bytes but its registry row says\|SHA-256\|sha256" "$WORK/err" && ok "stale: the error says what differs" || bad "stale: $(cat "$WORK/err")"

# A truncated CDN copy.
s3_get "$bucket/$prefix/dev/app-amd64-1.enc" "$WORK/v2.enc"
head -c $(($(stat -c %s "$WORK/v2.enc") - 5000)) "$WORK/v2.enc" >"$WORK/trunc.enc"
s3_put "$bucket/$prefix-cdn/dev/app-amd64-1.enc" "$WORK/trunc.enc"
rc=0
SEALPUB_PUBLIC_BASE_URL=$stale_base "${F[@]}" --version 1 -o "$WORK/out" 2>"$WORK/err" || rc=$?
[[ $rc != 0 ]] && ok "a truncated CDN copy is refused (exit $rc)" || bad "truncated copy accepted"
[[ ! -e $WORK/out ]] && ok "truncated: nothing written" || bad "truncated: output left"
# Same size, one flipped byte: only the SHA-256 and the chunk tags can tell.
python3 - "$WORK/v2.enc" "$WORK/flip.enc" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 3] ^= 0x40; open(sys.argv[2], "wb").write(b)
PY
s3_put "$bucket/$prefix-cdn/dev/app-amd64-1.enc" "$WORK/flip.enc"
rc=0
SEALPUB_PUBLIC_BASE_URL=$stale_base "${F[@]}" --version 1 -o "$WORK/out" 2>"$WORK/err" || rc=$?
[[ $rc != 0 && ! -e $WORK/out ]] && ok "a corrupted CDN copy is refused, nothing written (exit $rc)" || bad "corrupted copy: exit $rc"
# An S3 origin answers an anonymous request for a missing object with 403, as AWS does.
expect_exit 7 "a CDN without the object" -- env SEALPUB_PUBLIC_BASE_URL="$AWS_ENDPOINT_URL_S3/$bucket/$prefix-none" \
    "${F[@]}" --version 1 --verify
expect_err_contains "HTTP 403 from the public URL" "names the CDN's answer"

# Semver build metadata: '+' stays in the object key, travels as %2B.
expect_exit 0 "publish a version with build metadata" -- "$B" publish "$WORK/v1.bin" --name app --stage dev --arch amd64 \
    --version 1.4.2+build.7 --content raw --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["object_key"]=="dev/app-amd64-1.4.2+build.7.enc" and d["public_url"].endswith("/dev/app-amd64-1.4.2%2Bbuild.7.enc"), d' \
    "$WORK/stdout" && ok "the key keeps '+', the public URL encodes it" || bad "semver key: $(cat "$WORK/stdout")"
s3_keys "$prefix/dev/app-amd64-1.4.2" | grep -qx "$prefix/dev/app-amd64-1.4.2+build.7.enc" && ok "S3 stores the key with a literal '+'" || bad "S3 key differs"
expect_exit 0 "fetch it from S3" -- "$B" fetch --name app --stage dev --arch amd64 --version 1.4.2+build.7 -o "$WORK/sv.out" --quiet
cmp -s "$WORK/sv.out" "$WORK/v1.bin" && ok "identical from S3" || bad "semver S3 fetch differs"
rm -f "$WORK/sv.out"
expect_exit 0 "fetch it through the public URL" -- "${F[@]}" --version 1.4.2+build.7 -o "$WORK/sv.out"
cmp -s "$WORK/sv.out" "$WORK/v1.bin" && ok "identical through the CDN" || bad "semver CDN fetch differs"
s3_get "$bucket/$prefix/dev/app-amd64-1.4.2%2Bbuild.7.enc" "$WORK/sv.enc"
# The independent reader of docs/FORMAT.md accepts the '+' in the header too.
semver_key=$(psql "$DATABASE_URL" -tAc "SELECT encryption_key FROM resources WHERE version = '1.4.2+build.7'")
python3 "$SP_SOURCE_DIR/tests/format/reference_reader.py" "$WORK/sv.enc" --key-b64 "$semver_key" -o "$WORK/sv.ref" &&
    cmp -s "$WORK/sv.ref" "$WORK/v1.bin" && ok "the reference reader opens the build-metadata container" ||
    bad "reference reader refused the '+' version"
expect_exit 2 "a second '+' is refused" -- "$B" publish "$WORK/v1.bin" --name app --stage dev --version 1+a+b --content raw
expect_exit 2 "empty build metadata is refused" -- "$B" publish "$WORK/v1.bin" --name app --stage dev --version 1+ --content raw
expect_exit 2 "'+' at the start is refused" -- "$B" publish "$WORK/v1.bin" --name app --stage dev --version +7 --content raw

expect_exit 2 "--via-public-url without SEALPUB_PUBLIC_BASE_URL" -- env -u SEALPUB_PUBLIC_BASE_URL "${F[@]}" --version 1 --verify
expect_exit 2 "a public URL over http to a remote host" -- env SEALPUB_PUBLIC_BASE_URL=http://cdn.example.com/x "${F[@]}" --version 1 --verify
expect_err_contains "plain http://" "names the plain-http rule"
expect_exit 2 "a public URL with credentials" -- env SEALPUB_PUBLIC_BASE_URL=https://u:p@cdn.example.com/x "${F[@]}" --version 1 --verify
finish
