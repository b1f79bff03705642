#!/usr/bin/env bash
# it_secrets.sh: the whole CLI matrix (publish ok and failing, open, fetch,
# inspect, db init, cleanup, version, --json, SEALPUB_DEBUG=1) run with known
# secrets, and every byte of stdout and stderr searched for them: the KEK
# (raw, base64, hex), the AWS secret key and session token, a database
# password, and every per-artifact key (the registry's encryption_key, its
# bytes in hex, the unwrapped file key and the payload key derived from it).
# Part 1 uses fake secrets against unreachable servers (127.0.0.1:1) and the
# local data folder; part 2 uses the real local radosgw and PostgreSQL, with
# their real credentials as the secrets, when the services env is present.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN

# The services' variables, kept for part 2; everything ambient is cleared so
# part 1 sees only what it sets.
real_endpoint=${AWS_ENDPOINT_URL_S3:-} real_ak=${AWS_ACCESS_KEY_ID:-} real_sk=${AWS_SECRET_ACCESS_KEY:-}
real_region=${AWS_REGION:-} real_bucket=${SEALPUB_TEST_BUCKET:-} real_db=${DATABASE_URL:-}
for var in $(compgen -e); do
    case $var in
    AWS_* | PG* | DATABASE_URL | SEALPUB_*) [[ $var == SEALPUB_BIN || $var == SEALPUB_HOME || $var == SEALPUB_REQUIRE_SERVICES ]] || unset "$var" ;;
    esac
done

seq 1 50000 >"$WORK/in.bin"
mkdir -p "$WORK/caps"

