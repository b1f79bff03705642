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

# mm_run SUITE LOG PARTIAL MMDEBSTRAP-COMMAND...: runs the command with its
# output in LOG; if it fails, removes PARTIAL (what it left half made) and
# runs it once more with mm_fallback_sources appended, saying so. On a second
# failure removes PARTIAL again, shows the log's tail on stderr and returns 1.
mm_run() {
    local suite=$1 log=$2 partial=$3 fallback
    shift 3
    "$@" >"$log" 2>&1 && return 0
    echo "mmdebstrap $suite failed; again without the security archive" >&2
    rm -rf "$partial"
    mapfile -t fallback < <(mm_fallback_sources "$suite")
    "$@" "${fallback[@]}" >"$log" 2>&1 && return 0
    tail -n 30 "$log" >&2
    rm -rf "$partial"
    return 1
}
