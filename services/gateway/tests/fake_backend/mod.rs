//! A gateway in front of one fake backend that records what reached it (path and
//! authorization, and each request's message) and refuses everything with PERMISSION_DENIED:
//! the gateway's own part of authorization, seen alone. Started with [`Harness::holding_watches`],
//! the fake instead answers `Watch*` calls with a stream that stays open and sends nothing.

#![allow(dead_code)]

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use gateway::{Application, config::GatewayConfig};
use http_body_util::BodyExt as _;
use tonic::{Status, body::Body, server::NamedService, transport::Channel};
use tuan_testkit::authz;

/// What reached the fake backends: (path, authorization header).
pub type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// The messages that reached the fake backends: (path, the request's protobuf bytes).
pub type Bodies = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Who the gateway said each call came from: (path, its client-address metadata).
pub type Clients = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A backend that records each call and refuses it (or holds a watch open).
#[derive(Clone)]
struct Fake<const B: usize> {
    seen: Seen,
    bodies: Bodies,
    clients: Clients,
    hold_watches: bool,
}

impl<const B: usize> tower::Service<http::Request<Body>> for Fake<B> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let auth = request.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
        let path = request.uri().path().to_string();
        self.seen.lock().unwrap().push((path.clone(), auth));
        let client = request.headers().get(tuan_runtime::grpc::CLIENT_ADDRESS).and_then(|v| v.to_str().ok());
        self.clients.lock().unwrap().push((path.clone(), client.map(str::to_string)));
        if self.hold_watches && path.contains("/Watch") {
            return Box::pin(async {
                let never = futures::stream::pending::<Result<http_body::Frame<bytes::Bytes>, Status>>();
                let body = Body::new(http_body_util::StreamBody::new(never));
                Ok(http::Response::builder().header("content-type", "application/grpc").body(body).unwrap())
            });
        }
        let bodies = self.bodies.clone();
        Box::pin(async move {
            // One unary gRPC frame: a flag byte, a 4-byte length, the message.
            let frame = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            bodies.lock().unwrap().push((path, frame.get(5..).unwrap_or_default().to_vec()));
            Ok(Status::permission_denied("the fake backend refuses").into_http())
        })
    }
}

impl NamedService for Fake<0> {
    const NAME: &'static str = authz::USERS;
}
impl NamedService for Fake<1> {
    const NAME: &'static str = authz::CIRCLES;
}
impl NamedService for Fake<2> {
    const NAME: &'static str = authz::GROUPBUY;
}
impl NamedService for Fake<3> {
    const NAME: &'static str = authz::PAYMENTS;
}

pub struct Harness {
    pub channel: Channel,
    pub config: GatewayConfig,
    pub seen: Seen,
    pub bodies: Bodies,
    pub clients: Clients,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(false, |_| {}).await
    }

    /// A harness whose fake backend holds `Watch*` streams open, with `configure` applied to the
    /// gateway's settings.
    pub async fn holding_watches(configure: impl FnOnce(&mut GatewayConfig)) -> Self {
        Self::start_with(true, configure).await
    }

    /// A harness with `configure` applied to the gateway's settings.
    pub async fn configured(configure: impl FnOnce(&mut GatewayConfig)) -> Self {
        Self::start_with(false, configure).await
    }

    async fn start_with(hold_watches: bool, configure: impl FnOnce(&mut GatewayConfig)) -> Self {
        let (seen, bodies, clients) = (Seen::default(), Bodies::default(), Clients::default());
        let incoming = tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let backend: SocketAddr = incoming.local_addr().unwrap();
        let router = tonic::transport::Server::builder()
            .add_service(Fake::<0> {
                seen: seen.clone(),
                bodies: bodies.clone(),
                clients: clients.clone(),
                hold_watches,
            })
            .add_service(Fake::<1> {
                seen: seen.clone(),
                bodies: bodies.clone(),
                clients: clients.clone(),
                hold_watches,
            })
            .add_service(Fake::<2> {
                seen: seen.clone(),
                bodies: bodies.clone(),
                clients: clients.clone(),
                hold_watches,
            })
            .add_service(Fake::<3> {
                seen: seen.clone(),
                bodies: bodies.clone(),
                clients: clients.clone(),
                hold_watches,
            });
        tokio::spawn(router.serve_with_incoming(incoming));

        let mut config = GatewayConfig::default();
        config.common.environment = tuan_runtime::config::Environment::Development;
        config.common.grpc_addr = "127.0.0.1:0".parse().unwrap();
        config.common.metrics_addr = None;
        let url = format!("http://{backend}");
        let g = &mut config.gateway;
        (g.users_url, g.circles_url, g.groupbuy_url, g.payments_url) = (url.clone(), url.clone(), url.clone(), url);
        // Hundreds of calls from one address in a second: limits are not under test here.
        (g.ip_rate_per_sec, g.ip_burst, g.user_rate_per_sec, g.user_burst) = (1_000_000, 1_000_000, 1_000, 1_000);
        // The fake refuses everything; that must not open a circuit.
        g.breaker_failures = 1_000_000;
        configure(&mut config);
        let app = Application::build(config.clone()).await.expect("build gateway");
        let port = app.port();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let channel = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await.unwrap();
        Self { channel, config, seen, bodies, clients }
    }

    pub fn take_seen(&self) -> Vec<(String, Option<String>)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    /// The messages sent to backend RPC `path` (`/package.Service/Method`) so far.
    pub fn bodies_of(&self, path: &str) -> Vec<Vec<u8>> {
        self.bodies.lock().unwrap().iter().filter(|(p, _)| p == path).map(|(_, b)| b.clone()).collect()
    }
}
