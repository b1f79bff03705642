#!/usr/bin/env bash
# Installs the Debian 12 packages sealpub needs to build and test; with
# --services also the local S3 gateway (Ceph radosgw) and PostgreSQL 15.
#
# Usage: scripts/install-deps.sh [--services] [--docker]
#
# Idempotent: when every package is already installed it touches neither the
# network nor apt, so CI and developers can run it before every build.
set -euo pipefail

BUILD_PKGS=(
    build-essential cmake pkg-config
    libssl-dev libdeflate-dev liburing-dev libcurl4-openssl-dev libpq-dev
    libsqlite3-dev libcriterion-dev libisal-dev
    clang llvm libclang-rt-14-dev
    pigz python3 python3-yaml python3-jsonschema python3-cryptography
    sqlite3 curl time valgrind openssl socat # socat: a TLS front for the fault proxy in tests
    groff-base man-db bash-completion zsh
    patchelf lintian mmdebstrap arch-test util-linux # wheels, .deb checks, Debian 11/12/13 matrix (arm64 roots), taskset
)

# The servers the integration tests and benchmarks run against (see
# scripts/services.sh). uuid-runtime provides uuidgen for the OSD id.
SERVICE_PKGS=(radosgw ceph-mon ceph-osd uuid-runtime postgresql-15)

# A real Docker engine for the docker-daemon: source and --docker-load tests
# (scripts/docker.sh starts it privately), and mmdebstrap for the Debian base
# image, since no registry can be reached to pull one.
DOCKER_PKGS=(docker.io mmdebstrap)

usage() {
    echo "usage: $0 [--services] [--docker]" >&2
    exit 2
}

# shellcheck source=scripts/apt-packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-packages.sh"

# The postgresql-15 package would otherwise create and start a "main"
# cluster on port 5432 that nobody uses and that survives reboots. The
# throwaway clusters of scripts/services.sh need nothing from it. This must
# be written before the package's postinst runs, hence before apt-get.
disable_default_pg_cluster() {
    local dir=/etc/postgresql-common/createcluster.d
    local file=$dir/sealpub-no-main-cluster.conf
    if [[ -f $file ]]; then
        return
    fi
    mkdir -p "$dir"
    printf '%s\n' \
        '# Written by sealpub scripts/install-deps.sh: no default cluster.' \
        'create_main_cluster = false' >"$file"
}

main() {
    local with_services=0 with_docker=0
    while (($#)); do
        case $1 in
        --services) with_services=1 ;;
        --docker) with_docker=1 ;;
        -h | --help) usage ;;
        *) usage ;;
        esac
        shift
    done

    if ((EUID != 0)); then
        echo "$0: must run as root (it calls apt-get)" >&2
        exit 1
    fi

    local pkgs=("${BUILD_PKGS[@]}")
    if ((with_services)); then
        pkgs+=("${SERVICE_PKGS[@]}")
    fi
    if ((with_docker)); then
        pkgs+=("${DOCKER_PKGS[@]}")
    fi

    local missing=()
    mapfile -t missing < <(missing_packages "${pkgs[@]}")
    if ((${#missing[@]} == 0)); then
        echo "install-deps: all ${#pkgs[@]} packages already installed"
        return 0
    fi
    echo "install-deps: installing ${missing[*]}"

    if ((with_services)); then
        disable_default_pg_cluster
    fi

    apt_install "${missing[@]}"
}

main "$@"
