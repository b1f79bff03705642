#!/usr/bin/env bash
# it_docker.sh: sealpub against a real Docker engine (a private dockerd
# started here by scripts/docker.sh and stopped by its pid), radosgw and
# PostgreSQL: publish docker-daemon:IMAGE, fetch --docker-load, the same
# bytes as `docker save | sealpub publish -`, and each engine failure
# produced for real (no such image, no engine, socket permission, refused API
# version, the engine killed mid-stream, a corrupted object at load time)
# leaving no object, no row, no open upload and no new image. Tiny images
# only, built FROM scratch (never pulled: no registry is reachable).
source "$(dirname "$0")/lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)
B=$SEALPUB_BIN
T_START=$SECONDS
use_s3_and_pg it-docker
section() { echo "# $* (t=$((SECONDS - T_START)) s)"; }

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null || ((EUID != 0)); then
    skip_part "a Docker engine: needs root and docker.io (scripts/docker.sh install)"
    finish
    exit
fi

# A short path: a unix socket path must fit in 108 bytes.
DDIR=$(mktemp -d /tmp/sp-dk-XXXXXX)
chmod 711 "$DDIR" # others may reach the socket; its own mode decides
PROXY_PID=
cleanup() {
    [[ -n $PROXY_PID ]] && kill "$PROXY_PID" 2>/dev/null
    "$src/scripts/docker.sh" stop "$DDIR" >/dev/null 2>&1
    rm -rf "$DDIR"
    psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
section "starting dockerd"
export DOCKER_HOST
DOCKER_HOST=$("$src/scripts/docker.sh" start "$DDIR") || { bad "dockerd did not start"; finish; exit 1; }
SOCK=${DOCKER_HOST#unix://}
ok "dockerd started on $SOCK"

# ---------------------------------------------------------------- the image
# Two layers, FROM scratch: nothing to pull.
mkdir -p "$WORK/ctx" "$WORK/tmp"
head -c 65536 /dev/urandom >"$WORK/ctx/blob.bin"
echo "sealpub docker test $$" >"$WORK/ctx/note.txt"
printf 'FROM scratch\nCOPY blob.bin /blob.bin\nCOPY note.txt /note.txt\n' >"$WORK/ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t sp-itest:1 "$WORK/ctx" >/dev/null 2>"$WORK/build.err" ||
    bad "docker build: $(cat "$WORK/build.err")"
ID=$(docker image inspect sp-itest:1 --format '{{.Id}}')
LAYERS=$(docker image inspect sp-itest:1 --format '{{json .RootFS.Layers}}')
[[ $(docker image inspect sp-itest:1 --format '{{len .RootFS.Layers}}') == 2 ]] && ok "test image has 2 layers" ||
    bad "test image layers: $LAYERS"

P=("$B" publish --name itest --stage dev --arch amd64 --chunk-size 1M)
F=("$B" fetch --name itest --stage dev --arch amd64)
row_count() { psql "$DATABASE_URL" -Atc "SELECT count(*) FROM resources WHERE resource_name='itest' AND version='$1'"; }
# nothing_left VERSION WHAT: no object, no row, no multipart upload in progress.
nothing_left() {
    s3_exists "$bucket/$prefix/dev/itest-amd64-$1.enc" && bad "$2: object left" || ok "$2: no object"
    [[ $(row_count "$1") == 0 ]] && ok "$2: no row" || bad "$2: a row was written"
    [[ $(s3_open_uploads "$bucket" "$prefix/") == 0 ]] && ok "$2: no open upload" || bad "$2: multipart upload left open"
}

# ---------------------------------------------------------------- publish, round trip
section "publish docker-daemon:"
expect_exit 0 "publish docker-daemon:sp-itest:1" -- "${P[@]}" docker-daemon:sp-itest:1 --version 1 --json
grep -q "\"docker_image\":{\"id\":\"$ID\",\"repo_tags\":\[\"sp-itest:1\"\]}" "$WORK/stdout" &&
    ok "--json names the image ID and its tags" || bad "--json: $(cat "$WORK/stdout")"
[[ $(row_count 1) == 1 ]] && ok "registry row written" || bad "no registry row"

# The same bytes as `docker save`: the engine source must publish exactly
# what the docker CLI would have piped in.
docker save sp-itest:1 >"$WORK/save.tar"
SAVE_SHA=$(sha256sum <"$WORK/save.tar" | cut -d' ' -f1)
expect_exit 0 "docker-daemon: input has docker save's SHA-256" -- \
    "${P[@]}" docker-daemon:sp-itest:1 --version 2 --expect-sha256 "$SAVE_SHA" --quiet
docker save sp-itest:1 | "${P[@]}" - --version 3 --quiet >/dev/null 2>&1 && ok "docker save | sealpub publish -" ||
    bad "docker save | sealpub publish - failed"
expect_exit 0 "fetch the engine-sourced version" -- "${F[@]}" --version 1 -o "$WORK/v1.tar" --quiet
expect_exit 0 "fetch the piped version" -- "${F[@]}" --version 3 -o "$WORK/v3.tar" --quiet
[[ $(sha256sum <"$WORK/v1.tar" | cut -d' ' -f1) == "$SAVE_SHA" && $(sha256sum <"$WORK/v3.tar" | cut -d' ' -f1) == "$SAVE_SHA" ]] &&
    ok "engine source and docker save | publish - give the same plaintext SHA-256" || bad "plaintexts differ"

section "fetch --docker-load"
docker rmi -f sp-itest:1 >/dev/null
docker image inspect "$ID" >/dev/null 2>&1 && bad "image still there after rmi" || ok "image removed"
expect_exit 0 "fetch --docker-load" -- env TMPDIR="$WORK/tmp" "${F[@]}" --version 1 --docker-load --json
grep -q '"docker_loaded":"Loaded image: sp-itest:1"' "$WORK/stdout" && ok "--json names the loaded image" ||
    bad "--json: $(cat "$WORK/stdout")"
[[ $(docker image inspect sp-itest:1 --format '{{.Id}}' 2>/dev/null) == "$ID" ]] && ok "same image ID after load" ||
    bad "image ID after load differs"
[[ $(docker image inspect sp-itest:1 --format '{{json .RootFS.Layers}}' 2>/dev/null) == "$LAYERS" ]] &&
    ok "same layer digests after load" || bad "layers after load differ"
[[ -z $(ls -A "$WORK/tmp") ]] && ok "no temporary file left" || bad "left in TMPDIR: $(ls -A "$WORK/tmp")"

# ---------------------------------------------------------------- errors
section "errors"
expect_exit 3 "missing image" -- "${P[@]}" docker-daemon:sp-itest:nope --version e1
expect_err_contains "no such image" "missing image named"
expect_one_line "missing image"
nothing_left e1 "missing image"

expect_exit 3 "engine not running" -- env DOCKER_HOST="unix://$DDIR/absent.sock" "${P[@]}" docker-daemon:sp-itest:1 --version e2
expect_err_contains "docker engine is not running" "engine not running named"
expect_one_line "engine not running"
nothing_left e2 "engine not running"

chmod 600 "$SOCK"
expect_exit 3 "socket permission denied" -- setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env SEALPUB_HOME="$WORK/nobody" "${P[@]}" docker-daemon:sp-itest:1 --version e3
chmod 660 "$SOCK"
expect_err_contains "permission denied on the docker socket" "permission denied named"
expect_one_line "socket permission denied"
nothing_left e3 "socket permission denied"

expect_exit 3 "API version refused" -- env DOCKER_API_VERSION=1.99 "${P[@]}" docker-daemon:sp-itest:1 --version e4
expect_err_contains "refused API version 1.99" "API version refusal named"
expect_one_line "API version refused"
nothing_left e4 "API version refused"

# The engine failing to export: an image whose top layer was removed from
# the engine's data root behind its back.
mkdir -p "$WORK/ctx2"
echo "broken $$" >"$WORK/ctx2/broken.txt"
printf 'FROM scratch\nCOPY broken.txt /broken.txt\n' >"$WORK/ctx2/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t sp-itest:broken "$WORK/ctx2" >/dev/null 2>&1
upper=$(docker image inspect sp-itest:broken --format '{{.GraphDriver.Data.UpperDir}}' 2>/dev/null)
if [[ $upper == "$DDIR"/data/* && -d $upper ]]; then
    rm -rf "$upper"
    expect_exit 3 "engine fails to export" -- "${P[@]}" docker-daemon:sp-itest:broken --version e8
    expect_err_contains "exporting image sp-itest:broken: HTTP 500" "the engine's export failure named"
    expect_one_line "engine fails to export"
    nothing_left e8 "engine fails to export"
else
    bad "could not find the broken image's layer folder under $DDIR/data: '$upper'"
fi

expect_exit 2 "tcp:// refused" -- env DOCKER_HOST=tcp://127.0.0.1:9 "${P[@]}" docker-daemon:sp-itest:1 --version e5
expect_err_contains "only unix:// sockets" "tcp:// refusal named"

expect_exit 3 "--docker-load with no engine fails before downloading" -- \
    env DOCKER_HOST="unix://$DDIR/absent.sock" TMPDIR="$WORK/tmp" "${F[@]}" --version 1 --docker-load
expect_err_contains "docker engine is not running" "--docker-load: engine not running named"

# The engine answers 200 even when a load fails; the verdict is in its JSON
# stream: a verified archive that is no image must still be a failure.
mkdir -p "$WORK/notimage"
echo "not an image" >"$WORK/notimage/readme.txt"
tar -C "$WORK/notimage" -cf "$WORK/notimage.tar" .
expect_exit 0 "publish a tar that is no image" -- "${P[@]}" "$WORK/notimage.tar" --version notimg --quiet
BEFORE=$(docker images -aq --no-trunc | sort)
expect_exit 5 "--docker-load of a verified non-image refused" -- env TMPDIR="$WORK/tmp" "${F[@]}" --version notimg --docker-load
expect_err_contains "refused the image" "the engine's refusal read from its JSON stream"
expect_one_line "engine refusal"
[[ $(docker images -aq --no-trunc | sort) == "$BEFORE" ]] && ok "non-image: no new image" || bad "non-image: new image"

# A corrupted object: --docker-load must refuse it with the engine
# untouched, whether the damage is in the middle or in the final record.
section "corrupted object and --docker-load"
docker rmi -f sp-itest:1 >/dev/null
BEFORE=$(docker images -aq --no-trunc | sort)
key=$bucket/$prefix/dev/itest-amd64-1.enc
s3_get "$key" "$WORK/good.enc"
for where in middle end; do
    python3 - "$WORK/good.enc" "$WORK/bad.enc" "$where" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2 if sys.argv[3] == "middle" else len(b) - 20] ^= 0x01
open(sys.argv[2], "wb").write(b)
PY
    s3_put "$key" "$WORK/bad.enc"
    rc=0
    env TMPDIR="$WORK/tmp" "${F[@]}" --version 1 --docker-load >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
    # 6: a chunk failed authentication; 5: the footer or final record is wrong.
    [[ $rc == 5 || $rc == 6 ]] && ok "corrupted ($where) refused by --docker-load (exit $rc)" ||
        bad "corrupted ($where): exit $rc; $(cat "$WORK/stderr")"
    [[ $(docker images -aq --no-trunc | sort) == "$BEFORE" ]] && ok "corrupted ($where): no new image" ||
        bad "corrupted ($where): the engine has a new image"
    [[ -z $(ls -A "$WORK/tmp") ]] && ok "corrupted ($where): no temporary file left" || bad "corrupted ($where): temp left"
done
s3_put "$key" "$WORK/good.enc"

# The Woodpecker plugin entrypoint, run as Woodpecker would run the image:
# settings as PLUGIN_*, secrets from_secret as PLUGIN_* too, CI_* of a push
# to main; it must publish for real and print sealpub's JSON.
section "woodpecker plugin entrypoint"
docker load -q -i "$WORK/save.tar" >/dev/null || bad "docker load of the saved test image"
BIN_DIR=$(dirname "$B")
plugin_env=(env -i PATH="$BIN_DIR:/usr/local/bin:/usr/bin:/bin" HOME="$WORK" SEALPUB_HOME="$WORK/plugin-home"
    PGOPTIONS="$PGOPTIONS" AWS_CA_BUNDLE="${AWS_CA_BUNDLE:-}"
    CI_REPO_NAME=itest CI_COMMIT_BRANCH=main CI_COMMIT_SHA=89abcdef0123456789abcdef0123456789abcdef
    CI_SYSTEM_PLATFORM=linux/amd64
    PLUGIN_IMAGE=sp-itest:1 PLUGIN_STAGE_MAP=main=dev,stage=stage PLUGIN_STORE="$SEALPUB_STORE"
    PLUGIN_DOCKER_HOST="$DOCKER_HOST" PLUGIN_AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
    PLUGIN_AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" PLUGIN_AWS_REGION="${AWS_REGION:-us-east-1}"
    PLUGIN_AWS_ENDPOINT_URL_S3="$AWS_ENDPOINT_URL_S3" PLUGIN_DATABASE_URL="$DATABASE_URL")
expect_exit 0 "plugin entrypoint publishes" -- "${plugin_env[@]}" bash "$src/scripts/woodpecker-plugin.sh"
grep -q '"object_key":"dev/itest-amd64-89abcdef0123.enc"' "$WORK/stdout" && grep -q "\"docker_image\":{\"id\":\"$ID\"" "$WORK/stdout" &&
    ok "plugin printed the JSON of dev/itest-amd64-89abcdef0123.enc from image $ID" || bad "plugin JSON: $(cat "$WORK/stdout")"
[[ $(row_count 89abcdef0123) == 1 ]] && ok "plugin: registry row written" || bad "plugin: no registry row"
expect_exit 2 "plugin refuses a missing image setting" -- "${plugin_env[@]}" PLUGIN_IMAGE= bash "$src/scripts/woodpecker-plugin.sh"
expect_err_contains "settings.image is required" "plugin names the missing setting"
expect_exit 2 "plugin refuses a bad on_exists" -- "${plugin_env[@]}" PLUGIN_ON_EXISTS=maybe bash "$src/scripts/woodpecker-plugin.sh"
expect_err_contains "settings.on_exists must be replace or fail" "plugin names the bad on_exists"
expect_exit 2 "plugin refuses an unmapped branch" -- "${plugin_env[@]}" CI_COMMIT_BRANCH=topic bash "$src/scripts/woodpecker-plugin.sh"
expect_err_contains "branch 'topic' has no stage" "plugin names the unmapped branch"
expect_exit 3 "plugin: missing image in the engine" -- "${plugin_env[@]}" PLUGIN_IMAGE=sp-itest:absent PLUGIN_VERSION=e7 \
    bash "$src/scripts/woodpecker-plugin.sh"
nothing_left e7 "plugin: missing image"

# The engine killed in the middle of the image stream: a bigger (still
# small) image, so the stream is long enough to die in; the relay kills
# dockerd after 2 MiB of it.
section "engine killed mid-stream"
head -c $((24 * 1048576)) /dev/urandom >"$WORK/ctx/blob.bin"
DOCKER_BUILDKIT=0 docker build -q -t sp-itest:big "$WORK/ctx" >/dev/null 2>"$WORK/build.err" ||
    bad "docker build big: $(cat "$WORK/build.err")"
python3 "$src/tests/integration/relay.py" "unix:$DDIR/relay.sock" "unix:$SOCK" --kill-after $((2 * 1048576)) \
    --kill-pid "$(<"$DDIR/dockerd.pid")" >"$WORK/relay.out" 2>&1 &
PROXY_PID=$!
for _ in $(seq 100); do [[ -S $DDIR/relay.sock ]] && break; sleep 0.05; done
expect_exit 3 "engine killed mid-stream" -- env DOCKER_HOST="unix://$DDIR/relay.sock" \
    "${P[@]}" docker-daemon:sp-itest:big --version e6 --threads 1
grep -q killed "$WORK/relay.out" && ok "the relay killed dockerd mid-stream" || bad "dockerd was not killed"
expect_err_contains "broke after" "mid-stream failure named"
expect_one_line "engine killed mid-stream"
nothing_left e6 "engine killed mid-stream"
kill "$PROXY_PID" 2>/dev/null
PROXY_PID=

section "done"
finish
