#!/usr/bin/env bash
# SIGTERM under load against the users service (see infra/drain-test.py). Needs the debug build
# (`cargo build -p users`, or any `cargo test --workspace`), PostgreSQL and tansu installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$(infra/venv.sh)"
[[ -x target/debug/users ]] || cargo build -p users
exec "$PY" infra/drain-test.py "$@"
