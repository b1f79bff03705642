#!/usr/bin/env bash
# it_keys.sh: keys at rest and in memory (docs/SECURITY.md "Keys and the registry"): the SQLite registry is
# private (0600, -wal/-shm too) and says when an existing one is exposed; a configured KEK is enforced
# (wrapped publish, unwrapped rows refused, wrapped keys bound to their row, SEALPUB_REQUIRE_KEK); the CLI
# cannot dump core. No servers: a file:// store and SQLite registries.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
umask 022 # what a user typically has: files would be 0644 unless sealpub makes them private
mkdir -p "$WORK/store"
export SEALPUB_STORE=file://$WORK/store
export SEALPUB_REGISTRY=sqlite://$WORK/reg.db
head -c 200000 /dev/urandom >"$WORK/a.bin"
head -c 200000 /dev/urandom >"$WORK/b.bin"
mode() { stat -c %a "$1"; }
pub() { # file name version [args...]
    local f=$1 n=$2 v=$3
    shift 3
    "$B" publish "$f" --name "$n" --stage dev --arch amd64 --version "$v" --quiet "$@"
}
fetch() { # name version out
    rm -f "$3"
    "$B" fetch --name "$1" --stage dev --arch amd64 --version "$2" -o "$3" --quiet
}
sq() { sqlite3 "$WORK/reg.db" "$@"; }

echo "# the SQLite registry file"
# While a publish waits on its input it holds the registry open: the WAL files exist then.
mkfifo "$WORK/fifo"
ulimit -c unlimited 2>/dev/null || ulimit -c "$(ulimit -Hc)"
core_limit_here=$(ulimit -c)
mkdir -p "$WORK/cwd"
(cd "$WORK/cwd" && exec "$B" publish - --name held --stage dev --arch amd64 --version 1 --quiet <"$WORK/fifo" \
    >/dev/null 2>"$WORK/held.err") &
pid=$!
exec 7>"$WORK/fifo" # the writer end: publish now blocks reading
wait_until 20 test -e "$WORK/reg.db-shm" || bad "the registry's -shm never appeared"
for f in reg.db reg.db-wal reg.db-shm; do
    [[ -e $WORK/$f ]] || { bad "$f does not exist while the registry is open"; continue; }
    [[ $(mode "$WORK/$f") == 600 ]] && ok "$f is 0600 under umask 022" || bad "$f is $(mode "$WORK/$f")"
done

echo "# core dumps"
limits=$(grep '^Max core file size' "/proc/$pid/limits" 2>/dev/null)
if [[ $limits =~ ^Max\ core\ file\ size\ +0\ +0 ]]; then
    ok "the running CLI has RLIMIT_CORE 0 (started with $core_limit_here)"
else
    bad "the running CLI's core limit: ${limits:-unreadable} (started with $core_limit_here)"
fi
kill -ABRT "$pid"
wait "$pid"
rc=$?
exec 7>&-
[[ $rc == 134 ]] && ok "SIGABRT ends it (exit 134)" || bad "SIGABRT: exit $rc"
if [[ $core_limit_here == 0 ]]; then
    skip_part "core file check: this shell cannot raise RLIMIT_CORE"
elif compgen -G "$WORK/cwd/core*" >/dev/null; then
    bad "a core file was written: $(ls "$WORK/cwd")"
else
    ok "no core file although the shell allowed them ($(cat /proc/sys/kernel/core_pattern 2>/dev/null))"
fi

echo "# an exposed registry"
expect_exit 0 "publish without a KEK (unwrapped key)" -- pub "$WORK/a.bin" plain 1
[[ $(mode "$WORK/reg.db") == 600 ]] && ok "still 0600 after the publish" || bad "reg.db is $(mode "$WORK/reg.db")"
expect_exit 0 "fetch from a private registry" -- fetch plain 1 "$WORK/out"
[[ -z $ERR ]] && ok "no warning for a 0600 registry" || bad "unexpected stderr: $ERR"
chmod 644 "$WORK/reg.db"
expect_exit 0 "fetch from a world-readable registry holding unwrapped keys still works" -- fetch plain 1 "$WORK/out"
[[ $ERR == *"warning: registry $WORK/reg.db is readable by every user and holds unwrapped keys"* ]] &&
    ok "and warns" || bad "no warning: $ERR"
