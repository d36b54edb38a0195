//! ListOpenTeams, the batch read behind screens of deal cards: teams by id whatever their
//! status, the filling teams of several campaigns (and of those teams' campaigns), and the
//! campaigns, in one call; open to every signed-in user like GetTeam; bounded.

mod common;

use std::time::Duration;

use common::{TestApp, team_mode};
use tonic::Code;
use tuan_proto::groupbuy::v1::{self as pb, TeamStatus};
use uuid::Uuid;

async fn open_team(app: &mut TestApp, leader: Uuid, campaign: &str) -> String {
    let request = app.as_user(
        leader,
        pb::OpenTeamRequest { campaign_id: campaign.into(), idempotency_key: uuid::Uuid::now_v7().to_string() },
    );
    let team = app.client.open_team(request).await.expect("open team").into_inner().team.expect("team").team_id;
    app.wait_team(leader, &team, TeamStatus::Open, Duration::from_secs(30)).await;
    team
}

async fn list(app: &mut TestApp, viewer: Uuid, request: pb::ListOpenTeamsRequest) -> pb::ListOpenTeamsResponse {
    let request = app.as_user(viewer, request);
    app.client.list_open_teams(request).await.expect("list open teams").into_inner()
}

fn ids(teams: &[pb::Team]) -> Vec<&str> {
    teams.iter().map(|t| t.team_id.as_str()).collect()
}

#[tokio::test]
async fn open_teams_of_several_campaigns_teams_by_id_and_their_campaigns_in_one_call() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let big = app.launch(merchant, 20, team_mode(3, 3600)).await;
    let pair = app.launch(merchant, 20, team_mode(2, 3600)).await;
    let quiet = app.launch(merchant, 20, team_mode(2, 3600)).await;
    let (a, b, c, d) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let first = open_team(&mut app, a, &big.campaign_id).await;
    let second = open_team(&mut app, b, &big.campaign_id).await;
    // The pair campaign's only team fills up: it is no longer open, but still found by id.
    let done = open_team(&mut app, c, &pair.campaign_id).await;
    let join = app
        .as_user(d, pb::JoinTeamRequest { team_id: done.clone(), idempotency_key: uuid::Uuid::now_v7().to_string() });
    app.client.join_team(join).await.expect("join");
    app.wait_team(c, &done, TeamStatus::Completed, Duration::from_secs(30)).await;

    let stranger = Uuid::now_v7();
    let unknown = Uuid::now_v7().to_string();
    let found = list(
        &mut app,
        stranger,
        pb::ListOpenTeamsRequest {
            campaign_ids: vec![big.campaign_id.clone(), quiet.campaign_id.clone(), unknown.clone()],
            team_ids: vec![done.clone(), unknown.clone(), done.clone()],
            teams_per_campaign: 0,
        },
    )
    .await;
    assert_eq!(ids(&found.teams), [done.as_str()], "by id, whatever the status; unknown ids absent");
    assert_eq!(found.teams[0].status(), TeamStatus::Completed);
    assert_eq!(ids(&found.open_teams), [first.as_str(), second.as_str()], "filling teams, oldest first");
    assert_eq!(found.open_teams[0].members.len(), 1, "with their members");
    assert_eq!(found.open_teams[0].members[0].user_id, a.to_string());
    assert!(found.open_teams.iter().all(|t| t.joinable));
    let campaigns: Vec<&str> = found.campaigns.iter().map(|c| c.campaign_id.as_str()).collect();
    assert_eq!(campaigns, [&big.campaign_id, &quiet.campaign_id, &pair.campaign_id], "asked for, then the teams'");
    assert_eq!(found.campaigns[0].stock_left, 18);

    // The same as the single reads show.
    let single = app.team(stranger, &first).await;
    assert_eq!(found.open_teams[0], single);

    // At most teams_per_campaign per campaign; a team's campaign adds its filling teams.
    let found = list(
        &mut app,
        stranger,
        pb::ListOpenTeamsRequest { campaign_ids: vec![], team_ids: vec![second.clone()], teams_per_campaign: 1 },
    )
    .await;
    assert_eq!(ids(&found.teams), [second.as_str()]);
    assert_eq!(ids(&found.open_teams), [first.as_str()]);
    assert_eq!(found.campaigns.len(), 1);

    // A team asked for by id that is also filling is in both parts, with its members in each.
    let found = list(
        &mut app,
        stranger,
        pb::ListOpenTeamsRequest { campaign_ids: vec![], team_ids: vec![second.clone()], teams_per_campaign: 2 },
    )
    .await;
    assert_eq!(ids(&found.teams), [second.as_str()]);
    assert_eq!(ids(&found.open_teams), [first.as_str(), second.as_str()]);
    assert_eq!(found.teams[0], found.open_teams[1]);
    assert_eq!(found.teams[0].members.len(), 1);
    assert_eq!(found.teams[0].members[0].user_id, b.to_string());

    let nothing = list(&mut app, stranger, pb::ListOpenTeamsRequest::default()).await;
    assert_eq!(nothing, pb::ListOpenTeamsResponse::default());
    app.stop().await;
}

#[tokio::test]
async fn list_open_teams_is_bounded_and_refuses_what_is_not_an_id() {
    let mut app = TestApp::spawn().await;
    let viewer = Uuid::now_v7();
    let many: Vec<String> = (0..101).map(|_| Uuid::now_v7().to_string()).collect();
    let refused = [
        pb::ListOpenTeamsRequest { campaign_ids: many.clone(), ..Default::default() },
        pb::ListOpenTeamsRequest { team_ids: many.clone(), ..Default::default() },
        pb::ListOpenTeamsRequest { teams_per_campaign: 51, ..Default::default() },
        pb::ListOpenTeamsRequest { team_ids: vec!["not-an-id".into()], ..Default::default() },
    ];
    for request in refused {
        let status = app.client.list_open_teams(app.as_user(viewer, request.clone())).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{request:?}: {}", status.message());
    }
    let hundred = pb::ListOpenTeamsRequest {
        campaign_ids: many[..100].to_vec(),
        team_ids: many[..100].to_vec(),
        teams_per_campaign: 50,
    };
    let found = app.client.list_open_teams(app.as_user(viewer, hundred)).await.expect("100 of each").into_inner();
    assert_eq!(found, pb::ListOpenTeamsResponse::default(), "ids that name nothing are absent");
    app.stop().await;
}
