#!/usr/bin/env bash
# it_cli.sh: the CLI end to end on the embedded defaults: publish/open/inspect
# from files and pipes, --json, exit codes and one-line errors for bad input.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
unset DATABASE_URL PGHOST PGDATABASE PGSERVICE # the embedded defaults only

head -c 3000000 /dev/urandom >"$WORK/rand.bin"
tar -C /usr/share -cf "$WORK/img.tar" common-licenses
arch=$SP_BIN_ARCH # the binary's, not the shell's: they differ under qemu

# Publish a file, open it back by registry key.
expect_exit 0 "publish a tar file" -- "$B" publish "$WORK/img.tar" --name img --stage dev --version 1 --quiet
obj=$SEALPUB_HOME/objects/dev/img-$arch-1.enc
[[ -f $obj ]] && ok "object at {stage}/{name}-{arch}-{version}.enc" || bad "no object at $obj"
expect_exit 0 "open it" -- "$B" open "$obj" -o "$WORK/img.out"
cmp -s "$WORK/img.tar" "$WORK/img.out" && ok "round trip identical" || bad "round trip differs"
expect_exit 0 "verify only" -- "$B" open "$obj"
expect_exit 0 "inspect" -- "$B" inspect "$obj"
grep -q "resource:      img  stage dev  arch $arch  version 1" "$WORK/stdout" && ok "inspect shows metadata" || bad "inspect output: $(cat "$WORK/stdout")"
expect_exit 0 "inspect --json" -- "$B" inspect --json "$obj"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["name"]=="img" and d["chunks"]>=1' "$WORK/stdout" &&
    ok "inspect --json parses" || bad "inspect --json: $(cat "$WORK/stdout")"

# From a pipe, with --json; the reported sha256 is the object's.
expect_exit 0 "publish from stdin --json" -- bash -c "cat '$WORK/rand.bin' | '$B' publish - --name rnd --stage dev --arch aarch64 --version 2 --json"
json=$(cat "$WORK/stdout")
sha=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["sha256"]); assert d["architecture"]=="arm64" and d["plain_size"]==3000000 and "key" not in d and "encryption_key" not in d' "$json") &&
    ok "--json fields" || bad "--json: $json"
actual=$(sha256sum "$SEALPUB_HOME/objects/dev/rnd-arm64-2.enc" | cut -d' ' -f1)
[[ $sha == "$actual" ]] && ok "sha256 is the stored object's" || bad "sha256 $sha != $actual"
expect_exit 0 "open to stdout" -- bash -c "'$B' open '$SEALPUB_HOME/objects/dev/rnd-arm64-2.enc' -o - > '$WORK/rnd.out'"
cmp -s "$WORK/rand.bin" "$WORK/rnd.out" && ok "pipe round trip identical" || bad "pipe round trip differs"

# The decrypted payloads form a gzip stream: checked by tests/format; here the
# key never shows in any output.
key=$(sqlite3 "$SEALPUB_HOME/registry.db" "SELECT encryption_key FROM resources WHERE resource_name='rnd'")
if grep -rqF "$key" "$WORK/stdout" "$WORK/stderr"; then bad "key leaked to output"; else ok "key not in output"; fi

# Replace and fail.
expect_exit 0 "republish replaces" -- "$B" publish "$WORK/img.tar" --name img --stage dev --version 1 --json
grep -q '"replaced":true' "$WORK/stdout" && ok "reported as replaced" || bad "not reported replaced"
expect_exit 9 "--on-exists fail refuses" -- "$B" publish "$WORK/img.tar" --name img --stage dev --version 1 --on-exists fail
expect_err_contains "already exists" "exists message"
expect_one_line "exists"

