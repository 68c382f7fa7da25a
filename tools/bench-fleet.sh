#!/usr/bin/env bash
# The fleet benchmark (issue 17): builds bench/Redraft.Bench.Fleet (Release) and runs it: a private RabbitMQ node
# (Debian's rabbitmq-server), a server with --broker and one, then two `redraft worker` processes (--threads 1), against
# a server generating in-process (--threads 1), on the tiny random-weight model. Prints jobs per second (in-process,
# 1 worker, 2 workers) and the broker's overhead per job. Needs rabbitmq-server and ../shared/data.
#
#   tools/bench-fleet.sh [--jobs 24] [--steps 20] [--rounds 3] [--overhead-jobs 10] [--overhead-steps 2]
#
# Holds /tmp/redraft-build.lock while building and measuring (BENCH_NO_LOCK=1 skips it).
set -euo pipefail
cd "$(dirname "$(readlink -f -- "$0")")/.."

run() {
  local log
  log=$(mktemp)
  dotnet build bench/Redraft.Bench.Fleet -c Release -nologo > "$log" 2>&1 || { cat "$log"; rm -f "$log"; exit 1; }
  rm -f "$log"
  dotnet bench/Redraft.Bench.Fleet/bin/Release/net10.0/linux-x64/Redraft.Bench.Fleet.dll "$@"
}

if [ "${BENCH_NO_LOCK:-}" = 1 ]; then
  run "$@"
else
  exec 9> /tmp/redraft-build.lock
  flock 9
  run "$@"
fi
