#!/usr/bin/env bash
# it_woodpecker.sh: the Woodpecker pipelines (.woodpecker/*.yml) and the
# publish-step image (Dockerfile, .dockerignore):
#   - every pipeline file against Woodpecker's own JSON schema
#     (${SP_SHARED_DIR}/woodpecker/schema.json, third-party, not copied here);
#   - the rules the schema cannot see: build-arm.yml publishes with the
#     sealpub plugin (settings, secrets only from_secret, the tag the build
#     step builds, the docker socket), runs on pushes and tags, and has a
#     `sealpub cleanup` step on failure; shell variables are escaped from
#     Woodpecker's own ${...} substitution;
#   - a dry run of build-arm.yml's steps as Woodpecker would render them: the
#     build step with a stand-in docker CLI, the plugin entrypoint
#     (scripts/woodpecker-plugin.sh) with the rendered settings and the CI_*
#     of a push, a tag and an unmapped branch (it_docker.sh publishes with it
#     for real against a Docker engine);
#   - a minimal lint of the Dockerfile.
# Ends with "N passed, N failed". Exit 77 (skipped) only when the schema file
# is absent and every other check passed; under CI=true or
# SEALPUB_REQUIRE_SERVICES=1 its absence is a failure instead.
set -u
src=${SP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
shared=${SP_SHARED_DIR:-$src/../shared}
schema=$shared/woodpecker/schema.json
PASS=0
FAIL=0
WORK=$(mktemp -d /tmp/sealpub-it-woodpecker-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

# ---------------------------------------------------------------- static checks
# The checker prints "ok   - ..." and "FAIL - ..." lines, counted below, and
# renders build-arm.yml's steps into $WORK/render for the dry run.
mkdir -p "$WORK/render"
python3 - "$src" "$schema" "$WORK/render" >"$WORK/checks.txt" 2>&1 <<'PY'
import glob
import json
import os
import re
import sys

src, schema_path, render_dir = sys.argv[1:4]


def ok(msg):
    print("ok   - " + msg)


def bad(msg):
    print("FAIL - " + msg)


try:
    import yaml
except ImportError:
    bad("python3-yaml is not installed (scripts/install-deps.sh installs it)")
    sys.exit(0)
try:
    import jsonschema
except ImportError:
    jsonschema = None
    bad("python3-jsonschema is not installed (scripts/install-deps.sh installs it)")

validator = None
if jsonschema is not None and os.path.isfile(schema_path):
    with open(schema_path) as fh:
        schema = json.load(fh)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)


def steps_of(doc):
    """(name, step) pairs for the map and the list form of `steps`."""
    steps = doc.get("steps") if isinstance(doc, dict) else None
    if isinstance(steps, dict):
        return [(k, v) for k, v in steps.items() if isinstance(v, dict)]
    if isinstance(steps, list):
        return [(s.get("name", "#%d" % i), s) for i, s in enumerate(steps) if isinstance(s, dict)]
    return []


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def matrix_keys(doc):
    m = doc.get("matrix") or {}
    keys = {k for k in m if k != "include"}
    for row in m.get("include") or []:
        keys.update(row)
    return keys


def matrix_values(doc, key):
    m = doc.get("matrix") or {}
    vals = list(m.get(key) or [])
    vals += [row[key] for row in m.get("include") or [] if key in row]
    return [str(v) for v in vals]


# Woodpecker substitutes ${NAME...} in the whole file when it reads it, from
# CI_* and matrix values (and the server's WOODPECKER_ENVIRONMENT); anything
# meant for the step's shell must be written $${NAME}.
CONFIG_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
BARE_DOUBLE = re.compile(r"\$\$(?!\{)")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|ACCESS_KEY|DATABASE_URL|_KEK")


def is_secret_ref(v):
    return isinstance(v, dict) and set(v) == {"from_secret"}


def check_shell_text(rel, sname, text, mkeys):
    problems = []
    for name in CONFIG_VAR.findall(text):
        if not (name.startswith("CI_") or name in mkeys):
            problems.append("${%s} is substituted by Woodpecker when it reads the file "
                            "(empty if unknown); write $${%s} for the shell" % (name, name))
    if BARE_DOUBLE.search(text):
        problems.append("bare $$NAME: only $${NAME} is Woodpecker's documented escape")
    return problems


def publish_checks(rel, sname, step):
    cmds = [str(c) for c in as_list(step.get("commands"))]
    text = "\n".join(cmds)
    where = "%s: step %s" % (rel, sname)
    pipe = re.compile(r"docker\s+save\b[^|\n]*\|\s*sealpub\s+publish\s+-(\s|$)")
    pipe_at = next((i for i, c in enumerate(cmds) if pipe.search(c)), None)
    if pipe_at is None:
        bad(where + ": no `docker save ... | sealpub publish -` command")
        return
    ok(where + ": pipes docker save into sealpub publish -")
    line = cmds[pipe_at]
    pf = re.compile(r"^\s*set\s+(-[a-zA-Z]*o\s+pipefail|.*-o\s+pipefail)")
    pf_at = next((i for i, c in enumerate(cmds) if pf.search(c)), None)
    if pf_at is not None and pf_at < pipe_at:
        ok(where + ": set -o pipefail before the pipe")
    else:
        bad(where + ": no `set -o pipefail` before the docker save pipe: a failing docker save would go unnoticed")
    for flag in ("--content tar", "--json"):
        if flag in line:
            ok(where + ": publish uses " + flag)
        else:
            bad(where + ": publish lacks " + flag)
    ep = " ".join(str(e) for e in as_list(step.get("entrypoint")))
    if "bash" in ep:
        ok(where + ": runs its commands with bash")
    else:
        bad(where + ": commands run with the image's /bin/sh; Debian's (dash) has no pipefail: "
            "set entrypoint to bash with $${CI_SCRIPT}")
    if any("/var/run/docker.sock" in str(v) for v in as_list(step.get("volumes"))):
        ok(where + ": mounts the docker socket")
    else:
        bad(where + ": does not mount /var/run/docker.sock, so docker save has no daemon")
    env = step.get("environment") or {}
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"):
        if is_secret_ref(env.get(var)):
            ok(where + ": %s from_secret" % var)
        else:
            bad(where + ": %s must come from a secret (from_secret)" % var)


PLUGIN_SECRETS = ("aws_access_key_id", "aws_secret_access_key", "database_url", "store")


def plugin_checks(rel, sname, step):
    """The publish step as a sealpub plugin step: settings, no commands."""
    where = "%s: step %s" % (rel, sname)
    settings = step.get("settings") or {}
    if step.get("commands") or step.get("entrypoint"):
        bad(where + ": a plugin step has no commands or entrypoint of its own")
    if str(settings.get("image", "")).strip():
        ok(where + ": settings.image names the image to publish from the engine")
    else:
        bad(where + ": settings.image is missing")
    if settings.get("stage") or settings.get("stage_map"):
        ok(where + ": stage from settings (stage or stage_map)")
    else:
        bad(where + ": neither settings.stage nor settings.stage_map")
    for k in PLUGIN_SECRETS:
        if is_secret_ref(settings.get(k)):
            ok(where + ": settings.%s from_secret" % k)
        else:
            bad(where + ": settings.%s must come from a secret (from_secret)" % k)
    for k, v in settings.items():
        if SECRET_NAME.search(k.upper()) and not is_secret_ref(v):
            bad(where + ": settings.%s is written in the file; use from_secret" % k)
    if any("/var/run/docker.sock" in str(v) for v in as_list(step.get("volumes"))):
        ok(where + ": mounts the docker socket")
    else:
        bad(where + ": does not mount /var/run/docker.sock, so the plugin has no engine")


def render(text, values):
    """Woodpecker's substitution, as far as these files use it: ${NAME} and
    ${NAME=default} from values, then $${ -> ${."""
    keep = "\0DOLLAR\0"
    text = text.replace("$${", keep)

    def sub(m):
        name, default = m.group(1), m.group(3)
        if name in values:
            return values[name]
        return default if default is not None else ""

    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(=([^}]*))?\}", sub, text)
    return text.replace(keep, "${")


