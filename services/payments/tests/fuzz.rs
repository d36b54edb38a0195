//! Random and malformed requests to every payments RPC (`tuan_testkit::fuzz`): no panic, never
//! INTERNAL or UNKNOWN, bad tokens always UNAUTHENTICATED, and a refusal appends no event.
//! Afterwards the ledger still balances to the fen. 64 cases per RPC; `PROPTEST_CASES` raises
//! it.

mod common;
mod fixture;

use common::TestApp;
use fixture::Fixture;
use tuan_runtime::auth::ROLE_MERCHANT;
use tuan_testkit::{
    authz::PAYMENTS,
    fuzz::{self, Target},
    request_event_count,
    rpc::{bad_credentials, bearer},
};

#[test]
fn every_payments_rpc_survives_random_and_malformed_requests() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut app = runtime.block_on(TestApp::spawn());
    let f = runtime.block_on(Fixture::new(&mut app));
    let operator = app.operator();
    let merchant = app.user_with_roles(&[ROLE_MERCHANT]);
    runtime.block_on(app.fund(&f.b, "1000.00"));
    let ids = vec![
        f.a.id.to_string(),
        f.b.id.to_string(),
        merchant.id.to_string(),
        f.circle.to_string(),
        f.top_up.clone(),
        f.withdrawal.clone(),
        f.hold.clone(),
        f.bill.bill_id.clone(),
        f.charity.campaign_id.clone(),
    ];
    let channel = runtime.block_on(app.server.channel());
    let mut target = Target::new(channel, PAYMENTS);
    target.callers = vec![
        ("a user", bearer(&f.a.token), true),
        ("a user", bearer(&f.a.token), true),
        ("a friend", bearer(&f.b.token), true),
        ("an operator", bearer(&operator.token), true),
        ("a merchant", bearer(&merchant.token), true),
    ];
    let bad = bad_credentials(&app.config.common.auth, f.a.id);
    target.callers.extend(bad.into_iter().take(3).map(|(what, credential)| (what, credential, false)));
    target.hints.ids = ids;
    target.templates = fuzz::templates(PAYMENTS, |m| f.request(m));
    let pool = app.db.pool.clone();
    // Provider confirmations and hold expiry append with other causes, at any moment: only
    // requests' events count.
    let report = fuzz::run(&runtime, &target, || request_event_count(&pool));
    println!("payments: {report}");
    assert_eq!(runtime.block_on(app.ledger_sum()), rust_decimal::Decimal::ZERO, "every entry still balances");
    runtime.block_on(app.stop());
}

/// A malformed event from another service is a poison message: set aside, never retried
/// forever. Text Postgres cannot store (a NUL) used to fail as INTERNAL, which a consumer
/// retries as transient: the partition stopped behind it.
#[tokio::test]
async fn a_hold_request_with_text_postgres_cannot_store_is_dead_lettered_and_the_partition_moves_on() {
    use tuan_proto::groupbuy::v1 as gb;
    use uuid::Uuid;
    let mut app = TestApp::spawn().await;
    let buyer = app.user();
    app.fund(&buyer, "10.00").await;
    let merchant = app.merchant().await;
    let request = |campaign: &str| gb::HoldRequested {
        hold_id: Uuid::now_v7().to_string(),
        user_id: buyer.id.to_string(),
        merchant_id: merchant.to_string(),
        amount: "1.00".into(),
        currency: "CNY".into(),
        campaign_id: campaign.into(),
        team_id: String::new(),
        expires_at_micros: 0,
    };
    let (poison, good) = (request("bad\0campaign"), request("campaign-2"));
    // One key: one partition, the poison first.
    app.publish("groupbuy", "team-x", &poison).await;
    app.publish("groupbuy", "team-x", &good).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let placed: i64 = sqlx::query_scalar("SELECT count(*) FROM proj.holds WHERE hold_id = $1::uuid")
            .bind(&good.hold_id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        if placed == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the request behind the poison was never applied");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let letters: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(letters, 1, "the poison is set aside with its reason");
    let holds: i64 = sqlx::query_scalar("SELECT count(*) FROM proj.holds WHERE hold_id = $1::uuid")
        .bind(&poison.hold_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(holds, 0);
    app.stop().await;
}
