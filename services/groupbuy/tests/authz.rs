//! The group-buy service's rows of the authorization matrix (`tuan_testkit::authz::MATRIX`):
//! every RPC refuses bad tokens; only verified merchants launch; another merchant can neither
//! run nor read the figures of a campaign that is not theirs, leave a team they are not in, or
//! see someone else's join. Refusals change nothing.

mod common;
mod fixture;

use common::TestApp;
use fixture::Fixture;
use tuan_proto::groupbuy::v1 as pb;
use tuan_testkit::{
    authz::{self, Callers, GROUPBUY, assert_probes_are_public},
    request_event_count,
    rpc::bearer,
};
use uuid::Uuid;

/// Events appended by API requests (the saga appends with other causes, at any moment), and
/// the campaign's stock left.
async fn snapshot(pool: &sqlx::PgPool, campaign: &str) -> (i64, i64) {
    let events = request_event_count(pool).await;
    let stock =
        sqlx::query_scalar("SELECT COALESCE(sum(remaining), 0)::int8 FROM campaign_stock WHERE campaign_id = $1::uuid")
            .bind(campaign)
            .fetch_one(pool)
            .await
            .unwrap();
    (events, stock)
}

#[tokio::test]
async fn every_groupbuy_rpc_refuses_whom_the_matrix_refuses_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let f = Fixture::new(&mut app).await;
    let other_merchant = app.merchant().await;
    let channel = app.server.channel().await;
    let pool = app.db.pool.clone();
    let callers = Callers {
        intruder: bearer(&app.token(other_merchant)),
        plain_user: bearer(&app.token(Uuid::now_v7())),
        victim: f.merchant,
    };
    let checked = authz::check_service(
        &channel,
        GROUPBUY,
        &app.config.common.auth,
        &callers,
        |m| f.request(m),
        || snapshot(&pool, &f.campaign.campaign_id),
    )
    .await;
    println!("{checked:?}");
    assert!(checked.calls > checked.rpcs);

    // The campaign is still running, and the merchant still sees the figures.
    let campaign = app.as_user(f.merchant, pb::CampaignRef { campaign_id: f.campaign.campaign_id.clone() });
    let stats = app.client.get_campaign_stats(campaign).await.expect("the merchant's own stats").into_inner();
    assert_eq!(stats.teams_opened, 2, "the buyer's team and the intruder's own");
    let campaign = app.as_user(f.buyer, pb::CampaignRef { campaign_id: f.campaign.campaign_id.clone() });
    let campaign = app.client.get_campaign(campaign).await.unwrap().into_inner();
    assert_eq!(campaign.status(), pb::CampaignStatus::Active);
    let join = app.as_user(f.merchant, pb::JoinRef { join_id: f.join.join_id.clone() });
    app.client.get_join(join).await.expect("the campaign's merchant sees its joins");
    assert_probes_are_public(&channel).await;
    app.stop().await;
}

#[tokio::test]
async fn the_admin_api_refuses_everyone_but_operators_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let channel = app.server.channel().await;
    let pool = app.db.pool.clone();
    let checked = tuan_testkit::authz::check_admin(&channel, &app.config.common.auth, &pool).await;
    println!("{checked:?}");
    assert!(checked.calls > checked.rpcs);
    app.stop().await;
}
