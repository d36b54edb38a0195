//! `tuanctl events` as an SRE runs it against a whole stack: the built binary, the real broker
//! and the services' event stores.
//!
//! - one join saga followed by its trace id across the group-buy and payments topics, every
//!   line decoded and in that one trace;
//! - one aggregate's stream from the group-buy event store, in version order;
//! - filters by type and key, a start at the end, and `--follow` printing an event produced
//!   after it started.

use std::time::Duration;

use serde_json::Value;
use tuan_proto::{groupbuy::v1 as gb, users::v1 as users};

use crate::{
    flows::{merchant_with_campaign, once_projected, sign_up, top_up, wait_balance, wait_team},
    harness::{Options, Stack, authed, exclusive},
};

/// The trace the buyer's app has open around the join.
const APP_TRACE_ID: &str = "5eedc0de0000400080000000000000bb";

fn json_lines(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn short_types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap_or_default().rsplit('.').next().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sre_follows_one_join_saga_across_topics_by_its_trace_id() {
    let _turn = exclusive().await;
    let mut stack = Stack::start("events", Options::default()).await;
    let mut gw = stack.gateway().await;
    let (_merchant, campaign) = merchant_with_campaign(&stack, &mut gw, "+8613920000001").await;
    let a = sign_up(&stack, &mut gw, "+8613920000002", "Ana").await;
    let b = sign_up(&stack, &mut gw, "+8613920000003", "Ben").await;
    top_up(&mut gw, &a, "100.00").await;
    top_up(&mut gw, &b, "100.00").await;
    let open = gb::OpenTeamRequest { campaign_id: campaign.campaign_id.clone(), idempotency_key: "open-1".into() };
    let team_id = gw.open_team(authed(&a.token, open)).await.expect("open team").into_inner().team.unwrap().team_id;
    wait_team(&mut gw, &a, &team_id, gb::TeamStatus::Open).await;

    // B joins in the app's trace; the team completes and both are charged.
    let join_id = once_projected("B joins", || {
        let mut gw = gw.clone();
        let mut request =
            authed(&b.token, gb::JoinTeamRequest { team_id: team_id.clone(), idempotency_key: "join-1".into() });
        let traceparent = format!("00-{APP_TRACE_ID}-00f067aa0ba902b7-01");
        request.metadata_mut().insert("traceparent", traceparent.parse().unwrap());
        async move { gw.join_team(request).await.map(|r| r.into_inner().join.expect("join").join_id) }
    })
    .await;
    wait_team(&mut gw, &b, &team_id, gb::TeamStatus::Completed).await;
    wait_balance(&mut gw, &b, "50.00").await;

    // The saga by its trace id, across both topics: B's join asked for a hold, payments placed
    // and captured it. The captures are published a hop later than the balance moves: wait.
    let wanted = ["JoinRequested", "HoldRequested", "HoldPlaced", "HoldCaptureRequested", "HoldCaptured"];
    let mut saga = Vec::new();
    for _ in 0..40 {
        let out = stack.tuanctl(&["--json", "events", "tail", "groupbuy", "payments", "--trace", APP_TRACE_ID]).await;
        saga = json_lines(&out);
        if wanted.iter().all(|w| short_types(&saga).iter().any(|t| t == w)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let types = short_types(&saga);
    assert!(wanted.iter().all(|w| types.iter().any(|t| t == w)), "the saga's events by trace id: {types:?}");
    let at = |t: &str| types.iter().position(|x| x == t).unwrap();
    assert!(
        at("JoinRequested") < at("HoldPlaced") && at("HoldPlaced") < at("HoldCaptured"),
        "in time order: {types:?}"
    );
    let topics: std::collections::BTreeSet<&str> = saga.iter().filter_map(|e| e["topic"].as_str()).collect();
    assert!(
        topics.iter().any(|t| t.ends_with("tuan.groupbuy.v1"))
            && topics.iter().any(|t| t.ends_with("tuan.payments.v1"))
    );
    for event in &saga {
        assert_eq!(event["trace_id"], APP_TRACE_ID, "{event}");
        assert!(event["payload"].is_object() && event["payload"].get("undecoded").is_none(), "{event}");
        assert!(event["offset"].is_i64() && event["partition"].is_i64() && event["key"].is_string(), "{event}");
    }
    let requested = saga.iter().find(|e| e["event_type"] == "tuan.groupbuy.v1.JoinRequested").unwrap();
    assert_eq!(requested["stream_id"], join_id);
    assert_eq!(requested["payload"]["team_id"], team_id, "the payload decoded by its type: {requested}");

    // The join's own stream from the group-buy event store, oldest first, as lines.
    let out = stack.tuanctl(&["events", "show", "groupbuy", &join_id]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.first().is_some_and(|l| l.contains(" JoinRequested join/") && l.contains(" v1 ")), "{out}");
    assert!(lines.iter().any(|l| l.contains(" JoinCaptured ")), "{out}");
    assert!(lines.iter().all(|l| l.contains(&join_id) && l.contains(&format!("trace={APP_TRACE_ID}"))), "{out}");
    let shown =
        json_lines(&stack.tuanctl(&["--json", "events", "show", "groupbuy", &join_id, "--stream-type", "join"]).await);
    let versions: Vec<u64> = shown.iter().map(|e| e["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>(), "in version order");

    // Filters: by type and key on one topic.
    let out =
        stack.tuanctl(&["--json", "events", "tail", "groupbuy", "--type", "JoinRequested", "--key", &join_id]).await;
    let only = json_lines(&out);
    assert_eq!(only.len(), 1, "{out}");
    assert_eq!(only[0]["stream_id"], join_id);
    // From the end without --follow: nothing, and it returns.
    assert_eq!(stack.tuanctl(&["events", "tail", "groupbuy", "payments", "--from", "end"]).await, "");

    // --follow prints what is published after it started.
    let mut follow = stack.spawn_tuanctl(&[
        "--json",
        "events",
        "tail",
        "users",
        "--from",
        "end",
        "--follow",
        "--type",
        "ProfileUpdated",
        "--limit",
        "1",
    ]);
    tokio::time::sleep(Duration::from_secs(2)).await; // assigned and at the end
    let rename = users::UpdateProfileRequest { display_name: Some("Ana Li".into()), ..Default::default() };
    gw.update_profile(authed(&a.token, rename)).await.expect("rename");
    let output = tokio::time::timeout(Duration::from_secs(30), async {
        let mut stdout = follow.stdout.take().unwrap();
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut text).await.unwrap();
        (follow.wait().await.unwrap(), text)
    })
    .await
    .expect("--follow --limit 1 ends after the rename");
    assert!(output.0.success());
    let renamed = json_lines(&output.1);
    assert_eq!(renamed.len(), 1, "{}", output.1);
    assert_eq!(renamed[0]["payload"]["display_name"], "Ana Li");
    assert_eq!(renamed[0]["stream_id"], a.id);
}
