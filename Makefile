# Local development entry points; see docs/local-dev.md.
.PHONY: run stop test broker fmt lint bench chaos k8s-check drain-test console console-test

run:
	@if ! command -v npm >/dev/null; then echo "npm not found: the merchant console is not built"; \
	elif ! $(MAKE) console; then echo "the merchant console did not build (see above); starting without it"; fi
	infra/run.sh

# The merchant console (docs/console.md): generated client, type check, Vite build into
# services/gateway/console/dist, which the gateway serves at /console/index.html.
console:
	cd services/gateway/console && { test node_modules/.package-lock.json -nt package-lock.json || npm ci --no-audit --no-fund; } && npm run build

# The console in headless Chromium against the five services (debug binaries; docs/console.md).
console-test: console
	@test -x "$${CHROMIUM:-/usr/bin/chromium}" || { echo "no Chromium: apt-get install -y chromium"; exit 1; }
	cargo build --workspace --bins
	cd services/gateway/console && npm run -s test:unit && npm run -s build:buyer
	services/gateway/console/test/stack.sh node services/gateway/console/test/console.test.mjs

stop:
	infra/stop.sh

test:
	infra/test.sh

# Dockerfile lint, every k8s overlay rendered and validated offline (docs/deploy.md).
k8s-check:
	infra/k8s-check.sh

# SIGTERM under load against the users service.
drain-test:
	infra/drain-test.sh

broker:
	infra/broker.sh install
	infra/broker.sh start

fmt:
	cargo fmt --all

lint:
	cargo fmt --check && cargo clippy --all-targets -- -D warnings

# Builds the benchmark binaries; each prints its figures (commands and results: docs/benchmarks.md).
bench:
	cargo build --release -p tuan-bench --bins
	@echo "run one of: target/release/{eventstore,transfers,fanout,consumer,flash_sale,gateway_screens} (arguments in docs/benchmarks.md)"

# The long reliability run (docs/reliability.md): 10,000 sagas, 60 faults, every invariant.
# Another size or a seed to reproduce: make chaos CHAOS_ARGS="--seed 42 --sagas 2000 --faults 20"
chaos:
	infra/postgres.sh ensure
	infra/broker.sh install
	cargo build --workspace --bins
	TUAN_E2E_NO_BUILD=1 target/debug/chaos $(CHAOS_ARGS)