files = sorted(glob.glob(os.path.join(src, ".woodpecker", "*.yml")) +
               glob.glob(os.path.join(src, ".woodpecker", "*.yaml")))
if not files:
    bad("no .woodpecker/*.yml pipeline files")
names = {os.path.basename(f) for f in files}
for want in ("build-arm.yml", "ci.yml"):
    if want in names:
        ok(".woodpecker/%s exists" % want)
    else:
        bad(".woodpecker/%s is missing" % want)

for f in files:
    rel = os.path.relpath(f, src)
    try:
        with open(f) as fh:
            doc = yaml.safe_load(fh)
    except yaml.YAMLError as e:
        bad("%s: not valid YAML: %s" % (rel, str(e).replace("\n", " ")))
        continue
    if validator is not None:
        errors = list(validator.iter_errors(doc))
        if errors:
            best = jsonschema.exceptions.best_match(errors)
            path = "/".join(str(p) for p in best.absolute_path) or "(top)"
            bad("%s: fails Woodpecker's schema (%d errors), at %s: %s"
                % (rel, len(errors), path, best.message[:300]))
        else:
            ok("%s: passes Woodpecker's schema" % rel)
    if not isinstance(doc, dict):
        bad("%s: not a mapping" % rel)
        continue

    mkeys = matrix_keys(doc)
    steps = steps_of(doc)
    shell_problems = []
    for sname, step in steps:
        texts = [str(c) for c in as_list(step.get("commands"))]
        texts += [str(e) for e in as_list(step.get("entrypoint"))]
        for t in texts:
            shell_problems += ["step %s: %s" % (sname, p) for p in check_shell_text(rel, sname, t, mkeys)]
        for k, v in (step.get("environment") or {}).items():
            if SECRET_NAME.search(k) and not is_secret_ref(v):
                shell_problems.append("step %s: %s is written in the file; use from_secret" % (sname, k))
    if shell_problems:
        for p in shell_problems:
            bad("%s: %s" % (rel, p))
    else:
        ok("%s: shell variables escaped from Woodpecker's substitution, credentials only from secrets" % rel)

    platform = str((doc.get("labels") or {}).get("platform", ""))
    for name in CONFIG_VAR.findall(platform):
        if name not in mkeys:
            bad("%s: labels.platform uses ${%s}, which the matrix does not define" % (rel, name))

    for sname, step in steps:
        if any("sealpub publish" in str(c) for c in as_list(step.get("commands"))):
            publish_checks(rel, sname, step)

    base = os.path.basename(f)
    if base == "build-arm.yml":
        when = as_list(doc.get("when"))
        push = [w for w in when if "push" in as_list(w.get("event"))]
        branches = {str(b) for w in push for b in as_list(w.get("branch"))}
        if push and branches == {"dev", "stage", "main"}:
            ok(rel + ": runs on push to dev, stage and main")
        else:
            bad(rel + ": should run on push to dev, stage and main (found %s)" % sorted(branches))
        archs = matrix_values(doc, "ARCH")
        if "arm64" in archs and platform == "linux/${ARCH}":
            ok(rel + ": matrix ARCH %s on agents labelled platform=linux/${ARCH}" % archs)
        else:
            bad(rel + ": needs matrix ARCH with arm64 and labels.platform linux/${ARCH}")
        cmds = "\n".join(str(c) for _, s in steps for c in as_list(s.get("commands")))
        if re.search(r"docker\s+build\b", cmds) and re.search(r"docker\s+push\b", cmds):
            ok(rel + ": builds and pushes the image before publishing")
        else:
            bad(rel + ": no docker build / docker push step")
        if any("tag" in as_list(w.get("event")) for w in when):
            ok(rel + ": runs on tag events too")
        else:
            bad(rel + ": does not run on tag events")
        plugin_steps = [(n, s) for n, s in steps if (s.get("settings") or {}).get("image")]
        for n, s in plugin_steps:
            plugin_checks(rel, n, s)
        if not plugin_steps:
            bad(rel + ": no publish step using the sealpub plugin (settings.image)")
        elif re.search(r"docker\s+build\b.*--tag\s+\S*" + re.escape(str(plugin_steps[0][1]["settings"]["image"])), cmds):
            ok(rel + ": the plugin publishes the tag the build step builds")
        else:
            bad(rel + ": the plugin's settings.image is not a tag the build step builds")
        if ".sealpub-publish.env" in cmds:
            bad(rel + ": an env file is still handed between steps")
        cleanup = [n for n, s in steps
                   if any(re.search(r"sealpub\s+cleanup\b", str(c)) for c in as_list(s.get("commands")))
                   and any("failure" in as_list(w.get("status")) for w in as_list(s.get("when")))]
        if cleanup:
            ok(rel + ": step %s runs sealpub cleanup when the pipeline failed" % cleanup[0])
        else:
            bad(rel + ": no `sealpub cleanup` step with when: status: failure (SIGKILLed publishes leave uploads)")
        # Render every step for the dry run, for the first ARCH value; CI_*
        # values as in the dry run's environment below.
        values = {"ARCH": archs[0] if archs else "arm64",
                  "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567"}
        for i, (sname, step) in enumerate(steps):
            settings = step.get("settings") or {}
            if settings:
                safe = re.sub(r"[^A-Za-z0-9_-]", "_", str(sname))
                with open(os.path.join(render_dir, "%d-%s.plugin.env" % (i, safe)), "w") as out:
                    for k, v in settings.items():
                        if not is_secret_ref(v):
                            out.write("PLUGIN_%s=%s\n" % (k.upper(), render(str(v), values)))
            script = render("\n".join(str(c) for c in as_list(step.get("commands"))), values)
            ep = " ".join(str(e) for e in as_list(step.get("entrypoint")))
            safe = re.sub(r"[^A-Za-z0-9_-]", "_", str(sname))
            with open(os.path.join(render_dir, "%d-%s.sh" % (i, safe)), "w") as out:
                out.write(script + "\n")
            with open(os.path.join(render_dir, "%d-%s.shell" % (i, safe)), "w") as out:
                out.write("bash\n" if "bash" in ep else "sh\n")
    if base == "ci.yml":
        archs = matrix_values(doc, "ARCH")
        if {"amd64", "arm64"} <= set(archs) and platform == "linux/${ARCH}":
            ok(rel + ": matrix runs on amd64 and arm64 agents")
        else:
            bad(rel + ": matrix should run on amd64 and arm64 agents (labels.platform linux/${ARCH})")
        cmds = "\n".join(str(c) for _, s in steps for c in as_list(s.get("commands")))
        if re.search(r"(\.ci/run|scripts/test\.sh|ctest)", cmds):
            ok(rel + ": runs the test suite")
        else:
            bad(rel + ": runs no tests (.ci/run, scripts/test.sh or ctest)")

