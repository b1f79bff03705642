#!/usr/bin/env bash
# The Woodpecker plugin entrypoint of the publisher image: reads the step's
# `settings:` (Woodpecker passes each as PLUGIN_<NAME>, upper-cased, the
# convention of woodpeckerci/plugin-s3 and plugin-docker-buildx) and the CI_*
# variables, validates them, publishes the image straight from the Docker
# engine (docker-daemon:, no docker CLI), and prints sealpub's JSON result.
# With arguments it runs them instead (docker run IMAGE sealpub fetch ...).
#
# settings (docs/PACKAGING.md has the full table):
#   image       required: the local image to publish (IMAGE[:TAG|@DIGEST])
#   name        default: CI_REPO_NAME
#   stage       a stage; or stage_map, e.g. "main=prod,stage=stage,dev=dev,tag=prod":
#               the branch (CI_COMMIT_BRANCH) picks the stage, "tag" on tag events
#   arch        default: from CI_SYSTEM_PLATFORM (linux/arm64 -> arm64), else this host
#   version     default: CI_COMMIT_TAG on tag events, else the first 12 hex digits of CI_COMMIT_SHA
#   store       s3://BUCKET[/PREFIX] (else SEALPUB_STORE)
#   registry    postgresql://... (else database_url, DATABASE_URL, SEALPUB_REGISTRY); use from_secret
#   on_exists   replace (default) or fail
#   level       gzip level 0-12
#   docker_host the engine socket (default unix:///var/run/docker.sock)
#   aws_access_key_id, aws_secret_access_key, aws_region, aws_endpoint_url_s3,
#   database_url, kek: secrets (from_secret), exported under their usual names
#   dry_run     true: validate and print the command, publish nothing
# Exit codes: 2 for a bad setting (one line naming it), else sealpub's.
set -euo pipefail

