//! The gRPC server every service runs: a server span per call (continuing the caller's trace),
//! health (`grpc.health.v1`), and reflection both as v1 and v1alpha so grpcurl, Postman and
//! Python clients can all explore it.

use std::{collections::HashMap, time::Duration};

use tokio::net::TcpListener;
use tonic::{
    Request, Status,
    transport::{Server, server::Router},
};
use tonic_health::server::HealthReporter;

use tower::layer::util::{Identity, Stack};

use crate::{metrics::RpcMetricsLayer, telemetry};

/// The parsers of request fields live in [`crate::fields`]; the handlers import them from here.
pub use crate::fields::{count_or, idempotency_key, parse_uuid, parse_uuids};

/// The health service's own name, listed by reflection too.
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// The router every service serves: a span and metrics per call.
pub type ServiceRouter = Router<Stack<RpcMetricsLayer, Identity>>;

/// How long any handler may take to answer (a stream's head; the stream itself may last), when
/// the caller's own `grpc-timeout` is not shorter. Nothing legitimate comes near it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections that go quiet are pinged, and dropped when the ping is not answered, so a
/// vanished peer's streams and buffers are freed.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Backends serve the gateway's few multiplexed connections, so the per-connection caps are
/// the platform's totals: generous, a guard against runaway memory rather than a quota.
const BACKEND_STREAMS_PER_CONNECTION: u32 = 10_000;
/// The gateway serves one connection per app or browser: a client may have this many calls
/// and streams open at once on one connection, and this many in flight (not yet answered).
const EDGE_STREAMS_PER_CONNECTION: u32 = 100;
const EDGE_CONCURRENCY_PER_CONNECTION: usize = 64;

/// A server with health and reflection mounted, a span per call and RPC metrics. Add the
/// service's API with `.add_service(..)` and run it with [`serve`].
pub fn router(api_names: &[&str]) -> anyhow::Result<(ServiceRouter, HealthReporter)> {
    router_on(limited(Server::builder()).max_concurrent_streams(BACKEND_STREAMS_PER_CONNECTION), api_names)
}

/// [`router`] for the edge, on a server that also accepts HTTP/1.1 connections, for a service
/// that wraps its API in gRPC-Web (browsers cannot send HTTP/2 trailers). HTTP/2 connections,
/// and so native gRPC, are served as by [`router`], with the edge's per-connection limits.
pub fn router_accepting_http1(api_names: &[&str]) -> anyhow::Result<(ServiceRouter, HealthReporter)> {
    let server = limited(Server::builder().accept_http1(true))
        .max_concurrent_streams(EDGE_STREAMS_PER_CONNECTION)
        .concurrency_limit_per_connection(EDGE_CONCURRENCY_PER_CONNECTION);
    router_on(server, api_names)
}

/// The limits every server keeps, whoever calls it.
fn limited(server: Server) -> Server {
    server
        .timeout(REQUEST_TIMEOUT)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .tcp_keepalive(Some(KEEPALIVE_INTERVAL))
}

fn router_on(server: Server, api_names: &[&str]) -> anyhow::Result<(ServiceRouter, HealthReporter)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tuan_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(HEALTH_SERVICE);
        for name in api_names {
            builder = builder.with_service_name(*name);
        }
        builder
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let router = server
        .trace_fn(server_span)
        .layer(RpcMetricsLayer)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    Ok((router, reporter))
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight calls finish.
///
/// Accepted connections get `TCP_NODELAY`: the server's own setting is ignored for a listener
/// passed in, and without it a response whose trailers go out in a second write waits for the
/// client's delayed ACK (about 40 ms on Linux, even on loopback).
pub async fn serve(
    router: ServiceRouter,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    router.serve_with_incoming_shutdown(incoming, shutdown).await
}

fn server_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path();
    let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
    );
    let carrier: HashMap<String, String> = ["traceparent", "tracestate"]
        .iter()
        .filter_map(|k| request.headers().get(*k).and_then(|v| v.to_str().ok()).map(|v| (k.to_string(), v.to_string())))
        .collect();
    telemetry::set_parent(&span, &carrier);
    span
}

/// A client interceptor that sends the current trace context with every outgoing call.
pub fn propagate_trace(mut request: Request<()>) -> Result<Request<()>, Status> {
    for (key, value) in telemetry::current_trace_context() {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            request.metadata_mut().insert(k, v);
        }
    }
    Ok(request)
}

/// Metadata for the events a request causes: its correlation id (`x-correlation-id` from the
/// caller, or a new one), the request as cause, and the current trace context.
pub fn event_meta<T>(request: &Request<T>) -> tuan_eventstore::EventMeta {
    let correlation_id = request
        .metadata()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    tuan_eventstore::EventMeta {
        causation_id: format!("request:{correlation_id}"),
        correlation_id,
        trace_context: telemetry::current_trace_context(),
    }
}

/// The metadata in which the gateway tells a backend which client a request comes from (the
/// gateway sets it from the peer or a trusted proxy's `x-forwarded-for`; a client cannot).
pub const CLIENT_ADDRESS: &str = "x-tuan-client-address";

/// Which client `request` comes from, for per-client limits: what the gateway says, else
/// the TCP peer (a caller inside the cluster), else `unknown`.
pub fn client_address<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get(CLIENT_ADDRESS)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map(str::to_string)
        .or_else(|| request.remote_addr().map(|a| a.ip().to_string()))
        .unwrap_or_else(|| "unknown".to_string())
}