# ---- Dockerfile: FROM lines, tagged non-latest bases, no ADD of URLs, and
# every COPY source inside the .dockerignore allow-list.
dockerfile = os.path.join(src, "Dockerfile")
if not os.path.isfile(dockerfile):
    bad("Dockerfile is missing")
    sys.exit(0)
with open(dockerfile) as fh:
    raw = fh.read()
lines = []
for ln in re.sub(r"\\\n", " ", raw).splitlines():
    s = ln.strip()
    if s and not s.startswith("#"):
        lines.append(s)
stages, froms, problems = [], [], []
for s in lines:
    word = s.split(None, 1)[0].upper()
    if word == "FROM":
        parts = [p for p in s.split()[1:] if not p.startswith("--")]
        image = parts[0] if parts else ""
        froms.append(image)
        if image.lower() in stages:
            pass
        elif "@sha256:" in image:
            pass
        else:
            last = image.rsplit("/", 1)[-1]
            if ":" not in last:
                problems.append("FROM %s has no tag: that is :latest" % image)
            elif last.rsplit(":", 1)[1] == "latest":
                problems.append("FROM %s uses the latest tag" % image)
        if len(parts) >= 3 and parts[1].upper() == "AS":
            stages.append(parts[2].lower())
    elif word == "ADD" and re.search(r"\s(https?|ftp)://", s):
        problems.append("ADD of a URL: " + s[:120])
    elif word == "RUN" and "apt-get install" in s and "--no-install-recommends" not in s:
        problems.append("apt-get install without --no-install-recommends: " + s[:80])
