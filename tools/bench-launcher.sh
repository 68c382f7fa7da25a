#!/usr/bin/env bash
# How long a call of `redraft` takes once it is built: the launcher (./redraft) against the README's plain
# alternative (`dotnet run --project src/Redraft.Cli -c Release -- ...`), the same command in the same run.
# One untimed call of each first (so both are built and nothing is left to build), then RUNS timed calls of each,
# alternating; prints every time, the two medians and their ratio.
#
#   tools/bench-launcher.sh [RUNS] [-- REDRAFT ARGS]      default: 5 runs of `redraft --version`
set -euo pipefail
cd "$(dirname "$(readlink -f -- "$0")")/.."

runs=5
if [ $# -gt 0 ] && [ "$1" != "--" ]; then runs=$1; shift; fi
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--version)

launcher=(./redraft "${args[@]}")
plain=(dotnet run --project src/Redraft.Cli -c Release -- "${args[@]}")

# Seconds (3 decimals) one call takes; its output is dropped, a failure stops the benchmark.
seconds() {
  local start end
  start=$(date +%s%N)
  "$@" > /dev/null 2>&1 || { echo "bench-launcher: '$*' failed" >&2; exit 1; }
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }'
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "first calls (untimed; they build what is missing)..." >&2
"${launcher[@]}" > /dev/null
"${plain[@]}" > /dev/null

fast=() slow=()
for ((i = 0; i < runs; i++)); do
  fast+=("$(seconds "${launcher[@]}")")
  slow+=("$(seconds "${plain[@]}")")
done

m_fast=$(median "${fast[@]}")
m_slow=$(median "${slow[@]}")
echo "redraft ${args[*]}: $runs calls each after a first call, alternating; $(nproc) cores"
printf '%-50s median %s s  (%s)\n' "./redraft" "$m_fast" "${fast[*]}" \
  "dotnet run --project src/Redraft.Cli -c Release --" "$m_slow" "${slow[*]}"
awk -v a="$m_slow" -v b="$m_fast" 'BEGIN { printf "ratio dotnet run / ./redraft: %.1fx\n", a / b }'
