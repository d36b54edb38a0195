#!/usr/bin/env bash
# Prints the path of a Python with infra/requirements-infra.txt installed, creating or updating
# the virtualenv .run/venv-infra when the requirements changed. Log lines go to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.run/venv-infra"
REQ="$ROOT/infra/requirements-infra.txt"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "[venv] installing $REQ into $VENV" >&2
    mkdir -p "$ROOT/.run"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ" >&2
    echo "$want" >"$STAMP"
fi
echo "$VENV/bin/python"
