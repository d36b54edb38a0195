//! The gateway's edge limits through gRPC, against a fake backend:
//!
//! - a user opening 1,000 watches gets RESOURCE_EXHAUSTED past the cap, nothing past it reaches
//!   the backend, the open ones keep going, other users are unaffected, and closing one frees
//!   its slot;
//! - the per-IP limit believes `X-Forwarded-For` only from a trusted proxy: from anyone else,
//!   two different forwarded addresses share the peer's one budget.

mod fake_backend;

use std::time::{Duration, Instant};

use fake_backend::Harness;
use tonic::{Code, Request};
use tuan_proto::{gateway::v1::mobile_gateway_client::MobileGatewayClient, groupbuy::v1 as gb, users::v1 as users};
use tuan_testkit::{authed, rpc::token};
use uuid::Uuid;

const CAP: u32 = 10;

fn watch(token: &str) -> Request<gb::TeamRef> {
    authed(token, gb::TeamRef { team_id: Uuid::now_v7().to_string() })
}

#[tokio::test]
async fn a_user_past_the_watch_cap_is_refused_and_the_open_watches_keep_going() {
    let h = Harness::holding_watches(|c| {
        c.gateway.watches_per_user = CAP;
        // 1,000 calls in a moment from one user: the rate limit is not under test here.
        (c.gateway.user_rate_per_sec, c.gateway.user_burst) = (100_000, 100_000);
    })
    .await;
    let mut gw = MobileGatewayClient::new(h.channel.clone());
    let (alice, bob) =
        (token(&h.config.common.auth, Uuid::now_v7(), &[]), token(&h.config.common.auth, Uuid::now_v7(), &[]));

    let (mut open, mut refused) = (Vec::new(), 0);
    for _ in 0..1000 {
        match gw.watch_team(watch(&alice)).await {
            Ok(stream) => open.push(stream.into_inner()),
            Err(s) if s.code() == Code::ResourceExhausted => refused += 1,
            Err(s) => panic!("watch: {s:?}"),
        }
    }
    assert_eq!((open.len(), refused), (CAP as usize, 1000 - CAP as usize));
    let reached = h.take_seen().iter().filter(|(path, _)| path.ends_with("/WatchTeam")).count();
    assert_eq!(reached, CAP as usize, "refused watches never reach group buying");

    // The open ones are still open: nothing ended them.
    for stream in &mut open {
        assert!(tokio::time::timeout(Duration::from_millis(50), stream.message()).await.is_err(), "still open");
    }
    // Another user has slots of their own, on campaigns too.
    let other = gw.watch_campaign(authed(&bob, gb::CampaignRef { campaign_id: Uuid::now_v7().to_string() })).await;
    assert!(other.is_ok(), "{other:?}");
    // The cap covers campaigns and teams together.
    let campaign = gw.watch_campaign(authed(&alice, gb::CampaignRef { campaign_id: Uuid::now_v7().to_string() })).await;
    assert_eq!(campaign.err().map(|s| s.code()), Some(Code::ResourceExhausted));

    // Closing one frees its slot (the gateway notices the stream's reset).
    drop(open.pop());
    let start = Instant::now();
    loop {
        match gw.watch_team(watch(&alice)).await {
            Ok(stream) => {
                open.push(stream.into_inner());
                break;
            }
            Err(s) if s.code() == Code::ResourceExhausted && start.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(s) => panic!("the closed watch's slot never came back: {s:?}"),
        }
    }
}

/// Who the backend was told a code request came from, when the client sends `x-forwarded-for`
/// and its own (forged) client-address metadata.
async fn client_told_to_backend(h: &Harness) -> Option<String> {
    let mut gw = MobileGatewayClient::new(h.channel.clone());
    let mut request = Request::new(users::RequestPhoneCodeRequest::default());
    request.metadata_mut().insert("x-forwarded-for", "198.51.100.7".parse().unwrap());
    request.metadata_mut().insert(tuan_runtime::grpc::CLIENT_ADDRESS, "10.9.9.9".parse().unwrap());
    let _ = gw.request_phone_code(request).await;
    let clients = std::mem::take(&mut *h.clients.lock().unwrap());
    let (path, client) = clients.into_iter().last().expect("the call reached the users backend");
    assert!(path.ends_with("/RequestPhoneCode"), "{path}");
    client
}

#[tokio::test]
async fn backends_learn_the_client_from_the_gateway_never_from_the_client() {
    // The users service limits SMS per client: it must hear who the client is from the gateway.
    let direct = Harness::start().await;
    assert_eq!(client_told_to_backend(&direct).await.as_deref(), Some("127.0.0.1"), "the peer, not the header");
    let proxied = Harness::configured(|c| c.gateway.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    assert_eq!(client_told_to_backend(&proxied).await.as_deref(), Some("198.51.100.7"), "the proxy's word");
}

/// Sign-up is anonymous, so only the per-IP limit stands in front of it.
async fn sign_ups_until_refused(gw: &mut MobileGatewayClient<tonic::transport::Channel>, forwarded_for: &str) -> u32 {
    for n in 0..10 {
        let mut request = Request::new(users::SignUpRequest::default());
        request.metadata_mut().insert("x-forwarded-for", forwarded_for.parse().unwrap());
        match gw.sign_up(request).await {
            Err(s) if s.code() == Code::ResourceExhausted => return n,
            _ => {}
        }
    }
    10
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let limited = |c: &mut gateway::config::GatewayConfig| (c.gateway.ip_rate_per_sec, c.gateway.ip_burst) = (1, 3);

    // Straight from the internet: the header is the client's own word, and ignored.
    let direct = Harness::configured(limited).await;
    let mut gw = MobileGatewayClient::new(direct.channel.clone());
    // (A burst of 3, then one a second: a slow moment may let one more through.)
    assert!(sign_ups_until_refused(&mut gw, "198.51.100.1").await >= 3);
    assert!(sign_ups_until_refused(&mut gw, "198.51.100.2").await <= 1, "one budget: the peer's");

    // Behind the ingress (here: this machine), each forwarded client has its own budget.
    let proxied = Harness::configured(|c| {
        limited(c);
        c.gateway.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let mut gw = MobileGatewayClient::new(proxied.channel.clone());
    assert!(sign_ups_until_refused(&mut gw, "198.51.100.1").await >= 3);
    assert!(sign_ups_until_refused(&mut gw, "198.51.100.2").await >= 3, "a budget per client");
    // A client's own entry in front of the proxy's changes nothing: still 198.51.100.2's budget.
    assert!(sign_ups_until_refused(&mut gw, "203.0.113.50, 198.51.100.2").await <= 1);
}
