#!/usr/bin/env bash
# Side-by-side `mgsd run` timing: alternates runs of another built checkout (e.g. the starting
# commit) and this one, with the same arguments, and prints one line per run with its wall time,
# the CPU time of the whole process tree (Node and every worker it reaped, from bash's `time`),
# their ratio (cores kept busy on average) and the machine's load average at the end, so runs on a
# shared machine can be judged. Usage:
#   scripts/bench-run.sh <other-checkout> <rounds> [mgsd run arguments…]
# e.g. scripts/bench-run.sh /work/wt/baseline 1 --set stages.base.steps=70
set -euo pipefail
other=$(cd "$1" && pwd); rounds=$2; shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/mgsd-bench-run-XXXXXX")
TIMEFORMAT='%R %U %S'
for round in $(seq 1 "$rounds"); do
  for side in other here; do
    dir=$([ "$side" = other ] && echo "$other" || echo "$here")
    run="$out/$side-$round"
    times=$( { time (cd "$dir" && node dist/cli/main.js run --out "$run" "$@" >"$run.log" 2>&1) ; } 2>&1 )
    read -r wall user sys <<<"$times"
    load=$(cut -d' ' -f1 /proc/loadavg)
    awk -v s="$side" -v r="$round" -v w="$wall" -v u="$user" -v y="$sys" -v l="$load" -v d="$dir" 'BEGIN {
      printf "{\"side\":\"%s\",\"checkout\":\"%s\",\"round\":%d,\"wall_s\":%.1f,\"cpu_s\":%.1f,\"cpu_per_wall\":%.2f,\"load_avg_1m\":%s}\n", s, d, r, w, u + y, (u + y) / w, l }'
  done
done
