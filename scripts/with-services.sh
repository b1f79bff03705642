#!/usr/bin/env bash
# Runs one command against freshly started local S3 and PostgreSQL servers,
# then stops them whatever happens.
#
# Usage: scripts/with-services.sh CMD [ARGS...]
#   e.g. scripts/with-services.sh ctest --test-dir build -L integration
#
# The command sees the variables of scripts/services.sh's env file
# (AWS_ENDPOINT_URL_S3, DATABASE_URL, ...). The exit status is the
# command's, or non-zero when the services fail to start.
set -euo pipefail

if (($# == 0)); then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
services=$here/services.sh

# Stops on every way out: normal exit, a failed start, Ctrl-C, kill.
# A failing stop is reported but does not replace the command's status.
# shellcheck disable=SC2317 # reached through the trap
cleanup() {
    "$services" stop all || echo "with-services: stopping services failed" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$services" start all
# Captured first so a failing "env" stops the script (set -e); sourcing a
# process substitution would hide that failure.
env_lines=$("$services" env)
eval "$env_lines"

# The command runs in the background and the script waits for it, because
# bash runs a trap only after a foreground command ends: a CI timeout's
# SIGTERM would otherwise leave the servers up until the command finished.
# Without job control a background command ignores SIGINT, so both signals
# are passed on as SIGTERM. <&0 keeps the caller's stdin, which bash would
# otherwise replace with /dev/null.
"$@" <&0 &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; interrupted=130' INT
trap 'kill -TERM "$child" 2>/dev/null; interrupted=143' TERM
interrupted=0
status=0
while :; do
    # wait returns early (status > 128) when a trapped signal arrives.
    wait "$child" && status=0 || status=$?
    kill -0 "$child" 2>/dev/null || break
done
if ((interrupted)); then
    status=$interrupted
fi
exit "$status"
