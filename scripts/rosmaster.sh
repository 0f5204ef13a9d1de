#!/usr/bin/env bash
# rosmaster.sh start|stop|status: runs Debian's ROS 1 master (rosmaster --core) on a free
# loopback port for the tests.
#
#   start   picks a free port on 127.0.0.1, starts the master bound to loopback only, waits
#           until it answers getSystemState over XML-RPC, and writes its URI and PID to
#           .deps/rosmaster.uri and .deps/rosmaster.pid (log: .deps/rosmaster.log). Prints the
#           URI on stdout. When that master is already running and answering, it is reused.
#   stop    stops the master named in .deps/rosmaster.pid (and only that process).
#   status  prints the URI and exits 0 when the master answers, 1 otherwise.
#
# Environment:
#   CATCH_DEPS_DIR    state directory (default <repo>/.deps)
#   ROSMASTER_NAME    base name of the state files (default "rosmaster"); `make test` uses one
#                     name per run so that concurrent runs in one checkout get their own master
#   ROSMASTER_PORT    port to use (default: a free one)
#   ROSMASTER_WAIT_S  how long to wait for the master to answer (default 20)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS_DIR="${CATCH_DEPS_DIR:-$ROOT/.deps}"
NAME="${ROSMASTER_NAME:-rosmaster}"
case "$NAME" in */* | "") echo "rosmaster: error: ROSMASTER_NAME=$NAME must be a plain file name" >&2; exit 1 ;; esac
URI_FILE="$DEPS_DIR/$NAME.uri"
PID_FILE="$DEPS_DIR/$NAME.pid"
LOG_FILE="$DEPS_DIR/$NAME.log"
WAIT_S="${ROSMASTER_WAIT_S:-20}"
# Debian's ROS tools are Python 3 scripts for /usr/bin/python3; use the same interpreter for the
# helpers below so that a python3 earlier on PATH (pyenv, venv) does not matter.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

log() { printf 'rosmaster: %s\n' "$*" >&2; }
die() { printf 'rosmaster: error: %s\n' "$*" >&2; exit 1; }

free_port() {
  "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# answers URI: 0 when the master at URI answers getSystemState with code 1.
answers() {
  "$PY" - "$1" <<'PYEOF' >/dev/null 2>&1
import socket, sys, xmlrpc.client
socket.setdefaulttimeout(1.0)
code, _, _ = xmlrpc.client.ServerProxy(sys.argv[1]).getSystemState("/rosmaster_sh")
sys.exit(0 if code == 1 else 1)
PYEOF
}

running_pid() {
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    printf '%s\n' "$pid"
  fi
}

start() {
  command -v rosmaster >/dev/null 2>&1 || die "rosmaster not found: run 'make deps' (scripts/deps.sh installs python3-rosmaster)"
  mkdir -p "$DEPS_DIR"
  local pid uri port
  pid="$(running_pid)"
  if [ -n "$pid" ] && answers "$(cat "$URI_FILE")"; then
    log "already running (pid $pid) at $(cat "$URI_FILE")"
    cat "$URI_FILE"
    return 0
  fi
  port="${ROSMASTER_PORT:-$(free_port)}"
  uri="http://127.0.0.1:$port/"
  # ROS_IP=127.0.0.1 makes rosgraph bind to loopback only; ROS_HOME keeps its logs in .deps.
  ROS_IP=127.0.0.1 ROS_HOSTNAME=127.0.0.1 ROS_MASTER_URI="$uri" ROS_HOME="$DEPS_DIR/ros" \
    setsid rosmaster --core -p "$port" </dev/null >"$LOG_FILE" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  printf '%s\n' "$uri" >"$URI_FILE"
  local deadline=$((SECONDS + WAIT_S))
  until answers "$uri"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE" "$URI_FILE"
      die "rosmaster exited before answering on $uri; its log ($LOG_FILE):
$(tail -20 "$LOG_FILE")"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill "$pid" 2>/dev/null || true
      rm -f "$PID_FILE" "$URI_FILE"
      die "rosmaster did not answer on $uri within ${WAIT_S}s; its log ($LOG_FILE):
$(tail -20 "$LOG_FILE")"
    fi
    sleep 0.1
  done
  log "started (pid $pid) at $uri"
  printf '%s\n' "$uri"
}

stop() {
  local pid
  pid="$(running_pid)"
  if [ -z "$pid" ]; then
    rm -f "$PID_FILE" "$URI_FILE"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not stop on SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE" "$URI_FILE"
  log "stopped (pid $pid)"
}

status() {
  local pid
  pid="$(running_pid)"
  if [ -n "$pid" ] && [ -f "$URI_FILE" ] && answers "$(cat "$URI_FILE")"; then
    cat "$URI_FILE"
    return 0
  fi
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
