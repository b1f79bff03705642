#!/usr/bin/env bash
# make_vectors.sh: regenerates the sealpub v1 test vectors of docs/FORMAT.md with the CLI.
#
# The inputs are deterministic (generated below); the containers are not,
# because every publish draws a fresh file key and artifact id. Re-running
# therefore replaces every .enc and .key and rewrites README.md with the new
# digests; the .plain files come out byte-identical.
#
# Usage: tests/data/vectors/make_vectors.sh   (SEALPUB_BIN overrides the CLI)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bin=${SEALPUB_BIN:-$root/build/sealpub}
[ -x "$bin" ] || { echo "make_vectors.sh: $bin not found: build first or set SEALPUB_BIN" >&2; exit 1; }

home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export SEALPUB_HOME=$home
unset SEALPUB_STORE SEALPUB_REGISTRY SEALPUB_KEK SEALPUB_KEK_FILE SEALPUB_CHUNK_SIZE SEALPUB_LEVEL SEALPUB_THREADS

# name | bytes | content | chunk size ("" = the default, 4 MiB) | stage | arch | version
cases=(
  "empty|0|text||test|amd64|1.0.0"
  "one_byte|1|text||test|arm64|1.0.0"
  "one_chunk_1mib|1048576|text|1M|test|amd64|2.0.0"
  "two_chunks_1mib_plus_1|1048577|text|1M|test|amd64|2.0.1"
  "text_2_5mib|2621440|text|1M|prod|riscv64|3.1.4-rc.1"
  "random_1_5mib|1572864|random|1M|prod|amd64|4.0.0"
)

# Deterministic inputs: numbered text lines (compresses well), or SHAKE-256
# output (does not compress at all, so its chunks are stored).
gen() { # gen KIND BYTES OUT
  python3 - "$1" "$2" "$3" <<'EOF'
import hashlib, sys
kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "random":
    data = hashlib.shake_256(b"sealpub v1 test vector: random").digest(n) if n else b""
else:
    parts, size, i = [], 0, 0
    while size < n:
        line = b"%08d sealpub v1 test vector: the quick brown fox jumps over the lazy dog\n" % i
        parts.append(line)
        size += len(line)
        i += 1
    data = b"".join(parts)[:n]
open(out, "wb").write(data)
EOF
}

rm -f "$here"/*.enc "$here"/*.key "$here"/*.plain
rows=""
derived=""
for c in "${cases[@]}"; do
  IFS='|' read -r name bytes kind chunk stage arch version <<<"$c"
  gen "$kind" "$bytes" "$here/$name.plain"
  args=(publish "$here/$name.plain" --name "vector-$name" --stage "$stage" --arch "$arch" --version "$version" --content raw --quiet)
  [ -n "$chunk" ] && args+=(--chunk-size "$chunk")
  "$bin" "${args[@]}" >/dev/null
  cp "$home/objects/$stage/vector-$name-$arch-$version.enc" "$here/$name.enc"
  chmod 644 "$here/$name.enc"
  python3 - "$home/registry.db" "vector-$name" >"$here/$name.key" <<'EOF'
import sqlite3, sys
row = sqlite3.connect(sys.argv[1]).execute(
    "SELECT encryption_key FROM resources WHERE resource_name = ? AND key_wrap = 'none'", (sys.argv[2],)).fetchone()
print(row[0] if row else "")
EOF
  [ "$(wc -c <"$here/$name.key")" -eq 45 ] || { echo "make_vectors.sh: no key for $name" >&2; exit 1; }
  "$bin" open "$here/$name.enc" --key-file "$here/$name.key" -o "$home/check" --quiet
  cmp -s "$home/check" "$here/$name.plain" || { echo "make_vectors.sh: $name does not round-trip" >&2; exit 1; }
  chunks=$("$bin" inspect "$here/$name.enc" --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["chunks"], j["chunks_stored"], j["chunk_size"])')
  read -r n stored csize <<<"$chunks"
  rows+="| \`$name\` | $bytes | $kind | $csize | $n | $stored | \`vector-$name\` | \`$stage\` | \`$arch\` | \`$version\` |"$'\n'

  # Intermediate values for implementers, computed with tools independent of
  # sealpub: the header length from its u16 at offset 32, the AAD with
  # sha256sum, the payload key with OpenSSL's HKDF.
  enc=$here/$name.enc
  meta=$(od -An -tu2 -j32 -N2 --endian=little "$enc" | tr -d ' ')
  hlen=$((34 + meta))
  aid=$(od -An -tx1 -j16 -N16 -v "$enc" | tr -d ' \n')
  aad=$(head -c "$hlen" "$enc" | sha256sum | cut -d' ' -f1)
  fkey=$(base64 -d "$here/$name.key" | od -An -tx1 -v | tr -d ' \n')
  pkey=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt "hexkey:$fkey" -kdfopt "hexsalt:$aid" \
           -kdfopt "info:sealpub v1 payload key" HKDF | tr -d ':\n' | tr 'A-F' 'a-f')
  derived+="### \`$name\`"$'\n\n'"- header length: $hlen"$'\n'"- artifact_id: \`$aid\`"$'\n'
  derived+="- file key (hex): \`$fkey\`"$'\n'"- SHA-256 of the header (the AAD of data records): \`$aad\`"$'\n'
  derived+="- payload key = HKDF-SHA-256(file key, artifact_id, \"sealpub v1 payload key\", 32): \`$pkey\`"$'\n\n'
done

{
  cat <<EOF
# sealpub v1 test vectors

Containers written by \`sealpub publish\` (regenerate with \`make_vectors.sh\`,
which replaces every \`.enc\` and \`.key\`: keys and artifact ids are random).
They are described by [docs/FORMAT.md](../../../docs/FORMAT.md), section
"Test vectors", and read by \`tests/format/test_reference_reader.py\`.

For each case \`NAME\`:

- \`NAME.enc\`: the container, exactly as stored.
- \`NAME.key\`: the 32-byte file key, standard base64 with padding and a
  trailing newline (the \`encryption_key\` column of the registry row,
  \`key_wrap = 'none'\`). Accepted as is by \`sealpub open --key-file\`.
- \`NAME.plain\`: the bytes a reader MUST output.

| case | plain bytes | content | chunk_size | chunks | stored chunks | name | stage | arch | version |
|---|---|---|---|---|---|---|---|---|---|
${rows}
Content: \`text\` is lines \`%08d sealpub v1 test vector: the quick brown fox
jumps over the lazy dog\\n\` numbered from 0, cut at the size; \`random\` is
SHAKE-256("sealpub v1 test vector: random") of that many bytes. Chunk size
4194304 is sealpub's default; the others were published with \`--chunk-size 1M\`.
All at the default level (6), with \`--content raw\` (the inputs are not tar
archives, so the tar end-of-archive check is off).

## Intermediate values

Computed by \`make_vectors.sh\` with \`od\`, \`sha256sum\` and \`openssl kdf\`
(not with sealpub), to debug a new reader step by step.

${derived}## \`one_byte.enc\`, byte by byte

\`\`\`
$(od -Ax -tx1 -v "$here/one_byte.enc")
\`\`\`

## SHA-256

\`\`\`
EOF
  (cd "$here" && sha256sum ./*.enc ./*.key ./*.plain | sed 's#  \./#  #')
  echo '```'
} >"$here/README.md"
echo "wrote $(ls "$here"/*.enc | wc -l) vectors to $here"
