//! Observability of a saga, checked on one team join:
//! - the join, sent to the gateway with the app's `traceparent`, is a single connected trace
//!   across gateway -> groupbuy -> (Kafka) payments -> (Kafka) groupbuy -> (Kafka) circles,
//!   exported over OTLP to a receiver inside this test;
//! - every service's metrics endpoint shows RPC, outbox, dead-letter, pool, consumer-lag, saga
//!   and open-hold metrics, with the saga counts and the lag matching what happened.

use std::time::{Duration, Instant};

use tonic::Request;
use tuan_proto::{
    circles::v1::{self as circles, deal_card::Target},
    groupbuy::v1::{self as gb, TeamStatus},
};
use tuan_testkit::otlp::{ReceivedSpan, TraceCollector, render_tree, tree_defects};

use crate::{
    flows::{POLL, befriend, merchant_with_campaign, once_projected, sign_up, top_up, wait_balance, wait_team},
    harness::{Options, Stack, authed, exclusive},
};

/// The span the mobile app would have open around its call; never exported (it is the app's).
const APP_TRACE_ID: &str = "7ea5c0de0000400080000000000000aa";
const APP_SPAN_ID: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_join_is_one_trace_and_every_service_reports_its_metrics() {
    let _turn = exclusive().await;
    let collector = TraceCollector::start().await;
    let options = Options { otlp_endpoint: Some(collector.endpoint.clone()), ..Options::default() };
    let stack = Stack::start("observability", options).await;
    let mut gw = stack.gateway().await;

    let (_merchant, campaign) = merchant_with_campaign(&stack, &mut gw, "+8613910000001").await;
    let a = sign_up(&stack, &mut gw, "+8613910000002", "Alice").await;
    let b = sign_up(&stack, &mut gw, "+8613910000003", "Bob").await;
    befriend(&mut gw, &a, &b).await;
    top_up(&mut gw, &a, "100.00").await;
    top_up(&mut gw, &b, "100.00").await;

    // A opens a team and shares it into a circle with B, so circles keeps a card of it.
    let team_id = gw
        .open_team(authed(
            &a.token,
            gb::OpenTeamRequest {
                campaign_id: campaign.campaign_id.clone(),
                idempotency_key: uuid::Uuid::now_v7().to_string(),
            },
        ))
        .await
        .expect("open team")
        .into_inner()
        .team
        .expect("team")
        .team_id;
    wait_team(&mut gw, &a, &team_id, TeamStatus::Open).await;
    let circle = gw
        .create_circle(authed(
            &a.token,
            circles::CreateCircleRequest {
                name: "Traced".into(),
                kind: circles::CircleKind::Cluster as i32,
                topic: "tracing".into(),
                approval_required: false,
            },
        ))
        .await
        .expect("create circle")
        .into_inner();
    once_projected("invite B", || {
        let mut gw = gw.clone();
        let request =
            authed(&a.token, circles::MemberTarget { circle_id: circle.circle_id.clone(), user_id: b.id.clone() });
        async move { gw.invite_member(request).await.map(|r| r.into_inner()) }
    })
    .await;
    gw.create_post(authed(
        &a.token,
        circles::CreatePostRequest {
            circle_id: circle.circle_id.clone(),
            text: "join me".into(),
            card: Some(circles::DealCard { target: Some(Target::TeamId(team_id.clone())) }),
        },
    ))
    .await
    .expect("share the team");

    // B joins, in the app's trace.
    let mut join = authed(
        &b.token,
        gb::JoinTeamRequest { team_id: team_id.clone(), idempotency_key: uuid::Uuid::now_v7().to_string() },
    );
    let traceparent = format!("00-{APP_TRACE_ID}-{APP_SPAN_ID}-01");
    join.metadata_mut().insert("traceparent", traceparent.parse().expect("traceparent"));
    join_with(&mut gw, join).await;
    wait_team(&mut gw, &b, &team_id, TeamStatus::Completed).await;
    wait_balance(&mut gw, &b, "50.00").await;

    // Every hop of the saga shows up in that one trace, as one tree under the app's span.
    let wanted: [(&str, &str); 6] = [
        ("gateway", "tuan.gateway.v1.MobileGateway/JoinTeam"),
        ("groupbuy", "tuan.groupbuy.v1.GroupBuyService/JoinTeam"),
        ("payments", "process"),
        ("groupbuy", "process"),
        ("circles", "process"),
        ("groupbuy", "publish"),
    ];
    let start = Instant::now();
    let spans = loop {
        let spans = collector.trace(APP_TRACE_ID);
        let has = |(service, name): &(&str, &str)| {
            spans.iter().any(|s| s.service == *service && (s.name == *name || s.name.ends_with(&format!(" {name}"))))
        };
        let connected = tree_defects(&virtual_root(&spans)) == Default::default();
        if wanted.iter().all(has) && connected {
            break spans;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the join's trace is incomplete or disconnected after 60 s; missing {:?}\n{:?}\n{}",
            wanted.iter().filter(|w| !has(w)).collect::<Vec<_>>(),
            tree_defects(&virtual_root(&spans)),
            render_tree(&spans),
        );
        tokio::time::sleep(POLL).await;
    };

    // The gateway's server span is the only child of the app's span.
    let roots: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.parent_span_id == APP_SPAN_ID).collect();
    assert_eq!(roots.len(), 1, "{}", render_tree(&spans));
    assert_eq!(roots[0].service, "gateway");
    // Kafka hops: every consumer span hangs under a producer span of another service (or of
    // its own service's relay), never under an unrelated span.
    for consumer in spans.iter().filter(|s| s.name.ends_with(" process")) {
        let parent = spans.iter().find(|p| p.span_id == consumer.parent_span_id).expect("parent present");
        assert!(
            parent.name.ends_with(" publish"),
            "{} has parent {}\n{}",
            consumer.name,
            parent.name,
            render_tree(&spans)
        );
    }
    // No other trace carries the join: the spans of the join's services are all in this one.
    let stray: Vec<ReceivedSpan> = collector
        .spans()
        .into_iter()
        .filter(|s| s.trace_id != APP_TRACE_ID && s.name == "tuan.groupbuy.v1.GroupBuyService/JoinTeam")
        .collect();
    assert!(stray.is_empty(), "JoinTeam spans outside the app's trace: {stray:?}");

    // Metrics: what every service exposes, then the saga figures of this one sale.
    let everywhere = ["tuan_rpc_requests_total", "tuan_rpc_duration_seconds_bucket"];
    let with_store = [
        "tuan_outbox_backlog",
        "tuan_outbox_oldest_age_seconds",
        "tuan_dead_letters_waiting",
        "tuan_db_pool_connections",
    ];
    for service in ["gateway", "users", "circles", "groupbuy", "payments"] {
        let mut names: Vec<&str> = everywhere.to_vec();
        if service != "gateway" {
            names.extend(with_store);
        }
        if ["circles", "groupbuy", "payments"].contains(&service) {
            names.push("tuan_consumer_lag");
        }
        let text = stack.scrape_metrics(service).await;
        for name in names {
            assert!(!samples(&text, name, &[("service_name", service)]).is_empty(), "{service} lacks {name}:\n{text}");
        }
    }
    let expected: [Expected; 7] = [
        ("groupbuy", "tuan_sagas", &[("saga", "join"), ("state", "captured")], 2.0),
        ("groupbuy", "tuan_sagas", &[("saga", "team"), ("state", "completed")], 1.0),
        ("groupbuy", "tuan_saga_oldest_unfinished_seconds", &[("saga", "join")], 0.0),
        ("groupbuy", "tuan_saga_oldest_unfinished_seconds", &[("saga", "team")], 0.0),
        ("payments", "tuan_sagas", &[("saga", "hold"), ("state", "captured")], 2.0),
        ("payments", "tuan_holds_open_amount", &[("currency", "CNY")], 0.0),
        ("payments", "tuan_saga_oldest_unfinished_seconds", &[("saga", "provider_request")], 0.0),
    ];
    let start = Instant::now();
    loop {
        let mut wrong = Vec::new();
        for (service, name, labels, value) in &expected {
            let text = stack.scrape_metrics(service).await;
            let found = samples(&text, name, labels);
            if found != [*value] {
                wrong.push(format!("{service} {name}{labels:?}: {found:?}, expected {value}"));
            }
        }
        // Every consumer caught up: lag back to 0 on every partition.
        for service in ["circles", "groupbuy", "payments"] {
            let text = stack.scrape_metrics(service).await;
            let lagging: Vec<&str> =
                text.lines().filter(|l| l.starts_with("tuan_consumer_lag{") && !l.ends_with(" 0")).collect();
            if !lagging.is_empty() {
                wrong.push(format!("{service} consumer lag {lagging:#?}"));
            }
        }
        if wrong.is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "metrics never matched the sale: {wrong:#?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(stack);
}

