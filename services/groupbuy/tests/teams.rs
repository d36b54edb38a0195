//! Teams against the real broker and the payments simulator: completion captures everyone,
//! expiry releases and returns the stock, leaving passes leadership, watchers see every join.

mod common;

use std::time::Duration;

use common::{TestApp, team_mode};
use futures::StreamExt as _;
use tuan_proto::groupbuy::v1::{self as pb, TeamStatus};
use uuid::Uuid;

async fn open_team(app: &mut TestApp, leader: Uuid, campaign: &str) -> pb::JoinResult {
    let request = app.as_user(
        leader,
        pb::OpenTeamRequest { campaign_id: campaign.into(), idempotency_key: uuid::Uuid::now_v7().to_string() },
    );
    app.client.open_team(request).await.expect("open team").into_inner()
}

async fn join_team(app: &mut TestApp, user: Uuid, team: &str) -> Result<pb::JoinResult, tonic::Status> {
    let request = app
        .as_user(user, pb::JoinTeamRequest { team_id: team.into(), idempotency_key: uuid::Uuid::now_v7().to_string() });
    app.client.join_team(request).await.map(|r| r.into_inner())
}

/// Collects a watcher's updates (ticks left out) until the team reaches `last`.
async fn watch_until(
    app: &TestApp,
    viewer: Uuid,
    team: &str,
    last: TeamStatus,
) -> tokio::task::JoinHandle<Vec<pb::TeamProgress>> {
    let mut client = app.client.clone();
    let request = app.as_user(viewer, pb::TeamRef { team_id: team.into() });
    let mut stream = client.watch_team(request).await.expect("watch").into_inner();
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(Ok(update)) =
            tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("watch stalled")
        {
            let done = update.status == last as i32;
            if update.change != "tick" {
                seen.push(update);
            }
            if done {
                break;
            }
        }
        seen
    })
}

#[tokio::test]
async fn a_full_team_captures_every_hold_and_two_watchers_see_every_join_in_order() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let campaign = app.launch(merchant, 10, team_mode(4, 60)).await;
    let leader = Uuid::now_v7();
    let opened = open_team(&mut app, leader, &campaign.campaign_id).await;
    let team_id = opened.team.unwrap().team_id;
    // The share link exists once the leader's hold is placed.
    let open = app.wait_team(leader, &team_id, TeamStatus::Open, Duration::from_secs(30)).await;
    assert!(open.joinable);

    let first = watch_until(&app, merchant, &team_id, TeamStatus::Completed).await;
    let second = watch_until(&app, leader, &team_id, TeamStatus::Completed).await;
    let friends: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for friend in &friends {
        join_team(&mut app, *friend, &team_id).await.expect("join");
    }
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    app.wait_joins(&campaign.campaign_id, "captured", 4, Duration::from_secs(30)).await;

    let trace = |seen: &[pb::TeamProgress]| seen.iter().map(|u| (u.sequence, u.change.clone())).collect::<Vec<_>>();
    assert_eq!(trace(&first), trace(&second), "both watchers see the same updates");
    let sequences: Vec<u64> = first.iter().map(|u| u.sequence).collect();
    assert!(sequences.windows(2).all(|w| w[1] == w[0] + 1), "one update per change, in order: {sequences:?}");
    let joined: Vec<String> =
        first.iter().filter(|u| u.change == "joined").map(|u| u.members.last().unwrap().user_id.clone()).collect();
    assert_eq!(joined, friends.iter().map(Uuid::to_string).collect::<Vec<_>>(), "every join, in order");
    let done = first.last().unwrap();
    assert_eq!((done.members.len(), done.confirmed), (4, 4));

    assert_eq!(app.sim.captured(), 4);
    assert!(app.sim.double_captures().is_empty());
    assert_eq!(app.stock_left(&campaign.campaign_id).await, 6);
    let stats = app
        .client
        .get_campaign_stats(app.as_user(merchant, pb::CampaignRef { campaign_id: campaign.campaign_id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((stats.teams_opened, stats.teams_completed, stats.units_sold, stats.buyers), (1, 1, 4, 4));
    app.stop().await;
}

#[tokio::test]
async fn a_team_that_expires_with_one_of_three_releases_the_hold_and_returns_the_stock() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let campaign = app.launch(merchant, 5, team_mode(3, 2)).await;
    let leader = Uuid::now_v7();
    let team_id = open_team(&mut app, leader, &campaign.campaign_id).await.team.unwrap().team_id;
    assert_eq!(app.stock_left(&campaign.campaign_id).await, 4);
    app.wait_team(leader, &team_id, TeamStatus::Open, Duration::from_secs(30)).await;

    app.wait_team(leader, &team_id, TeamStatus::Expired, Duration::from_secs(30)).await;
    app.wait_joins(&campaign.campaign_id, "released", 1, Duration::from_secs(30)).await;
    assert_eq!(app.stock_left(&campaign.campaign_id).await, 5, "the unit is back");
    assert_eq!((app.sim.captured(), app.sim.released()), (0, 1));
    let deadlines: i64 = sqlx::query_scalar("SELECT count(*) FROM public.deadlines WHERE kind = 'team'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(deadlines, 0, "the deadline is consumed with the expiry");
    app.stop().await;
}

#[tokio::test]
async fn a_leaving_leader_passes_leadership_and_a_refused_payment_returns_the_unit() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let campaign = app.launch(merchant, 5, team_mode(3, 60)).await;
    let (leader, friend, broke) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    app.sim.make_broke(broke);
    let team_id = open_team(&mut app, leader, &campaign.campaign_id).await.team.unwrap().team_id;
    app.wait_team(leader, &team_id, TeamStatus::Open, Duration::from_secs(30)).await;
    join_team(&mut app, friend, &team_id).await.expect("join");

    let request = app.as_user(leader, pb::LeaveTeamRequest { team_id: team_id.clone() });
    let after = app.client.leave_team(request).await.expect("leave").into_inner();
    assert_eq!(after.leader_id, friend.to_string(), "the next member leads");
    assert_eq!(after.members.len(), 1);
    assert_eq!(app.stock_left(&campaign.campaign_id).await, 4, "the leader's unit is back");

    let refused = join_team(&mut app, broke, &team_id).await.expect("join is accepted, then refused by payments");
    let join_id = refused.join.unwrap().join_id;
    let pool = app.db.pool.clone();
    common::wait_for(Duration::from_secs(30), "the join to fail", || {
        let (pool, id) = (pool.clone(), join_id.clone());
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM joins WHERE join_id = $1::uuid")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
                == "failed"
        }
    })
    .await;
    let join = app.client.get_join(app.as_user(broke, pb::JoinRef { join_id })).await.unwrap().into_inner();
    assert_eq!(join.status, pb::JoinStatus::Failed as i32);
    assert_eq!(join.reason, "insufficient funds");
    assert_eq!(app.stock_left(&campaign.campaign_id).await, 4, "the refused unit is back too");
    app.wait_joins(&campaign.campaign_id, "released", 1, Duration::from_secs(30)).await;
    let team = app.team(friend, &team_id).await;
    assert_eq!((team.status, team.members.len()), (TeamStatus::Open as i32, 1));

    let mine = app
        .client
        .list_my_teams(app.as_user(friend, pb::ListMyTeamsRequest { page: None }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.teams.len(), 1);
    let of_campaign = app
        .client
        .list_campaign_teams(
            app.as_user(friend, pb::ListCampaignTeamsRequest { campaign_id: campaign.campaign_id.clone(), page: None }),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_campaign.teams[0].team_id, team_id);
    app.stop().await;
}
