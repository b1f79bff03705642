#!/usr/bin/env bash
# Starts and stops the real local servers the integration tests and
# benchmarks run against: a throwaway single-node Ceph cluster with radosgw
# (S3) and a throwaway PostgreSQL 15 cluster, both on 127.0.0.1.
#
# Usage: scripts/services.sh start [s3|pg|all]
#        scripts/services.sh stop  [s3|pg|all]
#        scripts/services.sh status
#        scripts/services.sh env
#
# All state (configs, data, logs, pid files, the sparse OSD file and the
# sourceable "env" file) lives in ${SEALPUB_SERVICES_DIR:-/tmp/sealpub-services};
# "stop all" removes it. Install the servers with
# scripts/install-deps.sh --services. The configuration and the reasons for
# each setting come from measurements recorded in the project's notes on
# local services; the comments below repeat the reasons that matter.
#
# Why Ceph and not a small S3 emulator: radosgw checks SigV4 signatures,
# x-amz-content-sha256 and Content-MD5 and implements multipart upload like
# AWS does; emulators tried earlier accepted broken requests and would hide
# real bugs.
set -euo pipefail

DIR=${SEALPUB_SERVICES_DIR:-/tmp/sealpub-services}
CEPH_DIR=$DIR/ceph
CEPH_CONF=$CEPH_DIR/ceph.conf
PG_DIR=$DIR/pg
PG_DATA=$PG_DIR/data
PG_LOG=$PG_DIR/postgres.log
PG_BIN=/usr/lib/postgresql/15/bin

# Fixed, public test credentials: the cluster is throwaway and listens on
# loopback only. Never reuse them anywhere else.
S3_ACCESS_KEY=SEALPUBTESTKEY000001
S3_SECRET_KEY=sealpub-test-secret-key-not-for-real-use
S3_REGION=us-east-1
S3_BUCKET=sealpub-test
PG_DATABASE=sealpub_test

# 20 GiB apparent size; the file is sparse, so only what is written uses disk.
OSD_BLOCK_BYTES=$((20 * 1024 * 1024 * 1024))

# SHA-256 of the empty string: libcurl 7.88 signs this hash but does not send
# the header, so it is sent explicitly on body-less requests.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# Bounded waits, in seconds. Typical: mon 1 s, osd 5 s, rgw 10 s, pg 3 s.
WAIT_MON=60
WAIT_OSD=120
WAIT_RGW=120
WAIT_PG=60
WAIT_EXIT=20

log() { printf 'services: %s\n' "$*" >&2; }

# Set by a start function while it runs: stops what it started so far when
# it fails, so no half-started daemon keeps ports and memory. Files stay for
# inspection; the next start or stop removes them.
ON_FAIL=

# Prints the error and the last lines of the given log files, then exits.
die() {
    local msg=$1
    shift
    log "error: $msg"
    local f
    for f in "$@"; do
        if [[ -f $f ]]; then
            printf -- '--- last 40 lines of %s ---\n' "$f" >&2
            tail -n 40 "$f" >&2 || true
        fi
    done
    if [[ -n $ON_FAIL ]]; then
        local cleanup=$ON_FAIL
        ON_FAIL=
        log "stopping what was started; logs kept in $DIR"
        "$cleanup" || true
    fi
    exit 1
}

# Runs "$@" every half second until it succeeds or $1 seconds have passed.
wait_until() {
    local secs=$1
    shift
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.5
    done
}

# A port is free when nothing accepts a connection on it. Checked with bash's
# /dev/tcp so no extra tool (ss, python) is needed on a fresh machine.
port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# First free port from $1 plus an offset derived from the state folder.
# Non-default bases keep clear of a system PostgreSQL on 5432, a system
# radosgw on 7480 and a Ceph mon on 3300. The offset matters when several
# folders (SEALPUB_SERVICES_DIR) start at the same time: a port is only
# taken when the daemon binds it, seconds after it was found free, so two
# starts scanning from the same base would pick the same port.
free_port() {
    local offset p
    offset=$(($(printf '%s' "$DIR" | cksum | cut -d' ' -f1) % 100))
    for ((p = $1 + offset; p < $1 + offset + 200; p++)); do
        if port_is_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free port in $(($1 + offset))..$((p - 1))"
}