/// A metric's expected value: service, name, labels it must have, value.
type Expected = (&'static str, &'static str, &'static [(&'static str, &'static str)], f64);

/// The values of metric `name` whose labels include every one of `labels`.
fn samples(text: &str, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (label_set, value) = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            let matches = labels.iter().all(|(k, v)| label_set.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
            matches.then(|| value.trim().parse().ok()).flatten()
        })
        .collect()
}

/// Sends the join, retrying while the gateway's view of the team is not there yet.
async fn join_with(gw: &mut crate::harness::Gateway, request: Request<gb::JoinTeamRequest>) {
    let start = Instant::now();
    let (metadata, extensions, message) = request.into_parts();
    loop {
        let attempt = Request::from_parts(metadata.clone(), extensions.clone(), message.clone());
        match gw.join_team(attempt).await {
            Ok(_) => return,
            Err(e) if e.code() == tonic::Code::FailedPrecondition && start.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(POLL).await
            }
            Err(e) => panic!("join: {e}"),
        }
    }
}

/// The trace with the app's span added as its root, so tree checks see one root.
fn virtual_root(spans: &[ReceivedSpan]) -> Vec<ReceivedSpan> {
    let mut all = spans.to_vec();
    all.push(ReceivedSpan {
        service: "app".into(),
        name: "app".into(),
        kind: Default::default(),
        trace_id: APP_TRACE_ID.into(),
        span_id: APP_SPAN_ID.into(),
        parent_span_id: String::new(),
        links: vec![],
    });
    all
}
