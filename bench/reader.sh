#!/usr/bin/env bash
# Reader throughput, side by side in one run: sealpub open and fetch at 1 and 2 worker threads
# against pigz -dc (of a pigz -6 file of the same input) and curl (GET of the same object from
# the local radosgw), with wall time, CPU time and peak RSS, plus per-stage costs (read,
# SHA-256, AES-256-GCM, inflate) for docs/SCALING.md's projection.
#
# Usage: bench/reader.sh [--mib N] [--runs R] [--corpus FILE]
#   default: 256 MiB of bench/gen_corpus.py's image corpus, 3 runs per row, the fastest kept
#   (load from other processes only ever adds time). Page cache warm (every input is read once
#   before its rows). Outputs go to /dev/null (a device: sealpub writes it in place) or to a file
#   on the same disk. The fetch rows need the services env (eval "$(scripts/services.sh env)");
#   without it they are left out. Prints a Markdown table, then one JSON object per row.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SEALPUB_BIN:-$root/build/sealpub}
mib=256 runs=3 corpus=
while (($#)); do
    case $1 in
    --mib) mib=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    *) echo "usage: $0 [--mib N] [--runs R] [--corpus FILE]" >&2; exit 2 ;;
    esac
done
work=$(mktemp -d /var/tmp/sealpub-reader-XXXXXX)
schema=
cleanup() {
    [[ -n $schema ]] && psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
if [[ -z $corpus ]]; then
    cache=/var/tmp/sealpub-bench/reader-$mib
    if [[ ! -s $cache/image.tar ]]; then
        mkdir -p "$cache"
        nice python3 "$root/bench/gen_corpus.py" "$cache" --only image --image-mib "$mib" >&2
    fi
    corpus=$cache/image.tar
fi
size=$(stat -c %s "$corpus")
export SEALPUB_HOME=$work/home SEALPUB_STORE=file://$work/store SEALPUB_REGISTRY=sqlite://$work/reg.db
unset SEALPUB_KEK SEALPUB_KEK_FILE
nice "$bin" publish "$corpus" --name bench --stage reader --arch amd64 --version 1 --quiet
enc=$work/store/reader/bench-amd64-1.enc
esize=$(stat -c %s "$enc")
nice pigz -6 -p 2 -c "$corpus" >"$work/corpus.gz"
cat "$enc" "$work/corpus.gz" "$corpus" >/dev/null

JSON=()
# row LABEL BYTES COMMAND...: fastest of $runs: wall, CPU (user+sys), peak RSS of the command.
row() {
    local label=$1 bytes=$2 best= cpu= rss=0 i w u s m
    shift 2
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -f "%e %U %S %M" -o "$work/t" nice "$@" >/dev/null 2>"$work/err" ||
            { echo "$label failed: $(cat "$work/err")" >&2; return 1; }
        read -r w u s m <"$work/t"
        if [[ -z $best ]] || awk -v a="$w" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$w cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
        fi
        ((m > rss)) && rss=$m
    done
    printf '| %s | %.2f | %.2f | %.0f | %d |\n' "$label" "$best" "$cpu" \
        "$(awk -v b="$bytes" -v w="$best" 'BEGIN { print b / 1e6 / w }')" "$((rss / 1024))"
    JSON+=("{\"row\":\"$label\",\"seconds\":$best,\"cpu_seconds\":$cpu,\"bytes\":$bytes,\"peak_rss_kib\":$rss}")
}

echo "reader benchmark: $(basename "$corpus") $size bytes, container $esize bytes, $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg), $runs runs (fastest kept); sealpub $("$bin" version | head -1)"
echo
echo "| operation | seconds | CPU s | MB/s (plaintext) | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|"
row "pigz -dc (pigz -6 file) > /dev/null" "$size" pigz -dc "$work/corpus.gz"
row "pigz -dc > file" "$size" bash -c "pigz -dc '$work/corpus.gz' > '$work/pigz.out'"
for t in 1 2; do
    row "sealpub open --threads $t -o /dev/null" "$size" "$bin" open "$enc" --threads $t -o /dev/null --quiet
done
row "sealpub open --threads 2 (verify only)" "$size" "$bin" open "$enc" --threads 2 --quiet
row "sealpub open --threads 2 -o file" "$size" "$bin" open "$enc" --threads 2 -o "$work/open.out" --quiet
row "sealpub open --threads 2 -o - | cat > /dev/null" "$size" bash -c "'$bin' open '$enc' --threads 2 -o - --quiet | cat > /dev/null"
cmp -s "$work/open.out" "$corpus" || { echo "open output differs from the corpus" >&2; exit 1; }

# Per-stage costs on one core (CPU seconds per GiB of plaintext; the container bytes for read,
# SHA-256 and GCM, which see the compressed form): what one worker, or the framer, pays.
echo
echo "| stage (one core) | CPU s per GiB of plaintext |"
echo "|---|---:|"
gib=$(awk -v s="$size" 'BEGIN { print s / 2^30 }')
stage_row() { local label=$1; shift; /usr/bin/time -f "%U %S" -o "$work/t" nice "$@" >/dev/null 2>&1;
    read -r u s <"$work/t"; printf '| %s | %.3f |\n' "$label" "$(awk -v u="$u" -v s="$s" -v g="$gib" 'BEGIN { print (u + s) / g }')"; }
stage_row "read (cat of the container, page cache)" cat "$enc"
stage_row "SHA-256 of the container (openssl dgst)" openssl dgst -sha256 "$enc"
# openssl speed reports kB/s of AES-256-GCM decryption in 4 MiB messages (what a record is).
gcm_kbs=$(nice openssl speed -decrypt -evp aes-256-gcm -bytes 4194304 -seconds 2 2>/dev/null | awk '/^AES-256-GCM/ {sub("k", "", $2); print $2}')
printf '| AES-256-GCM decrypt of the container (openssl speed -decrypt, 4 MiB messages) | %.3f |\n' \
    "$(awk -v e="$esize" -v k="$gcm_kbs" -v g="$gib" 'BEGIN { print e / (k * 1000) / g }')"
stage_row "sealpub open --threads 1, all stages (inflate is the rest)" "$bin" open "$enc" --threads 1 --quiet
echo
echo "| operation | seconds | CPU s | MB/s (plaintext) | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|"
if [[ -n ${AWS_ENDPOINT_URL_S3:-} && -n ${SEALPUB_TEST_BUCKET:-} && -n ${DATABASE_URL:-} ]]; then
    prefix=reader-bench-$$-$RANDOM
    schema=reader_bench_$$_$RANDOM
    psql "$DATABASE_URL" -qc "CREATE SCHEMA $schema" >/dev/null
    export PGOPTIONS="-c search_path=$schema" SEALPUB_STORE=s3://$SEALPUB_TEST_BUCKET/$prefix SEALPUB_REGISTRY=$DATABASE_URL
    "$bin" db init >/dev/null
    nice "$bin" publish "$corpus" --name bench --stage reader --arch amd64 --version 1 --quiet
    url=$AWS_ENDPOINT_URL_S3/$SEALPUB_TEST_BUCKET/$prefix/reader/bench-amd64-1.enc
    curl_get() {
        curl -sS -f --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
            -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" -o "$1" "$url"
    }
    export -f curl_get
    export url
    row "curl GET -o /dev/null (container)" "$size" bash -c "curl_get /dev/null"
    row "curl GET -o file (container)" "$size" bash -c "curl_get '$work/curl.out'"
    for t in 1 2; do
        row "sealpub fetch --threads $t --verify" "$size" "$bin" fetch --name bench --stage reader --arch amd64 \
            --version 1 --threads $t --verify --quiet
    done
    row "sealpub fetch --threads 2 -o file" "$size" "$bin" fetch --name bench --stage reader --arch amd64 --version 1 \
        --threads 2 -o "$work/fetch.out" --quiet
    row "sealpub fetch --threads 2 -o - | cat > /dev/null" "$size" bash -c "'$bin' fetch --name bench --stage reader \
        --arch amd64 --version 1 --threads 2 -o - --quiet | cat > /dev/null"
    cmp -s "$work/fetch.out" "$corpus" || { echo "fetch output differs from the corpus" >&2; exit 1; }
    s3_rm() { curl -sS --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" -X DELETE "$url" >/dev/null; }
    s3_rm || true
else
    echo "| (fetch and curl rows left out: no services env) | | | | |"
fi

echo
printf '%s\n' "${JSON[@]}"
