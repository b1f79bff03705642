# bash completion for sealpub. The options come from the installed binary's
# own `sealpub COMMAND --help`, so they never drift from what it accepts.
_sealpub() {
    local cur prev cmd words
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    local commands="publish open fetch inspect list delete rewrap db cleanup version help"
    if ((COMP_CWORD == 1)); then
        mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
        return
    fi
    cmd=${COMP_WORDS[1]}
    case $cmd in
    help)
        ((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
        return ;;
    db)
        if ((COMP_CWORD == 2)) && [[ $cur != -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "init recover" -- "$cur")
            return
        fi ;;
    esac
    case $prev in
    --on-exists) mapfile -t COMPREPLY < <(compgen -W "replace fail" -- "$cur"); return ;;
    --content) mapfile -t COMPREPLY < <(compgen -W "auto tar raw" -- "$cur"); return ;;
    --io) mapfile -t COMPREPLY < <(compgen -W "pread uring auto" -- "$cur"); return ;;
    --arch) mapfile -t COMPREPLY < <(compgen -W "amd64 arm64 386 arm ppc64le s390x riscv64" -- "$cur"); return ;;
    --key-file | --from-kek | --to-kek | -o) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
    esac
    if [[ $cur == -* ]]; then
        words=$("${COMP_WORDS[0]}" "$cmd" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
        mapfile -t COMPREPLY < <(compgen -W "$words --help" -- "$cur")
        return
    fi
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}
complete -o filenames -F _sealpub sealpub
