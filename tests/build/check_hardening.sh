#!/usr/bin/env bash
# check_hardening.sh: the built sealpub binary carries the release hardening
# of CMakeLists.txt (docs/PACKAGING.md): PIE, full RELRO (GNU_RELRO plus
# BIND_NOW), the stack protector and fortified libc calls.
# Usage: check_hardening.sh BINARY
set -uo pipefail
bin=${1:?usage: check_hardening.sh BINARY}
fail=0
check() { # description command...
    local what=$1
    shift
    if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi
}
command -v readelf >/dev/null || { echo "FAIL - readelf not found (binutils)"; exit 1; }
header=$(readelf -hW "$bin")
programs=$(readelf -lW "$bin")
dynamic=$(readelf -dW "$bin")
symbols=$(readelf --dyn-syms -W "$bin")
check "PIE: ELF type DYN" grep -Eq 'Type:[[:space:]]+DYN' <<<"$header"
check "PIE: DT_FLAGS_1 has PIE" grep -Eq 'FLAGS_1.*PIE' <<<"$dynamic"
check "RELRO: a GNU_RELRO segment" grep -q 'GNU_RELRO' <<<"$programs"
check "BIND_NOW: DT_BIND_NOW or FLAGS NOW" grep -Eq 'BIND_NOW|FLAGS_1.*NOW' <<<"$dynamic"
check "stack protector: imports __stack_chk_fail" grep -q '__stack_chk_fail' <<<"$symbols"
check "fortify: imports a __*_chk function" grep -Eq ' __[a-z0-9_]+_chk(@|$)' <<<"$symbols"
exit $fail