if (($# > 0)); then
    exec "$@"
fi

SEALPUB=${SEALPUB_BIN:-sealpub}

die() {
    echo "sealpub-plugin: $*" >&2
    exit 2
}

# A value as sealpub's names: [A-Za-z0-9._-], not starting with '.' or '-'.
check_name() { # setting value max
    [[ $2 =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*$ && ${#2} -le $3 ]] ||
        die "settings.$1 '$2' is not a valid value: use A-Z a-z 0-9 . _ -, not starting with . or -, at most $3 bytes"
}

image=${PLUGIN_IMAGE:-}
[[ -n $image ]] || die "settings.image is required: the local image to publish, e.g. myapp:1.2"
image=${image#docker-daemon:}
[[ $image =~ ^[A-Za-z0-9_][A-Za-z0-9._/:@-]*$ && ${#image} -le 512 ]] ||
    die "settings.image '$image' is not an image reference (IMAGE[:TAG] or IMAGE@DIGEST)"

name=${PLUGIN_NAME:-${CI_REPO_NAME:-}}
[[ -n $name ]] || die "settings.name is required (or CI_REPO_NAME)"
check_name name "$name" 128

# Stage: explicit, or the branch through stage_map ("tag" for tag events).
stage=${PLUGIN_STAGE:-}
if [[ -n $stage && -n ${PLUGIN_STAGE_MAP:-} ]]; then
    die "settings.stage and settings.stage_map are both set: give one"
fi
if [[ -z $stage ]]; then
    map=${PLUGIN_STAGE_MAP:-}
    [[ -n $map ]] || die "settings.stage or settings.stage_map is required (e.g. stage_map: main=prod,dev=dev)"
    if [[ -n ${CI_COMMIT_TAG:-} ]]; then key=tag; else key=${CI_COMMIT_BRANCH:-}; fi
    [[ -n $key ]] || die "no CI_COMMIT_BRANCH to look up in settings.stage_map"
    # A YAML map arrives as JSON ({"main":"prod"}), a list or a string as
    # "main=prod,dev=dev": accept both.
    norm=$(printf '%s' "$map" | tr -d '{}" \n' | tr ':' '=')
    IFS=, read -r -a pairs <<<"$norm"
    for pair in "${pairs[@]}"; do
        [[ $pair == *=* ]] || die "settings.stage_map entry '$pair' is not BRANCH=STAGE"
        if [[ ${pair%%=*} == "$key" ]]; then
            stage=${pair#*=}
            break
        fi
    done
    if [[ -z $stage ]]; then
        if [[ $key == tag ]]; then
            die "tag event ($CI_COMMIT_TAG) but settings.stage_map has no 'tag=STAGE' entry"
        fi
        die "branch '$key' has no stage in settings.stage_map ($map): add $key=STAGE or limit the step's branches"
    fi
fi
check_name stage "$stage" 64

arch=${PLUGIN_ARCH:-}
if [[ -z $arch && ${CI_SYSTEM_PLATFORM:-} == */* ]]; then
    arch=${CI_SYSTEM_PLATFORM#*/}
    arch=${arch%%/*}
fi
[[ -z $arch ]] || check_name arch "$arch" 64

version=${PLUGIN_VERSION:-}
if [[ -z $version ]]; then
    if [[ -n ${CI_COMMIT_TAG:-} ]]; then
        version=$CI_COMMIT_TAG
    elif [[ ${CI_COMMIT_SHA:-} =~ ^[0-9a-f]{12,64}$ ]]; then
        version=${CI_COMMIT_SHA:0:12}
    else
        die "settings.version is not set and there is no CI_COMMIT_TAG or CI_COMMIT_SHA to derive it from"
    fi
fi
check_name version "$version" 64

on_exists=${PLUGIN_ON_EXISTS:-replace}
[[ $on_exists == replace || $on_exists == fail ]] || die "settings.on_exists must be replace or fail, not '$on_exists'"

args=(publish "docker-daemon:$image" --name "$name" --stage "$stage" --version "$version" --on-exists "$on_exists" --json)
[[ -z $arch ]] || args+=(--arch "$arch")
if [[ -n ${PLUGIN_LEVEL:-} ]]; then
    [[ $PLUGIN_LEVEL =~ ^([0-9]|1[0-2])$ ]] || die "settings.level must be 0-12, not '$PLUGIN_LEVEL'"
    args+=(--level "$PLUGIN_LEVEL")
fi
if [[ -n ${PLUGIN_STORE:-} ]]; then
    [[ $PLUGIN_STORE == s3://* || $PLUGIN_STORE == file:///* ]] ||
        die "settings.store must be s3://BUCKET[/PREFIX] (or file:///DIR), not '$PLUGIN_STORE'"
    args+=(--store "$PLUGIN_STORE")
elif [[ -z ${SEALPUB_STORE:-} ]]; then
    die "settings.store is required (s3://BUCKET[/PREFIX]), or SEALPUB_STORE"
fi

# Secrets: settings with from_secret arrive as PLUGIN_*; export them under
# the names sealpub and libcurl read. Never printed.
export_secret() { # setting-variable target-variable
    if [[ -n ${!1:-} ]]; then export "$2=${!1}"; fi
}
export_secret PLUGIN_AWS_ACCESS_KEY_ID AWS_ACCESS_KEY_ID
export_secret PLUGIN_AWS_SECRET_ACCESS_KEY AWS_SECRET_ACCESS_KEY
export_secret PLUGIN_AWS_SESSION_TOKEN AWS_SESSION_TOKEN
export_secret PLUGIN_AWS_REGION AWS_REGION
export_secret PLUGIN_AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_S3
export_secret PLUGIN_DATABASE_URL DATABASE_URL
# In the environment, not on the command line: a connection string may hold
# a password, and argv is visible to every process.
export_secret PLUGIN_REGISTRY SEALPUB_REGISTRY
export_secret PLUGIN_KEK SEALPUB_KEK
export_secret PLUGIN_DOCKER_HOST DOCKER_HOST
if [[ -z ${DATABASE_URL:-} && -z ${SEALPUB_REGISTRY:-} ]]; then
    die "no registry: set settings.database_url (from_secret) or settings.registry"
fi
if [[ ${PLUGIN_STORE:-${SEALPUB_STORE:-}} == s3://* && (-z ${AWS_ACCESS_KEY_ID:-} || -z ${AWS_SECRET_ACCESS_KEY:-}) ]]; then
    die "an s3:// store needs settings.aws_access_key_id and settings.aws_secret_access_key (from_secret)"
fi

if [[ ${PLUGIN_DRY_RUN:-false} == true ]]; then
    printf 'sealpub'
    printf ' %q' "${args[@]}"
    printf '\n'
    exit 0
fi
exec "$SEALPUB" "${args[@]}"
