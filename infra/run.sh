#!/usr/bin/env bash
# `make run`: bring up the whole system locally without Docker.
#
#   1. PostgreSQL (install/start) and the service databases
#   2. the Kafka-compatible broker (tansu; installs once, ~20 min)
#   3. release builds of the services, started in the background
#   4. demo data (the `seed` binary of services/users, if it exists)
#
# Processes keep running after this script exits; `make stop` stops them.
# Logs: .run/logs/<service>.log   pids: .run/pids/<service>.pid
# Environment: TUAN_TELEMETRY__LOG_FORMAT (default pretty here), RUST_LOG, and any
# TUAN_* setting the services read (see shared/runtime/src/config.rs).
set -euo pipefail

# Services in start order. A service is skipped while services/<name> does not exist.
SERVICES="users circles groupbuy payments gateway"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUN_DIR="$ROOT/.run"
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
START_TIMEOUT_S="${TUAN_START_TIMEOUT_S:-60}"

export TUAN_TELEMETRY__LOG_FORMAT="${TUAN_TELEMETRY__LOG_FORMAT:-pretty}"
# A developer's machine: the built-in JWT secret and the simulated providers are allowed here
# and nowhere else (shared/runtime/src/config.rs, `Environment`).
export TUAN_ENVIRONMENT="${TUAN_ENVIRONMENT:-development}"

log() { echo "[run] $*" >&2; }

grpc_port() {
    case "$1" in
        gateway) echo 50050 ;;
        users) echo 50051 ;;
        circles) echo 50052 ;;
        groupbuy) echo 50053 ;;
        payments) echo 50054 ;;
        *) log "unknown service $1"; exit 1 ;;
    esac
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

has_seed_bin() {
    [[ -f services/users/src/bin/seed.rs || -f services/users/src/bin/seed/main.rs ]] ||
        grep -Eq '^[[:space:]]*name[[:space:]]*=[[:space:]]*"seed"' services/users/Cargo.toml 2>/dev/null
}

# --- 1. infrastructure -----------------------------------------------------------
infra/postgres.sh ensure
infra/postgres.sh create-dbs
infra/broker.sh install
infra/broker.sh start

# --- 2. build ----------------------------------------------------------------------
present=()
for svc in $SERVICES; do
    if [[ -d "services/$svc" ]]; then
        present+=("$svc")
    else
        log "services/$svc does not exist yet; skipping"
    fi
done
if [[ ${#present[@]} -eq 0 ]]; then
    log "no services to run"
    exit 1
fi

bin_args=()
for svc in "${present[@]}"; do bin_args+=(--bin "$svc"); done
log "cargo build --release ${bin_args[*]}"
cargo build --release "${bin_args[@]}"

# --- 3. start ----------------------------------------------------------------------
infra/reserve-ports.sh
mkdir -p "$LOG_DIR" "$PID_DIR"
for svc in "${present[@]}"; do
    port="$(grpc_port "$svc")"
    pid_file="$PID_DIR/$svc.pid"
    log_file="$LOG_DIR/$svc.log"
    if [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        log "$svc already running (pid $(cat "$pid_file")); restarting it with the new build"
        kill "$(cat "$pid_file")" 2>/dev/null || true
        for ((i = 0; i < 20; i++)); do
            kill -0 "$(cat "$pid_file")" 2>/dev/null || break
            sleep 0.5
        done
        rm -f "$pid_file"
    fi
    if port_open "$port"; then
        log "ERROR: port $port for $svc is taken by a process this script did not start"
        exit 1
    fi
    log "starting $svc on 127.0.0.1:$port (log $log_file)"
    echo "=== $(date -Is) start ===" >>"$log_file"
    nohup "$TARGET_DIR/release/$svc" >>"$log_file" 2>&1 </dev/null &
    echo $! >"$pid_file"
done

for svc in "${present[@]}"; do
    port="$(grpc_port "$svc")"
    pid="$(cat "$PID_DIR/$svc.pid")"
    deadline=$((SECONDS + START_TIMEOUT_S))
    until port_open "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "ERROR: $svc (pid $pid) exited during start-up; last lines of $LOG_DIR/$svc.log:"
            tail -n 40 "$LOG_DIR/$svc.log" >&2 || true
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            log "ERROR: $svc did not listen on $port within ${START_TIMEOUT_S}s; last lines of its log:"
            tail -n 40 "$LOG_DIR/$svc.log" >&2 || true
            exit 1
        fi
        sleep 0.3
    done
    log "$svc is up on 127.0.0.1:$port"
done

# --- 4. demo data ------------------------------------------------------------------
if has_seed_bin; then
    log "seeding demo data: cargo run --release --bin seed"
    cargo run --release --bin seed
else
    log "no seed binary in services/users yet; skipping demo data"
fi

# --- 5. summary --------------------------------------------------------------------
example_port="$(grpc_port "${present[0]}")"
for svc in "${present[@]}"; do
    [[ "$svc" == gateway ]] && example_port=50050
done
echo
echo "tuan is running."
echo
row() { printf '  %-10s  %-16s  %-38s  %s\n' "$@"; }
row service address metrics log
for svc in "${present[@]}"; do
    port="$(grpc_port "$svc")"
    row "$svc" "127.0.0.1:$port" "http://127.0.0.1:$((port + 1000))/metrics" ".run/logs/$svc.log"
done
row broker "127.0.0.1:${TUAN_BROKER_PORT:-9092}" "" ".run/tansu/tansu.log"
row postgres "127.0.0.1:5432" "" "databases tuan_users, tuan_circles, tuan_groupbuy, tuan_payments"
echo
if [[ -n "${TUAN_TELEMETRY__OTLP_ENDPOINT:-}" ]]; then
    echo "Traces: exported over OTLP/gRPC to $TUAN_TELEMETRY__OTLP_ENDPOINT"
else
    echo "Traces: not exported (trace ids are still in every log line). To see them, run any"
    echo "OTLP/gRPC collector (e.g. Jaeger all-in-one, listening on :4317) and start with"
    echo "  TUAN_TELEMETRY__OTLP_ENDPOINT=http://127.0.0.1:4317 make run"
fi
echo "Metrics: Prometheus text on each service's metrics address above (docs/local-dev.md)."
console_dist="services/gateway/console/dist/index.html"
if [[ -f "$console_dist" ]]; then
    echo "Merchant console: http://127.0.0.1:50050/console/index.html (log in as the merchant below)"
else
    echo "Merchant console: not built (needs npm: make console), then http://127.0.0.1:50050/console/index.html"
fi
cat <<SUMMARY

Demo accounts (password tuan-demo-2026; docs/local-dev.md):
  +8613800000000  operator  verifies merchants and reads the back office (tuanctl merchants pending)
  +8613800000001  merchant  verified; runs campaigns and a public account in the console
  +8613800000002  Alice     buyer; her Home has every part: the "Dinner friends" circle with a deal
                            card, Bob's open mango team, the dinner bill she collects, her wallet
  +8613800000003  Bob       buyer; leads a mango team (Carol joined), posted a moment, owes for dinner
  +8613800000004  Carol     buyer; in Bob's team, owes Alice for dinner

Signing up a new account needs the code of an SMS: locally no SMS is sent (the development
sender keeps it in the users database). Ask with RequestPhoneCode, then read it with:
  cargo run -q -p tuanctl -- sms +86139xxxxxxxx

Try (services expose gRPC reflection):
  grpcurl -plaintext 127.0.0.1:$example_port list
  grpcurl -plaintext 127.0.0.1:$example_port grpc.health.v1.Health/Check

Stop everything with: make stop
SUMMARY