if froms:
    ok("Dockerfile: %d FROM lines (%s)" % (len(froms), ", ".join(froms)))
else:
    bad("Dockerfile: no FROM line")
if problems:
    for p in problems:
        bad("Dockerfile: " + p)
else:
    ok("Dockerfile: bases tagged and not latest, no ADD of URLs, apt without recommends")

ignore = os.path.join(src, ".dockerignore")
if not os.path.isfile(ignore):
    bad(".dockerignore is missing: the whole tree (build trees, .git) would be sent as build context")
else:
    with open(ignore) as fh:
        pats = [p.strip() for p in fh if p.strip() and not p.strip().startswith("#")]
    allowed = {p[1:].strip("/") for p in pats if p.startswith("!")}
    missing = []
    for s in lines:
        if s.split(None, 1)[0].upper() != "COPY" or "--from=" in s:
            continue
        args = [a for a in s.split()[1:] if not a.startswith("--")]
        for a in args[:-1]:
            top = a.strip("/").split("/", 1)[0]
            if not os.path.exists(os.path.join(src, a)):
                missing.append("%s (not in the tree)" % a)
            elif "*" in pats and top not in allowed:
                missing.append("%s (excluded by .dockerignore)" % a)
    if missing:
        bad("Dockerfile: COPY sources not in the build context: " + ", ".join(missing))
    else:
        ok("Dockerfile: every COPY source exists and passes .dockerignore")