# ---- secrets: label -> exact byte string to search for --------------------
declare -A SECRET=()
hex_of() { od -An -v -tx1 | tr -d ' \n'; }
add_secret() { # label value [whole]: the value and, unless "whole", its first 12 bytes
    # (a cut-off leak is still a leak; the fake secrets are chosen so that
    # their prefixes appear nowhere else, which the real ones may not be).
    [[ -n $2 ]] || return 0
    SECRET[$1]=$2
    [[ ${3:-} != whole ]] && ((${#2} >= 20)) && SECRET["$1 (first 12 chars)"]=${2:0:12}
    return 0
}
add_key_forms() { # label base64: the base64 text, its bytes in hex (either case)
    local hex
    add_secret "$1 (base64)" "$2"
    hex=$(printf '%s' "$2" | base64 -d 2>/dev/null | hex_of)
    add_secret "$1 (hex)" "$hex"
    add_secret "$1 (HEX)" "${hex^^}"
}

# The fake secrets. Printable, so their raw form is searchable too, and
# unlike anything sealpub prints by itself.
KEK_RAW='KEKfake-it-secrets-0123456789abc' # 32 bytes
KEK_B64=$(printf '%s' "$KEK_RAW" | base64)
KEK_HEX=$(printf '%s' "$KEK_RAW" | hex_of)
BAD_KEK_B64=$(printf '%s' 'BADKEKfake-it-secrets-012345678' | base64) # 31 bytes: rejected, never echoed
AWS_SK_FAKE='FakeSecretKey/it+secrets/0123456789ABCDEFGHIJ'
AWS_TOKEN_FAKE='FakeSessionToken/it+secrets//AQoDYXdzEJr+0123456789abcdefghijklmnop=='
DB_PW='Sup3rS3cretPw'
DB_URL_FAKE="postgresql://u:$DB_PW@127.0.0.1:1/db"
add_secret "KEK (raw)" "$KEK_RAW"
add_secret "KEK (base64)" "$KEK_B64"
add_secret "KEK (hex)" "$KEK_HEX"
add_secret "KEK (HEX)" "${KEK_HEX^^}"
add_secret "rejected KEK (base64)" "$BAD_KEK_B64"
add_secret "rejected KEK (raw)" 'BADKEKfake-it-secrets-012345678'
add_secret "AWS secret key" "$AWS_SK_FAKE"
add_secret "AWS session token" "$AWS_TOKEN_FAKE"
add_secret "database password" "$DB_PW"

# Every per-artifact key of a registry: the stored form, and for wrapped
# keys the file key (unwrapped with the KEK; checked below by opening a
# container with it); then the payload key derived from it (docs/FORMAT.md,
# HKDF-SHA256). Rows are read after every publish, since a replace
# overwrites the previous key.
# The file key and the payload key of a row (python3-cryptography, an
# independent implementation): prints "FILE_KEY_BASE64 PAYLOAD_KEY_BASE64".
derive_keys() { # kek_hex encryption_key key_wrap artifact_id name stage arch version
    python3 - "$@" <<'PY'
import base64, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
kek, stored, wrap, aid = bytes.fromhex(sys.argv[1]), base64.b64decode(sys.argv[2]), sys.argv[3], bytes.fromhex(sys.argv[4])
if wrap == "aes256-kwp-bound-v1":  # docs/FORMAT.md "Key wrapping": a wrapping key per row
    info = "\n".join(["sealpub v1 key wrap"] + sys.argv[5:9]).encode()
    kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=aid, info=info).derive(kek)
fk = stored if wrap == "none" else aes_key_unwrap_with_padding(kek, stored)
pk = HKDF(algorithm=hashes.SHA256(), length=32, salt=aid, info=b"sealpub v1 payload key").derive(fk)
print(base64.b64encode(fk).decode(), base64.b64encode(pk).decode())
PY
}
ROW_IDENTITY="resource_name, dev_stage, architecture, version"
declare -A KEY_SEEN=()
keys_seen=0
add_artifact_key() { # encryption_key key_wrap artifact_id name stage arch version
    local stored=$1 wrap=$2 aid=$3 file_b64 pkey n
    [[ -n $stored && -z ${KEY_SEEN[$stored]:-} ]] || return 0
    KEY_SEEN[$stored]=1
    keys_seen=$((keys_seen + 1))
    n="key #$keys_seen ($wrap)"
    add_key_forms "$n as stored" "$stored"
    read -r file_b64 pkey < <(derive_keys "$KEK_HEX" "$stored" "$wrap" "$aid" "$4" "$5" "$6" "$7" 2>/dev/null)
    if [[ ${#pkey} != 44 ]]; then
        bad "$n: cannot unwrap it with the test KEK or derive its payload key"
        return 0
    fi
    [[ $wrap == none ]] || add_key_forms "$n unwrapped" "$file_b64"
    add_key_forms "$n payload key" "$pkey"
}
sqlite_keys() { # registry.db
    local k w a n s r v
    [[ -f $1 ]] || return 0
    while IFS='|' read -r k w a n s r v; do add_artifact_key "$k" "$w" "$a" "$n" "$s" "$r" "$v"; done \
        < <(sqlite3 "$1" "SELECT encryption_key, key_wrap, artifact_id, $ROW_IDENTITY FROM resources")
}

pg_keys() { # schema
    local k w a n s r v
    while IFS='|' read -r k w a n s r v; do add_artifact_key "$k" "$w" "$a" "$n" "$s" "$r" "$v"; done < <(
        PGOPTIONS="-c search_path=$1" psql "$real_db" -AtF '|' -c "SELECT encryption_key, key_wrap, artifact_id, $ROW_IDENTITY FROM resources" 2>/dev/null)
}
# KEYS_FROM: the registry the current commands write to ("" none, a SQLite
# file, or pg:SCHEMA).
KEYS_FROM=
collect_keys() {
    case $KEYS_FROM in
    "") ;;
    pg:*) pg_keys "${KEYS_FROM#pg:}" ;;
    *) sqlite_keys "$KEYS_FROM" ;;
    esac
}

# Replaces every secret form in $1 by <secret>: failure messages may quote
# stderr, and must not be a leak themselves.
redact() {
    local m=$1 k
    for k in "${!SECRET[@]}"; do m=${m//"${SECRET[$k]}"/<secret>}; done
    printf '%s' "$m"
}

# ---- the matrix ----------------------------------------------------------
# run LABEL WANT_RC -- CMD...: runs CMD, keeps stdout+stderr for the search.
# The label names the command; commands carry secrets in their environment,
# never in what this test prints.
ncap=0
run() {
    local label=$1 want=$2 rc=0 t0=$SECONDS
    shift 3
    ncap=$((ncap + 1))
    local cap=$WORK/caps/$ncap
    printf '%s\n' "$label" >"$cap.label"
    "$@" >"$cap.out" 2>"$cap.err" </dev/null || rc=$?
    (( SECONDS - t0 > 5 )) && echo "note - $label took $((SECONDS - t0)) s"
    if [[ $want == any || $rc == "$want" ]]; then ok "$label (exit $rc)"; else bad "$label: exit $rc, wanted $want; stderr: $(redact "$(head -c 300 "$cap.err")")"; fi
    # A publish may have replaced a row: collect its key now.
    collect_keys
    return 0
}

FAKE_S3=(AWS_ACCESS_KEY_ID=AKIAITSECRETSFAKE01 "AWS_SECRET_ACCESS_KEY=$AWS_SK_FAKE" "AWS_SESSION_TOKEN=$AWS_TOKEN_FAKE"
    AWS_ENDPOINT_URL_S3=http://127.0.0.1:1 AWS_REGION=us-east-1 SEALPUB_S3_MAX_ATTEMPTS=1)

matrix_local() { # DEBUG(0|1): the local store and registry, fake secrets, unreachable servers
    local d=$1 tag="[debug=$1]" home=$WORK/home$1
    local E=(env "SEALPUB_HOME=$home" "SEALPUB_KEK=$KEK_B64" "${FAKE_S3[@]}")
    [[ $d == 1 ]] && E+=(SEALPUB_DEBUG=1)
    local P=(--name sec --stage dev --arch amd64)
    KEYS_FROM=$home/registry.db

    run "$tag version" 0 -- "${E[@]}" "$B" version
    run "$tag version --verbose" 0 -- "${E[@]}" "$B" version --verbose
    run "$tag db init (sqlite)" 0 -- "${E[@]}" "$B" db init
    run "$tag publish (KEK)" 0 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 1
    run "$tag publish --json (KEK, replaces)" 0 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 1 --json
    run "$tag publish --io pread --threads 1" 0 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 2 --io pread --threads 1
    run "$tag publish, forced io_uring fallback (a debug line)" 0 -- "${E[@]}" SEALPUB_TEST_URING_FAIL=1 "$B" publish "$WORK/in.bin" "${P[@]}" --version 5
    run "$tag publish from stdin --json" 0 -- bash -c 'exec "$@" < "'"$WORK"'/in.bin"' _ "${E[@]}" "$B" publish - "${P[@]}" --version 3 --json
    run "$tag publish without KEK (raw key row)" 0 -- "${E[@]}" SEALPUB_KEK= "$B" publish "$WORK/in.bin" "${P[@]}" --version 4 --json
    run "$tag publish --on-exists fail" 9 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 1 --on-exists fail
    run "$tag publish --on-exists fail --json" 9 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 1 --on-exists fail --json
    run "$tag publish with a rejected KEK" 2 -- "${E[@]}" "SEALPUB_KEK=$BAD_KEK_B64" "$B" publish "$WORK/in.bin" "${P[@]}" --version 9
    run "$tag publish to unreachable S3" 12 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 9 --store s3://sealpub-fake/p --registry "sqlite://$WORK/secrets-reg.db"
    run "$tag publish to unreachable S3 --json" 12 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 9 --store s3://sealpub-fake/p --registry "sqlite://$WORK/secrets-reg.db" --json
    run "$tag publish, registry URL with password unreachable" 13 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 9 --registry "$DB_URL_FAKE"
    run "$tag publish, DATABASE_URL with password unreachable --json" 13 -- "${E[@]}" "DATABASE_URL=$DB_URL_FAKE" SEALPUB_REGISTRY_RETRY_SECONDS=0 "$B" publish "$WORK/in.bin" "${P[@]}" --version 9 --json
    run "$tag publish, conninfo with password unreachable" 13 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 9 --registry "host=127.0.0.1 port=1 user=u password=$DB_PW dbname=db"
    run "$tag publish, malformed registry URL with password" 8 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 9 --registry "postgresql://u:$DB_PW@127.0.0.1:1/db?sslmode=%zz"
    run "$tag publish, unknown registry scheme with password" 2 -- "${E[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version 9 --registry "mysql://u:$DB_PW@h/db"
    run "$tag db init, registry URL with password unreachable" 13 -- "${E[@]}" "$B" db init --registry "$DB_URL_FAKE"
    local obj=$home/objects/dev/sec-amd64-1.enc
    run "$tag inspect" 0 -- "${E[@]}" "$B" inspect "$obj"
    run "$tag inspect --json" 0 -- "${E[@]}" "$B" inspect --json "$obj"
    run "$tag open (verify, key from the registry, unwrapped with the KEK)" 0 -- "${E[@]}" "$B" open "$obj"
    run "$tag open -o FILE" 0 -- "${E[@]}" "$B" open "$obj" -o "$WORK/out$d.bin"
    run "$tag open -o -" 0 -- "${E[@]}" "$B" open "$obj" -o -
    run "$tag open without the KEK (wrapped key)" any -- "${E[@]}" SEALPUB_KEK= "$B" open "$obj"
    run "$tag open with a wrong KEK" any -- "${E[@]}" "SEALPUB_KEK=$(printf '%s' 'OTHERkek-it-secrets-0123456789ab' | base64)" "$B" open "$obj"
    run "$tag open, registry URL with password unreachable" 13 -- "${E[@]}" "$B" open "$obj" --registry "$DB_URL_FAKE"
    head -c 3000 "$obj" >"$WORK/cut$d.enc"
    run "$tag open a truncated container" 6 -- "${E[@]}" "$B" open "$WORK/cut$d.enc"
    run "$tag fetch --verify" 0 -- "${E[@]}" "$B" fetch "${P[@]}" --version 1 --verify
    run "$tag fetch -o FILE --json" 0 -- "${E[@]}" "$B" fetch "${P[@]}" --version 2 -o "$WORK/f$d.bin" --json
    # The latest row (version 4) holds an unwrapped key: refused while a KEK is set, read without one.
    run "$tag fetch --latest, unwrapped row under a KEK" 6 -- "${E[@]}" "$B" fetch "${P[@]}" --latest -o -
    run "$tag fetch --latest -o -" 0 -- "${E[@]}" SEALPUB_KEK= "$B" fetch "${P[@]}" --latest -o -
    run "$tag fetch from unreachable S3" 12 -- "${E[@]}" "$B" fetch "${P[@]}" --version 1 --verify --store s3://sealpub-fake/p
    run "$tag fetch, registry URL with password unreachable" 13 -- "${E[@]}" "$B" fetch "${P[@]}" --version 1 --verify --registry "$DB_URL_FAKE"
    run "$tag cleanup (local store)" 0 -- "${E[@]}" "$B" cleanup
    run "$tag cleanup unreachable S3" 12 -- "${E[@]}" "$B" cleanup --store s3://sealpub-fake/p --older-than 0
    # A key file given on the command line is the user's to keep secret;
    # what matters is that sealpub does not print it back.
    sqlite3 "$home/registry.db" "SELECT encryption_key FROM resources WHERE version='4'" >"$WORK/key$d.b64"
    run "$tag open --key-file" 0 -- "${E[@]}" "$B" open "$home/objects/dev/sec-amd64-4.enc" --key-file "$WORK/key$d.b64"
    run "$tag open --key-file, wrong key" 6 -- "${E[@]}" "$B" open "$obj" --key-file "$WORK/key$d.b64"
    KEYS_FROM=
}

matrix_local 0
matrix_local 1

# The unwrapping above is only meaningful if it yields the real key.
if [[ $keys_seen -ge 8 ]]; then ok "$keys_seen per-artifact keys collected"; else bad "only $keys_seen per-artifact keys collected"; fi
row=$(sqlite3 "$WORK/home0/registry.db" "SELECT encryption_key, key_wrap, artifact_id, $ROW_IDENTITY FROM resources WHERE version='1'")
IFS='|' read -r k w a n s r v <<<"$row"
read -r fk _ < <(derive_keys "$KEK_HEX" "$k" "$w" "$a" "$n" "$s" "$r" "$v" 2>/dev/null)
printf '%s\n' "$fk" >"$WORK/unwrapped.b64"
if "$B" open "$WORK/home0/objects/dev/sec-amd64-1.enc" --key-file "$WORK/unwrapped.b64" >/dev/null 2>&1; then
    ok "the test's unwrapping of a KEK-wrapped key yields the key that opens the container"
else
    bad "the unwrapped key does not open the container: the key search would miss the real key"
fi

# Key memory at run time: while a publish waits on its input, the process
# must hold pages that are excluded from core dumps (VmFlags "dd") and, where
# RLIMIT_MEMLOCK allows, locked ("lo"): sp_secret_alloc's pages.
if sp_emulated; then
    not_run "publish holds its keys in memory excluded from core dumps" "qemu-user ignores madvise(MADV_DONTDUMP)"
elif [[ -r /proc/self/smaps ]]; then
    mkfifo "$WORK/fifo"
    env "SEALPUB_HOME=$WORK/home-dd" "SEALPUB_KEK=$KEK_B64" "$B" publish - --name dd --stage dev --version 1 --quiet \
        <"$WORK/fifo" >/dev/null 2>&1 &
    pid=$!
    exec 7>"$WORK/fifo"
    flags=
    for _ in $(seq 50); do
        # Writable and not dumped: anonymous key pages, not the kernel's vvar.
        flags=$(awk '/^VmFlags:/ && / wr / && / dd/ {print}' "/proc/$pid/smaps" 2>/dev/null)
        [[ -n $flags ]] && break
        sleep 0.1
    done
    if [[ -z $flags ]]; then
        bad "publish holds no memory excluded from core dumps (no VmFlags dd in /proc/PID/smaps)"
    elif [[ $(ulimit -l) != 0 && $flags != *" lo"* ]]; then
        bad "publish's memory excluded from core dumps is not locked (no VmFlags lo), though RLIMIT_MEMLOCK allows it"
    else
        ok "publish holds its keys in memory excluded from core dumps$([[ $flags == *" lo"* ]] && echo " and locked")"
    fi
    exec 7>&-
    wait "$pid" || bad "the publish from a FIFO failed"
fi

# ---- part 2: the real local servers --------------------------------------
part2=0
if [[ -n $real_endpoint && -n $real_bucket && -n $real_db && -n $real_sk ]]; then
    part2=1
else
    skip_part "real-server part: AWS_ENDPOINT_URL_S3/SEALPUB_TEST_BUCKET/DATABASE_URL/AWS_SECRET_ACCESS_KEY not set (run under scripts/with-services.sh)"
fi
if [[ $part2 == 1 ]]; then
    add_secret "real AWS secret key" "$real_sk" whole
    pg_pw=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).password or "")' "$real_db" 2>/dev/null || true)
    add_secret "real database password" "$pg_pw" whole
    prefix=it-secrets-$$-$RANDOM
    schema=it_secrets_$$_$RANDOM
    psql "$real_db" -qc "CREATE SCHEMA $schema" >/dev/null
    trap 'psql "$real_db" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
    REAL=(env "SEALPUB_HOME=$WORK/home-real" "AWS_ENDPOINT_URL_S3=$real_endpoint" "AWS_ACCESS_KEY_ID=$real_ak"
        "AWS_SECRET_ACCESS_KEY=$real_sk" "AWS_REGION=${real_region:-us-east-1}" "SEALPUB_STORE=s3://$real_bucket/$prefix"
        "SEALPUB_REGISTRY=$real_db" "PGOPTIONS=-c search_path=$schema" "SEALPUB_KEK=$KEK_B64" SEALPUB_S3_MAX_ATTEMPTS=1)
    P=(--name sec --stage dev --arch amd64)
    KEYS_FROM=pg:$schema
    for d in 0 1; do
        R=("${REAL[@]}")
        [[ $d == 1 ]] && R+=(SEALPUB_DEBUG=1)
        tag="[real, debug=$d]"
        run "$tag db init" 0 -- "${R[@]}" "$B" db init
        run "$tag publish" 0 -- "${R[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version "1$d"
        run "$tag publish --json (replaces)" 0 -- "${R[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version "1$d" --json
        run "$tag publish without KEK --json" 0 -- "${R[@]}" SEALPUB_KEK= "$B" publish "$WORK/in.bin" "${P[@]}" --version "2$d" --json
        run "$tag publish --on-exists fail" 9 -- "${R[@]}" "$B" publish "$WORK/in.bin" "${P[@]}" --version "1$d" --on-exists fail
        run "$tag publish with a wrong S3 secret" 7 -- "${R[@]}" "AWS_SECRET_ACCESS_KEY=$AWS_SK_FAKE" "$B" publish "$WORK/in.bin" "${P[@]}" --version 9
        run "$tag publish with a fake session token" any -- "${R[@]}" "AWS_SESSION_TOKEN=$AWS_TOKEN_FAKE" "$B" publish "$WORK/in.bin" "${P[@]}" --version 9 --json
        run "$tag fetch --verify" 0 -- "${R[@]}" "$B" fetch "${P[@]}" --version "1$d" --verify
        # Version 2$d holds an unwrapped key: refused while a KEK is set (docs/SECURITY.md), read without one.
        # (Not --latest: whether the "any" publish of version 9 above succeeded decides which row that is.)
        run "$tag fetch an unwrapped row under a KEK" 6 -- "${R[@]}" "$B" fetch "${P[@]}" --version "2$d" -o "$WORK/real$d.bin" --json
        run "$tag fetch -o FILE --json" 0 -- "${R[@]}" "$B" fetch "${P[@]}" --version "1$d" -o "$WORK/real$d.bin" --json
        run "$tag fetch -o -" 0 -- "${R[@]}" SEALPUB_KEK= "$B" fetch "${P[@]}" --version "2$d" -o -
        run "$tag fetch with a wrong S3 secret" 7 -- "${R[@]}" "AWS_SECRET_ACCESS_KEY=$AWS_SK_FAKE" "$B" fetch "${P[@]}" --version "1$d" --verify
        AWS_ACCESS_KEY_ID=$real_ak AWS_SECRET_ACCESS_KEY=$real_sk AWS_ENDPOINT_URL_S3=$real_endpoint AWS_REGION=${real_region:-us-east-1} \
            s3_get "$real_bucket/$prefix/dev/sec-amd64-1$d.enc" "$WORK/real$d.enc" || bad "$tag: cannot download the object with curl"
        run "$tag inspect --json" 0 -- "${R[@]}" "$B" inspect --json "$WORK/real$d.enc"
        run "$tag open (key from PostgreSQL)" 0 -- "${R[@]}" "$B" open "$WORK/real$d.enc" -o "$WORK/realo$d.bin"
        run "$tag cleanup" 0 -- "${R[@]}" "$B" cleanup --older-than 3600
        run "$tag cleanup with a wrong S3 secret" 7 -- "${R[@]}" "AWS_SECRET_ACCESS_KEY=$AWS_SK_FAKE" "$B" cleanup
        run "$tag version --verbose" 0 -- "${R[@]}" "$B" version --verbose
    done
    KEYS_FROM=
    # The test's objects go with the schema.
    for d in 0 1; do
        for v in "1$d" "2$d"; do
            AWS_ACCESS_KEY_ID=$real_ak AWS_SECRET_ACCESS_KEY=$real_sk s3_curl -f -X DELETE -H "x-amz-content-sha256: $EMPTY_SHA" \
                "$real_endpoint/$real_bucket/$prefix/dev/sec-amd64-$v.enc" >/dev/null 2>&1 || true
        done
    done
fi

# ---- the search ------------------------------------------------------------
# Every captured byte, every secret form; a hit names the command and the
# kind of secret, never the secret.
printf '%s\n' "${SECRET[@]}" | sort -u >"$WORK/patterns"
hits=0
for cap in "$WORK"/caps/*.label; do
    base=${cap%.label}
    label=$(cat "$cap")
    for stream in out err; do
        # grep -o prints each match (the longest, where a prefix and the
        # whole secret both match); map it back to the secrets' names.
        while IFS= read -r m; do
            for s in "${!SECRET[@]}"; do
                [[ ${SECRET[$s]} == "$m" ]] || continue
                bad "$s found in std$stream of: $label"
                hits=$((hits + 1))
            done
        done < <(grep -aoF -f "$WORK/patterns" "$base.$stream" | sort -u)
    done
done
[[ $hits == 0 ]] && ok "no secret in the output of $ncap commands (${#SECRET[@]} secret forms searched)"
finish
