#!/usr/bin/env bash
# bench/claims.sh: what the identity claim (docs/CLI.md, "Many publishers at
# once") costs a publish against the real local PostgreSQL and radosgw.
# Publishes a 1 KiB file N times (distinct versions, so nothing waits) and
# reports, from each publish's --json, the time from asking for the claim to
# holding it (claim_wait_seconds: one pg_try_advisory_lock round trip when
# nobody else holds it) next to the whole publish's time, as medians.
# Usage: scripts/with-services.sh bench/claims.sh [N]   (default N=40)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${SEALPUB_BIN:-$root/build/sealpub}
n=${1:-40}
work=$(mktemp -d)
schema=bench_claims_$$
trap 'psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1; rm -rf "$work"' EXIT
psql "$DATABASE_URL" -qc "CREATE SCHEMA $schema"
export PGOPTIONS="-c search_path=$schema" SEALPUB_REGISTRY=$DATABASE_URL SEALPUB_HOME=$work/home
export SEALPUB_STORE=s3://${SEALPUB_TEST_BUCKET:?run under scripts/with-services.sh}/bench-claims-$$
"$B" db init >/dev/null 2>&1
head -c 1024 /dev/urandom >"$work/in.bin"
for i in $(seq 1 "$n"); do
    "$B" publish "$work/in.bin" --name claims --stage dev --arch amd64 --version "v$i" --content raw --json >>"$work/runs.jsonl"
done
python3 - "$work/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
claim = [r["claim_wait_seconds"] * 1000 for r in runs]
total = [r["seconds"] * 1000 for r in runs]
print(json.dumps({"bench": "claims", "publishes": len(runs),
                  "claim_ms_median": round(statistics.median(claim), 2), "claim_ms_max": round(max(claim), 2),
                  "publish_ms_median": round(statistics.median(total), 2),
                  "claim_share_of_publish": round(statistics.median(claim) / statistics.median(total), 4)}))
PY