PY
py_status=$?
while IFS= read -r line; do
    case $line in
    "ok   - "*) ok "${line#ok   - }" ;;
    "FAIL - "*) bad "${line#FAIL - }" ;;
    *) echo "$line" ;;
    esac
done <"$WORK/checks.txt"
((py_status == 0)) || bad "the pipeline checker stopped with status $py_status"

# ---------------------------------------------------------------- dry run
# build-arm.yml's steps as rendered above, in a scratch workspace: the build
# step with a docker CLI that records its calls, the publish step as the
# plugin entrypoint with the rendered settings.
dry_run() {
    local bin=${SEALPUB_BIN:-$src/build/sealpub}
    local build_sh publish_env
    build_sh=$(find "$WORK/render" -name "*-build-and-push.sh" -print -quit)
    publish_env=$(find "$WORK/render" -name "*-publish.plugin.env" -print -quit)
    if [[ -z $build_sh || -z $publish_env ]]; then
        bad "dry run: build-arm.yml has no build-and-push step and publish plugin step to run"
        return
    fi
    if [[ ! -x $bin ]]; then
        bad "dry run: no sealpub binary (set SEALPUB_BIN)"
        return
    fi
    local fake=$WORK/bin ws=$WORK/ws
    mkdir -p "$fake" "$ws"
    ln -s "$bin" "$fake/sealpub"
    cat >"$fake/docker" <<'EOF'
#!/usr/bin/env bash
# Stand-in docker CLI for the build step of it_woodpecker.sh: records calls.
echo "docker $*" >>"$FAKE_DOCKER_LOG"
case $1 in
login) cat >/dev/null ;;
build | push) ;;
*) exit 64 ;;
esac
EOF
    chmod +x "$fake/docker"

    local sha=0123456789abcdef0123456789abcdef01234567
    local common=(env -i PATH="$fake:/usr/local/bin:/usr/bin:/bin" HOME="$WORK"
        CI_COMMIT_SHA="$sha" CI_COMMIT_TAG="" CI_COMMIT_BRANCH=dev CI_REPO_NAME=sealpub-it
        FAKE_DOCKER_LOG="$WORK/docker.log")
    # The build step runs in docker:27-cli (busybox ash); bash --posix stands in.
    local rc=0
    (cd "$ws" && "${common[@]}" IMAGE_REPO=localhost:5000/team/app REGISTRY_USER=u \
        REGISTRY_PASSWORD=p bash --posix -e "$build_sh") >"$WORK/build.out" 2>&1 || rc=$?
    local image=localhost:5000/team/app:0123456789ab-arm64
    if ((rc == 0)) && [[ ! -e $ws/.sealpub-publish.env ]] &&
        grep -qx "docker login --username u --password-stdin localhost:5000" "$WORK/docker.log" &&
        grep -qx "docker build --pull --tag $image --tag sealpub-build:$sha-arm64 ." "$WORK/docker.log" &&
        grep -qx "docker push $image" "$WORK/docker.log"; then
        ok "dry run: build-and-push logs in to localhost:5000, builds and pushes $image"
    else
        bad "dry run: build-and-push (exit $rc): $(cat "$WORK/build.out" "$WORK/docker.log" 2>/dev/null | tail -n 5)"
    fi
    (cd "$ws" && "${common[@]}" IMAGE_REPO=team/app REGISTRY_USER=u REGISTRY_PASSWORD=p \
        bash --posix -e "$build_sh") >"$WORK/build2.out" 2>&1 || rc=$?
    if grep -qx "docker login --username u --password-stdin" "$WORK/docker.log"; then
        ok "dry run: an image repository without a registry host logs in to Docker Hub"
    else
        bad "dry run: login for team/app: $(grep login "$WORK/docker.log" | tail -n 1)"
    fi
    # The publish step: the plugin entrypoint with the settings as
    # Woodpecker renders them (PLUGIN_*), secrets' stand-ins, and CI_* of a
    # push to dev and of a tag; dry_run prints the sealpub command it would
    # run (it_docker.sh publishes with it for real against a Docker engine).
    local plugin=$src/scripts/woodpecker-plugin.sh settings=() line
    while IFS= read -r line; do settings+=("$line"); done <"$publish_env"
    local pub=("${common[@]}" "${settings[@]}" PLUGIN_STORE="s3://bucket/prefix" PLUGIN_AWS_ACCESS_KEY_ID=k
        PLUGIN_AWS_SECRET_ACCESS_KEY=s PLUGIN_DATABASE_URL=postgresql://db/x PLUGIN_DRY_RUN=true)
    local want="sealpub publish docker-daemon:sealpub-build:$sha-arm64 --name sealpub-it --stage dev"
    want+=" --version 0123456789ab --on-exists replace --json --arch arm64 --store s3://bucket/prefix"
    rc=0
    (cd "$ws" && "${pub[@]}" bash "$plugin") >"$WORK/publish.out" 2>&1 || rc=$?
    if ((rc == 0)) && [[ $(cat "$WORK/publish.out") == "$want" ]]; then
        ok "dry run: the plugin publishes docker-daemon:sealpub-build:$sha-arm64 to dev as 0123456789ab"
    else
        bad "dry run: plugin on a push to dev (exit $rc): $(tail -n 3 "$WORK/publish.out")"
    fi
    rc=0
    (cd "$ws" && "${pub[@]}" CI_COMMIT_TAG=v1.2.0 CI_COMMIT_BRANCH= bash "$plugin") >"$WORK/tag.out" 2>&1 || rc=$?
    if ((rc == 0)) && grep -q -- "--stage prod --version v1.2.0 " "$WORK/tag.out"; then
        ok "dry run: on a tag event the plugin publishes the tag to prod"
    else
        bad "dry run: plugin on a tag (exit $rc): $(tail -n 3 "$WORK/tag.out")"
    fi
    rc=0
    (cd "$ws" && "${pub[@]}" CI_COMMIT_BRANCH=feature-x bash "$plugin") >"$WORK/feat.out" 2>&1 || rc=$?
    if ((rc == 2)) && grep -q "branch 'feature-x' has no stage" "$WORK/feat.out"; then
        ok "dry run: a branch outside the stage map is refused with a clear message"
    else
        bad "dry run: plugin on branch feature-x (exit $rc): $(tail -n 3 "$WORK/feat.out")"
    fi
}
dry_run

echo "$PASS passed, $FAIL failed"
if ((FAIL > 0)); then
    exit 1
fi
if [[ ! -f $schema ]]; then
    # Under CI a check that did not run is a failure, never a skip.
    if [[ ${CI:-} == true || ${CI:-} == 1 || ${SEALPUB_REQUIRE_SERVICES:-0} == 1 ]]; then
        echo "FAIL - Woodpecker's schema $schema is absent but CI=true / SEALPUB_REQUIRE_SERVICES=1 require the schema check"
        exit 1
    fi
    echo "skipped: Woodpecker's schema $schema is absent, so the pipeline files were not checked against it" \
        "(it lives in ../shared beside the checkout; see ../shared/woodpecker/README.md)"
    exit 77
fi
exit 0
