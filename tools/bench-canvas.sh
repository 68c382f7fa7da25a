#!/usr/bin/env bash
# The canvas benchmark (issue 15): builds bench/Redraft.Bench.Canvas (Release) and runs it: per-pointer-move script
# time at 1024x1024, undo/redo round trips on a 1024x1024 document with 100 steps, and the live-mode loop at 512x512
# on a random-weight SD-Turbo-shaped model (sd21 preset, 1.7 GB, written to a temporary folder and deleted after).
# Needs Debian's /usr/bin/chromium and ../shared/data (CLIP vocabulary, TAESD). Prints a Markdown table.
#
#   tools/bench-canvas.sh [--only pointer,undo,live] [--threads 2] [--json] ...   (--help-like usage: any bad option)
#
# On a shared machine it holds /tmp/redraft-build.lock while building and measuring, so builds and tests of others
# wait instead of running beside it (set BENCH_NO_LOCK=1 to skip the lock).
set -euo pipefail
cd "$(dirname "$(readlink -f -- "$0")")/.."

run() {
  local log
  log=$(mktemp)
  dotnet build bench/Redraft.Bench.Canvas -c Release -nologo > "$log" 2>&1 || { cat "$log"; rm -f "$log"; exit 1; }
  rm -f "$log"
  echo "command: tools/bench-canvas.sh $*" >&2
  dotnet bench/Redraft.Bench.Canvas/bin/Release/net10.0/linux-x64/Redraft.Bench.Canvas.dll "$@"
}

if [ "${BENCH_NO_LOCK:-}" = 1 ]; then
  run "$@"
else
  exec 9> /tmp/redraft-build.lock
  flock 9
  run "$@"
fi
