#!/usr/bin/env bash
# it_bad_input.sh: every row of the table in docs/BAD_INPUT.md, run as
# written: exit code, the exact one-line error, nothing on stdout, nothing
# written to the data folder or next to the inputs. The cases come from the
# document itself, so the document and the test cannot drift apart.
source "$(dirname "$0")/lib.sh"
doc=${SP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/docs/BAD_INPUT.md
[[ -r $doc ]] || { echo "FAIL - cannot read $doc"; exit 1; }

# Only what a row sets: no ambient store, registry, credentials or tuning.
for var in $(compgen -e); do
    case $var in
    AWS_* | PG* | SEALPUB_* | DATABASE_URL | XDG_DATA_HOME) [[ $var == SEALPUB_BIN ]] || unset "$var" ;;
    esac
done

# The fixtures the table names, in {T} (world-readable, so that the rows run
# as nobody reach the file they are about).
T=$WORK/t
export SEALPUB_HOME=$T/home
bin=$(readlink -f "$SEALPUB_BIN")
make_fixtures() {
    mkdir -p "$T/dir" "$T/bin"
    chmod 755 "$WORK" "$T"
    ln -s "$bin" "$T/bin/sealpub"
    seq 1 20000 >"$T/in.bin"
    : >"$T/empty.enc"
    echo "hello, not a container" >"$T/notsealpub.bin"
    "$bin" publish "$T/in.bin" --name good --stage dev --arch amd64 --version 1 --quiet </dev/null ||
        { echo "FAIL - cannot publish the fixture"; exit 1; }
    cp "$SEALPUB_HOME/objects/dev/good-amd64-1.enc" "$T/good.enc"
    head -c 1000 "$T/good.enc" >"$T/truncated.enc"
    head -c 20 "$T/good.enc" >"$T/short.enc"
    # The header's chunk_size field (bytes 12-15, little-endian) set to 0xffffffff.
    cp "$T/good.enc" "$T/hugechunk.enc"
    printf '\377\377\377\377' | dd of="$T/hugechunk.enc" bs=1 seek=12 conv=notrunc status=none
    cp "$T/in.bin" "$T/unreadable.bin"
    cp "$T/good.enc" "$T/unreadable.enc"
    chmod 600 "$T/unreadable.bin" "$T/unreadable.enc"
}
make_fixtures
export PATH=$T/bin:$PATH

# Everything under {T}, data folder included: paths, types, sizes, contents.
# The SQLite registry's claim lock files (registry.db.claims/, docs/CLI.md)
# are left by any publish that reached the claim, failed or not, and hold
# only the last holder's pid: they are not publication state.
snapshot() {
    (cd "$T" && find . -path '*.claims' -prune -o -printf '%y %m %s %p\n' | sort &&
        find . -path '*.claims' -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)
}
before=$(snapshot)

# A cell without its surrounding blanks and backticks.
trim() {
    local s=$1
    s=${s#"${s%%[![:space:]]*}"}
    s=${s%"${s##*[![:space:]]}"}
    s=${s#\`}
    s=${s%\`}
    printf '%s' "$s"
}

# Rows: | N | input | `command` | exit | `error line` |
rows=0 skipped=0 expect_n=1
while IFS= read -r line; do
    [[ $line =~ ^\|\ *[0-9]+\ *\| ]] || continue
    IFS='|' read -r -a col <<<"$line"
    if [[ ${#col[@]} != 6 ]]; then
        bad "row '$line': expected 5 columns (a '|' inside a cell?)"
        continue
    fi
    n=$(trim "${col[1]}") what=$(trim "${col[2]}") cmd=$(trim "${col[3]}") want_rc=$(trim "${col[4]}") want=$(trim "${col[5]}")
    [[ $n == "$expect_n" ]] || bad "row $n: rows must be numbered 1, 2, 3, ... (expected $expect_n)"
    expect_n=$((n + 1))
    rows=$((rows + 1))
    cmd=${cmd//\{T\}/$T}
    want=${want//\{T\}/$T}
    if [[ $cmd == runuser* ]] && { [[ $EUID != 0 ]] || ! command -v runuser >/dev/null; }; then
        skip_part "row $n ($what): needs root and runuser to run as nobody"
        skipped=$((skipped + 1))
        continue
    fi
    rc=0
    (cd "$T" && bash -c "$cmd") </dev/null >"$WORK/out" 2>"$WORK/err" || rc=$?
    got=$(cat "$WORK/err")
    lines=$(grep -c '' "$WORK/err" || true)
    if [[ $rc == "$want_rc" && $got == "$want" && $lines == 1 ]]; then
        ok "row $n: $what (exit $rc)"
    else
        bad "row $n: $what: exit $rc (want $want_rc), stderr ($lines lines):"$'\n'"    got:  $got"$'\n'"    want: $want"
    fi
    [[ ! -s $WORK/out ]] || bad "row $n: $what: wrote to stdout: $(head -c 200 "$WORK/out")"
    after=$(snapshot)
    if [[ $after != "$before" ]]; then
        bad "row $n: $what: changed {T} or the data folder:"$'\n'"$(diff <(echo "$before") <(echo "$after") | head -20)"
        before=$after
    fi
done <"$doc"

if ((rows < 100)); then bad "only $rows rows found in $doc"; else ok "$rows rows read from docs/BAD_INPUT.md ($skipped skipped)"; fi
finish
