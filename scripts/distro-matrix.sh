#!/usr/bin/env bash
# Builds sealpub (warnings as errors) and runs the server-free tests inside
# Debian 11 (bullseye), 12 (bookworm) and 13 (trixie) root filesystems made
# with mmdebstrap, to prove the toolchain and library floors of
# docs/PACKAGING.md ("Supported distributions").
#
# Usage: scripts/distro-matrix.sh [SUITE[:build]...]   (default: bullseye bookworm trixie)
#   SUITE:build  builds (warnings as errors) without running the tests
#
# Each suite's root filesystem (build tools and -dev packages only, about
# 400 MB) is made once and kept as a tarball in $SEALPUB_ROOTFS_CACHE
# (default /var/cache/sealpub-rootfs), named after a hash of its package
# list: a second run on the same machine unpacks it (seconds) instead of
# downloading again; a fresh machine makes it (about 1-2 min per suite).
# The source tree (git's tracked and untracked-not-ignored files) is copied
# into the unpacked tree and built there with chroot; the tests that need
# no server run under ctest. Prints one line per suite with its durations;
# exit status non-zero when any suite failed. Needs root (mmdebstrap
# --mode=root, chroot, mount).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${SEALPUB_ROOTFS_CACHE:-/var/cache/sealpub-rootfs}
work=${SEALPUB_MATRIX_WORK:-/tmp/sealpub-matrix}
jobs=${SEALPUB_MATRIX_JOBS:-$(nproc)}

# What cmake/SealpubDeps.cmake finds, the compiler, and what the format test
# (python3-cryptography) and the hermetic test need. Same names in all three
# suites.
PKGS=(build-essential cmake pkg-config ca-certificates
    libssl-dev libdeflate-dev liburing-dev libcurl4-openssl-dev libpq-dev
    libsqlite3-dev libcriterion-dev libisal-dev python3 python3-cryptography)
# Need the local S3 gateway or PostgreSQL (run by scripts/test.sh's main suite).
SERVER_TESTS='^unit\.test_(s3_live|registry_pg|s3_faults)$'

log() { printf 'distro-matrix: %s\n' "$*" >&2; }

# rootfs_tar SUITE: prints the cached tarball's path, making it when missing.
rootfs_tar() {
    local suite=$1 hash tar
    hash=$(printf '%s\n' "$suite" "${PKGS[@]}" | sha256sum | cut -c1-12)
    tar=$cache/$suite-build-$hash.tar
    if [[ ! -s $tar ]]; then
        mkdir -p "$cache"
        local include
        include=$(IFS=,; echo "${PKGS[*]}")
        log "$suite: making the root filesystem (mmdebstrap, ${#PKGS[@]} packages) into $tar"
        # Written beside, moved in place when complete: an interrupted run
        # never leaves a truncated tarball that looks cached.
        local mm=(nice mmdebstrap --mode=root --variant=minbase --format=tar --include="$include" "$suite" "$tar.tmp")
        # shellcheck source=scripts/debian-mirror.sh
        source "$root/scripts/debian-mirror.sh"
        mm_run "$suite" "$tar.log" "$tar.tmp" "${mm[@]}" || return 1
        mv "$tar.tmp" "$tar"
        rm -f "$tar.log"
    fi
    printf '%s\n' "$tar"
}

# run_suite SUITE: unpack, copy the source, build, test. Prints the timing line.
run_suite() {
    local suite=${1%:build} t0=$SECONDS t1 t2 t3 tar dir=$work/${1%:build} status=0 tests=1
    [[ $1 == *:build ]] && tests=0
    tar=$(rootfs_tar "$suite") || { echo "$suite: FAILED making the root filesystem"; return 1; }
    t1=$SECONDS
    umount_all "$dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -C "$dir" -xf "$tar"
    mkdir -p "$dir/src"
    (cd "$root" && git ls-files -z -co --exclude-standard | tar --null -T - -cf - 2>/dev/null) | tar -C "$dir/src" -xf -
    mount -t proc proc "$dir/proc"
    mount --rbind /dev "$dir/dev"
    mount --make-rslave "$dir/dev"
    mount -t tmpfs tmpfs "$dir/tmp"
    # The test data outside the repository (SP_SHARED_DIR = source/../shared:
    # the AWS SigV4 suite), read-only.
    if [[ -d $root/../shared ]]; then
        mkdir -p "$dir/shared"
        mount --bind "$root/../shared" "$dir/shared"
        mount -o remount,bind,ro "$dir/shared"
    fi
    t2=$SECONDS
    local versions
    versions=$(chroot "$dir" sh -c 'cmake --version | head -1; gcc -dumpfullversion; for p in libssl-dev libcurl4-openssl-dev libpq-dev libdeflate-dev liburing-dev libcriterion-dev; do dpkg-query -W -f "\${Package} \${Version}\n" $p; done' | tr '\n' ';')
    log "$suite: $versions"
    if ! chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        sh -c "cmake -S /src -B /build -DSEALPUB_WERROR=ON >/build.log 2>&1 && nice cmake --build /build -j$jobs >>/build.log 2>&1" </dev/null; then
        tail -n 40 "$dir/build.log" >&2
        status=1
    fi
    t3=$SECONDS
    local summary="build failed"
    ((status == 0 && !tests)) && summary="built; tests not run (:build)"
    if ((status == 0 && tests)); then
        # cd rather than ctest --test-dir, which needs CTest 3.20.
        if chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 CI=true \
            sh -c "cd /build && nice ctest -L 'unit|fuzz|stress|format|hermetic' -E '$SERVER_TESTS' -j$jobs --output-on-failure" \
            >"$dir/test.log" 2>&1 </dev/null; then
            summary=$(grep -E 'tests passed|tests failed' "$dir/test.log" | tail -1)
        else
            sed -n '/The following tests FAILED/,$p' "$dir/test.log" >&2
            summary=$(grep -E 'tests passed|tests failed' "$dir/test.log" | tail -1)
            status=1
        fi
    fi
    umount_all "$dir"
    echo "$suite: $([[ $status == 0 ]] && echo passed || echo FAILED): $summary; rootfs $((t1 - t0)) s, unpack $((t2 - t1)) s, build $((t3 - t2)) s, tests $((SECONDS - t3)) s; logs $dir/{build,test}.log"
    return $status
}

umount_all() {
    local d=$1 m
    [[ -d $d ]] || return 0
    for m in shared tmp dev proc; do
        if mountpoint -q "$d/$m"; then umount -R "$d/$m" || umount -lR "$d/$m"; fi
    done
}

main() {
    if ((EUID != 0)); then
        log "error: needs root (mmdebstrap --mode=root, chroot)"
        exit 1
    fi
    command -v mmdebstrap >/dev/null || { log "error: mmdebstrap missing (scripts/install-deps.sh installs it)"; exit 1; }
    local suites=("$@") s status=0 t0=$SECONDS
    ((${#suites[@]})) || suites=(bullseye bookworm trixie)
    local results=()
    for s in "${suites[@]}"; do
        results+=("$(run_suite "$s")") || status=1
    done
    echo "== distro matrix ($((SECONDS - t0)) s)"
    printf '  %s\n' "${results[@]}"
    return $status
}

main "$@"
