#!/usr/bin/env bash
# it_s3.sh: publish to the real local S3 gateway (radosgw) and PostgreSQL:
# sizes around the 5 MiB part limit and a many-part upload, from files and
# stdin, each object downloaded by curl and its SHA-256 compared with what
# publish reported; clear errors for wrong secret, missing bucket and an
# unreachable endpoint; aborted publishes leave no multipart upload.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
use_s3_and_pg it-s3
P=("$B" publish --stage dev --arch amd64 --json)
MiB=1048576

check_object() { # what version input: the object under the prefix, by curl, matches publish's sha256 and opens to input
    local what=$1 version=$2 input=$3 sha
    sha=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$WORK/stdout") || { bad "$what: no JSON"; return; }
    if s3_get "$bucket/$prefix/dev/obj-amd64-$version.enc" "$WORK/got.enc"; then
        [[ $(sha256sum "$WORK/got.enc" | cut -d' ' -f1) == "$sha" ]] && ok "$what: curl's SHA-256 = publish's" || bad "$what: SHA-256 differs"
        "$B" open "$WORK/got.enc" -o "$WORK/got.out" --quiet && cmp -s "$input" "$WORK/got.out" &&
            ok "$what: downloaded object opens to the input" || bad "$what: content differs"
    else
        bad "$what: curl cannot download the object"
    fi
}

for size in 0 1 $((5 * MiB - 1)) $((5 * MiB)) $((5 * MiB + 1)); do
    head -c "$size" /dev/urandom >"$WORK/in.bin"
    expect_exit 0 "publish $size bytes from a file" -- "${P[@]}" "$WORK/in.bin" --name obj --version "f$size" --content raw
    check_object "file $size" "f$size" "$WORK/in.bin"
    expect_exit 0 "publish $size bytes from stdin" -- bash -c "'$B' publish - --stage dev --arch amd64 --json --name obj --version p$size --content raw < <(cat '$WORK/in.bin')"
    check_object "stdin $size" "p$size" "$WORK/in.bin"
done

# Many parts: 200 MiB of mixed data, from a file and from a pipe.
{ head -c $((100 * MiB)) /dev/urandom; yes 'layer sha256 manifest json usr lib config' | head -c $((100 * MiB)); } >"$WORK/big.bin"
expect_exit 0 "publish 200 MiB from a file" -- "${P[@]}" "$WORK/big.bin" --name obj --version big-file
check_object "200 MiB file" big-file "$WORK/big.bin"
expect_exit 0 "publish 200 MiB from a pipe" -- bash -c "cat '$WORK/big.bin' | '$B' publish - --stage dev --arch amd64 --json --name obj --version big-pipe"
check_object "200 MiB pipe" big-pipe "$WORK/big.bin"
expect_exit 0 "fetch it back" -- "$B" fetch --name obj --stage dev --arch amd64 --version big-pipe -o "$WORK/fetched.bin"
cmp -s "$WORK/big.bin" "$WORK/fetched.bin" && ok "fetched 200 MiB identical" || bad "fetched content differs"
rm -f "$WORK/big.bin" "$WORK/fetched.bin" "$WORK/got.enc" "$WORK/got.out"

# Failures: one clear line, non-zero, nothing written, no row.
head -c 3000 /dev/urandom >"$WORK/small.bin"
expect_exit 7 "wrong secret key" -- env AWS_SECRET_ACCESS_KEY=wrong-secret "${P[@]}" "$WORK/small.bin" --name obj --version wrongkey
expect_err_contains "SignatureDoesNotMatch" "wrong secret named"
expect_one_line "wrong secret"
[[ $ERR != *wrong-secret* && $ERR != *"$AWS_SECRET_ACCESS_KEY"* ]] && ok "no secret in the error" || bad "secret in: $ERR"
expect_exit 7 "missing bucket" -- "${P[@]}" "$WORK/small.bin" --name obj --version nobucket --store "s3://no-such-bucket-$$/x"
expect_err_contains "NoSuchBucket" "missing bucket named"
expect_exit 12 "unreachable endpoint (retryable)" -- env AWS_ENDPOINT_URL_S3=http://127.0.0.1:1 SEALPUB_S3_MAX_ATTEMPTS=2 "${P[@]}" "$WORK/small.bin" --name obj --version unreachable
expect_err_contains "127.0.0.1:1" "endpoint named"
for v in wrongkey nobucket unreachable; do
    [[ -z $(psql "$DATABASE_URL" -Atc "SELECT 1 FROM resources WHERE version='$v'") ]] || bad "row for failed publish $v"
done
ok "no row for any failed publish"

# A publish of 40 MiB from a FIFO whose writer then stays open, so the
# upload is in flight when the signal comes. Sets $pid (the publisher) and
# $feeder (the writer, which execs into sleep so killing it by pid ends it);
# returns once S3 shows the multipart upload, or fails after 120 s.
start_stalled_publish() { # version
    mkfifo "$WORK/fifo-$1"
    ( head -c $((40 * MiB)) /dev/urandom; exec sleep 600 ) >"$WORK/fifo-$1" &
    feeder=$!
    "$B" publish "$WORK/fifo-$1" --stage dev --arch amd64 --name obj --version "$1" --quiet 2>"$WORK/sigerr" &
    pid=$!
    local i
    for ((i = 0; i < 240; i++)); do
        (($(s3_open_uploads "$bucket" "$prefix/") >= 1)) && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    bad "$1: the upload never showed up: $(cat "$WORK/sigerr")"
    return 1
}

# SIGINT and SIGTERM mid-upload: aborted, no row, no open multipart upload.
for sig in INT TERM; do
    start_stalled_publish "sig$sig"
    kill -"$sig" "$pid"
    rc=0
    wait "$pid" || rc=$?
    kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null
    [[ $rc == 130 ]] && ok "SIG$sig: exit 130" || bad "SIG$sig: exit $rc: $(cat "$WORK/sigerr")"
    [[ -z $(psql "$DATABASE_URL" -Atc "SELECT 1 FROM resources WHERE version='sig$sig'") ]] && ok "SIG$sig: no row" || bad "SIG$sig: row written"
    s3_exists "$bucket/$prefix/dev/obj-amd64-sig$sig.enc" && bad "SIG$sig: object exists" || ok "SIG$sig: no object"
done
n=$(s3_open_uploads "$bucket" "$prefix/")
[[ $n == 0 ]] && ok "no multipart upload left open" || bad "$n multipart uploads left open"

# SIGKILL leaves an orphan multipart upload: cleanup removes it.
start_stalled_publish killed
kill -KILL "$pid"
wait "$pid" 2>/dev/null
kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null
n=$(s3_open_uploads "$bucket" "$prefix/")
[[ $n -ge 1 ]] && ok "SIGKILL left $n open upload(s)" || bad "SIGKILL left no upload (did it start?)"
[[ -z $(psql "$DATABASE_URL" -Atc "SELECT 1 FROM resources WHERE version='killed'") ]] && ok "SIGKILL: no row" || bad "SIGKILL: row"
expect_exit 0 "cleanup --older-than 0" -- "$B" cleanup --older-than 0
n=$(s3_open_uploads "$bucket" "$prefix/")
[[ $n == 0 ]] && ok "cleanup removed the orphan" || bad "$n uploads left after cleanup"

finish
