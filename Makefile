# Local development entry points; see docs/local-dev.md.
.PHONY: run stop test broker fmt lint bench chaos

run:
	infra/run.sh

stop:
	infra/stop.sh

test:
	infra/test.sh

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
