#!/usr/bin/env bash
# Brings up the five services for the console's browser test on the `make run` ports, from the
# debug binaries (`cargo build --workspace --bins`), seeds the demo data, runs a command, and
# stops what it started. The services get databases of their own (tuan_console_<service>,
# recreated each run) and a topic prefix of their own on the shared broker, so the run neither
# sees nor disturbs `make run` data or another test's topics and consumer groups. If a gateway
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
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=()
cleanup() {
    for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
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
    infra/broker.sh start >/dev/null 2>&1
    export TUAN_KAFKA__TOPIC_PREFIX="console$(date +%s)."
    export TUAN_TELEMETRY__LOG_FORMAT=pretty
    # Holds confirm quickly, so a joined member is confirmed within the test's patience.
    export TUAN_PAYMENTS__PROVIDER__MIN_LATENCY_MS=0 TUAN_PAYMENTS__PROVIDER__MAX_LATENCY_MS=50
    declare -A port=([users]=50051 [circles]=50052 [groupbuy]=50053 [payments]=50054 [gateway]=50050)
    for svc in users circles groupbuy payments gateway; do
        if port_open "${port[$svc]}"; then log "port ${port[$svc]} ($svc) is taken"; exit 1; fi
        db="tuan_console_$svc"
        if [[ $svc != gateway ]]; then
            psql -h 127.0.0.1 -U postgres -qAt -v ON_ERROR_STOP=1 -c "drop database if exists $db with (force)" >/dev/null 2>&1
            psql -h 127.0.0.1 -U postgres -qAt -v ON_ERROR_STOP=1 -c "create database $db" >/dev/null 2>&1
        fi
        export TUAN_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
        "$BIN/$svc" >"$OUT/logs/$svc.log" 2>&1 </dev/null &
        started+=($!)
        for ((i = 0; i < 200; i++)); do port_open "${port[$svc]}" && break; sleep 0.3; done
        port_open "${port[$svc]}" || { log "$svc did not start; see $OUT/logs/$svc.log"; tail -20 "$OUT/logs/$svc.log" >&2; exit 1; }
        log "$svc up on ${port[$svc]}"
    done
    if [[ -x "$BIN/seed" ]]; then
        "$BIN/seed" >"$OUT/logs/seed.log" 2>&1 || { log "seed failed"; tail -20 "$OUT/logs/seed.log" >&2; exit 1; }
        log "demo data seeded"
    fi
fi
"$@"