# Succeeds when the pid in file $1 is alive and its command line contains $2.
# The second check keeps a recycled pid from being mistaken for (or killed
# as) one of our daemons.
pidfile_alive() {
    local pidfile=$1 expect=$2 pid cmdline
    [[ -f $pidfile ]] || return 1
    pid=$(head -n 1 "$pidfile" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"$expect"* ]]
}

# Sends SIGTERM to each live daemon named by the pid files, waits up to
# WAIT_EXIT seconds for all of them together, then SIGKILLs what is left.
stop_pidfiles() {
    local expect=$1
    shift
    local f pids=() names=() pid i
    for f in "$@"; do
        if pidfile_alive "$f" "$expect"; then
            pid=$(head -n 1 "$f")
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$(basename "$f" .pid)")
        fi
    done
    local deadline=$((SECONDS + WAIT_EXIT))
    for i in "${!pids[@]}"; do
        pid=${pids[i]}
        while kill -0 "$pid" 2>/dev/null; do
            if ((SECONDS >= deadline)); then
                log "${names[i]} (pid $pid) ignored SIGTERM for ${WAIT_EXIT}s; sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.2
        done
    done
    # SIGKILLed processes are reaped asynchronously; wait briefly so the
    # caller can delete their files and reuse their ports.
    for pid in "${pids[@]}"; do
        wait_until 5 bash -c "! kill -0 $pid" || true
    done
}

# Runs a command that starts a server in the background. The server must not
# inherit fd 9, the lock taken in main: it would hold the lock for its whole
# life and block every later start, stop and status. Its own output before
# it detaches goes to the file $1.
spawn() {
    local out=$1
    shift
    "$@" </dev/null >>"$out" 2>&1 9>&-
}

# Writes $DIR/env from the per-service parts, atomically, so a reader never
# sources a half-written file.
write_env() {
    local tmp=$DIR/env.tmp part
    : >"$tmp"
    for part in "$DIR/s3.env" "$DIR/pg.env"; do
        if [[ -f $part ]]; then
            cat "$part" >>"$tmp"
        fi
    done
    mv -f "$tmp" "$DIR/env"
}

