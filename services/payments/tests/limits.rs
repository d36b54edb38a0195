//! Per-user daily limits on top-ups, withdrawals and transfers: past the limit the command is
//! RESOURCE_EXHAUSTED with a retry-after until midnight UTC and changes nothing; a replayed key
//! is not counted twice; concurrent commands cannot pass the limit together; the limits are
//! per user and per currency. And the simulated provider is refused outside development.

mod common;

use common::{TestApp, authed, dec, key, transfer};
use tonic::Code;
use tuan_proto::payments::v1 as pb;

fn top_up(amount: &str, currency: &str, key: &str) -> pb::TopUpRequest {
    pb::TopUpRequest { amount: amount.into(), currency: currency.into(), idempotency_key: key.into() }
}

async fn limited() -> TestApp {
    TestApp::spawn_with(|c| {
        c.payments.daily_limits.top_up = "100".into();
        c.payments.daily_limits.withdrawal = "30".into();
        c.payments.daily_limits.transfer = "20".into();
    })
    .await
}

#[tokio::test]
async fn top_ups_past_the_daily_limit_are_refused_until_tomorrow_and_change_nothing() {
    let mut app = limited().await;
    let user = app.user();
    app.fund(&user, "60.00").await;
    let events = app.event_count().await;

    let refused = app.client.top_up(authed(&user.token, top_up("40.01", "CNY", &key()))).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("daily top-up limit of 100 CNY"), "{}", refused.message());
    let wait = tuan_testkit::retry_after(&refused).as_millis();
    assert!(wait > 0 && wait <= 24 * 3600 * 1000, "retry after {wait} ms: until midnight UTC");
    assert_eq!(app.event_count().await, events, "nothing recorded");

    // Exactly up to the limit is fine; another currency has its own allowance.
    app.fund(&user, "40.00").await;
    app.fund_in(&user, "100", "JPY").await;
    let refused = app.client.top_up(authed(&user.token, top_up("0.01", "CNY", &key()))).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    // Another user has an allowance of their own.
    let other = app.user();
    app.fund(&other, "100.00").await;
    assert_eq!(app.available(&user, "CNY").await, dec("100.00"));
    app.stop().await;
}

#[tokio::test]
async fn a_replayed_top_up_is_not_counted_twice() {
    let mut app = limited().await;
    let user = app.user();
    let request = top_up("70.00", "CNY", &key());
    let first = app.client.top_up(authed(&user.token, request.clone())).await.unwrap().into_inner();
    let again = app.client.top_up(authed(&user.token, request)).await.unwrap().into_inner();
    assert_eq!(first.request_id, again.request_id);
    app.wait_top_up(&user, &first.request_id).await;
    // 70 counted once: 30 more still fit.
    app.fund(&user, "30.00").await;
    assert_eq!(app.available(&user, "CNY").await, dec("100.00"));
    app.stop().await;
}

#[tokio::test]
async fn concurrent_top_ups_cannot_pass_the_limit_together() {
    let app = limited().await;
    let user = app.user();
    let answers = futures::future::join_all((0..20).map(|_| {
        let (mut client, request) = (app.client.clone(), authed(&user.token, top_up("10.00", "CNY", &key())));
        async move { client.top_up(request).await }
    }))
    .await;
    let accepted = answers.iter().filter(|a| a.is_ok()).count();
    let refused = answers.iter().filter(|a| matches!(a, Err(s) if s.code() == Code::ResourceExhausted)).count();
    assert_eq!((accepted, refused), (10, 10), "exactly the limit's worth is accepted");
}

#[tokio::test]
async fn withdrawals_and_transfers_have_daily_limits_of_their_own() {
    let mut app = limited().await;
    let (a, b) = (app.user(), app.user());
    app.befriend(&a, &b).await;
    app.fund(&a, "100.00").await;

    let withdraw = |amount: &str| pb::WithdrawRequest {
        amount: amount.into(),
        currency: "CNY".into(),
        idempotency_key: key(),
        ..Default::default()
    };
    app.client.withdraw(authed(&a.token, withdraw("25.00"))).await.expect("within the limit");
    let refused = app.client.withdraw(authed(&a.token, withdraw("5.01"))).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("daily withdrawal limit of 30 CNY"), "{}", refused.message());
    assert_eq!(app.available(&a, "CNY").await, dec("75.00"), "the refused withdrawal took nothing");

    app.client.transfer(authed(&a.token, transfer(&b, "20.00", &key()))).await.expect("within the limit");
    let refused = app.client.transfer(authed(&a.token, transfer(&b, "0.01", &key()))).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("daily transfer limit of 20 CNY"), "{}", refused.message());
    assert_eq!(app.available(&a, "CNY").await, dec("55.00"));
    assert_eq!(app.available(&b, "CNY").await, dec("20.00"));
    // Receiving is not limited: b may still send its own allowance.
    app.client.transfer(authed(&b.token, transfer(&a, "20.00", &key()))).await.expect("b's own allowance");
    app.stop().await;
}

#[tokio::test]
async fn the_simulated_provider_is_refused_outside_development() {
    let db = tuan_testkit::TestDb::new().await;
    let mut config = common::config_for(&db, &tuan_testkit::shared_broker());
    config.common.environment = tuan_runtime::config::Environment::Production;
    config.common.auth.jwt_secret = "a-production-secret-of-at-least-32-chars".to_string().into();
    let err = payments::Application::build(config).await.err().expect("refused").to_string();
    assert!(err.contains("TUAN_PAYMENTS__PROVIDER_KIND=simulated"), "{err}");
    assert!(err.contains("TUAN_ENVIRONMENT=development"), "{err}");
}

#[tokio::test]
async fn an_amount_far_past_the_limit_is_refused_as_a_limit() {
    let app = TestApp::spawn().await;
    let user = app.user();
    let mut client = app.client.clone();
    let huge = top_up("9223372036854775807", "JPY", &key());
    let refused = client.top_up(authed(&user.token, huge)).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
}
