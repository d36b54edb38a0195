//! Random and malformed requests to every group-buy RPC (`tuan_testkit::fuzz`): no panic,
//! never INTERNAL or UNKNOWN, bad tokens always UNAUTHENTICATED, and a refusal appends no
//! event. 64 cases per RPC; `PROPTEST_CASES` raises it.

mod common;
mod fixture;

use common::{TestApp, tipping_mode};
use fixture::Fixture;
use tuan_testkit::{
    authz::GROUPBUY,
    fuzz::{self, Target},
    request_event_count,
    rpc::{bad_credentials, bearer},
};
use uuid::Uuid;

#[test]
fn every_groupbuy_rpc_survives_random_and_malformed_requests() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut app = runtime.block_on(TestApp::spawn());
    let f = runtime.block_on(Fixture::new(&mut app));
    let tipping = runtime.block_on(app.launch(f.merchant, 1000, tipping_mode(5)));
    let ids = vec![
        f.merchant.to_string(),
        f.buyer.to_string(),
        f.campaign.campaign_id.clone(),
        tipping.campaign_id,
        f.team.team_id.clone(),
        f.join.join_id.clone(),
    ];
    let channel = runtime.block_on(app.server.channel());
    let mut target = Target::new(channel, GROUPBUY);
    target.callers = vec![
        ("the merchant", bearer(&app.token(f.merchant)), true),
        ("the merchant", bearer(&app.token(f.merchant)), true),
        ("the team's leader", bearer(&app.token(f.buyer)), true),
        ("another buyer", bearer(&app.token(Uuid::now_v7())), true),
    ];
    let bad = bad_credentials(&app.config.common.auth, f.merchant);
    target.callers.extend(bad.into_iter().take(3).map(|(what, credential)| (what, credential, false)));
    target.hints.ids = ids;
    target.templates = fuzz::templates(GROUPBUY, |m| f.request(m));
    let pool = app.db.pool.clone();
    // The saga and the deadline scanner append with other causes, and return stock, at any
    // moment: only requests' events count.
    let report = fuzz::run(&runtime, &target, || request_event_count(&pool));
    println!("groupbuy: {report}");
    runtime.block_on(app.stop());
}
