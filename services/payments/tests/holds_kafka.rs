//! The group-buy hold protocol end to end through Kafka: HoldRequested / HoldCaptureRequested /
//! HoldReleaseRequested in, HoldPlaced / HoldRejected / HoldCaptured / HoldReleased out.

mod common;

use chrono::Utc;
use common::{TestApp, User, authed, dec};
use tuan_proto::{groupbuy::v1 as gb, payments::v1 as pb};
use uuid::Uuid;

fn hold_request(user: &User, merchant: Uuid, amount: &str, expires_at_micros: i64) -> gb::HoldRequested {
    gb::HoldRequested {
        hold_id: Uuid::now_v7().to_string(),
        user_id: user.id.to_string(),
        merchant_id: merchant.to_string(),
        amount: amount.into(),
        currency: "CNY".into(),
        campaign_id: "campaign-1".into(),
        team_id: "team-7".into(),
        expires_at_micros,
    }
}

#[tokio::test]
async fn hold_then_capture_pays_the_merchant_minus_the_fee() {
    let mut app = TestApp::spawn().await;
    let mut events = app.payments_events();
    let buyer = app.user();
    let merchant = app.merchant().await;
    app.fund(&buyer, "100.00").await;

    let request = hold_request(&buyer, merchant, "60.00", 0);
    let team = request.team_id.clone();
    // Delivered twice: one hold only.
    app.publish("groupbuy", &team, &request).await;
    app.publish("groupbuy", &team, &request).await;
    let placed = events.expect::<pb::HoldPlaced>(|e| e.hold_id == request.hold_id).await;
    assert_eq!(
        (placed.amount.as_str(), placed.campaign_id.as_str(), placed.team_id.as_str()),
        ("60.00", "campaign-1", "team-7")
    );
    let wallet = app.wallet(&buyer).await;
    assert_eq!(wallet.balances[0].available, "40.00");
    assert_eq!(wallet.balances[0].held, "60.00");
    assert_eq!(wallet.open_holds.len(), 1);

    let capture = gb::HoldCaptureRequested {
        hold_id: request.hold_id.clone(),
        amount: String::new(),
        merchant_id: merchant.to_string(),
    };
    app.publish("groupbuy", &team, &capture).await;
    let captured = events.expect::<pb::HoldCaptured>(|e| e.hold_id == request.hold_id).await;
    assert_eq!((captured.amount.as_str(), captured.fee.as_str(), captured.r#final), ("60.00", "0.60", true));
    assert_eq!(captured.team_id, "team-7");

    assert_eq!(app.available(&buyer, "CNY").await, dec("40.00"));
    assert!(app.wallet(&buyer).await.open_holds.is_empty());
    assert_eq!(app.account(&format!("merchant-payable:{merchant}")).await, dec("59.40"));
    assert_eq!(app.account("platform-fees").await, dec("0.60"));
    assert_eq!(app.account(&format!("hold:{}", request.hold_id)).await, dec("0"));
    assert_eq!(app.ledger_sum().await, dec("0"));
    let placed_count = events.seen.iter().filter(|e| e.event_type == "tuan.payments.v1.HoldPlaced").count();
    assert_eq!(placed_count, 1, "a redelivered request places no second hold");
    app.stop().await;
}

/// From a pod that can reach the broker, one could publish a `HoldRequested` on group buying's
/// topic; its envelope names another source (only group buying's relay says "groupbuy").
#[tokio::test]
async fn a_hold_request_that_did_not_come_from_group_buying_is_set_aside() {
    let mut app = TestApp::spawn().await;
    let mut events = app.payments_events();
    let buyer = app.user();
    let merchant = app.merchant().await;
    app.fund(&buyer, "100.00").await;

    let forged = hold_request(&buyer, merchant, "90.00", 0);
    app.publish_claiming("groupbuy", "users", "join", &forged.team_id, 1, &forged).await;
    // A genuine request after it on the same key: once it is placed, the forgery was handled.
    let genuine = hold_request(&buyer, merchant, "10.00", 0);
    app.publish("groupbuy", &genuine.team_id, &genuine).await;
    events.expect::<pb::HoldPlaced>(|e| e.hold_id == genuine.hold_id).await;

    assert!(!events.seen.iter().any(|e| e.stream_id == forged.hold_id), "no event of the forged hold");
    let wallet = app.wallet(&buyer).await;
    assert_eq!((wallet.balances[0].available.as_str(), wallet.balances[0].held.as_str()), ("90.00", "10.00"));
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM dead_letters").fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("forged") && reasons[0].contains("\"users\""), "{reasons:?}");
    app.stop().await;
}

