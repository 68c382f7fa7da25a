#!/usr/bin/env bash
# A Redraft fleet on one machine (issue 17): a private RabbitMQ node from Debian's rabbitmq-server, one server and two
# workers, all through the launcher ./redraft:
#
#   ./redraft serve  --broker "$AMQP" --port PORT [--models-dir D]
#   ./redraft worker --broker "$AMQP" --threads 1 --name worker-N [--models-dir D]
#
# The broker is started the way the tests start theirs (tests/Shared/RabbitBroker.cs): its own AMQP, Erlang
# distribution and epmd ports on 127.0.0.1, its own node name, and every file in one folder (nothing read from
# /etc/rabbitmq or written to /var/lib/rabbitmq; no management plugin). The script waits until each part answers
# (broker: its AMQP port accepts connections; server: GET /sdapi/v1/options; workers: GET /api/v1/workers names them,
# when the server has that route), prints the URLs and log files, and then waits. Ctrl-C, SIGTERM or any exit stops
# everything: the workers and the server with SIGTERM (a worker finishes or requeues its job), the broker last with
# `rabbitmqctl stop`.
#
#   tools/local-fleet.sh [--models-dir D] [--port 7860] [--workers 2] [--dir D]
#                        [--amqp-port P] [--dist-port P] [--epmd-port P] [--broker-only]
#
#   --models-dir D   passed to the server and to every worker
#   --port P         the server's HTTP port (default 7860)
#   --workers N      how many workers (default 2), named worker-1 .. worker-N, each with --threads 1
#   --dir D          the fleet's folder: the broker's data and logs and the processes' logs. Kept, with the node's
#                    name, so durable queues survive the next run with the same --dir. Default: a new temporary folder,
#                    deleted on exit.
#   --amqp-port P, --dist-port P, --epmd-port P
#                    the broker's ports (default: free ones)
#   --broker-only    start only the broker, print its address and how to reach it with rabbitmqctl, and wait
#
# Needs Debian's rabbitmq-server (apt-get install rabbitmq-server); its own service need not (and should not) run.
# REDRAFT_COMMAND replaces ./redraft (e.g. "dotnet path/to/redraft.dll", as the script's test runs it).
set -euo pipefail
cd "$(dirname "$(readlink -f -- "$0")")/.."

RABBIT_BIN=/usr/lib/rabbitmq/bin
START_TIMEOUT=60   # seconds for each part to answer
STOP_TIMEOUT=30    # seconds for each part to exit before it is killed

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }
die() { echo "local-fleet: $*" >&2; exit 1; }

models_dir="" port=7860 workers=2 dir="" amqp_port="" dist_port="" epmd_port="" broker_only=no
while [ $# -gt 0 ]; do
  case "$1" in
    --models-dir) models_dir=${2:?--models-dir needs a folder}; shift 2 ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --workers) workers=${2:?--workers needs a number}; shift 2 ;;
    --dir) dir=${2:?--dir needs a folder}; shift 2 ;;
    --amqp-port) amqp_port=${2:?--amqp-port needs a number}; shift 2 ;;
    --dist-port) dist_port=${2:?--dist-port needs a number}; shift 2 ;;
    --epmd-port) epmd_port=${2:?--epmd-port needs a number}; shift 2 ;;
    --broker-only) broker_only=yes; shift ;;
    -h|--help) usage 0 ;;
    *) echo "local-fleet: unknown option '$1'" >&2; usage 2 ;;
  esac
done
for n in "$port" "$workers" ${amqp_port:+"$amqp_port"} ${dist_port:+"$dist_port"} ${epmd_port:+"$epmd_port"}; do
  [[ $n =~ ^[0-9]+$ ]] || die "'$n' is not a number"
done
[ "$port" -gt 0 ] || die "--port needs a fixed port (the script waits on it)"
[ -x /usr/sbin/rabbitmq-server ] && [ -x "$RABBIT_BIN/rabbitmq-server" ] \
  || die "Debian's rabbitmq-server is not installed (apt-get install rabbitmq-server)"
[ -z "$models_dir" ] || [ -d "$models_dir" ] || die "--models-dir $models_dir is not a folder"

port_open() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

