#!/usr/bin/env bash
# Local Kafka-compatible broker (tansu) for development and tests.
#
#   infra/broker.sh install   install tansu 0.6.0 via cargo (~20 min, once)
#   infra/broker.sh start     start it in the background (idempotent)
#   infra/broker.sh stop      stop the broker started by `start`
#   infra/broker.sh status    print whether it is running / reachable
#
# Data lives in .run/tansu/tansu.db (sqlite, durable across restarts); log and pid file
# next to it. Environment: TUAN_BROKER_PORT (default 9092; other ports use .run/tansu-<port>/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${TUAN_BROKER_PORT:-9092}"
HOST=127.0.0.1
TANSU_VERSION=0.6.0
# One state directory per port, so a second broker on another port never touches the first.
if [[ "$PORT" == 9092 ]]; then
    RUN_DIR="$ROOT/.run/tansu"
else
    RUN_DIR="$ROOT/.run/tansu-$PORT"
fi
PID_FILE="$RUN_DIR/tansu.pid"
LOG_FILE="$RUN_DIR/tansu.log"

log() { echo "[broker] $*" >&2; }

port_open() {
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

tansu_bin() {
    if command -v tansu >/dev/null 2>&1; then
        command -v tansu
    elif [[ -x "$HOME/.cargo/bin/tansu" ]]; then
        echo "$HOME/.cargo/bin/tansu"
    else
        return 1
    fi
}

# True if the pid file names a live (non-zombie) process.
pid_alive() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid state
    pid="$(cat "$PID_FILE")"
    kill -0 "$pid" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" != "Z" ]]
}

cmd_install() {
    if ! command -v sqlite3 >/dev/null 2>&1; then
        local sudo=""
        [[ "$(id -u)" == 0 ]] || sudo=sudo
        log "installing sqlite3 (to index tansu's header table) with apt-get"
        $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq sqlite3 ||
            log "WARNING: could not install sqlite3; the broker will run slower"
    fi
    if bin="$(tansu_bin)"; then
        log "tansu already installed: $bin"
        return 0
    fi
    log "installing tansu $TANSU_VERSION with cargo; this takes ~20 min the first time"
    (cd /tmp && cargo install tansu --version "$TANSU_VERSION" --locked --features libsql)
    bin="$(tansu_bin)" || { log "tansu not found after install"; exit 1; }
    log "installed: $bin"
}

# tansu 0.6.0's sqlite schema has no index on header (topition, offset_id), which its fetch
# queries once per record: without one, every fetched message scans all headers ever stored.
# Same statement as tuan_testkit::broker::HEADER_INDEX_SQL.
index_headers() {
    if ! command -v sqlite3 >/dev/null 2>&1; then
        log "WARNING: sqlite3 not found; tansu's header table stays unindexed (slower). apt-get install sqlite3"
        return 0
    fi
    local i
    for ((i = 0; i < 50; i++)); do
        if sqlite3 -cmd ".timeout 5000" "$RUN_DIR/tansu.db" \
            "CREATE INDEX IF NOT EXISTS tuan_header_record ON header (topition, offset_id)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    log "WARNING: could not index tansu's header table; the broker will be slower"
}

cmd_start() {
    if port_open; then
        log "something already listens on $HOST:$PORT; assuming it is the broker"
        return 0
    fi
    local bin
    bin="$(tansu_bin)" || { log "tansu is not installed; run: infra/broker.sh install"; exit 1; }
    mkdir -p "$RUN_DIR"
    if pid_alive; then
        log "stale process $(cat "$PID_FILE") holds the pid file but the port is closed; stopping it"
        kill "$(cat "$PID_FILE")" 2>/dev/null || true
        sleep 1
    fi
    log "starting tansu on $HOST:$PORT (storage $RUN_DIR/tansu.db, log $LOG_FILE)"
    (
        cd "$RUN_DIR"
        # RUST_LOG can be overridden by the caller for debugging.
        RUST_LOG="${RUST_LOG:-warn}" nohup "$bin" broker \
            --storage-engine "sqlite://tansu.db" \
            --listener-url "tcp://$HOST:$PORT" \
            --advertised-listener-url "tcp://$HOST:$PORT" \
            >>"$LOG_FILE" 2>&1 </dev/null &
        echo $! >"$PID_FILE"
    )
    local i
    for ((i = 0; i < 60; i++)); do
        if port_open; then
            index_headers
            log "up (pid $(cat "$PID_FILE"))"
            return 0
        fi
        if ! pid_alive; then
            break
        fi
        sleep 0.5
    done
    if pid_alive; then
        log "ERROR: tansu did not accept connections on $HOST:$PORT within 30 s"
    else
        log "ERROR: tansu exited before accepting connections on $HOST:$PORT"
        rm -f "$PID_FILE"
    fi
    log "---- last lines of $LOG_FILE ----"
    tail -n 40 "$LOG_FILE" >&2 || true
    exit 1
}

cmd_stop() {
    if [[ ! -f "$PID_FILE" ]]; then
        log "no pid file ($PID_FILE); nothing to stop"
        return 0
    fi
    local pid
    pid="$(cat "$PID_FILE")"
    if pid_alive; then
        kill "$pid"
        local i
        for ((i = 0; i < 20; i++)); do
            pid_alive || break
            sleep 0.5
        done
        if pid_alive; then
            log "pid $pid did not exit after 10 s; sending SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
        fi
        log "stopped (pid $pid)"
    else
        log "pid $pid not running"
    fi
    rm -f "$PID_FILE"
}

cmd_status() {
    local state=0
    if pid_alive; then
        echo "tansu: process $(cat "$PID_FILE") running"
    else
        echo "tansu: no process from $PID_FILE"
    fi
    if port_open; then
        echo "tansu: $HOST:$PORT accepting connections"
    else
        echo "tansu: $HOST:$PORT not reachable"
        state=1
    fi
    return "$state"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 {install|start|stop|status}" >&2
        exit 2
        ;;
esac
