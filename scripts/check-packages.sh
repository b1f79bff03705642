#!/usr/bin/env bash
# Checks the amd64 and arm64 .deb packages: both declare the same Depends,
# a real Maintainer, carry the copyright file, and lintian reports no tag
# (the one false positive is overridden, with its reason, in
# cmake/lintian-overrides).
#
# Usage: scripts/check-packages.sh [AMD64_BUILD_DIR [ARM64_BUILD_DIR]]
#   defaults: $SEALPUB_BUILD_DIR or build, and $SEALPUB_ARM64_BUILD_DIR or build-arm64
# Runs cpack in each (configured with -DCMAKE_INSTALL_PREFIX=/usr by
# scripts/build.sh and scripts/cross-arm64.sh). Exit status non-zero on any
# difference or tag.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
amd=${1:-${SEALPUB_BUILD_DIR:-$root/build}}
arm=${2:-${SEALPUB_ARM64_BUILD_DIR:-$root/build-arm64}}
status=0
say() { printf 'check-packages: %s\n' "$*"; }

debs=()
for b in "$amd" "$arm"; do
    rm -f "$b"/sealpub_*.deb
    (cd "$b" && nice cpack -G DEB >/dev/null) || { say "cpack failed in $b"; exit 1; }
    debs+=("$(ls "$b"/sealpub_*.deb)")
done

for d in "${debs[@]}"; do
    say "$(basename "$d"): $(dpkg-deb -f "$d" Architecture) Maintainer: $(dpkg-deb -f "$d" Maintainer)"
    if dpkg-deb -f "$d" Maintainer | grep -q '\.invalid>'; then
        # A placeholder is fine for a test build, never for a release.
        if [[ ${SEALPUB_RELEASE:-0} == 1 ]]; then
            say "FAIL: placeholder Maintainer in a release build (set DEBFULLNAME/DEBEMAIL)"
            status=1
        else
            say "note: placeholder Maintainer (DEBFULLNAME/DEBEMAIL or git user.name/email unset)"
        fi
    fi
    # Listed whole first: grep -q would close the pipe early, and pipefail
    # would report dpkg-deb's SIGPIPE as a failure.
    files=$(dpkg-deb -c "$d")
    grep -q '/usr/share/doc/sealpub/copyright$' <<<"$files" || { say "FAIL: $d has no copyright file"; status=1; }
    if command -v lintian >/dev/null; then
        tags=$(nice lintian --tag-display-limit 0 "$d" 2>&1 | grep -v 'running with root privileges' || true)
        if [[ -n $tags ]]; then
            say "FAIL: lintian on $(basename "$d"):"
            printf '  %s\n' "$tags"
            status=1
        else
            say "lintian: clean ($(basename "$d"))"
        fi
    else
        say "FAIL: lintian is not installed (scripts/install-deps.sh installs it)"
        status=1
    fi
done

a=$(dpkg-deb -f "${debs[0]}" Depends)
b=$(dpkg-deb -f "${debs[1]}" Depends)
if [[ $a == "$b" ]]; then
    say "same Depends on both: $a"
else
    say "FAIL: Depends differ"
    say "  amd64: $a"
    say "  arm64: $b"
    status=1
fi
exit $status
