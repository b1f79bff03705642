#!/usr/bin/env bash
# Sourced by the scripts that install Debian packages on this machine
# (install-deps.sh, cross-arm64.sh). Defines:
#   missing_packages PKG...  prints, one per line, those dpkg does not report
#                            fully installed ("ii"; an unknown package counts
#                            as missing);
#   apt_install PKG...       apt-get update, then installs them without
#                            recommends (Ceph and clang recommend hundreds of
#                            MiB the build and tests never use).
missing_packages() {
    local p status
    for p in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) || status=
        [[ $status == ii* ]] || echo "$p"
    done
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "$@"
}
