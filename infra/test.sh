#!/usr/bin/env bash
# `make test`: PostgreSQL + broker up, then the whole workspace's tests.
# Tests create their own databases (shared/testkit), so no create-dbs here.
# Extra arguments are passed to `cargo test` before the `--`, e.g.
#   infra/test.sh -p tuan-eventstore
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
start=$SECONDS

infra/postgres.sh ensure
infra/postgres.sh tune
infra/broker.sh install
infra/broker.sh start

export TUAN_TEST_BROKERS="127.0.0.1:${TUAN_BROKER_PORT:-9092}"

locked=()
[[ -f Cargo.lock ]] && locked=(--locked)

# The service binaries first, with the workspace's feature set: the end-to-end tests run them
# as processes and then need not build them again, and the k8s check asks them about the
# rendered settings.
cargo build --workspace --bins "${locked[@]}"
export TUAN_E2E_NO_BUILD=1

# Kubernetes manifests and Dockerfile, offline (docs/deploy.md "What the checks validate").
infra/k8s-check.sh

cmd=(cargo test --workspace "${locked[@]}" "$@" -- --test-threads=4)
echo "[test] ${cmd[*]}" >&2
set +e
"${cmd[@]}"
status=$?
# SIGTERM under load against the users service (needs the debug build cargo test just made).
if [[ $# -eq 0 ]]; then
    infra/drain-test.sh || status=1
    # The merchant console in headless Chromium against the five services (docs/console.md):
    # Debian's Chromium is installed if missing, the console's npm packages by `make console`.
    if [[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
        echo "[test] installing Chromium for the console test" >&2
        apt-get install -y -q chromium >/dev/null || echo "[test] could not install Chromium: apt-get install -y chromium" >&2
    fi
    make -s console-test || status=1
fi
set -e

elapsed=$((SECONDS - start))
printf '[test] finished with status %d in %dm%02ds\n' "$status" $((elapsed / 60)) $((elapsed % 60)) >&2
exit "$status"
