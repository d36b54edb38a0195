//! Every bad input gets a precise status and changes nothing.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{TestApp, launch_request, team_mode, tipping_mode};
use tonic::Code;
use tuan_proto::groupbuy::v1::{self as pb, TeamStatus};
use tuan_testkit::refused;
use uuid::Uuid;

#[tokio::test]
async fn bad_campaigns_and_non_merchants_are_refused() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let nobody = Uuid::now_v7();
    let status = refused!(
        app,
        Code::PermissionDenied,
        app.client.launch_campaign(app.as_user(nobody, launch_request(10, team_mode(2, 0))))
    );
    assert!(status.message().contains("verified merchant"), "{}", status.message());
    refused!(app, Code::Unauthenticated, app.client.launch_campaign(launch_request(10, team_mode(2, 0))));

    let mut dear = launch_request(10, team_mode(2, 0));
    dear.group_price = "120.00".into();
    let status = refused!(app, Code::InvalidArgument, app.client.launch_campaign(app.as_user(merchant, dear)));
    assert!(status.message().contains("group_price"), "{}", status.message());
    for size in [1, 51] {
        let status = refused!(
            app,
            Code::InvalidArgument,
            app.client.launch_campaign(app.as_user(merchant, launch_request(10, team_mode(size, 0))))
        );
        assert!(status.message().contains("team_size"), "{}", status.message());
    }
    let mut backwards = launch_request(10, tipping_mode(2));
    backwards.starts_at_micros = (Utc::now() + chrono::Duration::hours(3)).timestamp_micros();
    let status = refused!(app, Code::InvalidArgument, app.client.launch_campaign(app.as_user(merchant, backwards)));
    assert!(status.message().contains("ends_at"), "{}", status.message());
    let mut fine_fen = launch_request(10, tipping_mode(2));
    fine_fen.group_price = "9.999".into();
    refused!(app, Code::InvalidArgument, app.client.launch_campaign(app.as_user(merchant, fine_fen)));
    let mut no_mode = launch_request(10, tipping_mode(2));
    no_mode.mode = None;
    refused!(app, Code::InvalidArgument, app.client.launch_campaign(app.as_user(merchant, no_mode)));
    refused!(
        app,
        Code::InvalidArgument,
        app.client.launch_campaign(app.as_user(merchant, launch_request(10, tipping_mode(11))))
    );

    // Only the owner runs the campaign.
    let campaign = app.launch(merchant, 10, tipping_mode(2)).await;
    let of = |id: &str| pb::CampaignRef { campaign_id: id.into() };
    refused!(app, Code::PermissionDenied, app.client.pause_campaign(app.as_user(nobody, of(&campaign.campaign_id))));
    refused!(
        app,
        Code::PermissionDenied,
        app.client.get_campaign_stats(app.as_user(nobody, of(&campaign.campaign_id)))
    );
    refused!(
        app,
        Code::FailedPrecondition,
        app.client.resume_campaign(app.as_user(merchant, of(&campaign.campaign_id)))
    );
    refused!(app, Code::NotFound, app.client.pause_campaign(app.as_user(merchant, of(&Uuid::now_v7().to_string()))));
    refused!(app, Code::InvalidArgument, app.client.get_campaign(app.as_user(merchant, of("not-a-uuid"))));

    // Paused: no joins; the wrong mode: a precise hint.
    app.client.pause_campaign(app.as_user(merchant, of(&campaign.campaign_id))).await.unwrap();
    let join = |id: &str| pb::JoinCampaignRequest {
        campaign_id: id.into(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    };
    let status = refused!(
        app,
        Code::FailedPrecondition,
        app.client.join_campaign(app.as_user(nobody, join(&campaign.campaign_id)))
    );
    assert!(status.message().contains("paused"), "{}", status.message());
    let open = pb::OpenTeamRequest {
        campaign_id: campaign.campaign_id.clone(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    };
    refused!(app, Code::InvalidArgument, app.client.open_team(app.as_user(nobody, open)));
    let listed = app
        .client
        .list_active_campaigns(app.as_user(nobody, pb::ListActiveCampaignsRequest { page: None }))
        .await
        .unwrap();
    assert!(listed.into_inner().campaigns.is_empty(), "a paused campaign is not listed as active");
    app.client.resume_campaign(app.as_user(merchant, of(&campaign.campaign_id))).await.unwrap();
    let listed = app
        .client
        .list_active_campaigns(app.as_user(nobody, pb::ListActiveCampaignsRequest { page: None }))
        .await
        .unwrap();
    assert_eq!(listed.into_inner().campaigns.len(), 1);

    // The per-user limit counts every join of the campaign.
    let buyer = Uuid::now_v7();
    app.client.join_campaign(app.as_user(buyer, join(&campaign.campaign_id))).await.unwrap();
    let status = refused!(
        app,
        Code::ResourceExhausted,
        app.client.join_campaign(app.as_user(buyer, join(&campaign.campaign_id)))
    );
    assert!(status.message().contains("per-user limit"), "{}", status.message());
    app.stop().await;
}

#[tokio::test]
async fn joining_full_closed_or_own_teams_is_refused() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let campaign = app.launch(merchant, 20, team_mode(2, 60)).await;
    let id = campaign.campaign_id.clone();
    let open =
        |id: &str| pb::OpenTeamRequest { campaign_id: id.into(), idempotency_key: uuid::Uuid::now_v7().to_string() };
    let join = |id: &str| pb::JoinTeamRequest { team_id: id.into(), idempotency_key: uuid::Uuid::now_v7().to_string() };

    let (leader, friend) = (Uuid::now_v7(), Uuid::now_v7());
    let team = app.client.open_team(app.as_user(leader, open(&id))).await.unwrap().into_inner().team.unwrap().team_id;
    app.wait_team(leader, &team, TeamStatus::Open, Duration::from_secs(30)).await;
    let status = refused!(app, Code::AlreadyExists, app.client.join_team(app.as_user(leader, join(&team))));
    assert!(status.message().contains("already a member"), "{}", status.message());
    // A second team by the same leader exceeds the per-user limit of 1.
    refused!(app, Code::ResourceExhausted, app.client.open_team(app.as_user(leader, open(&id))));

    app.client.join_team(app.as_user(friend, join(&team))).await.unwrap();
    // Full while the friend's hold is pending, completed after it is placed.
    let full_or_done = app.client.join_team(app.as_user(Uuid::now_v7(), join(&team))).await.expect_err("refused");
    assert_eq!(full_or_done.code(), Code::FailedPrecondition);
    app.wait_team(leader, &team, TeamStatus::Completed, Duration::from_secs(30)).await;
    app.wait_joins(&id, "captured", 2, Duration::from_secs(30)).await;
    let status =
        refused!(app, Code::FailedPrecondition, app.client.join_team(app.as_user(Uuid::now_v7(), join(&team))));
    assert!(status.message().contains("complete"), "{}", status.message());
    refused!(
        app,
        Code::FailedPrecondition,
        app.client.leave_team(app.as_user(friend, pb::LeaveTeamRequest { team_id: team.clone() }))
    );

    // A team whose leader cannot pay fails; nobody can join it.
    let broke = Uuid::now_v7();
    app.sim.make_broke(broke);
    let failed = app.client.open_team(app.as_user(broke, open(&id))).await.unwrap().into_inner().team.unwrap().team_id;
    app.wait_team(broke, &failed, TeamStatus::Failed, Duration::from_secs(30)).await;
    let status =
        refused!(app, Code::FailedPrecondition, app.client.join_team(app.as_user(Uuid::now_v7(), join(&failed))));
    assert!(status.message().contains("failed"), "{}", status.message());

    // An expired team.
    let short = app.launch(merchant, 5, team_mode(3, 1)).await;
    let lonely = Uuid::now_v7();
    let expired = app
        .client
        .open_team(app.as_user(lonely, open(&short.campaign_id)))
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap()
        .team_id;
    app.wait_team(lonely, &expired, TeamStatus::Expired, Duration::from_secs(30)).await;
    app.wait_joins(&short.campaign_id, "released", 1, Duration::from_secs(30)).await;
    let status =
        refused!(app, Code::FailedPrecondition, app.client.join_team(app.as_user(Uuid::now_v7(), join(&expired))));
    assert!(status.message().contains("expired"), "{}", status.message());

    refused!(app, Code::NotFound, app.client.join_team(app.as_user(friend, join(&Uuid::now_v7().to_string()))));
    refused!(app, Code::InvalidArgument, app.client.join_team(app.as_user(friend, join("share-link"))));
    let leave = pb::LeaveTeamRequest { team_id: expired.clone() };
    refused!(app, Code::FailedPrecondition, app.client.leave_team(app.as_user(lonely, leave)));
    let leave = pb::LeaveTeamRequest { team_id: team.clone() };
    refused!(app, Code::FailedPrecondition, app.client.leave_team(app.as_user(Uuid::now_v7(), leave)));
    app.stop().await;
}