# Bad input: one clear line, non-zero exit, nothing written.
before=$(find "$SEALPUB_HOME" -type f | sort | xargs sha256sum)
expect_exit 3 "missing file" -- "$B" publish "$WORK/nope.tar" --name a --stage dev --version 1
expect_err_contains "nope.tar: No such file or directory" "missing file named"
expect_one_line "missing file"
expect_exit 3 "directory" -- "$B" publish "$WORK" --name a --stage dev --version 1
expect_err_contains "is a directory" "directory named"
expect_exit 2 "invalid name" -- "$B" publish "$WORK/img.tar" --name "a;b" --stage dev --version 1
expect_err_contains "invalid name" "invalid name named"
expect_exit 2 "SQL in a name" -- "$B" publish "$WORK/img.tar" --name "x'; DROP TABLE resources; --" --stage dev --version 1
expect_exit 2 "dot name" -- "$B" publish "$WORK/img.tar" --name .hidden --stage dev --version 1
expect_exit 2 "bad stage" -- "$B" publish "$WORK/img.tar" --name a --stage "dev/x" --version 1
expect_exit 2 "bad arch" -- "$B" publish "$WORK/img.tar" --name a --stage dev --arch "arm/v7" --version 1
expect_exit 2 "missing --name" -- "$B" publish "$WORK/img.tar" --stage dev --version 1
expect_err_contains "--name is required" "missing name named"
expect_exit 2 "bad chunk size" -- "$B" publish "$WORK/img.tar" --name a --stage dev --version 1 --chunk-size 100G
expect_err_contains "out of range" "chunk size named"
expect_exit 2 "garbage chunk size" -- "$B" publish "$WORK/img.tar" --name a --stage dev --version 1 --chunk-size 4X
expect_exit 2 "zero threads" -- "$B" publish "$WORK/img.tar" --name a --stage dev --version 1 --threads 0
expect_exit 2 "bad level" -- "$B" publish "$WORK/img.tar" --name a --stage dev --version 1 --level 13
expect_exit 2 "unknown flag" -- "$B" publish "$WORK/img.tar" --name a --stage dev --version 1 --frobnicate
expect_err_contains "unknown option '--frobnicate'" "unknown flag named"
expect_one_line "unknown flag"
expect_exit 2 "bad env value" -- env SEALPUB_THREADS=lots "$B" publish "$WORK/img.tar" --name a --stage dev --version 1
expect_err_contains "SEALPUB_THREADS" "env var named"
expect_exit 2 "bad store URL" -- "$B" publish "$WORK/img.tar" --name a --stage dev --version 1 --store ftp://x
expect_err_contains "unsupported store URL" "store URL named"
expect_exit 2 "bad registry URL" -- "$B" publish "$WORK/img.tar" --name a --stage dev --version 1 --registry "mysql://u:hunter2@h/db"
[[ $ERR != *hunter2* ]] && ok "registry URL password not echoed" || bad "password echoed: $ERR"
expect_exit 2 "bad KEK" -- env SEALPUB_KEK=short "$B" publish "$WORK/img.tar" --name a --stage dev --version 1
expect_exit 2 "unknown command" -- "$B" frobnicate
after=$(find "$SEALPUB_HOME" -type f | sort | xargs sha256sum)
[[ $before == "$after" ]] && ok "bad input wrote nothing" || bad "bad input changed the data folder"

# Truncated tar from a pipe: refused, nothing published.
head -c 50000 "$WORK/img.tar" >"$WORK/cut.tar"
expect_exit 3 "truncated tar on stdin" -- bash -c "cat '$WORK/cut.tar' | '$B' publish - --name cut --stage dev --version 1"
expect_err_contains "truncated tar archive" "truncation named"
[[ ! -e $SEALPUB_HOME/objects/dev/cut-$arch-1.enc ]] && ok "no object for the truncated tar" || bad "truncated tar was stored"
[[ -z $(sqlite3 "$SEALPUB_HOME/registry.db" "SELECT 1 FROM resources WHERE resource_name='cut'") ]] && ok "no row for the truncated tar" || bad "row for truncated tar"

# open: bad inputs.
expect_exit 5 "open a non-container" -- "$B" open "$WORK/img.tar" -o "$WORK/x"
expect_err_contains "not a sealpub container" "non-container named"
[[ ! -e $WORK/x ]] && ok "no output for a non-container" || bad "output left behind"
: >"$WORK/empty.enc"
expect_exit 5 "open an empty file" -- "$B" open "$WORK/empty.enc"
head -c 1000 "$obj" >"$WORK/short.enc"
expect_exit 6 "open a truncated container" -- "$B" open "$WORK/short.enc" -o "$WORK/x"
[[ ! -e $WORK/x ]] && ok "no output for a truncated container" || bad "output left behind"
expect_exit 3 "open a missing file" -- "$B" open "$WORK/none.enc"

# help and version.
expect_exit 0 "publish --help" -- "$B" publish --help
grep -q "examples:" "$WORK/stdout" && ok "help has examples" || bad "help lacks examples"
expect_exit 0 "version --verbose" -- "$B" version --verbose
grep -qE "AES|aes" "$WORK/stdout" && ok "version lists CPU features" || bad "version: $(cat "$WORK/stdout")"

finish
