#!/usr/bin/env bash
# it_json_contract.sh: every command's --json output, success and failure,
# against the real radosgw + PostgreSQL and the local stores, is exactly one
# JSON object that validates against docs/cli-json.schema.json (issue 19).
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
SCHEMA=${SP_SOURCE_DIR:?}/docs/cli-json.schema.json
use_s3_and_pg it-json
mkdir -p "$WORK/json"
N=0
capture() { # label expected-exit command...: keeps stdout for validation
    local label=$1 want=$2
    shift 2
    N=$((N + 1))
    local rc=0
    "$@" >"$WORK/json/$N.json" 2>"$WORK/json/$N.err" || rc=$?
    echo "$label" >"$WORK/json/$N.label"
    [[ $rc == "$want" ]] && ok "$label: exit $rc" || bad "$label: exit $rc, wanted $want: $(cat "$WORK/json/$N.err")"
}
head -c 3000000 /dev/urandom >"$WORK/in.bin"
head -c 32 /dev/urandom >"$WORK/kek"
P=(publish "$WORK/in.bin" --stage dev --arch amd64 --content raw --json)

capture "publish" 0 "$B" "${P[@]}" --name j --version 1
capture "publish --dry-run" 0 "$B" "${P[@]}" --name j --version 2 --dry-run
capture "publish, exists (fail)" 9 "$B" "${P[@]}" --name j --version 1 --on-exists fail
capture "publish, usage error" 2 "$B" "${P[@]}" --name j --version 1 --arch mips
capture "publish, registry down" 13 env SEALPUB_REGISTRY=postgresql://postgres@127.0.0.1:1/x "$B" "${P[@]}" --name j --version 3
capture "fetch --verify" 0 "$B" fetch --name j --stage dev --arch amd64 --version 1 --verify --json
capture "fetch -o" 0 "$B" fetch --name j --stage dev --arch amd64 --version 1 -o "$WORK/out" --json
capture "fetch, not found" 11 "$B" fetch --name j --stage dev --arch amd64 --version 9 --verify --json
s3_get "$bucket/$prefix/dev/j-amd64-1.enc" "$WORK/j.enc"
capture "open (registry key)" 0 "$B" open "$WORK/j.enc" --json
capture "open, not a container" 5 "$B" open "$WORK/in.bin" --key-file "$WORK/kek" --json
capture "inspect" 0 "$B" inspect "$WORK/j.enc" --json
capture "inspect, not a container" 5 "$B" inspect "$WORK/in.bin" --json
capture "list" 0 "$B" list --json
capture "list, bad --since" 2 "$B" list --since soon --json
capture "delete (dry run)" 0 "$B" delete --name j --stage dev --arch amd64 --version 1 --json
capture "delete, not found" 11 "$B" delete --name j --stage dev --arch amd64 --version 9 --yes --json
capture "rewrap --dry-run" 0 "$B" rewrap --to-kek "$WORK/kek" --dry-run --json
capture "rewrap, missing KEK file" 2 "$B" rewrap --to-kek "$WORK/nope" --json
capture "cleanup" 0 "$B" cleanup --older-than 3600 --json
capture "cleanup, bad store" 2 "$B" cleanup --store "s3://" --json
capture "db init" 0 "$B" db init --json
capture "db init, missing table check" 8 env SEALPUB_TABLE=no_such_table_here "$B" publish "$WORK/in.bin" --name j --stage dev --arch amd64 --version 4 --content raw --json
capture "db recover" 0 env SEALPUB_RECOVERY_DIR="$WORK/rec" "$B" db recover --json
capture "publish, flag error while parsing" 2 "$B" publish "$WORK/in.bin" --name j --stage dev --version 1 --level 99 --json
capture "db, unknown subcommand" 2 "$B" db frob --json
capture "version" 0 "$B" version --json
capture "version --verbose" 0 "$B" version --verbose --json
capture "version, unknown option" 2 "$B" version --bogus --json
capture "delete --yes" 0 "$B" delete --name j --stage dev --arch amd64 --version 1 --yes --json

python3 - "$SCHEMA" "$WORK/json" <<'PY' >"$WORK/validate.out" 2>&1
import glob, json, os, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad = 0
for path in sorted(glob.glob(os.path.join(sys.argv[2], "*.json")), key=lambda p: int(os.path.basename(p)[:-5])):
    label = open(path[:-5] + ".label").read().strip()
    text = open(path).read()
    try:
        obj = json.loads(text)
    except ValueError as e:
        print(f"FAIL - {label}: not exactly one JSON object ({e}): {text[:200]!r}")
        bad += 1
        continue
    errors = sorted(v.iter_errors(obj), key=str)
    if errors:
        print(f"FAIL - {label}: {errors[0].message} at {list(errors[0].absolute_path)}")
        bad += 1
    else:
        print(f"ok   - {label}: one object, valid against the schema ({obj['command']}, ok={obj['ok']})")
sys.exit(1 if bad else 0)
PY
while IFS= read -r line; do
    case $line in
    "ok   - "*) ok "${line#ok   - }" ;;
    *) bad "${line#FAIL - }" ;;
    esac
done <"$WORK/validate.out"
finish
