//! Prometheus metrics: one recorder per process, scraped over HTTP on the service's metrics
//! address, and the gRPC server layer that counts and times every call.
//!
//! Every metric carries `service_name`. Names: `tuan_rpc_requests_total{service,method,code}`,
//! `tuan_rpc_duration_seconds{service,method}`, `tuan_consumer_lag{consumer,topic,partition}`,
//! `tuan_consumer_events_total{consumer,outcome}`, `tuan_dead_letters_total{consumer}`,
//! `tuan_outbox_backlog`, `tuan_outbox_oldest_age_seconds`, `tuan_dead_letters_waiting`,
//! `tuan_db_pool_connections{state}`, and for services running sagas `tuan_sagas{saga,state}` and
//! `tuan_saga_oldest_unfinished_seconds{saga}` ([`report_saga`]). Services add their own (holds).

use std::{
    net::SocketAddr,
    sync::OnceLock,
    task::{Context, Poll},
    time::Instant,
};

use futures::future::BoxFuture;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets for RPCs and sagas: 1 ms to 10 s.
const SECONDS_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Reports one kind of saga: `tuan_sagas{saga,state}` for every state in `states` (0 for those
/// missing from `counts`, so a state that drained does not keep its last count), and
/// `tuan_saga_oldest_unfinished_seconds{saga}`: how long the oldest saga still waiting for its
/// next step has waited (0 when none waits). Alerts fire on the latter.
pub fn report_saga(saga: &'static str, states: &[&'static str], counts: &[(String, i64)], oldest_unfinished_secs: f64) {
    for state in states {
        let n = counts.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
        metrics::gauge!("tuan_sagas", "saga" => saga, "state" => *state).set(n as f64);
    }
    metrics::gauge!("tuan_saga_oldest_unfinished_seconds", "saga" => saga).set(oldest_unfinished_secs.max(0.0));
}

/// Installs the recorder (every metric labelled `service_name`) and serves `/metrics` on `addr`.
/// Later calls in the same process (tests running several services) reuse the first recorder.
/// A metrics port already taken is logged, not fatal: the service still serves.
pub fn install(service: &'static str, addr: Option<SocketAddr>) -> anyhow::Result<PrometheusHandle> {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let builder = || -> anyhow::Result<PrometheusBuilder> {
        Ok(PrometheusBuilder::new()
            .add_global_label("service_name", service)
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?)
    };
    let listening = addr.and_then(|addr| match builder().and_then(|b| Ok(b.with_http_listener(addr).build()?)) {
        Ok(built) => Some(built),
        Err(e) => {
            tracing::warn!(%addr, error = %e, "metrics endpoint not served");
            None
        }
    });
    let handle = match listening {
        Some((recorder, exporter)) => {
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder)?;
            tokio::spawn(async move {
                if let Err(e) = exporter.await {
                    tracing::warn!(error = ?e, "metrics endpoint stopped");
                }
            });
            handle
        }
        None => builder()?.install_recorder()?,
    };
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

/// The canonical gRPC name of a status code, as dashboards and alerts expect (`INTERNAL`).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The text exposition of every metric recorded in this process (for tests and debugging).
pub fn render() -> String {
    HANDLE.get().map(PrometheusHandle::render).unwrap_or_default()
}

/// A tower layer for the gRPC server: counts calls by service, method and status code, and
/// times them. Service and method come from the request path (`/pkg.Service/Method`).
#[derive(Clone, Copy, Debug, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().trim_start_matches('/');
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        let (service, method) = (service.to_string(), method.to_string());
        let started = Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            // Failed calls answer with grpc-status in the headers (trailers-only); successful
            // unary calls carry it in trailers, so no header means OK.
            let code = match &result {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map(|c| code_name(tonic::Code::from(c)))
                    .unwrap_or("OK"),
                Err(_) => "UNAVAILABLE",
            };
            let labels = [("service", service), ("method", method)];
            metrics::counter!(
                "tuan_rpc_requests_total",
                &[labels[0].clone(), labels[1].clone(), ("code", code.to_string())]
            )
            .increment(1);
            metrics::histogram!("tuan_rpc_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
            result
        })
    }
}
