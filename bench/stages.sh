#!/usr/bin/env bash
# stages.sh: per-stage and end-to-end throughput (bench/stages) on the three bench corpora, thread counts 1..N, one JSON.
#
# Usage: bench/stages.sh [--scale F] [--threads 1,2,4,8,16] [--reps N] [--corpus image,fp16,sparse]
#                        [--corpus-dir DIR] [--out DIR] [--record] [--note TEXT] [--quick]
#                        [--qemu-arm64 BUILD_DIR] [-- STAGES_ARGS...]
#
#  --scale F       corpus size factor for gen_corpus.py (default 1: image 1 GiB,
#                  fp16 512 MiB, sparse 512 MiB); generated once into
#                  $SEALPUB_STAGES_DIR/corpus/scale-F (default dir /var/tmp/sealpub-stages)
#  --corpus-dir D  use image.tar/fp16.bin/sparse.bin already in D (e.g. run.sh's cache)
#  --threads L     thread counts (default: 1, powers of two below nproc, nproc;
#                  on 16 cores that is 1,2,4,8,16)
#  --reps N        repetitions per figure, fastest kept (default 3)
#  --out DIR       where the JSON goes (default $SEALPUB_STAGES_DIR); never the repo
#  --record        also copy the JSON into docs/bench/ (the committed results)
#  --note TEXT     free text stored as host.note (e.g. "idle 16-core c7g.4xlarge")
#  --quick         --scale 0.05 --reps 1: a smoke test of the whole path
#  --qemu-arm64 B  run B/bench/stages (an arm64 cross build, see
#                  scripts/cross-arm64.sh) under qemu-aarch64: the JSON is marked
#                  "emulated" and its figures measure qemu, NOT arm64 hardware
#  after --         passed to every bench/stages run (e.g. -- --levels 1,6 --stages deflate,isal)
#
# Environment: SEALPUB_BUILD_DIR (default ./build; configured when new, without
# the test suite if Criterion is missing; the stages target is rebuilt before
# every run unless SEALPUB_NO_BUILD=1), SEALPUB_STAGES_DIR,
# SEALPUB_ARM64_SYSROOT (for --qemu-arm64; default ./build-arm64-sysroot).
# Output: $OUT/stages-<arch>-<UTC date>.json: {"schema":1,"tool":"sealpub-stages-set",
# "host", "runs":[one bench/stages document per corpus]}; bench/compare reads it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
BUILD=${SEALPUB_BUILD_DIR:-$ROOT/build}
CACHE=${SEALPUB_STAGES_DIR:-/var/tmp/sealpub-stages}

SCALE=1 REPS=3 THREADS="" CORPORA=image,fp16,sparse CORPUS_DIR="" OUT=$CACHE RECORD=0 NOTE="" QEMU_BUILD=""
EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --scale) SCALE=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --corpus) CORPORA=$2; shift ;;
    --corpus-dir) CORPUS_DIR=$2; shift ;;
    --out) OUT=$2; shift ;;
    --record) RECORD=1 ;;
    --note) NOTE=$2; shift ;;
    --quick) SCALE=0.05 REPS=1 ;;
    --qemu-arm64) QEMU_BUILD=$2; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) echo "stages.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[stages.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
mkdir -p "$CACHE" "$OUT"

# ------------------------------------------------------------------ build
if [ -n "$QEMU_BUILD" ]; then
  STAGES=$QEMU_BUILD/bench/stages
  [ -x "$STAGES" ] || { echo "stages.sh: no $STAGES (cmake --build $QEMU_BUILD --target stages)" >&2; exit 1; }
  QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
  [ -n "$QEMU" ] || { echo "stages.sh: qemu-aarch64 not found (apt-get install -y qemu-user-static)" >&2; exit 1; }
  SYSROOT=${SEALPUB_ARM64_SYSROOT:-$ROOT/build-arm64-sysroot}
  RUNNER=("$QEMU" -L "$SYSROOT" "$STAGES" --emulated)
  ARCH=aarch64-qemu
  NOTE="EMULATED under qemu-user on $(uname -m): these figures measure the emulator, not arm64 hardware. ${NOTE}"
else
  STAGES=$BUILD/bench/stages
  # Built every time (a no-op when current): the library under test must be this tree's.
  if [ "${SEALPUB_NO_BUILD:-0}" != 1 ]; then
    log "building bench/stages in $BUILD (log: $CACHE/build.log)"
    # A fresh build dir needs Criterion only for the test suite, which this does not build.
    CONFIG=(-S "$ROOT" -B "$BUILD")
    pkg-config --exists criterion 2>/dev/null || CONFIG+=(-DSEALPUB_TESTS=OFF)
    if ! { { [ -f "$BUILD/CMakeCache.txt" ] || cmake "${CONFIG[@]}"; } &&
           cmake --build "$BUILD" --target stages -j"$(nproc)"; } > "$CACHE/build.log" 2>&1; then
      tail -20 "$CACHE/build.log" >&2
      echo "stages.sh: build failed" >&2
      exit 1
    fi
  fi
  [ -x "$STAGES" ] || { echo "stages.sh: no $STAGES" >&2; exit 1; }
  RUNNER=("$STAGES")
  ARCH=$(uname -m)