# A free port: a random one in 20000-32767 that nothing on loopback answers, and not one already picked here.
picked=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12768))
    if [[ $picked != *" $p "* ]] && ! port_open "$p"; then picked+="$p "; echo "$p"; return; fi
  done
  die "no free port found"
}
[ -n "$amqp_port" ] || amqp_port=$(free_port); picked+="$amqp_port "
[ -n "$dist_port" ] || dist_port=$(free_port); picked+="$dist_port "
[ -n "$epmd_port" ] || epmd_port=$(free_port); picked+="$epmd_port "
for p in "$amqp_port" "$dist_port" "$epmd_port"; do port_open "$p" && die "port $p is already in use"; done
if [ "$broker_only" = no ] && port_open "$port"; then die "the server's port $port is already in use (--port)"; fi

keep_dir=yes
if [ -z "$dir" ]; then dir=$(mktemp -d -t redraft-fleet-XXXXXX); keep_dir=no; fi
mkdir -p "$dir/home" "$dir/logs"
dir=$(readlink -f -- "$dir")

# The node's name stays with its folder: RabbitMQ keeps a node's data under its name.
[ -s "$dir/nodename" ] || echo "redraft-fleet-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')@localhost" > "$dir/nodename"
node=$(cat "$dir/nodename")
[ -s "$dir/home/.erlang.cookie" ] || { od -An -N20 -tx1 /dev/urandom | tr -d ' \n' > "$dir/home/.erlang.cookie"; chmod 400 "$dir/home/.erlang.cookie"; }
printf 'listeners.tcp.1 = 127.0.0.1:%s\nlog.console = false\n' "$amqp_port" > "$dir/rabbitmq.conf"
echo '[].' > "$dir/enabled_plugins"
: > "$dir/rabbitmq-env.conf"
cat > "$dir/rabbitmq.env" <<EOF
export HOME='$dir/home' LC_ALL=C.UTF-8
export RABBITMQ_NODENAME='$node' RABBITMQ_USE_LONGNAME=false
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$amqp_port RABBITMQ_DIST_PORT=$dist_port
export ERL_EPMD_PORT=$epmd_port ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
export RABBITMQ_CONF_ENV_FILE='$dir/rabbitmq-env.conf' RABBITMQ_CONFIG_FILE='$dir/rabbitmq.conf'
export RABBITMQ_ADVANCED_CONFIG_FILE='$dir/advanced.config' RABBITMQ_ENABLED_PLUGINS_FILE='$dir/enabled_plugins'
export RABBITMQ_MNESIA_BASE='$dir/mnesia' RABBITMQ_LOG_BASE='$dir/log'
export RABBITMQ_PLUGINS_EXPAND_DIR='$dir/plugins-expand' RABBITMQ_PID_FILE='$dir/node.pid'
unset NOTIFY_SOCKET
EOF
amqp="amqp://guest:guest@127.0.0.1:$amqp_port/"

# Every child runs in a session of its own (setsid), so a Ctrl-C on the terminal reaches only this script, which then
# stops them in order.
epmd_pid="" node_pid="" server_pid="" worker_pids=()

wait_gone() { # pid seconds: true once the process has exited
  local i
  for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2> /dev/null || { wait "$1" 2> /dev/null || true; return 0; }; sleep 0.1; done
  return 1
}

stop_process() { # pid name: SIGTERM, then SIGKILL after STOP_TIMEOUT
  [ -n "$1" ] && kill -0 "$1" 2> /dev/null || return 0
  kill -TERM "$1" 2> /dev/null || true
  wait_gone "$1" "$STOP_TIMEOUT" || { echo "local-fleet: $2 did not exit within ${STOP_TIMEOUT} s; killing it" >&2; kill -KILL "$1" 2> /dev/null || true; wait_gone "$1" 5 || true; }
}

