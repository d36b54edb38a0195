//! The gateway's rows of the authorization matrix (`tuan_testkit::authz`): every RPC but the
//! public ones refuses a missing, expired, forged or malformed token itself, before any backend
//! hears of the call; a valid token is forwarded as it came (the caller's own), and the
//! backend's refusal reaches the client unchanged. The backends' own rows are proven in their
//! services' tests/authz.rs.
//!
//! The backends here are one fake that records what reached it and refuses everything with
//! PERMISSION_DENIED, so the gateway's part is seen alone.

use std::{
    convert::Infallible,
    future::{Ready, ready},
    net::SocketAddr,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use gateway::{Application, config::GatewayConfig};
use prost::Message as _;
use tonic::{Code, Status, body::Body, server::NamedService, transport::Channel};
use tuan_proto::gateway::v1 as gw;
use tuan_testkit::{
    authz::{self, Access, GATEWAY},
    rpc::{Schema, assert_probes_are_public, bad_credentials, bearer, call_raw, token},
};
use uuid::Uuid;

/// What reached the fake backends: (path, authorization header).
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A backend that records each call and refuses it.
#[derive(Clone)]
struct Fake<const B: usize> {
    seen: Seen,
}

impl<const B: usize> tower::Service<http::Request<Body>> for Fake<B> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let auth = request.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
        self.seen.lock().unwrap().push((request.uri().path().to_string(), auth));
        ready(Ok(Status::permission_denied("the fake backend refuses").into_http()))
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

struct Harness {
    channel: Channel,
    config: GatewayConfig,
    seen: Seen,
}

impl Harness {
    async fn start() -> Self {
        let seen = Seen::default();
        let incoming = tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let backend: SocketAddr = incoming.local_addr().unwrap();
        let router = tonic::transport::Server::builder()
            .add_service(Fake::<0> { seen: seen.clone() })
            .add_service(Fake::<1> { seen: seen.clone() })
            .add_service(Fake::<2> { seen: seen.clone() })
            .add_service(Fake::<3> { seen: seen.clone() });
        tokio::spawn(router.serve_with_incoming(incoming));

        let mut config = GatewayConfig::default();
        config.common.grpc_addr = "127.0.0.1:0".parse().unwrap();
        config.common.metrics_addr = None;
        let url = format!("http://{backend}");
        let g = &mut config.gateway;
        (g.users_url, g.circles_url, g.groupbuy_url, g.payments_url) = (url.clone(), url.clone(), url.clone(), url);
        // Hundreds of calls from one address in a second: limits are not under test here.
        (g.ip_rate_per_sec, g.ip_burst, g.user_rate_per_sec, g.user_burst) = (1_000_000, 1_000_000, 1_000, 1_000);
        // The fake refuses everything; that must not open a circuit.
        g.breaker_failures = 1_000_000;
        let app = Application::build(config.clone()).await.expect("build gateway");
        let port = app.port();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let channel = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await.unwrap();
        Self { channel, config, seen }
    }

    fn take_seen(&self) -> Vec<(String, Option<String>)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// A request the gateway can decode and act on (the screens need a campaign id).
fn body(method: &str) -> Vec<u8> {
    match method {
        "CampaignDetail" => gw::CampaignDetailRequest { campaign_id: Uuid::now_v7().to_string() }.encode_to_vec(),
        _ => Vec::new(),
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_gateway_refuses_bad_tokens_itself_and_forwards_the_callers_own() {
    let h = Harness::start().await;
    let auth = h.config.common.auth.clone();
    let mut rows = 0;
    for rule in authz::rules_of(GATEWAY) {
        rows += 1;
        let rpc = rule.rpc;

        // Bad credentials never get past the gateway (public calls need none).
        if !rule.is_public() {
            for (what, credential) in bad_credentials(&auth, Uuid::now_v7()) {
                let status = call_raw(&h.channel, rpc, &credential, body(rule.method()), TIMEOUT)
                    .await
                    .expect_err("a bad credential must be refused");
                assert_eq!(status.code(), Code::Unauthenticated, "{rpc} with {what}: {}", status.message());
                assert_eq!(h.take_seen(), vec![], "{rpc} with {what} reached a backend");
            }
        }

        let user = Uuid::now_v7();
        let credential = bearer(&token(&auth, user, &[]));
        match rule.access {
            Access::Public => {
                // No token needed: the call goes to its backend, which answers for itself.
                let status = call_raw(&h.channel, rpc, &None, body(rule.method()), TIMEOUT).await.unwrap_err();
                assert_eq!(status.code(), Code::PermissionDenied, "{rpc}: {}", status.message());
                let expected = format!("/{}/{}", authz::USERS, rule.method());
                assert_eq!(h.take_seen(), vec![(expected, None)], "{rpc} without a token");
            }
            Access::Forwarded(backend) => {
                // Exactly one call, to the named backend RPC, with the caller's own token; its
                // refusal is passed on unchanged.
                let status = call_raw(&h.channel, rpc, &credential, body(rule.method()), TIMEOUT).await.unwrap_err();
                assert_eq!(status.code(), Code::PermissionDenied, "{rpc}: {}", status.message());
                assert_eq!(status.message(), "the fake backend refuses", "{rpc}");
                assert_eq!(h.take_seen(), vec![(format!("/{backend}"), credential.clone())], "{rpc}");
            }
            Access::SignedIn => {
                // A screen: whatever its parts do, each backend call carries the caller's token.
                let result = call_raw(&h.channel, rpc, &credential, body(rule.method()), TIMEOUT).await;
                if let Err(status) = &result {
                    assert_ne!(status.code(), Code::Unauthenticated, "{rpc}: {}", status.message());
                }
                let seen = h.take_seen();
                assert!(!seen.is_empty(), "{rpc} asked no backend");
                for (path, auth) in seen {
                    assert_eq!(auth, credential, "{rpc} called {path} without the caller's token");
                }
            }
            Access::Role(_) | Access::Party { .. } => panic!("{rpc}: the gateway decides no roles or parties"),
        }
    }
    assert_eq!(rows, Schema::tuan().service_methods(GATEWAY).count(), "every gateway RPC has a row");
}

#[tokio::test]
async fn health_and_reflection_answer_without_a_token() {
    let h = Harness::start().await;
    assert_probes_are_public(&h.channel).await;
}