expect_one_line "exposure warning"
chmod 640 "$WORK/reg.db"
expect_exit 0 "group-readable" -- fetch plain 1 "$WORK/out"
[[ $ERR == *"readable by its group"* ]] && ok "warns about the group" || bad "no group warning: $ERR"
chmod 600 "$WORK/reg.db"
export SEALPUB_REGISTRY=sqlite://$WORK/wrapped.db
kek=$(head -c 32 /dev/urandom | base64)
SEALPUB_KEK=$kek expect_exit 0 "publish with a KEK" -- pub "$WORK/a.bin" w 1
chmod 644 "$WORK/wrapped.db"
SEALPUB_KEK=$kek expect_exit 0 "fetch from a readable registry of wrapped keys" -- fetch w 1 "$WORK/out"
[[ -z $ERR ]] && ok "no warning when every key is wrapped" || bad "unexpected stderr: $ERR"

echo "# KEK enforcement"
export SEALPUB_REGISTRY=sqlite://$WORK/victim.db SEALPUB_STORE=file://$WORK/victim
SEALPUB_KEK=$kek expect_exit 0 "publish A with the KEK" -- pub "$WORK/a.bin" app 1
SEALPUB_KEK=$kek expect_exit 0 "publish B with the KEK" -- pub "$WORK/b.bin" app 2
[[ $(sqlite3 "$WORK/victim.db" "SELECT key_wrap FROM resources WHERE version='1'") == aes256-kwp-bound-v1 ]] &&
    ok "key_wrap is aes256-kwp-bound-v1" || bad "key_wrap: $(sqlite3 "$WORK/victim.db" "SELECT key_wrap FROM resources")"
SEALPUB_KEK=$kek expect_exit 0 "B opens" -- fetch app 2 "$WORK/out"
cmp -s "$WORK/out" "$WORK/b.bin" && ok "B's content" || bad "B's content differs"
# Someone with write access to the registry copies A's wrapped key into B's row.
sqlite3 "$WORK/victim.db" "UPDATE resources SET encryption_key = (SELECT encryption_key FROM resources WHERE version='1') WHERE version='2'"
SEALPUB_KEK=$kek expect_exit 6 "a wrapped key copied into another row is refused" -- fetch app 2 "$WORK/out"
expect_err_contains "another registry row" "refused at unwrapping, before any decryption"
[[ ! -e $WORK/out ]] && ok "no output" || bad "output written"
# Someone who can write one row (but has no KEK) plants an unwrapped key and their own object for app/2.
SEALPUB_REGISTRY=sqlite://$WORK/evil.db SEALPUB_STORE=file://$WORK/evil expect_exit 0 "the attacker's publish" -- \
    pub "$WORK/a.bin" app 2
sqlite3 "$WORK/victim.db" "ATTACH '$WORK/evil.db' AS e; UPDATE resources SET (encryption_key, key_wrap, kek_id, artifact_id, sha256, size_bytes, plain_size) = (SELECT encryption_key, key_wrap, kek_id, artifact_id, sha256, size_bytes, plain_size FROM e.resources) WHERE version='2'"
cp "$WORK/evil/dev/app-amd64-2.enc" "$WORK/victim/dev/app-amd64-2.enc"
SEALPUB_KEK=$kek expect_exit 6 "with a KEK set, a key_wrap='none' row is refused" -- fetch app 2 "$WORK/out"
expect_err_contains "unwrapped key" "the refusal says why"
expect_one_line "none-row refusal"
[[ ! -e $WORK/out ]] && ok "no output" || bad "the planted content was written"
expect_exit 0 "without a KEK the same row is read (no policy configured)" -- fetch app 2 "$WORK/out"
SEALPUB_REQUIRE_KEK=1 expect_exit 6 "SEALPUB_REQUIRE_KEK=1 refuses it without a KEK too" -- fetch app 2 "$WORK/out"
SEALPUB_REQUIRE_KEK=1 expect_exit 2 "SEALPUB_REQUIRE_KEK=1: publish without a KEK refuses to start" -- pub "$WORK/a.bin" app 3
expect_err_contains "SEALPUB_REQUIRE_KEK" "and names the setting"
[[ ! -e $WORK/victim/dev/app-amd64-3.enc && $(sqlite3 "$WORK/victim.db" "SELECT count(*) FROM resources WHERE version='3'") == 0 ]] &&
    ok "nothing published" || bad "something was published"
SEALPUB_REQUIRE_KEK=1 SEALPUB_KEK=$kek expect_exit 0 "SEALPUB_REQUIRE_KEK=1 with a KEK publishes" -- pub "$WORK/a.bin" app 3
SEALPUB_REQUIRE_KEK=on expect_exit 2 "SEALPUB_REQUIRE_KEK must be 0 or 1" -- pub "$WORK/a.bin" app 4

finish
