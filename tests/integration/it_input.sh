#!/usr/bin/env bash
# it_input.sh: every input path through the CLI: io_uring and pread forced,
# the silent fallback, pipes, FIFOs, real tar archives cut at many offsets,
# and --expect-size / --expect-sha256.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
unset DATABASE_URL PGHOST PGDATABASE PGSERVICE
P=("$B" publish --stage dev --arch amd64 --chunk-size 1M --quiet)
opened_equal() { # container original
    "$B" open "$1" -o "$WORK/check.out" >/dev/null 2>&1 && cmp -s "$2" "$WORK/check.out"
}
obj() { echo "$SEALPUB_HOME/objects/dev/$1-amd64-$2.enc"; }

head -c 5242881 /dev/urandom >"$WORK/in.bin" # 5 MiB + 1: a short last chunk

for io in uring pread auto; do
    if [[ $io == uring ]] && sp_emulated; then
        not_run "--io uring round trip" "qemu-user emulates no io_uring system calls"
        continue
    fi
    expect_exit 0 "--io $io" -- "${P[@]}" "$WORK/in.bin" --name io --version "$io" --io "$io"
    opened_equal "$(obj io "$io")" "$WORK/in.bin" && ok "--io $io round trip" || bad "--io $io content"
done
expect_exit 0 "io_uring unavailable: auto falls back silently" -- env SEALPUB_TEST_URING_FAIL=1 "${P[@]}" "$WORK/in.bin" --name io --version fallback --io auto
[[ -z $ERR ]] && ok "fallback printed nothing" || bad "fallback printed: $ERR"
opened_equal "$(obj io fallback)" "$WORK/in.bin" && ok "fallback round trip" || bad "fallback content"
expect_exit 2 "io_uring unavailable: --io uring says so" -- env SEALPUB_TEST_URING_FAIL=1 "${P[@]}" "$WORK/in.bin" --name io --version forced --io uring
expect_err_contains "io_uring" "forced uring error names io_uring"

# Streams: a slow pipe, a FIFO, stdin redirected from a file.
expect_exit 0 "slow pipe" -- bash -c "(head -c 2000000 '$WORK/in.bin'; sleep 0.5; tail -c +2000001 '$WORK/in.bin') | ${P[*]} - --name pipe --version 1"
opened_equal "$(obj pipe 1)" "$WORK/in.bin" && ok "pipe round trip" || bad "pipe content"
mkfifo "$WORK/fifo"
cat "$WORK/in.bin" >"$WORK/fifo" &
expect_exit 0 "FIFO path" -- "${P[@]}" "$WORK/fifo" --name fifo --version 1
opened_equal "$(obj fifo 1)" "$WORK/in.bin" && ok "FIFO round trip" || bad "FIFO content"
expect_exit 0 "stdin from a file" -- bash -c "${P[*]} - --name redirected --version 1 < '$WORK/in.bin'"
opened_equal "$(obj redirected 1)" "$WORK/in.bin" && ok "redirected stdin round trip" || bad "redirected content"

