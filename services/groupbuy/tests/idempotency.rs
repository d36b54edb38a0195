//! Joins are idempotent by key (a phone that lost the answer retries with the same key and
//! buys once), and blocks hold in group buying: a user the leader blocked cannot join the team.

mod common;

use std::time::Duration;

use common::{TestApp, launch_request, team_mode, tipping_mode};
use futures::future::join_all;
use tonic::Code;
use tuan_proto::{groupbuy::v1 as pb, users::v1 as users};
use uuid::Uuid;

const HOLD_REQUESTED: &str = "tuan.groupbuy.v1.HoldRequested";

fn key() -> String {
    Uuid::now_v7().to_string()
}

async fn launch_with_limit(
    app: &mut TestApp,
    stock: u32,
    limit: u32,
    mode: pb::launch_campaign_request::Mode,
) -> String {
    let merchant = app.merchant().await;
    let mut request = launch_request(stock, mode);
    request.per_user_limit = limit;
    app.client.launch_campaign(app.as_user(merchant, request)).await.expect("launch").into_inner().campaign_id
}

#[tokio::test]
async fn fifty_concurrent_retries_of_one_join_make_one_join_one_hold_and_take_one_unit() {
    let mut app = TestApp::spawn().await;
    // A limit of 5 per buyer: without the key, every retry would be a purchase of its own.
    let campaign = launch_with_limit(&mut app, 10, 5, tipping_mode(3)).await;
    let buyer = Uuid::now_v7();
    let request = pb::JoinCampaignRequest { campaign_id: campaign.clone(), idempotency_key: key() };
    let answers = join_all((0..50).map(|_| {
        let (mut client, request) = (app.client.clone(), app.as_user(buyer, request.clone()));
        async move { client.join_campaign(request).await.map(|r| r.into_inner().join.unwrap().join_id) }
    }))
    .await;
    let ids: Vec<String> = answers.into_iter().map(|a| a.expect("every retry is answered")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "every retry answers the first join: {ids:?}");
    assert_eq!(app.count_events(HOLD_REQUESTED).await, 1, "one hold requested");
    assert_eq!(app.stock_left(&campaign).await, 9, "one unit taken");
    app.wait_joins(&campaign, "confirmed", 1, Duration::from_secs(30)).await;

    // A later retry (the join confirmed meanwhile) still answers the same join, as it is now.
    let again = app.client.join_campaign(app.as_user(buyer, request.clone())).await.unwrap().into_inner();
    let join = again.join.unwrap();
    assert_eq!((join.join_id, join.status), (ids[0].clone(), pb::JoinStatus::Confirmed as i32));
    assert_eq!(app.count_events(HOLD_REQUESTED).await, 1);

    // A new key is a new purchase, up to the buyer's limit.
    let second = pb::JoinCampaignRequest { campaign_id: campaign.clone(), idempotency_key: key() };
    let second = app.client.join_campaign(app.as_user(buyer, second)).await.unwrap().into_inner();
    assert_ne!(second.join.unwrap().join_id, ids[0]);
    assert_eq!(app.stock_left(&campaign).await, 8);
    app.stop().await;
}

#[tokio::test]
async fn retried_team_commands_open_one_team_and_join_it_once() {
    let mut app = TestApp::spawn().await;
    let campaign = launch_with_limit(&mut app, 10, 3, team_mode(3, 600)).await;
    let (leader, friend) = (Uuid::now_v7(), Uuid::now_v7());

    let open = pb::OpenTeamRequest { campaign_id: campaign.clone(), idempotency_key: key() };
    let opened = join_all((0..20).map(|_| {
        let (mut client, request) = (app.client.clone(), app.as_user(leader, open.clone()));
        async move { client.open_team(request).await.map(|r| r.into_inner()) }
    }))
    .await;
    let opened: Vec<pb::JoinResult> = opened.into_iter().map(|r| r.expect("open team")).collect();
    let team = opened[0].team.clone().unwrap().team_id;
    assert!(opened.iter().all(|r| r.team.as_ref().unwrap().team_id == team), "one team");
    assert_eq!(app.stock_left(&campaign).await, 9);
    app.wait_team(leader, &team, pb::TeamStatus::Open, Duration::from_secs(30)).await;

    let join = pb::JoinTeamRequest { team_id: team.clone(), idempotency_key: key() };
    let joined = join_all((0..20).map(|_| {
        let (mut client, request) = (app.client.clone(), app.as_user(friend, join.clone()));
        async move { client.join_team(request).await.map(|r| r.into_inner().join.unwrap().join_id) }
    }))
    .await;
    let joined: Vec<String> = joined.into_iter().map(|r| r.expect("join team")).collect();
    assert!(joined.iter().all(|id| *id == joined[0]), "one join: {joined:?}");
    assert_eq!(app.count_events(HOLD_REQUESTED).await, 2, "the leader's hold and the friend's");
    assert_eq!(app.stock_left(&campaign).await, 8);
    let members = app.team(leader, &team).await.members;
    assert_eq!(members.len(), 2, "leader and friend, once each");
    app.stop().await;
}

