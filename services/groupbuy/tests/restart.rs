//! Deadlines are durable: teams whose window ends while the service is down expire after it
//! comes back, and their holds are released.

mod common;

use std::time::Duration;

use common::{TestApp, team_mode};
use tuan_proto::groupbuy::v1::{self as pb, TeamStatus};
use uuid::Uuid;

#[tokio::test]
async fn expiry_still_happens_after_a_restart() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let campaign = app.launch(merchant, 10, team_mode(3, 3)).await;
    let mut teams = Vec::new();
    for _ in 0..2 {
        let leader = Uuid::now_v7();
        let request = app.as_user(
            leader,
            pb::OpenTeamRequest {
                campaign_id: campaign.campaign_id.clone(),
                idempotency_key: uuid::Uuid::now_v7().to_string(),
            },
        );
        let team = app.client.open_team(request).await.unwrap().into_inner().team.unwrap().team_id;
        app.wait_team(leader, &team, TeamStatus::Open, Duration::from_secs(30)).await;
        teams.push((leader, team));
    }
    app.stop().await;
    // The windows end while nobody runs the service.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM teams WHERE status = 'open'").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(pending, 2, "nothing expires while the service is down");

    app.restart().await;
    for (leader, team) in &teams {
        app.wait_team(*leader, team, TeamStatus::Expired, Duration::from_secs(30)).await;
    }
    app.wait_joins(&campaign.campaign_id, "released", 2, Duration::from_secs(30)).await;
    assert_eq!(app.stock_left(&campaign.campaign_id).await, 10);
    assert_eq!(app.sim.released(), 2);
    app.stop().await;
}
