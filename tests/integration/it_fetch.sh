#!/usr/bin/env bash
# it_fetch.sh: sealpub fetch against the real radosgw and PostgreSQL: round
# trips at the core sizes, --latest, --verify, and a corrupted, truncated or
# swapped stored object each detected with no output left behind.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
use_s3_and_pg it-fetch
MiB=1048576
P=("$B" publish --stage dev --arch arm64 --chunk-size 1M --quiet --content raw)
F=("$B" fetch --stage dev --arch arm64 --quiet)

for size in 0 1 $((MiB - 1)) $MiB $((MiB + 1)) $((9 * MiB + 12345)); do
    { head -c $((size / 2)) /dev/urandom; yes 'usr lib sha256 layer' | head -c $((size - size / 2)); } >"$WORK/in.bin"
    expect_exit 0 "publish $size" -- "${P[@]}" "$WORK/in.bin" --name rt --version "s$size"
    expect_exit 0 "fetch $size" -- "${F[@]}" --name rt --version "s$size" -o "$WORK/out.bin" --parallel 3
    cmp -s "$WORK/in.bin" "$WORK/out.bin" && ok "fetch $size identical" || bad "fetch $size differs"
    rm -f "$WORK/out.bin"
done
expect_exit 0 "fetch --latest --verify" -- "${F[@]}" --name rt --latest --verify --json
grep -q "\"version\":\"s$((9 * MiB + 12345))\"" "$WORK/stdout" && ok "--latest picked the newest" || bad "--latest: $(cat "$WORK/stdout")"
[[ ! -e $WORK/out.bin ]] && ok "--verify wrote nothing" || bad "--verify wrote"

# Tampering with the stored objects: each detected, no output left.
head -c $((3 * MiB)) /dev/urandom >"$WORK/a.bin"
expect_exit 0 "publish a" -- "${P[@]}" "$WORK/a.bin" --name a --version 1
expect_exit 0 "publish b" -- "${P[@]}" "$WORK/a.bin" --name b --version 1
key_a=$bucket/$prefix/dev/a-arm64-1.enc
key_b=$bucket/$prefix/dev/b-arm64-1.enc
s3_get "$key_a" "$WORK/a.enc"
s3_get "$key_b" "$WORK/b.enc"
tamper() { # description file-to-store expected-exit
    s3_put "$key_a" "$2"
    expect_exit "$3" "$1 detected" -- "${F[@]}" --name a --version 1 -o "$WORK/t.out"
    [[ ! -e $WORK/t.out ]] && ok "$1: no output" || bad "$1: output left"
    [[ -z $(ls "$WORK" | grep 't.out.sealpub-') ]] && ok "$1: no temp file" || bad "$1: temp file left"
}
python3 - "$WORK/a.enc" "$WORK/flip.enc" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0x01; open(sys.argv[2], "wb").write(b)
PY
tamper "a corrupted byte" "$WORK/flip.enc" 6
[[ $ERR == *"failed authentication"* || $ERR == *SHA-256* ]] && ok "corruption named" || bad "corruption: $ERR"
head -c $(($(stat -c %s "$WORK/a.enc") - 100)) "$WORK/a.enc" >"$WORK/cut.enc"
tamper "a truncated object" "$WORK/cut.enc" 6
tamper "an object swapped with another resource's" "$WORK/b.enc" 6
s3_put "$key_a" "$WORK/a.enc"
expect_exit 0 "restored object fetches again" -- "${F[@]}" --name a --version 1 -o "$WORK/t.out"
cmp -s "$WORK/a.bin" "$WORK/t.out" && ok "restored content" || bad "restored content differs"

# Missing object and missing row.
s3_curl -f -X DELETE -H "x-amz-content-sha256: $EMPTY_SHA" "$AWS_ENDPOINT_URL_S3/$key_b" >/dev/null
expect_exit 11 "object deleted behind the registry's back" -- "${F[@]}" --name b --version 1 --verify
expect_err_contains "not in" "missing object named"
expect_exit 11 "no such row" -- "${F[@]}" --name nope --version 1 --verify
expect_exit 2 "fetch needs -o or --verify" -- "${F[@]}" --name a --version 1

finish
