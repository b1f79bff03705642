#!/usr/bin/env bash
# it_threads.sh: the default thread count follows the CPUs the process may
# use: its affinity mask (taskset) and a cgroup CPU quota (v2 cpu.max or v1
# cpu.cfs_quota_us), not the CPUs the machine has. Checked on what publish
# --json reports ("threads") and on "version --verbose --json", whose other
# fields are checked here too.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
unset DATABASE_URL PGHOST PGDATABASE PGSERVICE # the local default store and registry
head -c 1500000 /dev/urandom >"$WORK/in.bin"

online=$(getconf _NPROCESSORS_ONLN)
mine=$(nproc) # this shell's affinity mask, what sealpub should see too

threads_of() { # publish with the default thread count, print "threads" from --json
    local v=$1
    shift
    "$@" "$B" publish "$WORK/in.bin" --name thr --stage dev --version "$v" --json 2>"$WORK/stderr" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["threads"])'
}

got=$(threads_of plain env)
[[ $got == "$mine" ]] && ok "default threads = usable CPUs ($got)" || bad "default threads $got, wanted $mine: $(cat "$WORK/stderr")"

# version --verbose --json: the whole object, with the fields docs/CLI.md lists.
json=$("$B" version --verbose --json)
python3 - "$json" "$mine" <<'PY' && ok "version --verbose --json: version, commit, build, libraries, cpu, codec per level" || bad "version --verbose --json: $json"
import json, sys
d = json.loads(sys.argv[1])
assert d["version"] and d["commit"], d
assert {"type", "compiler", "target", "cflags", "sanitize", "optional_features"} <= set(d["build"]), d["build"]
libs = d["libraries"]
for name in ("openssl", "libcurl", "libpq", "sqlite3"):
    assert libs[name]["built_against"] and libs[name]["runtime"], (name, libs[name])
assert libs["libdeflate"]["built_against"], libs
assert d["cpu"]["default_threads"] == int(sys.argv[2]) and d["cpu"]["features"], d["cpu"]
levels = d["codec_per_level"]
assert sorted(levels, key=int) == [str(i) for i in range(13)], levels
assert levels["0"].startswith("stored") and "libdeflate level 12" in levels["12"], levels
PY
json=$("$B" version --json)
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["command"]=="version" and d["ok"] and d["version"] and set(d)=={"schema","command","ok","version"}, d' "$json" &&
    ok "version --json: the envelope and the version only" || bad "version --json: $json"

if ((online < 2)); then
    not_run "taskset and cgroup limits below the machine's CPU count" "this machine has $online CPU"
    finish
    exit
fi

# Affinity: one CPU of several.
got=$(threads_of taskset taskset -c 0)
[[ $got == 1 ]] && ok "taskset -c 0: 1 thread" || bad "taskset -c 0: $got threads, wanted 1"
json=$(taskset -c 0 "$B" version --verbose --json)
python3 -c 'import json,sys; c=json.loads(sys.argv[1])["cpu"]; assert c["affinity"]==1 and c["default_threads"]==1, c' "$json" &&
    ok "version --verbose --json: affinity 1, default_threads 1" || bad "version --verbose --json cpu: $json"
# An explicit --threads still wins.
got=$(taskset -c 0 "$B" publish "$WORK/in.bin" --name thr --stage dev --version explicit --threads 3 --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["threads"])')
[[ $got == 3 ]] && ok "--threads 3 under taskset: 3" || bad "--threads 3 under taskset: $got"

# A cgroup with a quota of one CPU: v2 where its cpu controller is mounted,
# else v1. Made and removed here; needs root and a writable hierarchy.
cg=
if [[ -w /sys/fs/cgroup/cgroup.subtree_control ]] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    cg=/sys/fs/cgroup/sealpub-it-$$
    echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    if mkdir "$cg" 2>/dev/null && echo "100000 100000" >"$cg/cpu.max" 2>/dev/null; then :; else rmdir "$cg" 2>/dev/null; cg=; fi
fi
if [[ -z $cg ]]; then
    for v1 in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct; do
        [[ -w $v1/cgroup.procs && -e $v1/cpu.cfs_quota_us ]] || continue
        cg=$v1/sealpub-it-$$
        if mkdir "$cg" 2>/dev/null && echo 100000 >"$cg/cpu.cfs_period_us" && echo 100000 >"$cg/cpu.cfs_quota_us"; then
            break
        fi
        rmdir "$cg" 2>/dev/null
        cg=
    done
fi
if [[ -z $cg ]]; then
    not_run "default threads under a cgroup CPU quota" "no writable cgroup cpu controller here (needs root)"
else
    # The publish runs in a child shell moved into the cgroup first.
    got=$(sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" publish "$3" --name thr --stage dev --version cgroup --json' \
        sh "$cg" "$B" "$WORK/in.bin" 2>"$WORK/stderr" | python3 -c 'import json,sys; print(json.load(sys.stdin)["threads"])')
    [[ $got == 1 ]] && ok "cgroup quota of 1 CPU ($cg): 1 thread" || bad "cgroup quota of 1 CPU: $got threads, wanted 1: $(cat "$WORK/stderr")"
    json=$(sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" version --verbose --json' sh "$cg" "$B")
    python3 -c 'import json,sys; c=json.loads(sys.argv[1])["cpu"]; assert c["cgroup_quota"]==1.0 and c["default_threads"]==1, c' "$json" &&
        ok "version --verbose --json: cgroup_quota 1.0" || bad "version --verbose --json cpu in the cgroup: $json"
    rmdir "$cg" 2>/dev/null || bad "cgroup $cg not removed"
fi
finish
