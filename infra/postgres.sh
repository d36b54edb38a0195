#!/usr/bin/env bash
# Local PostgreSQL for development and tests (no Docker).
#
#   infra/postgres.sh ensure       install (apt) if missing, start if stopped, wait until ready
#   infra/postgres.sh tune         raise max_connections to 300 if lower (restarts PostgreSQL)
#   infra/postgres.sh create-dbs   create the service databases if they do not exist
#
# Assumes a Debian-style cluster reachable at 127.0.0.1:5432 as user postgres
# with trust authentication (the local dev / CI setup).
set -euo pipefail

PGHOST_ADDR=127.0.0.1
PGPORT_NUM="${TUAN_PG_PORT:-5432}"
DATABASES=(tuan_users tuan_circles tuan_groupbuy tuan_payments)

log() { echo "[postgres] $*" >&2; }

ready() {
    pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM" >/dev/null 2>&1
}

cluster_version() {
    # newest installed cluster version, e.g. "15"
    ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1
}

cmd_ensure() {
    if command -v pg_isready >/dev/null 2>&1 && ready; then
        log "ready on $PGHOST_ADDR:$PGPORT_NUM"
        return 0
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ -z "$(cluster_version)" ]]; then
        log "PostgreSQL not installed; installing with apt-get"
        local sudo=""
        [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
        $sudo apt-get update
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y postgresql
    fi
    local ver
    ver="$(cluster_version)"
    if [[ -z "$ver" ]]; then
        log "ERROR: no cluster under /etc/postgresql after install"
        exit 1
    fi
    if ! ready; then
        log "starting cluster $ver/main"
        local sudo=""
        [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
        $sudo pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    fi
    local i
    for ((i = 0; i < 60; i++)); do
        if ready; then
            log "ready on $PGHOST_ADDR:$PGPORT_NUM"
            return 0
        fi
        sleep 0.5
    done
    log "ERROR: PostgreSQL not ready on $PGHOST_ADDR:$PGPORT_NUM after 30 s"
    pg_lsclusters >&2 || true
    tail -n 30 "/var/log/postgresql/postgresql-$ver-main.log" >&2 2>/dev/null || true
    exit 1
}

# The test suite runs several services per test, four tests at a time; Debian's default of
# 100 connections is too few. Raises it (a restart) only when it is lower than needed.
cmd_tune() {
    local want=300 have ver
    have="$(psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres -tAc 'SHOW max_connections')"
    if (( have >= want )); then
        log "max_connections $have"
        return 0
    fi
    log "raising max_connections from $have to $want (restarts PostgreSQL)"
    psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres -qc "ALTER SYSTEM SET max_connections = $want"
    ver="$(cluster_version)"
    local sudo=""
    [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    $sudo pg_ctlcluster --skip-systemctl-redirect "$ver" main restart
    cmd_ensure
}

cmd_create_dbs() {
    local db exists
    for db in "${DATABASES[@]}"; do
        exists="$(psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = '$db'")"
        if [[ "$exists" == "1" ]]; then
            log "database $db exists"
        else
            psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
                -c "CREATE DATABASE \"$db\""
            log "created database $db"
        fi
    done
}

case "${1:-}" in
    ensure) cmd_ensure ;;
    tune) cmd_tune ;;
    create-dbs) cmd_create_dbs ;;
    *)
        echo "usage: $0 {ensure|tune|create-dbs}" >&2
        exit 2
        ;;
esac
