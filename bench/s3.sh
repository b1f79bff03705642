#!/usr/bin/env bash
# Upload and download throughput against the local radosgw, with client and
# server CPU per GiB, in one run:
#   - sealpub publish of the image corpus (end to end: compress, seal, upload);
#   - the upload stage alone: a container already sealed, uploaded by sealpub's
#     S3 store (publish --level 0 of the sealed bytes would re-seal, so this
#     uses bench/s3_put, which drives the same store code with a file);
#   - curl single PUT of the same sealed bytes (the reference client; its
#     SHA-256 is computed before the clock starts, sealpub's is timed);
#   - aws s3 cp of the same bytes, when the aws CLI is installed;
#   - sealpub fetch back (download, verify, decrypt) and curl GET.
# Needs the services env (scripts/services.sh start; source its env file).
# Usage: bench/s3.sh [FILE]   (default: the image corpus of bench/run.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SEALPUB_BIN:-$root/build/sealpub}
put=${SEALPUB_S3_PUT:-$root/build/bench/s3_put}
file=${1:-/var/tmp/sealpub-bench/scale-1/image.tar}
: "${AWS_ENDPOINT_URL_S3:?source the services env first}" "${SEALPUB_RGW_PIDFILE:?}" "${DATABASE_URL:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=bench-$$-$RANDOM
export SEALPUB_STORE=s3://$SEALPUB_TEST_BUCKET/$prefix SEALPUB_REGISTRY=$DATABASE_URL
"$bin" db init >/dev/null 2>&1
rgw=$(cat "$SEALPUB_RGW_PIDFILE")
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
server_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$rgw/stat"; } # utime+stime in s (USER_HZ 100)
row() { # label bytes command...: wall, client CPU (time -f), server CPU
    local label=$1 bytes=$2
    shift 2
    local s0 s1
    s0=$(server_cpu)
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
    s1=$(server_cpu)
    read -r wall u s <"$work/t"
    python3 - "$label" "$bytes" "$wall" "$u" "$s" "$s0" "$s1" <<'PY'
import sys
label, n, wall, u, s, s0, s1 = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
gib = n / 2**30
print(f"| {label} | {n / 1e6 / wall:.1f} | {(u + s) / gib:.2f} | {(s1 - s0) / gib:.2f} | {wall:.2f} |")
PY
}
size=$(stat -c %s "$file")
echo "| operation | MB/s | client CPU s/GiB | server CPU s/GiB | seconds |"
echo "|---|---:|---:|---:|---:|"
row "sealpub publish (end to end, level 6)" "$size" "$bin" publish "$file" --name bench --stage s3 --arch amd64 --version 1 --quiet
obj=$work/sealed.enc
curl -sS -f --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: $EMPTY" -o "$obj" "$AWS_ENDPOINT_URL_S3/$SEALPUB_TEST_BUCKET/$prefix/s3/bench-amd64-1.enc"
osize=$(stat -c %s "$obj")
row "sealpub S3 store: upload stage alone (sealed bytes)" "$osize" "$put" "$obj" "$SEALPUB_STORE" upload-only.enc
sha=$(sha256sum "$obj" | cut -d' ' -f1)
row "curl single PUT (sealed bytes)" "$osize" curl -sS -f --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: $sha" -T "$obj" \
    "$AWS_ENDPOINT_URL_S3/$SEALPUB_TEST_BUCKET/$prefix/curl.enc"
aws_cli=${AWS_CLI:-$(command -v /usr/bin/aws || command -v aws || true)}
if [[ -n $aws_cli ]]; then
    # The aws CLI (Debian's awscli package) with its default multipart settings.
    row "aws s3 cp (sealed bytes; $("$aws_cli" --version 2>&1 | cut -d' ' -f1))" "$osize" "$aws_cli" --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 cp --only-show-errors "$obj" \
        "s3://$SEALPUB_TEST_BUCKET/$prefix/aws.enc"
fi
row "sealpub fetch (download, verify, decrypt)" "$osize" "$bin" fetch --name bench --stage s3 --arch amd64 --version 1 -o "$work/out"
row "curl GET (sealed bytes)" "$osize" curl -sS -f --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: $EMPTY" -o "$work/get" \
    "$AWS_ENDPOINT_URL_S3/$SEALPUB_TEST_BUCKET/$prefix/curl.enc"
cmp -s "$file" "$work/out" && echo "(fetched output identical to the input)"
