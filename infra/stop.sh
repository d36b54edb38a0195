#!/usr/bin/env bash
# `make stop`: stop the services started by infra/run.sh (pid files in .run/pids/),
# then the broker. PostgreSQL is left running (it is a system service).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PID_DIR="$ROOT/.run/pids"

log() { echo "[stop] $*" >&2; }

shopt -s nullglob
pids=()
for pid_file in "$PID_DIR"/*.pid; do
    svc="$(basename "$pid_file" .pid)"
    pid="$(cat "$pid_file")"
    if kill -0 "$pid" 2>/dev/null; then
        log "stopping $svc (pid $pid)"
        kill "$pid" 2>/dev/null || true
        pids+=("$pid:$pid_file:$svc")
    else
        log "$svc (pid $pid) is not running"
        rm -f "$pid_file"
    fi
done

# Give services up to 15 s for a graceful shutdown, then SIGKILL.
for entry in "${pids[@]}"; do
    IFS=: read -r pid pid_file svc <<<"$entry"
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$svc (pid $pid) still running after 15 s; sending SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
done

"$ROOT/infra/broker.sh" stop
