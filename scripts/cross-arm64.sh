#!/usr/bin/env bash
# Cross-builds sealpub for arm64 on an x86_64 Debian 12 machine, runs the
# whole test suite with the arm64 binaries under qemu-user, and builds the
# arm64 .deb.
#
# Usage: scripts/cross-arm64.sh [--no-tests | --tests-only] [--no-deb]
#   --no-tests    sysroot, build and .deb only (scripts/test.sh does this
#                 before it starts the servers)
#   --tests-only  the tests against an existing build (scripts/test.sh runs
#                 this inside scripts/with-services.sh, after the native suite)
#
# Steps, each skipped when already done:
#   1. installs (root, apt) the build machine's tools: gcc-aarch64-linux-gnu,
#      qemu-user-static, mmdebstrap; nothing when all are present;
#   2. unpacks the arm64 -dev packages sealpub needs into a sysroot
#      (${SEALPUB_ARM64_SYSROOT:-build-arm64-sysroot}), with their
#      dependencies, from the Debian mirrors, without installing anything
#      into / (see cmake/toolchain-aarch64.cmake for why not multiarch);
#   3. configures and builds ${SEALPUB_ARM64_BUILD_DIR:-build-arm64} with
#      cmake/toolchain-aarch64.cmake, warnings as errors;
#   4. lets the kernel run arm64 files: mounts binfmt_misc, registers
#      qemu-aarch64 from /usr/lib/binfmt.d/qemu-aarch64.conf and points
#      qemu's default library prefix (/etc/qemu-binfmt/aarch64) at the
#      sysroot. Criterion re-executes its test binary for every test and the
#      integration tests run the arm64 sealpub from bash and python (some
#      with env -i), so this is what makes them run, not ctest's emulator;
#   5. runs the tests under qemu: every Criterion unit test, the fuzz
#      replays, the stress test, the format test and, when the local S3 and
#      PostgreSQL are up (scripts/services.sh env), the integration tests
#      against them with the arm64 sealpub, except those in ARM64_SKIP
#      (chosen for time, each with its reason); prints what ran and, by name,
#      what did not and why. Without the servers, the server tests are
#      listed as not run (a failure under CI=true/SEALPUB_REQUIRE_SERVICES=1);
#   6. prints "sealpub version --verbose" as qemu runs it;
#   7. builds the arm64 .deb with cpack and lists it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sysroot=${SEALPUB_ARM64_SYSROOT:-$root/build-arm64-sysroot}
build=${SEALPUB_ARM64_BUILD_DIR:-$root/build-arm64}
# The Debian release of the arm64 libraries; bullseye for the aarch64 wheel
# (scripts/wheels.sh), whose glibc floor is the oldest supported system.
suite=${SEALPUB_ARM64_SUITE:-bookworm}

HOST_PKGS=(build-essential cmake pkg-config gcc-aarch64-linux-gnu qemu-user-static mmdebstrap)
# The arm64 side: what cmake/SealpubDeps.cmake finds, plus the C library.
SYSROOT_PKGS=(libc6-dev libssl-dev libdeflate-dev liburing-dev libcurl4-openssl-dev
    libpq-dev libsqlite3-dev libcriterion-dev libisal-dev)
# Need the local S3 gateway or PostgreSQL.
SERVER_TESTS='^(unit\.test_(s3_live|registry_pg|s3_faults)|integration\..*)$'
# Run by the native suite only, to keep CI well under 30 minutes; the
# reason is printed with the list of what did not run.
declare -A ARM64_SKIP=(
    [hermetic.unit_suites]="runs the unit suites again under a hostile environment: it checks environment handling, which is the same C on both architectures, and doubles the unit time under qemu"
    [integration.it_s3_creds]="the AWS credential chain (files, environment, local IMDS/ECS servers): parsing and HTTP that are the same C on both architectures; about 80 s under qemu"
    [integration.it_faults]="fault injection and process control (proxy, killed gateway, stopped PostgreSQL) test retry logic that is the same C on both architectures; its stall-timing windows and length make it the costliest and least arm64-specific test under qemu"
    [format.reference_reader]="the independent Python reader and the appendix vectors: Python is the same on both architectures, and the arm64 C reader meets the same vectors in unit.test_vectors; 440 s under qemu"
    [integration.it_claims]="claims, collisions, misconfiguration and recovery: registry and process logic that is the same C on both architectures; 125 s under qemu"
    [integration.it_manage]="list, delete, retention and dry runs: registry logic, the same C on both architectures; 66 s under qemu"
    [integration.it_bad_input]="the table of error messages: argument parsing, the same C on both architectures; 50 s under qemu"
    [integration.it_secrets]="secrets never echoed: message formatting, the same C on both architectures; 33 s under qemu"
    [integration.it_s3]="S3 signing, multipart and aborts against radosgw: the same C on both architectures (unit.test_s3_live and unit.test_s3_faults run the store under qemu); 55 s under qemu"
    [integration.it_cdn]="the public-URL store and semver keys: HTTP and key logic, the same C on both architectures; 27 s under qemu"
    [integration.it_rewrap]="KEK rotation: registry logic (the wrap itself is in unit.test_kek under qemu); 22 s under qemu"
    [integration.it_docker]="the Docker engine API stream: HTTP over a socket, the same C on both architectures, against an amd64 engine"
    [integration.it_lifecycle]="a shell script against radosgw's lifecycle API: no sealpub code of either architecture runs in it"
    [integration.it_woodpecker]="pipeline files against Woodpecker's schema: no architecture-specific code"
    [integration.it_man_completion]="the man page and shell completion: text, the same on both architectures"
    [integration.it_s3_settings]="S3 object settings and metadata: request headers, the same C on both architectures"
)

