#!/usr/bin/env bash
# Benchmark of stage reuse (issue 9): a full `tiny` run with empty caches, then a second run that
# changes one OPSD key (the estimator), reusing the first run's data, base, cold-start SFT and
# visual-SFT stages and their evaluations. Prints both wall times and their ratio (target ≤ 35 %).
#
#   scripts/bench-stage-reuse.sh [work-dir] [extra --set args...]
set -euo pipefail
WORK=${1:-$(mktemp -d /tmp/mgsd-bench-reuse-XXXX)}
shift || true
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$WORK"
# The code version is part of every stage key: run both runs from a frozen copy of the built code,
# so a rebuild of the checkout during the benchmark cannot turn the second run's hits into misses.
ROOT="$WORK/code"
mkdir -p "$ROOT/py_backend"
cp -r "$SOURCE/dist" "$SOURCE/bin" "$SOURCE/configs" "$SOURCE/package.json" "$ROOT/"
cp -r "$SOURCE/py_backend/mgsd_backend" "$ROOT/py_backend/"
ln -sfn "$(readlink -f "$SOURCE/node_modules")" "$ROOT/node_modules"
ln -sfn "$(readlink -f "$SOURCE/.venv")" "$ROOT/.venv"
common=(--set "data.cacheDir=$WORK/datasets" --set "reuse.cacheDir=$WORK/stages" "$@")
run() {
  local out=$1; shift
  local start end
  start=$(date +%s.%N)
  node "$ROOT/bin/mgsd.js" run -c tiny --out "$out" "${common[@]}" "$@" 2> "$out.log" > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
first=$(run "$WORK/first")
second=$(run "$WORK/second" --set stages.opsd.estimator=sampled)
echo "first run (empty caches):        ${first} s"
echo "second run (stages.opsd.estimator=sampled): ${second} s"
echo "ratio: $(echo "scale=3; $second / $first" | bc)"
grep -h "reused\|done in" "$WORK/second.log" || true
