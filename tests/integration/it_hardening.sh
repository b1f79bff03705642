#!/usr/bin/env bash
# it_hardening.sh: issue 13's findings on waits, the S3 link and fetch's
# check of the object against its row: the registry retry setting refuses
# nan/inf, a FIFO with no writer still obeys SIGTERM, S3 prefixes with dot
# segments and cleartext http to other hosts are refused, and a forged row
# sha256 stops fetch (against the real radosgw and PostgreSQL).
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
head -c 100000 /dev/urandom >"$WORK/in.bin"
L=("$B" publish --store "file://$WORK/objects" --registry "sqlite://$WORK/reg.db" --stage dev --arch amd64 --quiet)

# SEALPUB_REGISTRY_RETRY_SECONDS: every comparison with nan is false, so nan
# used to pass the range check and make the retry loop unbounded.
for v in nan NaN inf -inf -1 3601 1e9 5x; do
    expect_exit 2 "SEALPUB_REGISTRY_RETRY_SECONDS=$v refused" -- env SEALPUB_REGISTRY_RETRY_SECONDS="$v" "${L[@]}" "$WORK/in.bin" --name retry --version 1
    expect_err_contains "SEALPUB_REGISTRY_RETRY_SECONDS" "retry $v: names the variable"
done
expect_exit 0 "SEALPUB_REGISTRY_RETRY_SECONDS=0.5 accepted" -- env SEALPUB_REGISTRY_RETRY_SECONDS=0.5 "${L[@]}" "$WORK/in.bin" --name retry --version 1

# A FIFO nobody writes to: open() used to block and restart after SIGTERM.
# 60 s bounds a hang; it is not a timing assertion.
mkfifo "$WORK/nowriter"
"${L[@]}" "$WORK/nowriter" --name fifo --version 1 2>"$WORK/fifoerr" &
pub=$!
sleep 0.5 # let it reach the wait; a SIGTERM before that must work too
kill -TERM $pub
wait_until 60 eval '! kill -0 $pub 2>/dev/null' || { bad "FIFO without a writer: SIGTERM ignored"; kill -KILL $pub; }
rc=0
wait $pub || rc=$?
[[ $rc == 130 ]] && ok "FIFO without a writer: SIGTERM exits 130" || bad "FIFO without a writer: exit $rc: $(cat "$WORK/fifoerr")"
[[ ! -e $WORK/objects/dev/fifo-amd64-1.enc ]] && ok "FIFO without a writer: no object" || bad "FIFO: object written"
# A FIFO whose writer comes later still works.
mkfifo "$WORK/latewriter"
( sleep 1; cat "$WORK/in.bin" ) >"$WORK/latewriter" &
expect_exit 0 "FIFO with a late writer publishes" -- "${L[@]}" "$WORK/latewriter" --name fifo --version 2
expect_exit 0 "FIFO with a late writer: opens back" -- "$B" open "$WORK/objects/dev/fifo-amd64-2.enc" --registry "sqlite://$WORK/reg.db" -o "$WORK/fifo.out"
cmp -s "$WORK/in.bin" "$WORK/fifo.out" && ok "FIFO content" || bad "FIFO content differs"

# ---- against the real radosgw and PostgreSQL
use_s3_and_pg it-hardening
P=("$B" publish --stage dev --arch amd64 --quiet)

# Dot segments: libcurl would send a/../b as b after signing a/../b.
for pre in "x/../$prefix" "$prefix/./x" "$prefix/x/.." "$prefix/.."; do
    expect_exit 2 "store prefix $pre refused" -- "${P[@]}" "$WORK/in.bin" --name dots --version 1 --store "s3://$bucket/$pre"
    expect_err_contains "segment" "prefix $pre: says why"
    expect_one_line "prefix $pre"
done
s3_exists "$bucket/$prefix/dev/dots-amd64-1.enc" && bad "dot segments: an object was written" || ok "dot segments: no object written"
[[ -z $(psql "$DATABASE_URL" -Atc "SELECT 1 FROM resources WHERE resource_name='dots'") ]] && ok "dot segments: no row" || bad "dot segments: row"

# Cleartext http: loopback only, unless SEALPUB_ALLOW_HTTP=1.
port=${AWS_ENDPOINT_URL_S3##*:}
expect_exit 0 "http://localhost is loopback" -- env AWS_ENDPOINT_URL_S3="http://localhost:$port" "${P[@]}" "$WORK/in.bin" --name http --version local
expect_exit 2 "http to another host refused" -- env AWS_ENDPOINT_URL_S3=http://s3.sealpub-test.invalid "${P[@]}" "$WORK/in.bin" --name http --version remote
expect_err_contains "SEALPUB_ALLOW_HTTP" "http refusal names the opt-in"
expect_one_line "http refusal"
expect_exit 12 "SEALPUB_ALLOW_HTTP=1 lets it through (to a host that does not resolve: unreachable, exit 12)" -- env SEALPUB_ALLOW_HTTP=1 SEALPUB_S3_MAX_ATTEMPTS=1 AWS_ENDPOINT_URL_S3=http://s3.sealpub-test.invalid "${P[@]}" "$WORK/in.bin" --name http --version optin

# fetch compares the object's SHA-256 with the row's: a forged row sha256
# (the content itself still authenticates) must stop it, with no output.
expect_exit 0 "publish for the forged row" -- "${P[@]}" "$WORK/in.bin" --name forged --version 1
real=$(psql "$DATABASE_URL" -Atc "SELECT sha256 FROM resources WHERE resource_name='forged'")
fake=$(printf '%s' "$real" | sha256sum | cut -d' ' -f1)
psql "$DATABASE_URL" -qc "UPDATE resources SET sha256='$fake' WHERE resource_name='forged'" >/dev/null
expect_exit 6 "fetch: forged row sha256 refused" -- "$B" fetch --name forged --stage dev --arch amd64 --version 1 -o "$WORK/forged.out"
expect_err_contains "$fake" "fetch: names the row's sha256"
[[ ! -e $WORK/forged.out ]] && ok "fetch: no output for a forged row" || bad "fetch: output left for a forged row"
psql "$DATABASE_URL" -qc "UPDATE resources SET sha256='$real' WHERE resource_name='forged'" >/dev/null
expect_exit 0 "fetch: the true sha256 passes" -- "$B" fetch --name forged --stage dev --arch amd64 --version 1 -o "$WORK/forged.out"
cmp -s "$WORK/in.bin" "$WORK/forged.out" && ok "fetch: content" || bad "fetch: content differs"

finish