fi

# ------------------------------------------------------------------ corpus
if [ -z "$CORPUS_DIR" ]; then
  CORPUS_DIR=$CACHE/corpus/scale-$SCALE
  mkdir -p "$CORPUS_DIR"
  GEN_ID=$(sha256sum "$BENCH/gen_corpus.py" | cut -c1-16)
  if [ "$(cat "$CORPUS_DIR/.gen-id" 2>/dev/null)" != "$GEN_ID" ] ||
     ! [ -f "$CORPUS_DIR/image.tar" ] || ! [ -f "$CORPUS_DIR/fp16.bin" ] || ! [ -f "$CORPUS_DIR/sparse.bin" ]; then
    log "generating the corpus (scale $SCALE) into $CORPUS_DIR"
    rm -f "$CORPUS_DIR/.gen-id"
    python3 "$BENCH/gen_corpus.py" "$CORPUS_DIR" --scale "$SCALE" | tee "$CORPUS_DIR/sha256.txt" >&2
    echo "$GEN_ID" > "$CORPUS_DIR/.gen-id"
  fi
fi

# ------------------------------------------------------------------ runs
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
WORK=$(mktemp -d "$CACHE/stages-run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ARGS=(--reps "$REPS" --work-dir "$WORK")
[ -z "$THREADS" ] || ARGS+=(--threads "$THREADS")
[ -z "$NOTE" ] || ARGS+=(--host-note "$NOTE")

log "load average at start: $(cat /proc/loadavg)"
IFS=, read -r -a CORPUS_LIST <<<"$CORPORA"
JSONS=()
for c in "${CORPUS_LIST[@]}"; do
  case $c in image) f=$CORPUS_DIR/image.tar ;; fp16) f=$CORPUS_DIR/fp16.bin ;; sparse) f=$CORPUS_DIR/sparse.bin ;;
    *) echo "stages.sh: unknown corpus $c" >&2; exit 2 ;; esac
  [ -f "$f" ] || { echo "stages.sh: $f missing" >&2; exit 1; }
  cat "$f" > /dev/null  # page cache warm, as for every stage
  log "$c: $(stat -c %s "$f") bytes, load $(cut -d' ' -f1-3 /proc/loadavg)"
  "${RUNNER[@]}" "$f" --name "$c" "${ARGS[@]}" "${EXTRA[@]}" > "$WORK/$c.json"
  JSONS+=("$WORK/$c.json")
done

RESULT=$OUT/stages-$ARCH-$STAMP.json
# Which tree was measured (read-only git queries; "unknown" outside a checkout).
COMMIT=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no -- src include bench 2>/dev/null | wc -l)
python3 - "$RESULT" "$SCALE" "$COMMIT" "$DIRTY" "${JSONS[@]}" <<'EOF'
import json, sys
out, scale, commit, dirty, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
runs = [json.load(open(f)) for f in files]
doc = {"schema": 1, "tool": "sealpub-stages-set", "date": runs[0]["date"], "scale": float(scale),
       "source": {"commit": commit, "modified_files": int(dirty)}, "host": runs[0]["host"], "runs": runs}
# The load at the end of the set is the last run's.
doc["host"] = dict(doc["host"], load_avg_end=runs[-1]["host"]["load_avg_end"])


def dump(v, indent=""):
    """Indented objects, but one line per result row: small files, readable diffs."""
    if isinstance(v, dict) and any(isinstance(x, (dict, list)) for x in v.values()):
        inner = indent + " "
        return "{\n" + ",\n".join(inner + json.dumps(k) + ": " + dump(x, inner) for k, x in v.items()) + "}"
    if isinstance(v, list) and v and isinstance(v[0], dict):
        inner = indent + " "
        return "[\n" + ",\n".join(inner + dump(x, inner) for x in v) + "]"
    return json.dumps(v)


with open(out, "w") as f:
    f.write(dump(doc) + "\n")
EOF
log "results: $RESULT"
if [ "$RECORD" = 1 ]; then
  mkdir -p "$ROOT/docs/bench"
  cp "$RESULT" "$ROOT/docs/bench/"
  log "recorded: docs/bench/$(basename "$RESULT")"
fi
