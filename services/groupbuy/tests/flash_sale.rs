//! A flash sale: 100 units, 2,000 concurrent buyers. Exactly 100 units are sold, everyone else
//! is refused, every hold is captured once and nothing is charged twice.

mod common;

use std::{sync::Arc, time::Duration};

use common::{TestApp, authed, tipping_mode};
use tokio::sync::Mutex;
use tonic::Code;
use tuan_proto::groupbuy::v1 as pb;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flash_sale_sells_exactly_the_stock_and_charges_nobody_twice() {
    const STOCK: u32 = 100;
    const BUYERS: usize = 2_000;
    const CLIENTS: usize = 100;
    let mut app = TestApp::spawn_sized(16).await;
    let merchant = app.merchant().await;
    let campaign = app.launch(merchant, STOCK, tipping_mode(60)).await;

    // Tokens minted up front; 100 client tasks work through the 2,000 attempts on one channel.
    let tokens: Vec<String> = (0..BUYERS).map(|_| app.token(Uuid::now_v7())).collect();
    let queue = Arc::new(Mutex::new(tokens));
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (queue, mut client, id) = (queue.clone(), app.client.clone(), campaign.campaign_id.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let Some(token) = queue.lock().await.pop() else { break };
                let request = authed(
                    &token,
                    pb::JoinCampaignRequest {
                        campaign_id: id.clone(),
                        idempotency_key: uuid::Uuid::now_v7().to_string(),
                    },
                );
                outcomes.push(
                    client
                        .join_campaign(request)
                        .await
                        .map(|r| r.into_inner())
                        .map_err(|s| (s.code(), s.message().to_string())),
                );
            }
            outcomes
        }));
    }
    let mut accepted = Vec::new();
    let mut sold_out = 0;
    let mut other = Vec::new();
    for task in tasks {
        for outcome in task.await.unwrap() {
            match outcome {
                Ok(result) => accepted.push(result.join.unwrap().join_id),
                Err((Code::FailedPrecondition, m)) if m == "sold out" => sold_out += 1,
                Err(e) => other.push(e),
            }
        }
    }
    let elapsed = started.elapsed();
    eprintln!("{BUYERS} join attempts in {elapsed:?}: {} accepted, {sold_out} sold out", accepted.len());
    assert!(other.is_empty(), "unexpected outcomes: {:?}", &other[..other.len().min(5)]);
    assert_eq!(accepted.len(), STOCK as usize, "exactly the stock is reserved");
    assert_eq!(sold_out, BUYERS - STOCK as usize);
    assert_eq!(app.stock_left(&campaign.campaign_id).await, 0);
    // Every accepted join appended one JoinRequested and one HoldRequested; refusals nothing.
    assert_eq!(app.count_events("tuan.groupbuy.v1.JoinRequested").await, i64::from(STOCK));
    assert_eq!(app.count_events("tuan.groupbuy.v1.HoldRequested").await, i64::from(STOCK));

    // The saga: 60 confirmations tip the campaign, everyone is captured.
    app.wait_joins(&campaign.campaign_id, "captured", i64::from(STOCK), Duration::from_secs(90)).await;
    assert_eq!(app.sim.captured(), STOCK as usize);
    assert_eq!(app.sim.released(), 0, "nobody is released when every hold is placed");
    assert!(app.sim.double_captures().is_empty(), "a hold was captured twice: {:?}", app.sim.double_captures());
    assert_eq!(app.count_events("tuan.groupbuy.v1.HoldCaptureRequested").await, i64::from(STOCK));
    assert_eq!(app.count_events("tuan.groupbuy.v1.CampaignTipped").await, 1);

    let stats = app
        .client
        .get_campaign_stats(app.as_user(merchant, pb::CampaignRef { campaign_id: campaign.campaign_id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((stats.units_sold, stats.buyers, stats.stock_left, stats.units_pending), (STOCK, STOCK, 0, 0));
    assert_eq!(stats.revenue, "5990.00");
    app.stop().await;
}