# Prints "export NAME=value" lines, shell-quoted.
export_lines() {
    while (($#)); do
        printf 'export %s=%q\n' "$1" "$2"
        shift 2
    done
}

# Removes the folder once no service is left in it.
remove_dir_if_empty() {
    if [[ ! -e $CEPH_DIR && ! -e $PG_DIR ]]; then
        rm -rf "$DIR"
    else
        write_env
    fi
}

# ---------------------------------------------------------------- S3 (Ceph)

ceph_cli() {
    # Bounded: a misconfigured cluster makes the CLI hang for minutes.
    timeout 30 ceph -c "$CEPH_CONF" --connect-timeout 20 "$@"
}

s3_port() {
    sed -n 's/^export SEALPUB_RGW_PORT=//p' "$DIR/s3.env" 2>/dev/null
}

# Any HTTP answer means the gateway is serving; the status code is not
# checked because anonymous requests get 200 or 403 depending on the call.
rgw_answers() {
    local code
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$1/") || return 1
    [[ $code != 000 ]]
}

s3_healthy() {
    local port d
    [[ -f $DIR/s3.env ]] || return 1
    port=$(s3_port)
    [[ -n $port ]] || return 1
    for d in mon.a osd.0 client.rgw; do
        pidfile_alive "$CEPH_DIR/run/$d.pid" "$CEPH_CONF" || return 1
    done
    rgw_answers "$port"
}

# The settings below are each needed on this setup; see the comments.
write_ceph_conf() {
    local fsid=$1 mon_port=$2 rgw_port=$3
    # Ceph expands $cluster, $name and $id itself; they are escaped so they
    # reach the file unexpanded.
    cat >"$CEPH_CONF" <<EOF
# Throwaway single-node cluster written by sealpub scripts/services.sh.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public network = 127.0.0.1/32
ms bind ipv6 = false

# Loopback only and throwaway: no cephx, no keyrings to manage.
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
# Without these radosgw hangs 300 s with error -13 fetching the mon config.
ms mon client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc

# Everything the daemons and tools write stays under one folder.
run dir = $CEPH_DIR/run
log file = $CEPH_DIR/log/\$name.log
mon cluster log file = $CEPH_DIR/log/\$cluster.log
crash dir = $CEPH_DIR/crash

# One OSD: pools of one replica, placement across OSDs instead of hosts,
# few PGs (radosgw creates about eight pools).
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
mon allow pool size one = true
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false

# The monitor shuts itself down when its disk is under 5% free by default;
# test machines are often that full.
mon data avail crit = 1

[mon]
mon data = $CEPH_DIR/mon/\$cluster-\$id
pid file = $CEPH_DIR/run/\$name.pid

[osd]
osd data = $CEPH_DIR/osd/\$cluster-\$id
pid file = $CEPH_DIR/run/\$name.pid
osd objectstore = bluestore
# The block file must lie outside the OSD data folder (mkfs fails with
# ELOOP otherwise). bluestore creates it sparse.
bluestore block path = $CEPH_DIR/osd-block-\$id.img
bluestore block create = true
bluestore block size = $OSD_BLOCK_BYTES
# Keeps the OSD near 1 GiB resident (the minimum the autotuner allows).
osd memory target = 1073741824

[client.rgw]
pid file = $CEPH_DIR/run/\$name.pid
rgw data = $CEPH_DIR/rgw
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
# Deleted objects are otherwise freed only after 2 hours.
rgw gc obj min wait = 0
EOF
}

start_s3() {
    if s3_healthy; then
        log "s3: already running on port $(s3_port)"
        return 0
    fi
    if [[ -e $CEPH_DIR || -e $DIR/s3.env ]]; then
        log "s3: removing stale state"
        stop_s3
    fi
    local cmd
    for cmd in ceph ceph-mon ceph-osd radosgw radosgw-admin monmaptool uuidgen curl; do
        command -v "$cmd" >/dev/null ||
            die "$cmd not found; run scripts/install-deps.sh --services"
    done

    local t0=$SECONDS
    ON_FAIL=kill_ceph_daemons
    mkdir -p "$CEPH_DIR"/{run,log,mon,osd,rgw,crash}
    local fsid mon_port rgw_port
    fsid=$(uuidgen)
    mon_port=$(free_port 13300)
    rgw_port=$(free_port 17480)
    write_ceph_conf "$fsid" "$mon_port" "$rgw_port"
    local mon_log=$CEPH_DIR/log/mon.a.log
    local osd_log=$CEPH_DIR/log/osd.0.log
    local rgw_log=$CEPH_DIR/log/client.rgw.log
    # What the daemons print before they fork into the background.
    local out=$CEPH_DIR/log/daemons.out

    # Monitor. Daemons fork into the background and write their pid files.
    monmaptool --create --clobber --addv a "[v2:127.0.0.1:$mon_port]" \
        --fsid "$fsid" "$CEPH_DIR/monmap" >/dev/null
    ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" ||
        die "ceph-mon --mkfs failed" "$mon_log"
    spawn "$out" ceph-mon -c "$CEPH_CONF" -i a || die "ceph-mon did not start" "$out" "$mon_log"
    wait_until "$WAIT_MON" ceph_cli mon stat ||
        die "monitor not answering after ${WAIT_MON}s" "$mon_log"

    # One OSD on bluestore.
    local osd_uuid osd_id
    osd_uuid=$(uuidgen)
    osd_id=$(ceph_cli osd new "$osd_uuid") || die "ceph osd new failed" "$mon_log"
    # The pid file names and the env file assume osd.0.
    [[ $osd_id == 0 ]] || die "expected OSD id 0, got '$osd_id'"
    mkdir -p "$CEPH_DIR/osd/ceph-0"
    ceph-osd -c "$CEPH_CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1 ||
        die "ceph-osd --mkfs failed" "$osd_log"
    spawn "$out" ceph-osd -c "$CEPH_CONF" -i 0 || die "ceph-osd did not start" "$out" "$osd_log"
    wait_until "$WAIT_OSD" osd_is_up ||
        die "OSD not up after ${WAIT_OSD}s" "$osd_log" "$mon_log"

    # The gateway creates its pools on first start; waiting for the port
    # covers that.
    spawn "$out" radosgw -c "$CEPH_CONF" -n client.rgw || die "radosgw did not start" "$out" "$rgw_log"
    wait_until "$WAIT_RGW" rgw_answers "$rgw_port" ||
        die "radosgw not answering on 127.0.0.1:$rgw_port after ${WAIT_RGW}s" "$rgw_log"

    timeout 60 radosgw-admin -c "$CEPH_CONF" user create --uid=sealpub-test \
        --display-name="sealpub tests" \
        --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" >/dev/null ||
        die "radosgw-admin user create failed" "$CEPH_DIR/log/client.admin.log"
    create_bucket "$rgw_port" || die "could not create bucket $S3_BUCKET" "$rgw_log"

    export_lines \
        AWS_ACCESS_KEY_ID "$S3_ACCESS_KEY" \
        AWS_SECRET_ACCESS_KEY "$S3_SECRET_KEY" \
        AWS_REGION "$S3_REGION" \
        AWS_ENDPOINT_URL_S3 "http://127.0.0.1:$rgw_port" \
        SEALPUB_TEST_BUCKET "$S3_BUCKET" \
        SEALPUB_TEST_S3 "s3://$S3_BUCKET" \
        SEALPUB_RGW_PORT "$rgw_port" \
        SEALPUB_RGW_PIDFILE "$CEPH_DIR/run/client.rgw.pid" \
        SEALPUB_RGW_LOG "$rgw_log" \
        SEALPUB_CEPH_CONF "$CEPH_CONF" \
        >"$DIR/s3.env"
    write_env
    ON_FAIL=
    log "s3: radosgw on http://127.0.0.1:$rgw_port, bucket $S3_BUCKET ($((SECONDS - t0)) s)"
}

osd_is_up() {
    [[ $(ceph_cli osd stat) == *"1 up"* ]]
}

# Creates the test bucket with a signed request. The credentials go through
# curl's config on stdin so they never appear in the process list.
create_bucket() {
    local port=$1 code body=$CEPH_DIR/create-bucket.xml
    code=$(printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" |
        curl -sS -K - -m 30 -o "$body" -w '%{http_code}' \
            --aws-sigv4 "aws:amz:$S3_REGION:s3" \
            -H "x-amz-content-sha256: $EMPTY_SHA256" \
            -X PUT "http://127.0.0.1:$port/$S3_BUCKET") || return 1
    # 409 BucketAlreadyOwnedByYou is fine too: the bucket is there.
    if [[ $code == 200 ]] || { [[ $code == 409 ]] && grep -q BucketAlreadyOwnedByYou "$body"; }; then
        return 0
    fi
    log "PUT /$S3_BUCKET answered HTTP $code: $(head -c 500 "$body")"
    return 1
}

kill_ceph_daemons() {
    # One at a time, clients before servers: each takes about 2 s alone,
    # but radosgw stopped together with the OSD hangs in its final shutdown
    # waiting for RADOS, and the OSD wants the monitor to mark it down.
    stop_pidfiles "$CEPH_CONF" "$CEPH_DIR/run/client.rgw.pid"
    stop_pidfiles "$CEPH_CONF" "$CEPH_DIR/run/osd.0.pid"
    stop_pidfiles "$CEPH_CONF" "$CEPH_DIR/run/mon.a.pid"
}

stop_s3() {
    if [[ -d $CEPH_DIR ]]; then
        kill_ceph_daemons
    fi
    # Includes the sparse OSD block file.
    rm -rf "$CEPH_DIR" "$DIR/s3.env"
}

# ---------------------------------------------------------------- PostgreSQL

# PostgreSQL refuses to run as root; as root, run its tools as the postgres
# system user. As any other user, run them as that user.
as_pg() {
    if ((EUID == 0)); then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_port() {
    sed -n 's/^export SEALPUB_PG_PORT=//p' "$DIR/pg.env" 2>/dev/null
}

pg_healthy() {
    local port
    [[ -f $DIR/pg.env ]] || return 1
    port=$(pg_port)
    [[ -n $port ]] || return 1
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 5
}

start_pg() {
    if pg_healthy; then
        log "pg: already running on port $(pg_port)"
        return 0
    fi
    if [[ -e $PG_DIR || -e $DIR/pg.env ]]; then
        log "pg: removing stale state"
        stop_pg
    fi
    [[ -x $PG_BIN/initdb ]] ||
        die "$PG_BIN/initdb not found; run scripts/install-deps.sh --services"

    local t0=$SECONDS
    if ((EUID == 0)) && ! id -u postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --user-group postgres
    fi
    # The postgres user must be able to reach its data folder.
    mkdir -p "$PG_DIR/sock"
    chmod 755 "$DIR"
    if ((EUID == 0)); then
        chown -R postgres: "$PG_DIR"
        runuser -u postgres -- test -w "$PG_DIR" ||
            die "user postgres cannot reach $PG_DIR; use a SEALPUB_SERVICES_DIR whose parents are world-searchable (e.g. under /tmp)"
    fi

    local port
    ON_FAIL=kill_postgres
    port=$(free_port 15432)
    # --no-sync and trust auth: the cluster is throwaway and loopback-only.
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
        die "initdb failed" "$PG_DIR/initdb.log"
    # Settings go into postgresql.conf rather than pg_ctl -o, so a test that
    # stops and restarts the server with plain "pg_ctl -D $SEALPUB_PG_DATA
    # start" gets the same port and socket folder back.
    cat >>"$PG_DATA/postgresql.conf" <<EOF

# Added by sealpub scripts/services.sh: throwaway test cluster.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PG_DIR/sock'
fsync = off
EOF
    spawn "$PG_DIR/pg_ctl.out" as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$WAIT_PG" start ||
        die "pg_ctl start failed" "$PG_DIR/pg_ctl.out" "$PG_LOG"
    wait_until "$WAIT_PG" "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" ||
        die "postgres not ready after ${WAIT_PG}s" "$PG_LOG"
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres "$PG_DATABASE" ||
        die "createdb $PG_DATABASE failed" "$PG_LOG"

    export_lines \
        DATABASE_URL "postgresql://postgres@127.0.0.1:$port/$PG_DATABASE" \
        SEALPUB_PG_PORT "$port" \
        SEALPUB_PG_DATA "$PG_DATA" \
        SEALPUB_PG_BIN "$PG_BIN" \
        SEALPUB_PG_LOG "$PG_LOG" \
        >"$DIR/pg.env"
    write_env
    ON_FAIL=
    log "pg: postgres on 127.0.0.1:$port, database $PG_DATABASE ($((SECONDS - t0)) s)"
}

kill_postgres() {
    [[ -f $PG_DATA/postmaster.pid ]] || return 0
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$WAIT_EXIT" stop >/dev/null 2>&1 ||
        log "pg: pg_ctl stop failed; killing the postmaster"
    # Covers a failed pg_ctl and a postmaster left by a crashed start.
    stop_pidfiles "$PG_DATA" "$PG_DATA/postmaster.pid"
}

stop_pg() {
    kill_postgres
    rm -rf "$PG_DIR" "$DIR/pg.env"
}

# ---------------------------------------------------------------- commands

status() {
    local rc=0 port
    if s3_healthy; then
        echo "s3: up, http://127.0.0.1:$(s3_port)"
    elif [[ -e $CEPH_DIR ]]; then
        echo "s3: unhealthy (state in $CEPH_DIR)"
        rc=1
    else
        echo "s3: stopped"
        ((rc)) || rc=3
    fi
    if pg_healthy; then
        port=$(pg_port)
        echo "pg: up, 127.0.0.1:$port"
    elif [[ -e $PG_DIR ]]; then
        echo "pg: unhealthy (state in $PG_DIR)"
        rc=1
    else
        echo "pg: stopped"
        ((rc)) || rc=3
    fi
    return "$rc"
}

usage() {
    sed -n '6,9p' "$0" | sed 's/^# //' >&2
    exit 2
}

main() {
    local cmd=${1:-}
    local what=${2:-all}
    case $what in
    s3 | pg | all) ;;
    *) usage ;;
    esac

    # One start/stop at a time per folder. The lock sits beside the folder
    # because "stop" deletes the folder.
    mkdir -p "$(dirname "$DIR")"
    exec 9>"${DIR%/}.lock"
    flock -w 300 9 || die "another services.sh holds ${DIR%/}.lock"

    case $cmd in
    start)
        mkdir -p "$DIR"
        if [[ $what == s3 || $what == all ]]; then start_s3; fi
        if [[ $what == pg || $what == all ]]; then start_pg; fi
        ;;
    stop)
        local t0=$SECONDS
        if [[ $what == s3 || $what == all ]]; then stop_s3; fi
        if [[ $what == pg || $what == all ]]; then stop_pg; fi
        if [[ -d $DIR ]]; then remove_dir_if_empty; fi
        log "stopped $what ($((SECONDS - t0)) s)"
        ;;
    status) status ;;
    env)
        [[ -f $DIR/env ]] || die "no $DIR/env; run: $0 start"
        cat "$DIR/env"
        ;;
    *) usage ;;
    esac
}

main "$@"