# A docker-save-like tar cut at many offsets: every cut refused, from a file
# and from a pipe, and nothing is published.
mkdir -p "$WORK/layer"
head -c 3000000 /dev/urandom >"$WORK/layer/blob"
cp /usr/share/common-licenses/GPL-3 "$WORK/layer/"
# -b 1: no padding past the end marker, like docker save (Go's archive/tar).
# With GNU tar's default 10 KiB records a cut inside the padding leaves a
# complete archive, which is correctly accepted.
tar -C "$WORK/layer" -b 1 -cf "$WORK/img.tar" .
size=$(stat -c %s "$WORK/img.tar")
expect_exit 0 "complete tar" -- "${P[@]}" "$WORK/img.tar" --name tar --version full
expect_exit 0 "complete tar from a pipe" -- bash -c "cat '$WORK/img.tar' | ${P[*]} - --name tar --version piped"
cuts=(512 1024 1536 100000 1048576 2097152 3000000 $((size - 10240)) $((size - 1024)) $((size - 512)) $((size - 1)))
for cut in "${cuts[@]}"; do
    head -c "$cut" "$WORK/img.tar" >"$WORK/cut.tar"
    rc=0
    "${P[@]}" "$WORK/cut.tar" --name cut --version "f$cut" 2>"$WORK/err" || rc=$?
    rc2=0
    head -c "$cut" "$WORK/img.tar" | "${P[@]}" - --name cut --version "p$cut" 2>"$WORK/err2" || rc2=$?
    if [[ $rc == 3 && $rc2 == 3 ]] && grep -q "truncated tar\|not a valid tar" "$WORK/err" "$WORK/err2"; then
        ok "tar cut at $cut refused (file and pipe)"
    else
        bad "tar cut at $cut: exit $rc/$rc2: $(cat "$WORK/err" "$WORK/err2")"
    fi
done
[[ -z $(ls "$SEALPUB_HOME/objects/dev/" | grep '^cut-') ]] && ok "no object for any cut tar" || bad "a cut tar was stored"
[[ -z $(sqlite3 "$SEALPUB_HOME/registry.db" "SELECT 1 FROM resources WHERE resource_name='cut'") ]] && ok "no row for any cut tar" || bad "a cut tar has a row"
head -c 100000 "$WORK/img.tar" >"$WORK/cut.tar"
# Under 512 bytes there is no first block to recognise: a named .tar is
# still checked, and --content tar checks a stream.
head -c 100 "$WORK/img.tar" >"$WORK/cut.tar"
expect_exit 3 "100-byte .tar file" -- "${P[@]}" "$WORK/cut.tar" --name cut --version f100
expect_exit 3 "100-byte stream with --content tar" -- bash -c "head -c 100 '$WORK/img.tar' | ${P[*]} - --name cut --version p100 --content tar"
head -c 100000 "$WORK/img.tar" >"$WORK/cut.tar"
expect_exit 0 "--content raw skips the tar check" -- "${P[@]}" "$WORK/cut.tar" --name raw --version 1 --content raw
# A tar not named .tar is recognised by its first block.
head -c 100000 "$WORK/img.tar" >"$WORK/cut.bin"
expect_exit 3 "unnamed tar recognised by its first block" -- "${P[@]}" "$WORK/cut.bin" --name sniff --version 1

# --expect-size / --expect-sha256, from a file and a pipe.
sha=$(sha256sum "$WORK/in.bin" | cut -d' ' -f1)
expect_exit 0 "matching --expect-size/--expect-sha256" -- "${P[@]}" "$WORK/in.bin" --name exp --version 1 --expect-size 5242881 --expect-sha256 "$sha"
expect_exit 3 "wrong --expect-size (file)" -- "${P[@]}" "$WORK/in.bin" --name exp --version 2 --expect-size 5242880
expect_err_contains "expect-size" "size mismatch named"
expect_exit 3 "wrong --expect-size (pipe)" -- bash -c "cat '$WORK/in.bin' | ${P[*]} - --name exp --version 3 --expect-size 5242880"
# Another digest, whatever the random input's: the first hex digit changed.
wrong_sha=$([[ ${sha:0:1} == 0 ]] && echo 1 || echo 0)${sha:1}
expect_exit 3 "wrong --expect-sha256" -- bash -c "cat '$WORK/in.bin' | ${P[*]} - --name exp --version 4 --expect-sha256 $wrong_sha"
expect_err_contains "SHA-256" "sha mismatch named"
expect_exit 2 "malformed --expect-sha256" -- "${P[@]}" "$WORK/in.bin" --name exp --version 5 --expect-sha256 xyz
for v in 2 3 4 5; do
    [[ ! -e $(obj exp $v) ]] || bad "exp $v was stored"
done
ok "no object for any mismatch"

finish
