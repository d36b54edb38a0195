#!/usr/bin/env bash
# Brings up the five services for the console's browser test on the `make run` ports, from the
# debug binaries (`cargo build --workspace --bins`), seeds the demo data, runs a command, and
# stops what it started. The services get databases of their own (tuan_console_<service>,
# recreated each run) and a topic prefix of their own, so the run neither
# sees nor disturbs `make run` data or another test's topics and consumer groups, on a broker of
# its own (tansu on TUAN_CONSOLE_BROKER_PORT, default 19192, fresh each run; stopped at the end):
# consumer groups on a long-lived shared tansu were seen taking minutes to get partitions. If a gateway
# already listens on 50050 (`make run`), that stack is used as it is (it must be a build that
# serves /console/).
#
#   services/gateway/console/test/stack.sh <command...>
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
cd "$ROOT"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
OUT="$ROOT/services/gateway/console/test-output"
mkdir -p "$OUT/logs"
log() { echo "[console-test] $*" >&2; }
# The end of a log without backtrace frames: the error a process exited with, not its stack.
last_words() { grep -vE '^ +([0-9]+: |at )' "$1" | tail -"${2:-20}" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=()
own_broker=""
cleanup() {
    for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n "$own_broker" ]]; then TUAN_BROKER_PORT="$broker_port" infra/broker.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap "exit 143" INT TERM

if port_open 50050; then
    log "a gateway already listens on 127.0.0.1:50050; using the running stack"
else
    for svc in users circles groupbuy payments gateway; do
        [[ -x "$BIN/$svc" ]] || { log "missing $BIN/$svc: run cargo build --workspace --bins"; exit 1; }
    done
    infra/postgres.sh ensure >/dev/null 2>&1
    broker_port="${TUAN_CONSOLE_BROKER_PORT:-19192}"
    if port_open "$broker_port"; then log "port $broker_port (broker) is taken"; exit 1; fi
    rm -rf "$ROOT/.run/tansu-$broker_port"
    TUAN_BROKER_PORT="$broker_port" infra/broker.sh start >/dev/null 2>&1
    own_broker=1
    export TUAN_KAFKA__BROKERS="127.0.0.1:$broker_port"
    export TUAN_KAFKA__TOPIC_PREFIX="console$(date +%s)."
    export TUAN_TELEMETRY__LOG_FORMAT=pretty
    export TUAN_ENVIRONMENT=development
    # Holds confirm quickly, so a joined member is confirmed within the test's patience.
    export TUAN_PAYMENTS__PROVIDER__MIN_LATENCY_MS=0 TUAN_PAYMENTS__PROVIDER__MAX_LATENCY_MS=50
    # A small broadcast quota, so the test uses it up in a few sends.
    export TUAN_CIRCLES__BROADCAST_QUOTA_PER_MONTH=3
    declare -A port=([users]=50051 [circles]=50052 [groupbuy]=50053 [payments]=50054 [gateway]=50050)
    infra/reserve-ports.sh
    for svc in users circles groupbuy payments gateway; do
        if port_open "${port[$svc]}"; then log "port ${port[$svc]} ($svc) is taken"; exit 1; fi
        db="tuan_console_$svc"
        if [[ $svc != gateway ]]; then
            psql -h 127.0.0.1 -U postgres -qAt -v ON_ERROR_STOP=1 -c "drop database if exists $db with (force)" >/dev/null 2>&1
            psql -h 127.0.0.1 -U postgres -qAt -v ON_ERROR_STOP=1 -c "create database $db" >/dev/null 2>&1
        fi
        export TUAN_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
        # The make-run ports (and their metrics ports, +1000) lie in Linux's ephemeral range, so
        # another process's outgoing connection can hold one for a moment (seen: the gateway
        # refused with "Address already in use"); such a start is tried again.
        for ((attempt = 1; attempt <= 5; attempt++)); do
            "$BIN/$svc" >"$OUT/logs/$svc.log" 2>&1 </dev/null &
            pid=$!
            started+=("$pid")
            for ((i = 0; i < 200; i++)); do
                port_open "${port[$svc]}" && break
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.3
            done
            port_open "${port[$svc]}" && break
            grep -q "Address already in use" "$OUT/logs/$svc.log" || break
            log "$svc: a port was busy (attempt $attempt); trying again"
            sleep 1
        done
        port_open "${port[$svc]}" || { log "$svc did not start; see $OUT/logs/$svc.log"; last_words "$OUT/logs/$svc.log"; exit 1; }
        log "$svc up on ${port[$svc]}"
    done
    if [[ -x "$BIN/seed" ]]; then
        # The seed makes the demo operator in the users database directly (as `users grant-operator` does).
        TUAN_DATABASE__URL="postgres://postgres@127.0.0.1:5432/tuan_console_users" RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0 \
            "$BIN/seed" >"$OUT/logs/seed.log" 2>&1 || { log "seed failed; see $OUT/logs/seed.log"; last_words "$OUT/logs/seed.log"; exit 1; }
        log "demo data seeded"
    fi
fi
# Where the test reads a newcomer's sign-up code (`tuanctl sms`, the development SMS sender).
export TUAN_CONSOLE_TUANCTL="$BIN/tuanctl"
if [[ -n "$own_broker" ]]; then
    export TUAN_CONSOLE_USERS_DATABASE_URL="postgres://postgres@127.0.0.1:5432/tuan_console_users"
fi
# In the background, so that a TERM reaches the trap (bash waits for a foreground child first).
"$@" &
command_pid=$!
started=("$command_pid" "${started[@]}")
status=0
wait "$command_pid" || status=$?
exit "$status"