/// A request naming a payee the operators never verified (a bug or a compromised group-buy
/// service) waits a moment for the verification to arrive, then is rejected: nothing is held.
#[tokio::test]
async fn a_hold_for_a_merchant_nobody_verified_is_rejected() {
    let mut app = TestApp::spawn().await;
    let mut events = app.payments_events();
    let buyer = app.user();
    app.fund(&buyer, "100.00").await;
    let request = hold_request(&buyer, Uuid::now_v7(), "40.00", 0);
    app.publish("groupbuy", &request.team_id, &request).await;
    let rejected = events.expect::<pb::HoldRejected>(|e| e.hold_id == request.hold_id).await;
    assert!(rejected.reason.contains("is not verified"), "{}", rejected.reason);
    assert_eq!(app.available(&buyer, "CNY").await, dec("100.00"));
    assert!(app.wallet(&buyer).await.open_holds.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn hold_then_release_returns_everything_and_short_wallets_are_rejected() {
    let mut app = TestApp::spawn().await;
    let mut events = app.payments_events();
    let buyer = app.user();
    let merchant = app.merchant().await;
    app.fund(&buyer, "30.00").await;

    let request = hold_request(&buyer, merchant, "25.50", 0);
    app.publish("groupbuy", &request.team_id, &request).await;
    events.expect::<pb::HoldPlaced>(|e| e.hold_id == request.hold_id).await;
    assert_eq!(app.available(&buyer, "CNY").await, dec("4.50"));

    let release = gb::HoldReleaseRequested { hold_id: request.hold_id.clone(), reason: "team failed".into() };
    app.publish("groupbuy", &request.team_id, &release).await;
    let released = events.expect::<pb::HoldReleased>(|e| e.hold_id == request.hold_id).await;
    assert_eq!((released.amount.as_str(), released.reason.as_str()), ("25.50", "team failed"));
    assert_eq!(app.available(&buyer, "CNY").await, dec("30.00"));

    let too_big = hold_request(&buyer, merchant, "30.01", 0);
    app.publish("groupbuy", &too_big.team_id, &too_big).await;
    let rejected = events.expect::<pb::HoldRejected>(|e| e.hold_id == too_big.hold_id).await;
    assert_eq!(rejected.reason, "insufficient funds");
    assert_eq!((rejected.amount.as_str(), rejected.team_id.as_str()), ("30.01", "team-7"));
    assert_eq!(app.available(&buyer, "CNY").await, dec("30.00"), "a rejected hold moves nothing");
    assert!(app.wallet(&buyer).await.open_holds.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn holds_past_their_deadline_are_released_by_the_scanner() {
    let mut app = TestApp::spawn().await;
    let mut events = app.payments_events();
    let buyer = app.user();
    app.fund(&buyer, "10.00").await;
    let soon = (Utc::now() + chrono::Duration::milliseconds(300)).timestamp_micros();
    let merchant = app.merchant().await;
    let request = hold_request(&buyer, merchant, "10.00", soon);
    app.publish("groupbuy", &request.team_id, &request).await;
    events.expect::<pb::HoldPlaced>(|e| e.hold_id == request.hold_id).await;
    let released = events.expect::<pb::HoldReleased>(|e| e.hold_id == request.hold_id).await;
    assert_eq!(released.reason, "expired");
    assert_eq!(app.available(&buyer, "CNY").await, dec("10.00"));
    let hold = app
        .client
        .get_hold(authed(&buyer.token, pb::GetHoldRequest { hold_id: request.hold_id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hold.status(), pb::HoldStatus::Expired);
    app.stop().await;
}
