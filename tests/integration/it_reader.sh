#!/usr/bin/env bash
# it_reader.sh: the parallel reader (open and fetch): round trips at every size edge and thread count,
# a failing chunk in the middle of a parallel run, outputs that are not regular files, signals during
# open, inspect's bound, and every registry row field checked by both readers (issues 13 and 14).
source "$(dirname "$0")/lib.sh"
SP=$SEALPUB_BIN
MIB=1048576
FORMAT_DIR=$(cd "$(dirname "$0")/../format" && pwd)

# ---- local part: file store, SQLite registry --------------------------------
export SEALPUB_STORE=file://$WORK/store SEALPUB_REGISTRY=sqlite://$WORK/reg.db
DB=$WORK/reg.db
obj() { echo "$WORK/store/$1/$2-amd64-$3.enc"; } # stage name version

# Inputs at the chunk-size edges (chunk size 1 MiB), text and random mixed so
# that both stored and deflated chunks occur.
mk_input() { # size file
    python3 - "$1" "$2" <<'EOF'
import os, sys
n, path = int(sys.argv[1]), sys.argv[2]
text = (b"sealpub reader edge case " * 50000)
out, i = bytearray(), 0
while len(out) < n:
    out += os.urandom(300000) if i % 2 else text[:300000]
    i += 1
open(path, "wb").write(bytes(out[:n]))
EOF
}
SIZES="0 1 $((MIB - 1)) $MIB $((MIB + 1)) $((3 * MIB + 5))"
v=0
for size in $SIZES; do
    v=$((v + 1))
    mk_input "$size" "$WORK/in$v"
    "$SP" publish "$WORK/in$v" --name edge --stage dev --arch amd64 --version "$v" --chunk-size 1M --quiet ||
        bad "publish size $size"
done
v=0
for size in $SIZES; do
    v=$((v + 1))
    for t in 1 2 3; do
        rm -f "$WORK/out"
        if "$SP" open "$(obj dev edge $v)" --threads $t -o "$WORK/out" --quiet && cmp -s "$WORK/out" "$WORK/in$v"; then
            ok "open size $size threads $t -o FILE"
        else bad "open size $size threads $t -o FILE"; fi
        if "$SP" open "$(obj dev edge $v)" --threads $t -o - --quiet | cmp -s - "$WORK/in$v"; then
            ok "open size $size threads $t -o -"
        else bad "open size $size threads $t -o -"; fi
        if "$SP" open "$(obj dev edge $v)" --threads $t --quiet; then ok "open size $size threads $t verify"
        else bad "open size $size threads $t verify"; fi
        if "$SP" open - --threads $t -o - --quiet <"$(obj dev edge $v)" | cmp -s - "$WORK/in$v"; then
            ok "open size $size threads $t from a pipe"
        else bad "open size $size threads $t from a pipe"; fi
    done
done