log() { printf 'cross-arm64: %s\n' "$*" >&2; }
t_start=$SECONDS
step() { log "[$((SECONDS - t_start)) s] $*"; }

# shellcheck source=scripts/apt-packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-packages.sh"

install_host_tools() {
    local missing=()
    mapfile -t missing < <(missing_packages "${HOST_PKGS[@]}")
    if ((${#missing[@]} == 0)); then
        step "host tools: all ${#HOST_PKGS[@]} packages already installed"
        return 0
    fi
    if ((EUID != 0)); then
        log "error: missing ${missing[*]}; run as root (it calls apt-get)"
        exit 1
    fi
    step "host tools: installing ${missing[*]}"
    apt_install "${missing[@]}"
}

# The stamp records what the sysroot was made from; a different package list
# or suite makes a new one.
make_sysroot() {
    local want stamp=$sysroot/.sealpub-sysroot
    want="suite=$suite packages=${SYSROOT_PKGS[*]}"
    if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
        step "sysroot: $sysroot is up to date"
        return 0
    fi
    if ((EUID != 0)); then
        log "error: making the sysroot needs root (mmdebstrap --mode=root)"
        exit 1
    fi
    step "sysroot: unpacking ${SYSROOT_PKGS[*]} (arm64, $suite) into $sysroot"
    # Built beside the final folder and moved in place at the end, so an
    # interrupted run never leaves a half-filled sysroot with a valid stamp.
    local tmp=$sysroot.tmp
    rm -rf "$tmp"
    local include
    include=$(
        IFS=,
        echo "${SYSROOT_PKGS[*]}"
    )
    # extract: unpack only, no maintainer scripts (they would need arm64
    # execution). The merged-usr hook makes /lib -> usr/lib as on a real
    # bookworm system, where the arm64 dynamic loader is looked up.
    local mmlog=$sysroot.log
    local mm=(mmdebstrap --mode=root --variant=extract --arch=arm64
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --include="$include" "$suite" "$tmp")
    # shellcheck source=scripts/debian-mirror.sh
    source "$root/scripts/debian-mirror.sh"
    mm_run "$suite" "$mmlog" "$tmp" "${mm[@]}" || { log "error: mmdebstrap failed; full log in $mmlog"; exit 1; }
    rm -f "$mmlog"
    # Debian's -dev symlinks may be absolute (libm.so -> /lib/...so.6); inside
    # a sysroot they must point into it, so make them relative.
    local link target
    while IFS= read -r -d '' link; do
        target=$(readlink "$link")
        ln -sfn --relative "$tmp$target" "$link"
    done < <(find "$tmp" -type l -lname '/*' -print0)
    printf '%s\n' "$want" >"$tmp/.sealpub-sysroot"
    rm -rf "$sysroot"
    mv "$tmp" "$sysroot"
    step "sysroot: $(du -sh "$sysroot" | cut -f1)"
}

# Lets the kernel execute arm64 files through qemu-user (needs root): a
# machine-wide setting, left in place for the next run. Returns non-zero when
# it cannot be done here.
setup_binfmt() {
    local conf=/usr/lib/binfmt.d/qemu-aarch64.conf dir=/proc/sys/fs/binfmt_misc
    if ((EUID != 0)); then
        log "cannot register qemu-aarch64 with binfmt_misc: not root"
        return 1
    fi
    if ! mountpoint -q "$dir"; then
        mount -t binfmt_misc binfmt_misc "$dir" || {
            log "cannot mount binfmt_misc at $dir"
            return 1
        }
    fi
    if [[ ! -e $dir/qemu-aarch64 ]]; then
        [[ -r $conf ]] || {
            log "$conf missing (qemu-user-static)"
            return 1
        }
        # One line, no newline: the kernel takes the whole write as the rule.
        printf '%s' "$(grep -v '^#' "$conf")" >"$dir/register" || return 1
    fi
    # Debian's qemu looks for the arm64 loader and libraries under
    # /etc/qemu-binfmt/aarch64 unless QEMU_LD_PREFIX says otherwise; a link
    # rather than the variable, because some tests run sealpub with env -i.
    mkdir -p /etc/qemu-binfmt
    ln -sfn "$sysroot" /etc/qemu-binfmt/aarch64
    [[ $(cat "$dir/qemu-aarch64" | head -1) == enabled ]]
}

# The tests under qemu. Prints what ran and what did not, by name.
run_arm64_tests() {
    local status=0 not_run=() t0=$SECONDS
    local all
    all=$(ctest --test-dir "$build" -N | sed -n 's/^ *Test *#[0-9]*: //p')
    local have_services=0 strict=0
    [[ -n ${AWS_ENDPOINT_URL_S3:-} && -n ${DATABASE_URL:-} ]] && have_services=1
    [[ ${SEALPUB_REQUIRE_SERVICES:-0} == 1 || ${CI:-} == true || ${CI:-} == 1 ]] && strict=1

    local exclude=() t
    for t in "${!ARM64_SKIP[@]}"; do
        exclude+=("^${t//./\\.}\$")
        not_run+=("$t: ${ARM64_SKIP[$t]}")
    done
    if ((!have_services)); then
        while IFS= read -r t; do
            [[ $t =~ $SERVER_TESTS && -z ${ARM64_SKIP[$t]:-} ]] &&
                not_run+=("$t: no local S3/PostgreSQL (run inside scripts/with-services.sh)")
        done <<<"$all"
        exclude+=("$SERVER_TESTS")
        ((strict)) && status=1
    fi
    if ! setup_binfmt; then
        # Without it neither Criterion (BoxFort re-executes the test binary)
        # nor the CLI started from bash can run; ctest's emulator still
        # runs the plain programs (fuzz replays, stress).
        while IFS= read -r t; do
            [[ $t =~ ^(unit|integration|format|hermetic)\. ]] &&
                not_run+=("$t: the kernel cannot execute arm64 files (no binfmt_misc)")
        done <<<"$all"
        exclude+=('^(unit|integration|format|hermetic)\.')
        status=1
    fi
    local regex
    regex=$(IFS='|'; echo "${exclude[*]}")
    local notes=$build/not-run-under-qemu.txt
    : >"$notes"
    step "tests under qemu-aarch64 (binfmt_misc), excluding: $regex"
    SEALPUB_NOT_RUN_LOG=$notes ctest --test-dir "$build" --output-on-failure -j"$(nproc)" \
        ${regex:+-E "$regex"} 2>&1 | tee "$build/ctest-arm64.log" || true
    grep -q '100% tests passed' "$build/ctest-arm64.log" || status=1

    echo "== arm64 (aarch64 under qemu-user, $((SECONDS - t0)) s): what ran"
    sed -n 's/^.*Test *#[0-9]*: \([^ ]*\) [.]* *\**\([^0-9]*[^ 0-9]\) *[0-9.]* sec$/  \2  \1/p' "$build/ctest-arm64.log" | sort -k2
    echo "== arm64: not run under qemu"
    if [[ -s $notes ]]; then sed 's/^/  check in /' "$notes"; fi
    # Criterion suites with a skipped case exit 77: ctest says "Skipped".
    sed -n '/The following tests did not run/,/^$/s/^[[:space:]]*[0-9]* - \([^ ]*\) (\(.*\))$/  \1: \2 (see its output in the log above)/p' \
        "$build/ctest-arm64.log"
    local n
    for n in "${not_run[@]}"; do echo "  $n"; done
    ((${#not_run[@]})) || [[ -s $notes ]] || echo "  (none)"
    return $status
}

main() {
    local run_tests=1 make_deb=1 build_it=1
    while (($#)); do
        case $1 in
        --no-tests) run_tests=0 ;;
        --tests-only) build_it=0 make_deb=0 ;;
        --no-deb) make_deb=0 ;;
        *)
            echo "usage: $0 [--no-tests | --tests-only] [--no-deb]" >&2
            exit 2
            ;;
        esac
        shift
    done

    local status=0
    if ((build_it)); then
        install_host_tools
        make_sysroot
        step "configure + build: $build"
        cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake" \
            -DSEALPUB_ARM64_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib/aarch64-linux-gnu \
            -DSEALPUB_WERROR=ON >/dev/null
        cmake --build "$build" -j"$(nproc)"
        if command -v file >/dev/null; then file -b "$build/sealpub" >&2; fi
    elif [[ ! -x $build/sealpub ]]; then
        log "error: no arm64 build in $build (run without --tests-only first)"
        exit 1
    fi

    if ((run_tests)); then
        run_arm64_tests || status=1
        step "sealpub version --verbose under qemu"
        "$build/sealpub" version --verbose || status=1
    fi

    if ((make_deb)); then
        step "cpack -G DEB"
        (cd "$build" && cpack -G DEB >/dev/null)
        local deb
        for deb in "$build"/sealpub_*_arm64.deb; do
            dpkg-deb -f "$deb" Package Version Architecture Depends
            dpkg-deb -c "$deb" | awk '{print $6}'
            echo "$deb"
        done
    fi
    step "done, status $status"
    return "$status"
}

main "$@"
