//! gRPC-Web for browsers (the merchant console): the grpc-web translation and CORS in front of
//! the API, so a page can call the gateway over HTTP/1.1 without a proxy. Native gRPC over
//! HTTP/2 passes through both untouched.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderName, HeaderValue, Method};
use tonic::server::NamedService;
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a page may send: what grpc-web clients send, the token, our correlation id.
/// Listed, not `*`: a wildcard does not cover `authorization` (Fetch standard).
const ALLOWED: [&str; 6] =
    ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "authorization", "x-correlation-id"];
/// Response headers a browser page may read: the status, and the retry hint of a rate limit.
const EXPOSED: [&str; 4] = ["grpc-status", "grpc-message", "grpc-status-details-bin", "retry-after-ms"];
/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// CORS for gRPC-Web: `origins` may call (none listed: any origin, for development), with the
/// headers grpc-web clients send; the gRPC status headers are readable.
pub fn cors(origins: &[String]) -> anyhow::Result<CorsLayer> {
    let allow = if origins.is_empty() {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| HeaderValue::from_str(o).map_err(|_| anyhow::anyhow!("bad CORS origin {o:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        AllowOrigin::list(list)
    };
    Ok(CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers(ALLOWED.map(HeaderName::from_static))
        .expose_headers(EXPOSED.map(HeaderName::from_static))
        .max_age(PREFLIGHT_MAX_AGE))
}

/// Gives a layered service the gRPC service name of the service it wraps, so the router
/// routes to it (tower-http's CORS service does not carry one).
#[derive(Clone)]
pub struct Named<S, N> {
    inner: S,
    _name: std::marker::PhantomData<fn() -> N>,
}

impl<S, N> Named<S, N> {
    pub fn new(inner: S) -> Self {
        Self { inner, _name: std::marker::PhantomData }
    }
}

impl<S, N: NamedService> NamedService for Named<S, N> {
    const NAME: &'static str = N::NAME;
}

impl<S: Service<R>, N, R> Service<R> for Named<S, N> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.inner.call(request)
    }
}

/// Wraps a service in `layer`, keeping the service's gRPC name.
pub fn named<L: Layer<S>, S: NamedService>(layer: L, service: S) -> Named<L::Service, S> {
    Named::new(layer.layer(service))
}
