//! Tipping campaigns: reaching the minimum captures everyone (and later buyers at once);
//! missing it by the end time captures nobody and returns the stock.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{TestApp, launch_request, tipping_mode};
use tuan_proto::groupbuy::v1 as pb;
use uuid::Uuid;

async fn join(app: &mut TestApp, user: Uuid, campaign: &str) -> pb::Join {
    let request = app.as_user(
        user,
        pb::JoinCampaignRequest { campaign_id: campaign.into(), idempotency_key: uuid::Uuid::now_v7().to_string() },
    );
    app.client.join_campaign(request).await.expect("join").into_inner().join.unwrap()
}

#[tokio::test]
async fn a_tipping_campaign_that_reaches_its_minimum_captures_everyone() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let campaign = app.launch(merchant, 10, tipping_mode(3)).await;
    let id = campaign.campaign_id.clone();
    for _ in 0..2 {
        join(&mut app, Uuid::now_v7(), &id).await;
    }
    app.wait_joins(&id, "confirmed", 2, Duration::from_secs(30)).await;
    assert_eq!(app.sim.captured(), 0, "below the minimum nobody is charged");

    join(&mut app, Uuid::now_v7(), &id).await;
    app.wait_joins(&id, "captured", 3, Duration::from_secs(30)).await;
    let late = join(&mut app, Uuid::now_v7(), &id).await;
    app.wait_joins(&id, "captured", 4, Duration::from_secs(30)).await;
    let late =
        app.client.get_join(app.as_user(merchant, pb::JoinRef { join_id: late.join_id })).await.unwrap().into_inner();
    assert_eq!(late.status, pb::JoinStatus::Captured as i32, "a buyer after the tip is charged at once");

    let c = app
        .client
        .get_campaign(app.as_user(merchant, pb::CampaignRef { campaign_id: id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((c.tipping, c.confirmed_buyers, c.stock_left), (pb::TippingState::Tipped as i32, 4, 6));
    assert!(app.sim.double_captures().is_empty());
    assert_eq!(app.sim.released(), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_tipping_campaign_that_misses_its_minimum_captures_nobody() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let mut request = launch_request(10, tipping_mode(3));
    request.ends_at_micros = (Utc::now() + chrono::Duration::seconds(4)).timestamp_micros();
    let campaign = app.client.launch_campaign(app.as_user(merchant, request)).await.unwrap().into_inner();
    let id = campaign.campaign_id.clone();
    for _ in 0..2 {
        join(&mut app, Uuid::now_v7(), &id).await;
    }
    app.wait_joins(&id, "confirmed", 2, Duration::from_secs(30)).await;

    // The end time passes: the deadline scanner fails the campaign and releases everyone.
    app.wait_joins(&id, "released", 2, Duration::from_secs(30)).await;
    let c = app
        .client
        .get_campaign(app.as_user(merchant, pb::CampaignRef { campaign_id: id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.status, pb::CampaignStatus::Ended as i32);
    assert_eq!(c.tipping, pb::TippingState::Failed as i32);
    assert_eq!(c.stock_left, 10, "the stock is back");
    assert_eq!((app.sim.captured(), app.sim.released()), (0, 2), "nobody is charged");
    assert_eq!(app.count_events("tuan.groupbuy.v1.HoldCaptureRequested").await, 0);

    // Ended early by the merchant: the same outcome.
    let early = app.launch(merchant, 10, tipping_mode(5)).await;
    join(&mut app, Uuid::now_v7(), &early.campaign_id).await;
    app.wait_joins(&early.campaign_id, "confirmed", 1, Duration::from_secs(30)).await;
    app.client
        .end_campaign(app.as_user(merchant, pb::CampaignRef { campaign_id: early.campaign_id.clone() }))
        .await
        .unwrap();
    app.wait_joins(&early.campaign_id, "released", 1, Duration::from_secs(30)).await;
    assert_eq!(app.sim.captured(), 0);
    app.stop().await;
}

/// Fifty watchers of one campaign at once: every one sees stock go down and confirmed buyers
/// go up with each join, never backwards, and ends on the tipped campaign with 4 units gone.
#[tokio::test]
async fn many_watchers_of_a_campaign_see_its_stock_and_buyers_move_until_it_tips() {
    use futures::StreamExt as _;

    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let campaign = app.launch(merchant, 10, tipping_mode(3)).await;
    let id = campaign.campaign_id.clone();
    let mut watchers = Vec::new();
    for _ in 0..50 {
        let request = app.as_user(Uuid::now_v7(), pb::CampaignRef { campaign_id: id.clone() });
        let mut stream = app.client.clone().watch_campaign(request).await.expect("watch").into_inner();
        watchers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let next = tokio::time::timeout(Duration::from_secs(30), stream.next()).await;
                let update = next.expect("watcher stalled").expect("stream ended").expect("update");
                seen.push((update.stock_left, update.confirmed_buyers, update.tipping));
                if update.tipping == pb::TippingState::Tipped as i32 && update.stock_left == 6 {
                    return seen;
                }
            }
        }));
    }
    for _ in 0..4 {
        join(&mut app, Uuid::now_v7(), &id).await;
    }
    for watcher in watchers {
        let seen = watcher.await.unwrap();
        assert_eq!(seen.first().map(|s| s.0), Some(10), "the snapshot comes first: {seen:?}");
        assert!(seen.windows(2).all(|w| w[1].0 <= w[0].0), "stock never goes back up: {seen:?}");
        assert!(seen.windows(2).all(|w| w[1].1 >= w[0].1), "confirmed buyers never go down: {seen:?}");
        assert!(seen.len() >= 2, "at least one change besides the snapshot: {seen:?}");
    }
    app.stop().await;
}

/// A database from before the confirmed count moved from the campaign row into the stock
/// buckets: on start the count is taken from the joins, so the campaign still shows its
/// buyers and tips at its minimum.
#[tokio::test]
async fn a_schema_with_the_old_campaign_counter_is_migrated_on_start_without_losing_the_count() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let campaign = app.launch(merchant, 10, tipping_mode(3)).await;
    let id = campaign.campaign_id.clone();
    for _ in 0..2 {
        join(&mut app, Uuid::now_v7(), &id).await;
    }
    app.wait_joins(&id, "confirmed", 2, Duration::from_secs(30)).await;
    // What the old schema looked like: the counter on the campaign, nothing in the buckets.
    sqlx::raw_sql(
        "ALTER TABLE proj.campaigns ADD COLUMN confirmed_buyers INT NOT NULL DEFAULT 0; \
         UPDATE proj.campaign_stock SET confirmed = 0",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();

    app.restart().await;
    let read = |app: &TestApp| {
        let mut client = app.client.clone();
        let request = app.as_user(merchant, pb::CampaignRef { campaign_id: id.clone() });
        async move { client.get_campaign(request).await.unwrap().into_inner() }
    };
    assert_eq!(read(&app).await.confirmed_buyers, 2, "the count comes back from the joins");
    let old_column: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'proj' \
         AND table_name = 'campaigns' AND column_name = 'confirmed_buyers'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(old_column, 0, "the old counter is gone");

    join(&mut app, Uuid::now_v7(), &id).await;
    app.wait_joins(&id, "captured", 3, Duration::from_secs(30)).await;
    let c = read(&app).await;
    assert_eq!((c.tipping, c.confirmed_buyers), (pb::TippingState::Tipped as i32, 3));
    app.stop().await;
}

#[tokio::test]
async fn a_campaigns_stats_carry_its_join_history_from_its_start() {
    let mut app = TestApp::spawn().await;
    let merchant = app.merchant().await;
    let campaign = app.launch(merchant, 10, tipping_mode(5)).await;
    let id = campaign.campaign_id.clone();
    for _ in 0..3 {
        join(&mut app, Uuid::now_v7(), &id).await;
    }
    let stats = app
        .client
        .get_campaign_stats(app.as_user(merchant, pb::CampaignRef { campaign_id: id.clone() }))
        .await
        .unwrap()
        .into_inner();
    // A two-hour campaign: buckets of two minutes from its start; all three joins in the first.
    assert_eq!(stats.history_started_at_micros, campaign.starts_at_micros);
    assert_eq!(stats.history_bucket_micros, 120_000_000);
    assert_eq!(stats.joins_per_bucket, [3], "from the start up to now, every join once");
    app.stop().await;
}
