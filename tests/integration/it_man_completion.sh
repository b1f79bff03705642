#!/usr/bin/env bash
# it_man_completion.sh: the man page generated from docs/CLI.md renders
# cleanly and covers every command and variable CLI.md lists; bash and zsh
# completion offer the commands and every option each command's --help
# names (issue 19).
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
SRC=${SP_SOURCE_DIR:?}
man_page=$(dirname "$B")/sealpub.1

[[ -s $man_page ]] && ok "the build made sealpub.1" || { bad "no $man_page"; finish; exit 1; }
warn=$(LC_ALL=C.UTF-8 man --warnings -l "$man_page" 2>&1 >/dev/null)
[[ -z $warn ]] && ok "man renders without warnings" || bad "man warnings: $warn"
text=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$man_page" 2>/dev/null)
for cmd in $(grep -oE '^\| `sealpub [a-z]+( [a-z]+)?' "$SRC/docs/CLI.md" | sed 's/^| `//' | sort -u | tr ' ' '_'); do
    c=${cmd//_/ }
    grep -qF "$c" <<<"$text" && ok "man page has '$c'" || bad "man page lacks '$c'"
done
for var in $(sed -n '/^## Environment/,/^## /p' "$SRC/docs/CLI.md" | grep -oE '^\| `[A-Z_0-9]+`' | tr -d '|` '); do
    grep -qF "$var" <<<"$text" || bad "man page lacks $var"
done
ok "man page has every variable of CLI.md's Environment table"
python3 "$SRC/scripts/gen-man.py" "$SRC/docs/CLI.md" x "$WORK/again.1"
diff -q <(sed 1d "$man_page") <(sed 1d "$WORK/again.1") >/dev/null && ok "the installed page is CLI.md's current text" ||
    bad "sealpub.1 is stale: rebuild"

# bash: complete as a user would, through the function the script registers.
complete_bash() { # words...: prints the candidates for the last word
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _sealpub; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$SRC/packaging/completion/sealpub.bash" "$@"
}
PATH=$(dirname "$B"):$PATH
got=$(complete_bash sealpub pu)
[[ $got == publish ]] && ok "bash: 'sealpub pu' completes to publish" || bad "bash: pu -> $got"
got=$(complete_bash sealpub de | tr '\n' ' ')
[[ $got == "delete " ]] && ok "bash: 'sealpub de' completes to delete" || bad "bash: de -> $got"
got=$(complete_bash sealpub db "")
[[ $(echo $got) == "init recover" ]] && ok "bash: db subcommands" || bad "bash: db -> $got"
for cmd in publish open fetch inspect list delete cleanup version; do
    want=$("$B" "$cmd" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
    got=$(complete_bash sealpub "$cmd" -- | sort -u)
    missing=$(comm -23 <(echo "$want") <(echo "$got"))
    [[ -n $want && -z $missing ]] && ok "bash: every option of $cmd" || bad "bash: $cmd lacks: $missing"
done
got=$(complete_bash sealpub publish --on-exists "" | tr '\n' ' ')
[[ $got == "replace fail " ]] && ok "bash: --on-exists values" || bad "bash: --on-exists -> $got"

# zsh: the function parses and registers (zsh's completion system needs a terminal to drive).
zsh -n "$SRC/packaging/completion/_sealpub" && ok "zsh: _sealpub parses" || bad "zsh: syntax"
zsh -c "fpath=($SRC/packaging/completion \$fpath); autoload -Uz compinit; compinit -u -d $WORK/zcd; autoload -Uz _sealpub; (( \$+functions[_sealpub] ))" &&
    ok "zsh: compinit loads _sealpub" || bad "zsh: compinit cannot load _sealpub"
finish
