#!/usr/bin/env bash
# A private Docker engine for the tests: Debian's dockerd on its own socket,
# data root and exec root, so it never touches (or is touched by) a system
# daemon, and a Debian base image made from Debian packages, since no
# container registry can be reached here (never pull).
#
# Usage: scripts/docker.sh install            docker.io and mmdebstrap (via install-deps.sh --docker)
#        scripts/docker.sh start [DIR]        start dockerd, wait until it answers, print its DOCKER_HOST
#        scripts/docker.sh stop [DIR]         stop it by its pid file (SIGTERM, then SIGKILL)
#        scripts/docker.sh env [DIR]          print "export DOCKER_HOST=unix://DIR/docker.sock"
#        scripts/docker.sh base-image [DIR]   make debian:12 and debian:12-slim in that engine
#
# DIR defaults to ${SEALPUB_DOCKER_DIR:-/tmp/sealpub-docker}. The rootfs
# tarball of the base image is cached in ${SEALPUB_DOCKER_CACHE:-$HOME/.cache/sealpub}
# (mmdebstrap takes ~20 s and 170 MB once; docker import then ~5 s).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
DIR=${2:-${SEALPUB_DOCKER_DIR:-/tmp/sealpub-docker}}
CACHE=${SEALPUB_DOCKER_CACHE:-${HOME:-/root}/.cache/sealpub}
SOCK=$DIR/docker.sock
PIDFILE=$DIR/dockerd.pid
WAIT_START=60
WAIT_EXIT=30

log() { printf 'docker.sh: %s\n' "$*" >&2; }

ping_ok() { curl -fsS --max-time 2 --unix-socket "$SOCK" http://docker/_ping >/dev/null 2>&1; }

running_pid() {
    local pid
    [[ -s $PIDFILE ]] || return 1
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
    local pid i t0=$SECONDS
    command -v dockerd >/dev/null || { log "dockerd is not installed: run scripts/docker.sh install"; exit 1; }
    if pid=$(running_pid) && ping_ok; then
        log "dockerd already running (pid $pid)"
        echo "unix://$SOCK"
        return 0
    fi
    stop 2>/dev/null # leftovers of a daemon that died: its containerd, a stale pid file
    mkdir -p "$DIR/data" "$DIR/exec"
    # --bridge none / --iptables=false: no network setup at all (builds and
    # containers use the host network); a private --exec-root, or a second
    # daemon would share the first one's containerd socket and fail.
    setsid dockerd --data-root "$DIR/data" --exec-root "$DIR/exec" --host "unix://$SOCK" \
        --pidfile "$PIDFILE" --bridge none --iptables=false --ip-masq=false \
        >"$DIR/dockerd.log" 2>&1 </dev/null &
    local child=$!
    for ((i = 0; i < WAIT_START * 5; i++)); do
        # Unprivileged containers and the like: dockerd exits at once.
        kill -0 "$child" 2>/dev/null || break
        if ping_ok; then
            log "dockerd ready in $((SECONDS - t0)) s (pid $(<"$PIDFILE"), socket $SOCK)"
            echo "unix://$SOCK"
            return 0
        fi
        sleep 0.2
    done
    log "dockerd exited or did not answer within $WAIT_START s (it needs root and, in a container, --privileged); last lines of $DIR/dockerd.log:"
    tail -n 20 "$DIR/dockerd.log" >&2 || true
    stop
    exit 1
}

# kill_wait PID NAME: SIGTERM, wait, then SIGKILL; by pid only.
kill_wait() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < WAIT_EXIT * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    log "$2 (pid $pid) ignored SIGTERM for $WAIT_EXIT s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

stop() {
    local pid cpid f=$DIR/exec/containerd/containerd.pid
    if pid=$(running_pid); then
        kill_wait "$pid" dockerd
        log "dockerd stopped"
    else
        log "dockerd not running"
    fi
    # A dockerd that died hard (SIGKILL) leaves its containerd behind, and
    # the next dockerd on this exec root would wait for it.
    if [[ -s $f ]]; then
        cpid=$(<"$f")
        if [[ $cpid =~ ^[0-9]+$ ]] && kill -0 "$cpid" 2>/dev/null; then
            kill_wait "$cpid" containerd
        fi
        rm -f "$f"
    fi
    # dockerd bind-mounts its data root privately and unmounts it on a clean
    # shutdown only; a killed one leaves the mount (and "device busy").
    local m
    { findmnt -rn -o TARGET | grep -E "^$DIR(/|$)" || true; } | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
    rm -f "$PIDFILE"
}

base_image() {
    export DOCKER_HOST=unix://$SOCK
    if docker image inspect debian:12 >/dev/null 2>&1; then
        log "debian:12 already in the engine"
    else
        local tar=$CACHE/debian-12-minbase.tar t0=$SECONDS
        if [[ ! -s $tar ]]; then
            command -v mmdebstrap >/dev/null || { log "mmdebstrap is not installed: run scripts/docker.sh install"; exit 1; }
            mkdir -p "$CACHE"
            # mmdebstrap picks the output format from the name: keep ".tar" last.
            mmdebstrap --quiet --variant=minbase bookworm "${tar%.tar}.part.tar"
            mv "${tar%.tar}.part.tar" "$tar"
            log "rootfs built in $((SECONDS - t0)) s: $tar"
        fi
        docker import "$tar" debian:12 >/dev/null
        log "debian:12 imported in $((SECONDS - t0)) s"
    fi
    docker tag debian:12 debian:12-slim
}

case $cmd in
install) "$root/scripts/install-deps.sh" --docker ;;
start) start ;;
stop) stop ;;
env) echo "export DOCKER_HOST=unix://$SOCK" ;;
base-image) base_image ;;
*)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
