#!/bin/bash
# Resident memory of `redraft serve` with a checkpoint loaded at start, then after each of
# unload-checkpoint, unload-checkpoint (nothing to free), reload-checkpoint, unload, reload, unload.
# Usage: tools/server-unload-rss.sh CHECKPOINT [REDRAFT_DLL] (run under the shared build lock on the dev machine).
# Needs the CLIP vocabulary and TAESD weights in ../shared/data (or set CLIP_DIR / TAESD_DIR).
set -e
MODEL=${1:?checkpoint path}
BIN=${2:-tests/Redraft.Server.Tests/bin/Debug/net10.0/linux-x64/redraft.dll}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLIP_DIR=${CLIP_DIR:-$ROOT/../shared/data/clip}
TAESD_DIR=${TAESD_DIR:-$ROOT/../shared/data/taesd}
PORT=${PORT:-7932}
D=$(mktemp -d); mkdir -p "$D/models"
dotnet "$BIN" serve --port "$PORT" --models-dir "$D/models" --model "$MODEL" --threads 2 \
  --tokenizer "$CLIP_DIR" --taesd "$TAESD_DIR" > "$D/out" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$D"' EXIT
until grep -q listening "$D/out"; do sleep 0.5; kill -0 $PID; done
rss() { echo "$1: $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$PID/status)"; }
sleep 5; rss "loaded at start"
for step in unload unload reload unload reload unload; do
  s=$(date +%s.%N); curl -s -XPOST "localhost:$PORT/sdapi/v1/$step-checkpoint" >/dev/null; e=$(date +%s.%N)
  sleep 5; rss "after $step-checkpoint ($(echo "$e - $s" | bc | cut -c1-5) s)"
done