#[tokio::test]
async fn a_key_used_for_another_request_is_refused_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let first = launch_with_limit(&mut app, 10, 2, tipping_mode(3)).await;
    let other = launch_with_limit(&mut app, 10, 2, tipping_mode(3)).await;
    let teams = launch_with_limit(&mut app, 10, 2, team_mode(2, 600)).await;
    let buyer = Uuid::now_v7();
    let used = key();
    let request = pb::JoinCampaignRequest { campaign_id: first.clone(), idempotency_key: used.clone() };
    app.client.join_campaign(app.as_user(buyer, request)).await.expect("first use");
    let events = app.event_count().await;

    let another_campaign = pb::JoinCampaignRequest { campaign_id: other.clone(), idempotency_key: used.clone() };
    let refused = app.client.join_campaign(app.as_user(buyer, another_campaign)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("different request"), "{}", refused.message());
    let another_call = pb::OpenTeamRequest { campaign_id: teams.clone(), idempotency_key: used.clone() };
    let refused = app.client.open_team(app.as_user(buyer, another_call)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "another RPC with the key: {refused:?}");
    assert_eq!(app.event_count().await, events, "nothing written");
    assert_eq!((app.stock_left(&other).await, app.stock_left(&teams).await), (10, 10));

    // Keys are the caller's own: another buyer's same key is a purchase of theirs.
    let someone_else = pb::JoinCampaignRequest { campaign_id: other.clone(), idempotency_key: used };
    app.client.join_campaign(app.as_user(Uuid::now_v7(), someone_else)).await.expect("another caller's key");
    assert_eq!(app.stock_left(&other).await, 9);
    app.stop().await;
}

#[tokio::test]
async fn joins_without_a_usable_key_are_refused_and_change_nothing() {
    let mut app = TestApp::spawn().await;
    let tipping = launch_with_limit(&mut app, 10, 1, tipping_mode(3)).await;
    let teams = launch_with_limit(&mut app, 10, 1, team_mode(2, 600)).await;
    let events = app.event_count().await;
    let buyer = Uuid::now_v7();
    for bad in ["", "   ", &"k".repeat(65), "nul\0key"] {
        let join = pb::JoinCampaignRequest { campaign_id: tipping.clone(), idempotency_key: bad.into() };
        let status = app.client.join_campaign(app.as_user(buyer, join)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
        assert!(status.message().contains("idempotency_key"), "{}", status.message());
        let open = pb::OpenTeamRequest { campaign_id: teams.clone(), idempotency_key: bad.into() };
        let status = app.client.open_team(app.as_user(buyer, open)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
    }
    assert_eq!(app.event_count().await, events);
    assert_eq!((app.stock_left(&tipping).await, app.stock_left(&teams).await), (10, 10));
    app.stop().await;
}

#[tokio::test]
async fn a_user_the_leader_blocked_cannot_join_the_team_and_nothing_is_reserved() {
    let mut app = TestApp::spawn().await;
    let campaign = launch_with_limit(&mut app, 10, 1, team_mode(3, 600)).await;
    let (leader, blocked, friend) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let open = pb::OpenTeamRequest { campaign_id: campaign.clone(), idempotency_key: key() };
    let team = app.client.open_team(app.as_user(leader, open)).await.unwrap().into_inner().team.unwrap().team_id;
    app.wait_team(leader, &team, pb::TeamStatus::Open, Duration::from_secs(30)).await;

    let pair = format!("{leader}:{blocked}");
    let block = users::UserBlocked { blocker_id: leader.to_string(), blocked_id: blocked.to_string() };
    app.users_event("friendship", &pair, &block).await;
    common::wait_for(Duration::from_secs(30), "the block reaches group buying", || app.blocks(leader, blocked)).await;

    let (events, stock) = (app.event_count().await, app.stock_left(&campaign).await);
    let join = pb::JoinTeamRequest { team_id: team.clone(), idempotency_key: key() };
    let refused = app.client.join_team(app.as_user(blocked, join.clone())).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("blocked"), "{}", refused.message());
    assert_eq!((app.event_count().await, app.stock_left(&campaign).await), (events, stock), "nothing reserved");

    // Others still join; and once unblocked, so does the same user, with the same key (a
    // refused join left no key behind).
    let other = pb::JoinTeamRequest { team_id: team.clone(), idempotency_key: key() };
    app.client.join_team(app.as_user(friend, other)).await.expect("a friend joins");
    let unblock = users::UserUnblocked { blocker_id: leader.to_string(), blocked_id: blocked.to_string() };
    app.users_event("friendship", &pair, &unblock).await;
    common::wait_for(Duration::from_secs(30), "the unblock reaches group buying", || async {
        !app.blocks(leader, blocked).await
    })
    .await;
    app.client.join_team(app.as_user(blocked, join)).await.expect("joins once unblocked");
    assert_eq!(app.stock_left(&campaign).await, stock - 2);
    app.stop().await;
}