# A chunk that fails authentication in the middle of a parallel run: everything
# stops, no output under the name (an existing one is kept), and -o - has
# released only chunks before it, in order.
mk_input $((8 * MIB)) "$WORK/big"
"$SP" publish "$WORK/big" --name mid --stage dev --arch amd64 --version 1 --chunk-size 1M --level 1 --quiet
python3 - "$(obj dev mid 1)" "$WORK/mid-bad.enc" <<'EOF'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
off = len(data) - 24
final_off, n = struct.unpack_from("<QQ", data, off)
index = final_off + 4 + 16
entry = struct.unpack_from("<QIIII", data, index + 24 * 5)  # chunk 5 of 8
data[entry[0] + 4 + entry[1] // 2] ^= 0x40
open(sys.argv[2], "wb").write(data)
EOF
for t in 1 2 4; do
    echo "previous" >"$WORK/keep"
    expect_exit 6 "chunk 5 of 8 flipped, threads $t" -- "$SP" open "$WORK/mid-bad.enc" --threads $t -o "$WORK/keep" \
        --key-file <(sqlite3 "$DB" "SELECT encryption_key FROM resources WHERE resource_name='mid'")
    expect_err_contains "chunk 5 failed authentication" "the failing chunk is named (threads $t)"
    [[ $(cat "$WORK/keep") == previous ]] && ok "existing output kept (threads $t)" || bad "existing output changed (threads $t)"
    ls "$WORK" | grep -q 'sealpub-' && bad "a temporary file was left (threads $t)" || ok "no temporary file (threads $t)"
    rc=0
    "$SP" open "$WORK/mid-bad.enc" --threads $t -o - --quiet \
        --key-file <(sqlite3 "$DB" "SELECT encryption_key FROM resources WHERE resource_name='mid'") >"$WORK/prefix" 2>/dev/null || rc=$?
    got=$(stat -c %s "$WORK/prefix")
    if [[ $rc == 6 ]] && ((got <= 5 * MIB)) && cmp -s "$WORK/prefix" <(head -c "$got" "$WORK/big"); then
        ok "-o - released only the authenticated prefix ($got bytes) and exit 6 (threads $t)"
    else bad "-o - after a bad chunk: exit $rc, $got bytes (threads $t)"; fi
done

# Memory is bounded by the slots, whatever the artifact size: 3 GiB of zeros
# (4 MiB chunks, tiny members) opened with 2 workers stays within
# (2 + 2) x (max_body + chunk_size), about 34 MiB, plus the program itself.
head -c $((3 * 1024 * MIB)) /dev/zero |
    "$SP" publish - --name zeros --stage dev --arch amd64 --version 1 --level 1 --quiet
/usr/bin/time -f %M -o "$WORK/rss" "$SP" open "$(obj dev zeros 1)" --threads 2 -o /dev/null --quiet ||
    bad "open of 3 GiB of zeros"
rss_mib=$(($(tail -1 "$WORK/rss") / 1024))
((rss_mib < 34 + 48)) && ok "peak RSS opening 3 GiB with 2 threads: $rss_mib MiB (bound 34 MiB + 48 MiB of program)" ||
    bad "peak RSS opening 3 GiB with 2 threads: $rss_mib MiB"
rm -f "$(obj dev zeros 1)"

# ---- outputs that are not regular files (issue 13) --------------------------
E=$(obj dev edge 6)
# A private device node (like /dev/null), made here so that a regression
# cannot replace the machine's own; mknod needs root.
if mknod "$WORK/nulldev" c 1 3 2>/dev/null; then
    expect_exit 0 "-o onto a character device" -- "$SP" open "$E" -o "$WORK/nulldev" --quiet
    [[ -c $WORK/nulldev ]] && ok "the device is still a device" || bad "the device was replaced"
    ln -s "$WORK/nulldev" "$WORK/devlink"
    expect_exit 0 "-o onto a symlink to a device" -- "$SP" open "$E" -o "$WORK/devlink" --quiet
    [[ -L $WORK/devlink && -c $WORK/nulldev ]] && ok "the symlink and device are kept" || bad "the symlink was replaced"
else
    skip_part "-o onto a device node (mknod needs root)"
fi
ln -s /proc/self/fd/1 "$WORK/stdout-link" # what /dev/stdout is
if "$SP" open "$E" -o "$WORK/stdout-link" --quiet | cmp -s - "$WORK/in6"; then ok "-o a /dev/stdout-like link streams"
else bad "-o a /dev/stdout-like link"; fi
[[ -L $WORK/stdout-link ]] && ok "the /dev/stdout-like link is kept" || bad "the /dev/stdout-like link was replaced"
mkfifo "$WORK/outfifo"
# (timeout: a bound against a hang if the FIFO is replaced, not a timing assertion)
timeout 60 cat "$WORK/outfifo" >"$WORK/fromfifo" &
catpid=$!
expect_exit 0 "-o onto a FIFO" -- "$SP" open "$E" -o "$WORK/outfifo" --quiet
wait "$catpid"
cmp -s "$WORK/fromfifo" "$WORK/in6" && ok "the FIFO carried the artifact" || bad "the FIFO output differs"
[[ -p $WORK/outfifo ]] && ok "the FIFO is still a FIFO" || bad "the FIFO was replaced"
echo "target" >"$WORK/target"
ln -s "$WORK/target" "$WORK/filelink"
expect_exit 2 "-o onto a symlink to a regular file is refused" -- "$SP" open "$E" -o "$WORK/filelink"
expect_one_line "symlink refusal"
[[ -L $WORK/filelink && $(cat "$WORK/target") == target ]] && ok "symlink and target untouched" ||
    bad "symlink or target changed"
echo "old" >"$WORK/regular"
expect_exit 0 "-o onto an existing regular file replaces it" -- "$SP" open "$E" -o "$WORK/regular" --quiet
cmp -s "$WORK/regular" "$WORK/in6" && ok "replaced with the artifact" || bad "regular file not replaced"

# ---- signals during open (issue 13) ------------------------------------------
mk_input $((24 * MIB)) "$WORK/sig.in"
"$SP" publish "$WORK/sig.in" --name sig --stage dev --arch amd64 --version 1 --chunk-size 1M --level 1 --quiet
SIGE=$(obj dev sig 1)
gone_or_zombie() { [[ ! -e /proc/$1/stat || $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]; }
for sig in TERM INT KILL; do
    D=$WORK/sig-$sig
    mkdir "$D"
    mkfifo "$D.fifo"
    "$SP" open "$D.fifo" -o "$D/out" --quiet 2>"$D.err" &
    pid=$!
    # Read-write, so that this never blocks even if sealpub died early.
    exec 7<>"$D.fifo"
    # Returns once the reader took all but a pipe buffer of it: mid-container
    # (timeout: a bound against a hang if it did not read, not a timing assertion).
    timeout 60 head -c $((8 * MIB)) "$SIGE" >&7
    kill -"$sig" "$pid"
    # Bounded: a process that ignores the signal must fail the test, not hang it.
    wait_until 60 gone_or_zombie "$pid" || { bad "SIG$sig ignored"; kill -KILL "$pid"; }
    rc=0
    wait "$pid" || rc=$?
    exec 7>&-
    want=130
    [[ $sig == KILL ]] && want=137
    [[ $rc == "$want" ]] && ok "SIG$sig during open: exit $rc" || bad "SIG$sig during open: exit $rc, wanted $want"
    left=$(ls -A "$D")
    [[ -z $left ]] && ok "SIG$sig during open leaves nothing (no temporary name)" || bad "SIG$sig left: $left"
done
# A FIFO with no writer: open() blocks; the signal must still end it.
mkfifo "$WORK/silent.fifo"
"$SP" open "$WORK/silent.fifo" -o "$WORK/silent.out" --quiet 2>/dev/null &
pid=$!
# Its SIGTERM handler is installed (SigCgt bit 15) and it sleeps: in open().
handled_and_asleep() {
    local cgt
    cgt=$(awk '/^SigCgt:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    (((16#$cgt >> 14) & 1)) && [[ $(awk '{print $3}' "/proc/$1/stat") == S ]]
}
wait_until 20 handled_and_asleep "$pid" || bad "open never blocked on the FIFO"
kill -TERM "$pid"
wait_until 60 gone_or_zombie "$pid" || { bad "SIGTERM ignored in the FIFO wait"; kill -KILL "$pid"; }
rc=0
wait "$pid" || rc=$?
[[ $rc == 130 ]] && ok "SIGTERM while waiting for a FIFO writer: exit 130" || bad "FIFO wait: exit $rc"
[[ ! -e $WORK/silent.out ]] && ok "no output after the FIFO wait" || bad "output left after the FIFO wait"

# A consumer of -o - that stops reading: the write blocks; the signal must still end it.
mkfifo "$WORK/stall.fifo"
exec 8<>"$WORK/stall.fifo" # holds it open and never reads
"$SP" open "$SIGE" -o - --quiet >"$WORK/stall.fifo" 2>/dev/null &
pid=$!
# The pipe is full (64 KiB unread) and it sleeps: blocked on the consumer.
pipe_fill() { # FIFO: bytes waiting in it (FIONREAD through a second, non-blocking reader)
    python3 -c 'import fcntl, os, struct, sys, termios
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
print(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0])' "$1"
}
stalled() { handled_and_asleep "$1" && (($(pipe_fill "$WORK/stall.fifo") >= 65536)); }
wait_until 60 stalled "$pid" || bad "open never blocked on its stalled consumer"
kill -TERM "$pid"
wait_until 60 gone_or_zombie "$pid" || { bad "SIGTERM ignored while the consumer stalls"; kill -KILL "$pid"; }
rc=0
wait "$pid" || rc=$?
exec 8>&-
[[ $rc == 130 ]] && ok "SIGTERM with a stalled -o - consumer: exit 130" || bad "stalled consumer: exit $rc"

# ---- inspect's bound (issue 13) ------------------------------------------------
# A valid header, then a sparse hole, and a final-record prefix and footer
# claiming 80 million entries: about 2 GB apparent, a few KB on disk.
python3 - "$E" "$WORK/sparse.enc" <<'EOF'
import struct, sys
src = open(sys.argv[1], "rb").read()
hlen = 34 + struct.unpack_from("<H", src, 32)[0]
n = 80_000_000
f_off = hlen
size = f_off + 4 + 16 + 24 * n + 16 + 24
with open(sys.argv[2], "wb") as f:
    f.write(src[:hlen])
    f.write(struct.pack("<I", 0x80000000 | (32 + 24 * n)))
    f.seek(size - 24)
    f.write(struct.pack("<QQ", f_off, n) + b"SPUBFOOT")
EOF
rc=0
(ulimit -v 400000 && "$SP" inspect "$WORK/sparse.enc" >/dev/null 2>"$WORK/sparse.err") || rc=$?
ERR=$(cat "$WORK/sparse.err")
[[ $rc == 5 ]] && ok "inspect rejects a footer claiming more entries than the file holds (exit 5)" ||
    bad "inspect of a sparse forged file: exit $rc: $ERR"
expect_one_line "inspect bound"
expect_exit 0 "inspect of a valid container" -- "$SP" inspect "$(obj dev edge 6)" --json
[[ $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["chunks"], len(d["index"]))' "$WORK/stdout") == "4 4" ]] &&
    ok "inspect lists every entry" || bad "inspect's index"

# ---- every row field, checked by both readers (issue 14) --------------------
"$SP" publish "$WORK/in5" --name row --stage dev --arch amd64 --version 1 --chunk-size 1M --quiet
R=$(obj dev row 1)
sql() { sqlite3 "$DB" "$1"; }
row_case() { # description SQL-SET exit message
    local what=$1 set=$2 want=$3 msg=$4
    sql "UPDATE resources SET $set WHERE resource_name='row'"
    expect_exit "$want" "open with a row whose $what" -- "$SP" open "$R" --expect row/dev/amd64/1 -o "$WORK/row.out"
    local open_err=${ERR#*error: }
    expect_err_contains "$msg" "open names the $what"
    expect_one_line "open, $what"
    [[ ! -e $WORK/row.out ]] && ok "no output ($what)" || bad "output written ($what)"
    rm -f "$WORK/row.out"
    expect_exit "$want" "fetch with a row whose $what" -- "$SP" fetch --name row --stage dev --arch amd64 --version 1 \
        -o "$WORK/row.out"
    expect_err_contains "$msg" "fetch names the $what"
    expect_one_line "fetch, $what"
    [[ ! -e $WORK/row.out ]] && ok "no output from fetch ($what)" || bad "fetch wrote output ($what)"
    rm -f "$WORK/row.out"
    # Alike but for the name of what was read (a path, an object key).
    local fetch_err=${ERR#*error: }
    [[ ${open_err#* } == "${fetch_err#* }" ]] && ok "same message from both ($what)" ||
        bad "messages differ ($what): '$open_err' vs '$fetch_err'"
}
expect_exit 0 "open with the honest row" -- "$SP" open "$R" --expect row/dev/amd64/1 --quiet
good_sha=$(sql "SELECT sha256 FROM resources WHERE resource_name='row'")
good_size=$(sql "SELECT size_bytes FROM resources WHERE resource_name='row'")
row_case "sha256 is another" "sha256='$(printf '0%.0s' {1..64})'" 6 "but its registry row says 0000"
sql "UPDATE resources SET sha256='$good_sha' WHERE resource_name='row'"
row_case "size_bytes is another" "size_bytes=size_bytes+1" 6 "bytes but its registry row says $((good_size + 1))"
sql "UPDATE resources SET size_bytes=$good_size WHERE resource_name='row'"
good_plain=$(sql "SELECT plain_size FROM resources WHERE resource_name='row'")
row_case "plain_size is another" "plain_size=plain_size+7" 6 "bytes of plaintext but its registry row says $((good_plain + 7))"
sql "UPDATE resources SET plain_size=$good_plain WHERE resource_name='row'"
row_case "format is unknown" "format='sealpub-v9'" 8 "has format 'sealpub-v9'"
sql "UPDATE resources SET format='sealpub-v1' WHERE resource_name='row'"
row_case "key_wrap has a newline" "key_wrap='none' || char(10) || 'x'" 8 "unknown key_wrap 'none?x'"
sql "UPDATE resources SET key_wrap='none' WHERE resource_name='row'"
row_case "object_key leaves the store" "object_key='../../etc/passwd'" 8 "names object '../../etc/passwd'"
sql "UPDATE resources SET object_key='dev/row-amd64-1.enc' WHERE resource_name='row'"
expect_exit 0 "honest row restored" -- "$SP" open "$R" --expect row/dev/amd64/1 --quiet

# A key holder who can write to the store plants other content under the
# same header (same key, same artifact id): only the row's sha256/size tell.
cp "$R" "$WORK/row.orig"
key=$(sql "SELECT encryption_key FROM resources WHERE resource_name='row'")
PYTHONPATH=$FORMAT_DIR python3 - "$R" "$key" <<'EOF'
import base64, struct, sys
import test_reference_reader as t
path, key = sys.argv[1], base64.b64decode(sys.argv[2])
src = open(path, "rb").read()
hlen = 34 + struct.unpack_from("<H", src, 32)[0]
open(path, "wb").write(t.seal(key, src[:hlen], [t.gzip_member(b"planted content\n")], [16]))
EOF
expect_exit 6 "open --expect of planted content" -- "$SP" open "$R" --expect row/dev/amd64/1 -o "$WORK/row.out"
expect_err_contains "registry row says" "planted content: the row's size/sha256 named"
[[ ! -e $WORK/row.out ]] && ok "no planted output" || bad "planted content written"
expect_exit 0 "the planted container is valid under the key (so only the row catches it)" -- \
    "$SP" open "$R" --key-file <(echo "$key") --quiet
cp "$WORK/row.orig" "$R"

# fetch of a version the registry lacks: a clean not-found, and no read of
# an uninitialised row (valgrind's memcheck, where installed).
expect_exit 11 "fetch of a missing version" -- "$SP" fetch --name row --stage dev --arch amd64 --version 9 --verify
expect_one_line "fetch of a missing version"
if sp_emulated; then
    not_run "valgrind memcheck of fetch on a missing row" "valgrind cannot run a foreign-architecture binary under qemu"
elif command -v valgrind >/dev/null; then
    rc=0
    valgrind -q --error-exitcode=99 "$SP" fetch --name row --stage dev --arch amd64 --version 9 --verify \
        >/dev/null 2>"$WORK/vg" || rc=$?
    [[ $rc == 11 ]] && ok "valgrind: no uninitialised read on a missing row" || bad "valgrind: exit $rc: $(head -5 "$WORK/vg")"
else
    skip_part "valgrind is not installed"
fi

# ---- fetch through the parallel reader from S3 -------------------------------
if [[ -n ${AWS_ENDPOINT_URL_S3:-} && -n ${SEALPUB_TEST_BUCKET:-} && -n ${DATABASE_URL:-} ]]; then
    use_s3_and_pg reader
    v=0
    for size in $SIZES; do
        v=$((v + 1))
        "$SP" publish "$WORK/in$v" --name edge --stage dev --arch amd64 --version "$v" --chunk-size 1M --quiet ||
            bad "S3 publish size $size"
        for t in 1 2 3; do
            rm -f "$WORK/out"
            if "$SP" fetch --name edge --stage dev --arch amd64 --version $v --threads $t -o "$WORK/out" --quiet &&
                cmp -s "$WORK/out" "$WORK/in$v"; then ok "S3 fetch size $size threads $t -o FILE"
            else bad "S3 fetch size $size threads $t -o FILE"; fi
            if "$SP" fetch --name edge --stage dev --arch amd64 --version $v --threads $t -o - --quiet |
                cmp -s - "$WORK/in$v"; then ok "S3 fetch size $size threads $t -o -"
            else bad "S3 fetch size $size threads $t -o -"; fi
            if "$SP" fetch --name edge --stage dev --arch amd64 --version $v --threads $t --verify --quiet; then
                ok "S3 fetch size $size threads $t --verify"
            else bad "S3 fetch size $size threads $t --verify"; fi
        done
    done
    # The middle-chunk failure, from S3: planted over the real object.
    "$SP" publish "$WORK/big" --name mid --stage dev --arch amd64 --version 1 --chunk-size 1M --level 1 --quiet
    s3_get "$bucket/$prefix/dev/mid-amd64-1.enc" "$WORK/mid-s3.enc"
    python3 - "$WORK/mid-s3.enc" <<'EOF'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
final_off, n = struct.unpack_from("<QQ", data, len(data) - 24)
entry = struct.unpack_from("<QIIII", data, final_off + 20 + 24 * 5)
data[entry[0] + 4 + entry[1] // 2] ^= 0x40
open(sys.argv[1], "wb").write(data)
EOF
    s3_put "$bucket/$prefix/dev/mid-amd64-1.enc" "$WORK/mid-s3.enc"
    echo previous >"$WORK/keep"
    expect_exit 6 "S3: a flipped chunk in the middle stops the parallel fetch" -- \
        "$SP" fetch --name mid --stage dev --arch amd64 --version 1 --threads 2 -o "$WORK/keep"
    [[ $(cat "$WORK/keep") == previous ]] && ok "S3: existing output kept" || bad "S3: existing output changed"
else
    skip_part "S3 fetch round trips (AWS_ENDPOINT_URL_S3, SEALPUB_TEST_BUCKET, DATABASE_URL not set)"
fi

finish
