#!/usr/bin/env bash
# Upload-stage CPU against the local radosgw: the client's CPU per GiB
# beside the server's own, measured in the same run (issue 15's target: the
# client at most a third of radosgw's).
#   - sealpub's S3 store (bench/s3_put: the input is read into memory first,
#     as the sealer hands it over; the upload's own CPU is measured in the
#     process with getrusage), with the default flexible checksums and with
#     SEALPUB_S3_CHECKSUM=none;
#   - curl, a single signed PUT of the same bytes from the page cache (its
#     SHA-256 is computed before its clock starts): the reference client.
#   - optionally a baseline build of bench/s3_put (SEALPUB_S3_PUT_BASELINE,
#     e.g. built from an earlier commit with this s3_put.c), in the same run.
# Server CPU: radosgw's utime+stime from /proc before and after each run.
# Needs the services env (scripts/services.sh start; eval its env).
# Usage: bench/upload_cpu.sh [MIB (512)] [RUNS (3)]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
put=${SEALPUB_S3_PUT:-$root/build/bench/s3_put}
mib=${1:-512}
runs=${2:-3}
: "${AWS_ENDPOINT_URL_S3:?source the services env first}" "${SEALPUB_RGW_PIDFILE:?}" "${SEALPUB_TEST_BUCKET:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=bench-cpu-$$-$RANDOM
rgw=$(cat "$SEALPUB_RGW_PIDFILE")
file=$work/in.bin
head -c "$((mib << 20))" /dev/urandom >"$file"
bytes=$(stat -c %s "$file")
sha=$(sha256sum "$file" | cut -d' ' -f1)
hz=$(getconf CLK_TCK)
server_ticks() { awk '{print $14 + $15}' "/proc/$rgw/stat"; }
echo "# $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $mib MiB random, ${SEALPUB_S3_PART_SIZE:-8M} parts, ${SEALPUB_S3_PARTS_IN_FLIGHT:-4} in flight, $runs runs each"
echo "| client | run | client CPU s/GiB | server CPU s/GiB | client / server | MB/s |"
echo "|---|---:|---:|---:|---:|---:|"
results=$work/results
: >"$results"
row() { # label run client_cpu_s wall_s s0 s1
    python3 - "$@" "$bytes" "$hz" <<'PY' | tee -a "$results"
import sys
label, run, cpu, wall, s0, s1, n, hz = sys.argv[1:]
gib = int(n) / 2**30
server = (int(s1) - int(s0)) / int(hz)
print(f"| {label} | {run} | {float(cpu) / gib:.2f} | {server / gib:.2f} | {float(cpu) / server:.3f} | {int(n) / 1e6 / float(wall):.0f} |")
PY
}
sealpub_run() { # label run [env...]
    local label=$1 run=$2 s0 s1 out bin=$put
    shift 2
    [[ $label == baseline* ]] && bin=$SEALPUB_S3_PUT_BASELINE
    s0=$(server_ticks)
    out=$(env "$@" "$bin" "$file" "s3://$SEALPUB_TEST_BUCKET/$prefix" "$label-$run.enc")
    s1=$(server_ticks)
    local cpu wall
    cpu=$(sed -n 's/.*upload_cpu_s=\([0-9.]*\).*/\1/p' <<<"$out")
    wall=$(sed -n 's/.*upload_wall_s=\([0-9.]*\).*/\1/p' <<<"$out")
    row "sealpub $label" "$run" "$cpu" "$wall" "$s0" "$s1"
}
curl_run() {
    local run=$1 s0 s1 u s w
    s0=$(server_ticks)
    /usr/bin/time -f "%U %S %e" -o "$work/t" curl -sS -f --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: $sha" -T "$file" \
        "$AWS_ENDPOINT_URL_S3/$SEALPUB_TEST_BUCKET/$prefix/curl-$run.enc" >/dev/null
    s1=$(server_ticks)
    read -r u s w <"$work/t"
    row "curl single PUT" "$run" "$(python3 -c "print($u + $s)")" "$w" "$s0" "$s1"
}
cat "$file" >/dev/null # into the page cache for curl
for ((r = 1; r <= runs; r++)); do
    [[ -n ${SEALPUB_S3_PUT_BASELINE:-} ]] && sealpub_run "baseline crc32c" "$r"
    sealpub_run "crc32c" "$r"
    sealpub_run "none" "$r" SEALPUB_S3_CHECKSUM=none
    curl_run "$r"
done
python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    rows.setdefault(c[0], []).append((float(c[2]), float(c[3]), float(c[4])))
print()
print("| client (median of runs) | client CPU s/GiB | server CPU s/GiB | client / server |")
print("|---|---:|---:|---:|")
for label, v in rows.items():
    print(f"| {label} | {statistics.median(x[0] for x in v):.2f} | {statistics.median(x[1] for x in v):.2f} | {statistics.median(x[2] for x in v):.3f} |")
PY
