# Local development entry points; see docs/local-dev.md.
.PHONY: run stop test broker fmt lint bench chaos k8s-check drain-test

run:
	infra/run.sh

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

bench:
	@echo "bench: not implemented yet"

chaos:
	@echo "chaos: not implemented yet"