stopping=no
stop_all() {
  [ "$stopping" = no ] || return 0
  stopping=yes
  trap '' INT TERM
  echo "local-fleet: stopping" >&2
  local pid
  for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${worker_pids[@]}"; do stop_process "$pid" "a worker"; done
  stop_process "$server_pid" "the server"
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2> /dev/null; then
    (. "$dir/rabbitmq.env" && "$RABBIT_BIN/rabbitmqctl" -n "$node" stop > /dev/null 2>&1) || true
    wait_gone "$node_pid" "$STOP_TIMEOUT" || { pkill -KILL -s "$node_pid" 2> /dev/null || true; wait_gone "$node_pid" 5 || true; }
  fi
  # The node's session (the start script, the VM and its helpers) is gone as a whole, then the private epmd.
  [ -z "$node_pid" ] || pkill -KILL -s "$node_pid" 2> /dev/null || true
  stop_process "$epmd_pid" "epmd"
  if [ "$keep_dir" = no ]; then rm -rf "$dir"; else echo "local-fleet: kept $dir" >&2; fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_log() { # logs, separated by ':'
  local log logs
  IFS=: read -ra logs <<< "$1"
  for log in "${logs[@]}"; do echo "--- $log (last 30 lines) ---" >&2; tail -n 30 "$log" >&2 2> /dev/null || true; done
}

wait_until() { # description pid logs(:-separated) command...: polls the command until it succeeds, the pid exits or time runs out
  local what=$1 pid=$2 log=$3 i
  shift 3
  for ((i = 0; i < START_TIMEOUT * 5; i++)); do
    "$@" && return 0
    kill -0 "$pid" 2> /dev/null || { show_log "$log"; die "$what exited while starting"; }
    sleep 0.2
  done
  show_log "$log"
  die "$what did not answer within ${START_TIMEOUT} s"
}

# --- the broker ---
started=$(date +%s%N)
setsid epmd -port "$epmd_port" -address 127.0.0.1 > "$dir/logs/epmd.log" 2>&1 &
epmd_pid=$!
wait_until "epmd" "$epmd_pid" "$dir/logs/epmd.log" port_open "$epmd_port"
(. "$dir/rabbitmq.env" && exec setsid "$RABBIT_BIN/rabbitmq-server") > "$dir/logs/rabbitmq.out" 2>&1 < /dev/null &
node_pid=$!
broker_ready() { port_open "$amqp_port"; }
wait_until "the broker" "$node_pid" "$dir/logs/rabbitmq.out:$dir/log/$node.log" broker_ready
(. "$dir/rabbitmq.env" && "$RABBIT_BIN/rabbitmq-diagnostics" -q ping > /dev/null) || { show_log "$dir/log/$node.log"; die "the broker does not answer rabbitmq-diagnostics ping"; }
echo "local-fleet: broker  $amqp (node $node, ready in $((($(date +%s%N) - started) / 1000000)) ms; log $dir/log/$node.log)"
echo "local-fleet:         rabbitmqctl: (. $dir/rabbitmq.env && $RABBIT_BIN/rabbitmqctl list_queues name type messages)"

if [ "$broker_only" = no ]; then
  read -r -a redraft <<< "${REDRAFT_COMMAND:-./redraft}"
  # One build before three launches, so the launcher's first-run build does not happen three times at once.
  "${redraft[@]}" --version > /dev/null || die "${redraft[*]} does not run"
  models=(); [ -z "$models_dir" ] || models=(--models-dir "$models_dir")

  setsid "${redraft[@]}" serve --broker "$amqp" --port "$port" "${models[@]}" > "$dir/logs/server.log" 2>&1 < /dev/null &
  server_pid=$!
  for ((w = 1; w <= workers; w++)); do
    setsid "${redraft[@]}" worker --broker "$amqp" --threads 1 --name "worker-$w" "${models[@]}" > "$dir/logs/worker-$w.log" 2>&1 < /dev/null &
    worker_pids+=($!)
  done

  http_get() { # port path: prints the body of a 200 answer (HTTP/1.0, so the server closes after it)
    (exec 3<> "/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 && cat <&3) 2> /dev/null \
      | tr -d '\r' | awk 'NR == 1 { if ($2 != "200") exit 1; next } body { print; next } /^$/ { body = 1 }'
  }
  server_ready() { http_get "$port" /sdapi/v1/options > /dev/null; }
  wait_until "the server" "$server_pid" "$dir/logs/server.log" server_ready
  echo "local-fleet: server  http://127.0.0.1:$port/ (A1111 API at http://127.0.0.1:$port/sdapi/v1/; log $dir/logs/server.log)"

  for ((w = 1; w <= workers; w++)); do
    pid=${worker_pids[w - 1]}
    worker_listed() { local list; list=$(http_get "$port" /api/v1/workers) || return 1; [[ $list == *"\"worker-$w\""* ]]; }
    wait_until "worker-$w" "$pid" "$dir/logs/worker-$w.log" worker_listed
    echo "local-fleet: worker-$w (pid $pid; log $dir/logs/worker-$w.log)"
  done
fi

echo "local-fleet: running; Ctrl-C stops everything (the broker last)"
# Wait for Ctrl-C or for any part to exit on its own, which ends the fleet.
while true; do
  for pid in "$node_pid" "$epmd_pid" ${server_pid:+"$server_pid"} "${worker_pids[@]}"; do
    kill -0 "$pid" 2> /dev/null || { echo "local-fleet: process $pid exited; stopping the rest" >&2; exit 1; }
  done
  sleep 1
done
