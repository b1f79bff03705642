#!/usr/bin/env bash
# it_registry_tls.sh: the PostgreSQL link and unwrapped keys (docs/SECURITY.md "Keys and the registry"):
# sslmode=verify-full by default for remote hosts, and no unwrapped key over a link that is neither TLS nor
# local. Against a private PostgreSQL started here, first without TLS, then with a certificate from a CA
# made here. The server listens on 127.0.0.1 only, so SEALPUB_REGISTRY_TRUST_LOOPBACK=0 (documented) makes
# sealpub treat it like a remote host: the refusals below happen over real cleartext connections.
sp_pg_bin_given=${SEALPUB_PG_BIN:-}
source "$(dirname "$0")/lib.sh"
# lib.sh's hermetic reset may drop SEALPUB_PG_BIN (a newline in its keep list): keep the given one.
export SEALPUB_PG_BIN=${SEALPUB_PG_BIN:-$sp_pg_bin_given}
need_env SEALPUB_PG_BIN
command -v openssl >/dev/null || { sp_strict && { echo "FAIL - openssl missing"; exit 1; }; echo "skipped: no openssl"; exit 77; }
trap 'private_pg_cleanup; rm -rf "$WORK"' EXIT
start_private_pg
port=${PRIV_PG_URL##*:}
port=${port%%/*}

umask 077
export HOME=$WORK/home-empty # no ~/.postgresql/root.crt to fall back on
mkdir -p "$HOME" "$WORK/store"
export SEALPUB_STORE=file://$WORK/store
head -c 300000 /dev/urandom >"$WORK/in.bin"
pub() { # version: publishes in.bin as tls/dev/amd64/VERSION
    "$SEALPUB_BIN" publish "$WORK/in.bin" --name tls --stage dev --arch amd64 --version "$1" --quiet
}
fetch() { # version
    rm -f "$WORK/out.bin"
    "$SEALPUB_BIN" fetch --name tls --stage dev --arch amd64 --version "$1" -o "$WORK/out.bin" --quiet &&
        cmp -s "$WORK/in.bin" "$WORK/out.bin"
}
rows() { # version: rows for it, read over the unix socket
    priv_pg_as_owner "$SEALPUB_PG_BIN/psql" -h "$PRIV_PG_DIR" -p "$port" -U postgres -d postgres -Atc \
        "SELECT count(*) FROM resources WHERE version = '$1'" 2>/dev/null || echo 0
}
plain=postgresql://postgres@127.0.0.1:$port/postgres
export SEALPUB_REGISTRY=$plain
"$SEALPUB_BIN" db init >/dev/null 2>&1 || { echo "FAIL - db init on the private server"; exit 1; }

echo "# server without TLS"
expect_exit 0 "loopback is local by default: an unwrapped key may use it" -- pub 1
expect_exit 0 "and be read back over it" -- fetch 1

export SEALPUB_REGISTRY_TRUST_LOOPBACK=0
expect_exit 8 "no sslmode given, remote host: verify-full is the default and the server has no TLS" -- pub 2
expect_err_contains "verify-full" "the error names the default"
expect_one_line "verify-full default"
[[ $(rows 2) == 0 ]] && ok "no row written" || bad "a row was written without TLS"
[[ ! -e $WORK/store/dev/tls-amd64-2.enc ]] && ok "no object stored" || bad "an object was stored"

SEALPUB_REGISTRY="$plain?sslmode=disable" expect_exit 2 "sslmode=disable to a remote host: publish refuses the unwrapped key" -- pub 3
expect_err_contains "neither TLS nor local" "the refusal says why"
expect_one_line "cleartext refusal"
[[ $(rows 3) == 0 ]] && ok "refused before any row" || bad "a row was written over cleartext"
[[ ! -e $WORK/store/dev/tls-amd64-3.enc ]] && ok "refused before any upload" || bad "an object was stored"
PGSSLMODE=prefer expect_exit 2 "PGSSLMODE=prefer against a server without TLS is cleartext: refused too" -- pub 3
SEALPUB_REGISTRY="$plain?sslmode=disable" expect_exit 2 "reading an unwrapped key over cleartext is refused" -- fetch 1
expect_err_contains "neither TLS nor local" "the read refusal says why"
SEALPUB_REGISTRY="$plain?sslmode=disable" SEALPUB_ALLOW_PLAINTEXT_REGISTRY=1 \
    expect_exit 0 "SEALPUB_ALLOW_PLAINTEXT_REGISTRY=1 opts in to cleartext" -- pub 4
SEALPUB_REGISTRY="$plain?sslmode=disable" SEALPUB_ALLOW_PLAINTEXT_REGISTRY=yes \
    expect_exit 2 "SEALPUB_ALLOW_PLAINTEXT_REGISTRY must be 0 or 1" -- pub 4
kek=$(head -c 32 /dev/urandom | base64)
SEALPUB_REGISTRY="$plain?sslmode=disable" SEALPUB_KEK=$kek \
    expect_exit 0 "with a KEK the key crosses cleartext only wrapped: publish runs" -- pub 5
SEALPUB_REGISTRY="$plain?sslmode=disable" SEALPUB_KEK=$kek expect_exit 0 "and fetch unwraps it" -- fetch 5
SEALPUB_REGISTRY="postgresql://postgres@/postgres?host=$PRIV_PG_DIR&port=$port" \
    expect_exit 0 "a unix socket is local: an unwrapped key may use it" -- pub 6

echo "# what crosses a cleartext link (a relay between sealpub and the server records every byte)"
python3 "$SP_SOURCE_DIR/tests/integration/relay.py" tcp:0 "tcp:$port" --port-file "$WORK/relay.port" \
    --record "$WORK/wire" >/dev/null 2>&1 &
relay_pid=$!
trap 'kill "$relay_pid" 2>/dev/null; private_pg_cleanup; rm -rf "$WORK"' EXIT
wait_until 20 test -s "$WORK/relay.port" || bad "the relay did not start"
relay=postgresql://postgres@127.0.0.1:$(cat "$WORK/relay.port")/postgres?sslmode=disable
key1=$(priv_pg_as_owner "$SEALPUB_PG_BIN/psql" -h "$PRIV_PG_DIR" -p "$port" -U postgres -d postgres -Atc \
    "SELECT encryption_key FROM resources WHERE version = '1'")
[[ ${#key1} == 44 ]] || bad "version 1's unwrapped key not found in the table"
: >"$WORK/wire"
SEALPUB_REGISTRY=$relay SEALPUB_ALLOW_PLAINTEXT_REGISTRY=1 expect_exit 0 "opted in: fetch over the relay" -- fetch 1
grep -qF "$key1" "$WORK/wire" && ok "control: the relay sees an unwrapped key in clear when allowed" ||
    bad "control: the key was not seen on the wire, so the checks below prove nothing"
: >"$WORK/wire"
SEALPUB_REGISTRY=$relay expect_exit 2 "fetch over the relay, not allowed: refused" -- fetch 1
grep -q "tls" "$WORK/wire" && ok "the row's other fields crossed the relay" || bad "the row was not seen on the wire"
grep -qF "$key1" "$WORK/wire" && bad "the unwrapped key crossed the cleartext link before the refusal" ||
    ok "the unwrapped key never crossed the cleartext link (withheld by the query)"
: >"$WORK/wire"
SEALPUB_REGISTRY=$relay expect_exit 0 "list over a cleartext link" -- "$SEALPUB_BIN" list --name tls --limit 0
leaked=0
while read -r k; do
    [[ -n $k ]] && grep -qF "$k" "$WORK/wire" && leaked=$((leaked + 1))
done < <(priv_pg_as_owner "$SEALPUB_PG_BIN/psql" -h "$PRIV_PG_DIR" -p "$port" -U postgres -d postgres -Atc \
    "SELECT encryption_key FROM resources")
grep -q "tls" "$WORK/wire" && ok "list's rows crossed the relay" || bad "list's rows were not seen on the wire"
[[ $leaked == 0 ]] && ok "no key of any row crossed the cleartext link for list" || bad "$leaked keys crossed the link for list"
: >"$WORK/wire"
SEALPUB_REGISTRY=$relay expect_exit 2 "publish over the relay is refused" -- pub 3
grep -qF "tls-amd64-3" "$WORK/wire" && bad "the refused publish sent its row" || ok "the refused publish sent no row"
kill "$relay_pid" 2>/dev/null

echo "# server with TLS (certificate for localhost from a CA made here)"
cd "$WORK" || exit 1
mkca() { # name
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sealpub test $1" \
        -keyout "$1.key" -out "$1.crt" >/dev/null 2>&1
}
mkca ca && mkca otherca || { echo "FAIL - openssl could not make the CAs"; exit 1; }
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr >/dev/null 2>&1 &&
    printf 'subjectAltName=DNS:localhost\n' >san.ext &&
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext \
        -out server.crt >/dev/null 2>&1 || { echo "FAIL - openssl could not sign the server certificate"; exit 1; }
cp server.crt server.key "$PRIV_PG_DIR/"
((EUID == 0)) && chown postgres: "$PRIV_PG_DIR/server.crt" "$PRIV_PG_DIR/server.key"
chmod 600 "$PRIV_PG_DIR/server.key"
cd - >/dev/null || exit 1
private_pg_stop
printf "ssl = on\nssl_cert_file = '%s/server.crt'\nssl_key_file = '%s/server.key'\n" "$PRIV_PG_DIR" "$PRIV_PG_DIR" \
    >>"$PRIV_PG_DIR/data/postgresql.conf"
# TCP only with TLS: whatever connects over TCP below and succeeds used TLS.
printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n' \
    >"$PRIV_PG_DIR/data/pg_hba.conf"
private_pg_start

export SEALPUB_REGISTRY=postgresql://postgres@localhost:$port/postgres
export PGSSLROOTCERT=$WORK/ca.crt
expect_exit 0 "remote host, no sslmode: verify-full against the test CA, unwrapped key over TLS" -- pub 7
expect_exit 0 "and read back over TLS" -- fetch 7
[[ $(rows 7) == 1 ]] && ok "the row is there" || bad "no row for version 7"
PGSSLROOTCERT=$WORK/otherca.crt expect_exit 8 "a server certificate from another CA is refused (verified, not just encrypted)" -- pub 8
expect_err_contains "certificate" "the error names the certificate"
expect_one_line "certificate refusal"
env -u PGSSLROOTCERT "$SEALPUB_BIN" publish "$WORK/in.bin" --name tls --stage dev --arch amd64 --version 8 --quiet \
    >/dev/null 2>"$WORK/stderr" && rc=0 || rc=$?
ERR=$(cat "$WORK/stderr")
[[ $rc == 8 && $ERR == *"root certificate"* && $ERR == *PGSSLROOTCERT* ]] &&
    ok "no CA configured: a one-line error saying how to give one" || bad "no CA: exit $rc: $ERR"
[[ $(rows 8) == 0 ]] && ok "no row for the refused publishes" || bad "a row was written for version 8"
SEALPUB_REGISTRY="$SEALPUB_REGISTRY?sslmode=require" expect_exit 0 "an sslmode from the URL is the user's choice" -- pub 9

finish
