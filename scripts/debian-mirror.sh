#!/usr/bin/env bash
# Sourced by the scripts that run mmdebstrap (cross-arm64.sh, distro-matrix.sh,
# test-wheel.sh). Defines mm_fallback_sources SUITE: the apt source lines
# for SUITE's main and -updates archives on the mirror this machine's own
# apt uses, without the security archive. mmdebstrap's default adds the
# security archive, and a mirror that serves only some architectures of it
# (bullseye-security for arm64 was missing here) makes the whole run fail;
# the callers retry with these lines, and say so.
mm_fallback_sources() {
    local suite=$1 uri
    uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    if [[ -z $uri ]]; then
        uri=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)
    fi
    [[ -n $uri ]] || return 1
    printf 'deb %s %s main\n' "$uri" "$suite"
    printf 'deb %s %s-updates main\n' "$uri" "$suite"
}
