//! Random and malformed requests to every payments RPC (`tuan_testkit::fuzz`): no panic, never
//! INTERNAL or UNKNOWN, bad tokens always UNAUTHENTICATED, and a refusal appends no event.
//! Afterwards the ledger still balances to the fen. 64 cases per RPC; `PROPTEST_CASES` raises
//! it.

mod common;
mod fixture;

use common::TestApp;
use fixture::Fixture;
use tonic::transport::Channel;
use tuan_runtime::auth::ROLE_MERCHANT;
use tuan_testkit::{
    authz::PAYMENTS,
    fuzz::{self, Target},
    rpc::{bad_credentials, bearer},
};

/// Events appended by API requests (provider confirmations and hold expiry append with other
/// causes, at any moment).
async fn request_events(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE causation_id LIKE 'request:%'").fetch_one(pool).await.unwrap()
}

#[test]
fn every_payments_rpc_survives_random_and_malformed_requests() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut app = runtime.block_on(TestApp::spawn());
    let f = runtime.block_on(Fixture::new(&mut app));
    let operator = app.operator();
    let merchant = app.user_with_roles(vec![ROLE_MERCHANT.to_string()]);
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
    let channel =
        runtime.block_on(Channel::from_shared(format!("http://127.0.0.1:{}", app.port)).unwrap().connect()).unwrap();
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
    let report = fuzz::run(&runtime, &target, || request_events(&pool));
    println!("payments: {report}");
    assert_eq!(runtime.block_on(app.ledger_sum()), rust_decimal::Decimal::ZERO, "every entry still balances");
    runtime.block_on(app.stop());
}
