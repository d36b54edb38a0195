//! Every bad input gets a precise status and changes nothing.

mod common;

use common::{TestApp, authed, dec, equal_bill, key, transfer};
use tonic::Code;
use tuan_proto::payments::v1 as pb;
use uuid::Uuid;

/// Runs `call`, expects `code`, and checks that neither events nor balances changed.
macro_rules! refused {
    ($app:expr, $code:expr, $call:expr) => {
        tuan_testkit::refused!(
            snapshot: async { ($app.event_count().await, $app.ledger_sum().await, balances(&$app).await) },
            $code,
            $call
        )
    };
}

async fn balances(app: &TestApp) -> Vec<(String, String, rust_decimal::Decimal)> {
    sqlx::query_as("SELECT account, currency, balance FROM proj.account_balances ORDER BY account, currency")
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
}

fn participants(users: &[(&common::User, &str)]) -> Vec<pb::Participant> {
    users.iter().map(|(u, v)| pb::Participant { user_id: u.id.to_string(), value: (*v).into() }).collect()
}

#[tokio::test]
async fn bad_amounts_and_currencies_are_invalid_arguments() {
    let mut app = TestApp::spawn().await;
    let (a, b) = (app.user(), app.user());
    app.befriend(&a, &b).await;
    app.fund(&a, "10.00").await;
    for amount in ["0", "0.00", "-1.00", "1.001", "abc", ""] {
        let status =
            refused!(app, Code::InvalidArgument, app.client.transfer(authed(&a.token, transfer(&b, amount, &key()))));
        assert!(!status.message().is_empty());
    }
    let over_precise =
        refused!(app, Code::InvalidArgument, app.client.transfer(authed(&a.token, transfer(&b, "1.234", &key()))));
    assert!(over_precise.message().contains("precise"), "{}", over_precise.message());
    let unknown = pb::TransferRequest { currency: "XBT".into(), ..transfer(&b, "1.00", &key()) };
    let status = refused!(app, Code::InvalidArgument, app.client.transfer(authed(&a.token, unknown)));
    assert!(status.message().contains("currency"), "{}", status.message());
    let top_up = pb::TopUpRequest { amount: "5.005".into(), currency: "CNY".into(), idempotency_key: key() };
    refused!(app, Code::InvalidArgument, app.client.top_up(authed(&a.token, top_up)));
    let top_up = pb::TopUpRequest { amount: "5".into(), currency: "RMB".into(), idempotency_key: key() };
    refused!(app, Code::InvalidArgument, app.client.top_up(authed(&a.token, top_up)));
    let withdraw = pb::WithdrawRequest {
        amount: "10.01".into(),
        currency: "CNY".into(),
        idempotency_key: key(),
        ..Default::default()
    };
    let status = refused!(app, Code::FailedPrecondition, app.client.withdraw(authed(&a.token, withdraw)));
    assert_eq!(status.message(), "insufficient funds");
    refused!(app, Code::FailedPrecondition, app.client.transfer(authed(&a.token, transfer(&b, "10.01", &key()))));
    refused!(app, Code::InvalidArgument, app.client.transfer(authed(&a.token, transfer(&a, "1.00", &key()))));
    refused!(app, Code::Unauthenticated, app.client.transfer(transfer(&b, "1.00", &key())));
    assert_eq!(app.available(&a, "CNY").await, dec("10.00"));
    app.stop().await;
}

#[tokio::test]
async fn bad_splits_are_invalid_arguments() {
    let mut app = TestApp::spawn().await;
    let (a, b, c) = (app.user(), app.user(), app.user());
    app.befriend(&a, &b).await;
    app.befriend(&a, &c).await;
    let base = || equal_bill("dinner", "100.00", &[&a, &b, &c], &key());

    let percent = pb::CreateBillRequest {
        split_method: pb::SplitMethod::Percent as i32,
        participants: participants(&[(&a, "50"), (&b, "30"), (&c, "19.99")]),
        ..base()
    };
    let status = refused!(app, Code::InvalidArgument, app.client.create_bill(authed(&a.token, percent)));
    assert!(status.message().contains("100"), "{}", status.message());
    let exact = pb::CreateBillRequest {
        split_method: pb::SplitMethod::Exact as i32,
        participants: participants(&[(&a, "50.00"), (&b, "30.00"), (&c, "19.99")]),
        ..base()
    };
    let status = refused!(app, Code::InvalidArgument, app.client.create_bill(authed(&a.token, exact)));
    assert!(status.message().contains("sum"), "{}", status.message());
    let duplicate = pb::CreateBillRequest { participants: participants(&[(&a, ""), (&b, ""), (&b, "")]), ..base() };
    let status = refused!(app, Code::InvalidArgument, app.client.create_bill(authed(&a.token, duplicate)));
    assert!(status.message().contains("more than once"), "{}", status.message());
    let zero_shares = pb::CreateBillRequest {
        split_method: pb::SplitMethod::Shares as i32,
        participants: participants(&[(&a, "1"), (&b, "0"), (&c, "2")]),
        ..base()
    };
    refused!(app, Code::InvalidArgument, app.client.create_bill(authed(&a.token, zero_shares)));
    let no_method = pb::CreateBillRequest { split_method: 0, ..base() };
    refused!(app, Code::InvalidArgument, app.client.create_bill(authed(&a.token, no_method)));
    let over_precise = pb::CreateBillRequest { total: "100.001".into(), ..base() };
    refused!(app, Code::InvalidArgument, app.client.create_bill(authed(&a.token, over_precise)));
    let unknown = pb::CreateBillRequest { currency: "ABC".into(), ..base() };
    refused!(app, Code::InvalidArgument, app.client.create_bill(authed(&a.token, unknown)));
    let payers_short = pb::CreateBillRequest {
        payers: vec![pb::Payer { user_id: a.id.to_string(), amount: "99.99".into() }],
        ..base()
    };
    refused!(app, Code::InvalidArgument, app.client.create_bill(authed(&a.token, payers_short)));
    app.stop().await;
}

#[tokio::test]
async fn strangers_and_blocked_users_cannot_be_paid_or_split_with() {
    let mut app = TestApp::spawn().await;
    let (a, friend, stranger, blocker) = (app.user(), app.user(), app.user(), app.user());
    app.befriend(&a, &friend).await;
    app.befriend(&a, &blocker).await;
    app.block(&blocker, &a).await;
    app.fund(&a, "10.00").await;

    let status = refused!(
        app,
        Code::FailedPrecondition,
        app.client.transfer(authed(&a.token, transfer(&stranger, "1.00", &key())))
    );
    assert!(status.message().contains("not your friend"), "{}", status.message());
    refused!(app, Code::PermissionDenied, app.client.transfer(authed(&a.token, transfer(&blocker, "1.00", &key()))));
    let with_stranger = equal_bill("x", "9.00", &[&a, &friend, &stranger], &key());
    refused!(app, Code::FailedPrecondition, app.client.create_bill(authed(&a.token, with_stranger)));
    let with_blocker = equal_bill("x", "9.00", &[&a, &friend, &blocker], &key());
    refused!(app, Code::PermissionDenied, app.client.create_bill(authed(&a.token, with_blocker)));
    let mut not_mine = equal_bill("x", "9.00", &[&friend], &key());
    not_mine.payers = vec![pb::Payer { user_id: friend.id.to_string(), amount: "9.00".into() }];
    refused!(app, Code::PermissionDenied, app.client.create_bill(authed(&a.token, not_mine)));
    app.stop().await;
}

#[tokio::test]
async fn other_users_bills_wallets_and_closed_collections_are_refused() {
    let mut app = TestApp::spawn().await;
    let (a, b, c, outsider, operator) = (app.user(), app.user(), app.user(), app.user(), app.operator());
    app.befriend(&a, &b).await;
    app.befriend(&a, &c).await;
    app.fund(&b, "50.00").await;
    app.fund(&c, "50.00").await;
    let bill = app
        .client
        .create_bill(authed(&a.token, equal_bill("dinner", "30.00", &[&a, &b, &c], &key())))
        .await
        .unwrap()
        .into_inner();

    refused!(
        app,
        Code::PermissionDenied,
        app.client.get_bill(authed(&outsider.token, pb::GetBillRequest { bill_id: bill.bill_id.clone() }))
    );
    refused!(
        app,
        Code::NotFound,
        app.client.get_bill(authed(&a.token, pb::GetBillRequest { bill_id: Uuid::now_v7().to_string() }))
    );
    refused!(
        app,
        Code::InvalidArgument,
        app.client.get_bill(authed(&a.token, pb::GetBillRequest { bill_id: "nope".into() }))
    );
    refused!(
        app,
        Code::PermissionDenied,
        app.client.open_collection(authed(&b.token, pb::OpenCollectionRequest { bill_id: bill.bill_id.clone() }))
    );
    let collection = app
        .client
        .open_collection(authed(&a.token, pb::OpenCollectionRequest { bill_id: bill.bill_id.clone() }))
        .await
        .unwrap()
        .into_inner();
    refused!(
        app,
        Code::AlreadyExists,
        app.client.open_collection(authed(&a.token, pb::OpenCollectionRequest { bill_id: bill.bill_id.clone() }))
    );
    let id = || collection.collection_id.clone();
    refused!(
        app,
        Code::PermissionDenied,
        app.client.close_collection(authed(&b.token, pb::CloseCollectionRequest { collection_id: id() }))
    );
    refused!(
        app,
        Code::PermissionDenied,
        app.client.remind_collection(authed(&c.token, pb::RemindCollectionRequest { collection_id: id() }))
    );
    refused!(
        app,
        Code::PermissionDenied,
        app.client.get_collection(authed(&outsider.token, pb::GetCollectionRequest { collection_id: id() }))
    );
    let pay = || pb::PayCollectionRequest { collection_id: id(), idempotency_key: key() };
    refused!(app, Code::PermissionDenied, app.client.pay_collection(authed(&outsider.token, pay())));
    refused!(app, Code::PermissionDenied, app.client.pay_collection(authed(&a.token, pay())));
    app.client.pay_collection(authed(&b.token, pay())).await.unwrap();
    refused!(app, Code::FailedPrecondition, app.client.pay_collection(authed(&b.token, pay())));
    app.client.close_collection(authed(&a.token, pb::CloseCollectionRequest { collection_id: id() })).await.unwrap();
    let status = refused!(app, Code::FailedPrecondition, app.client.pay_collection(authed(&c.token, pay())));
    assert!(status.message().contains("closed"), "{}", status.message());

    // Another user's top-up and hold; holds are the operator's to place.
    let top_up = pb::TopUpRequest { amount: "1.00".into(), currency: "CNY".into(), idempotency_key: key() };
    let mine = app.client.top_up(authed(&b.token, top_up)).await.unwrap().into_inner();
    app.wait_top_up(&b, &mine.request_id).await;
    refused!(
        app,
        Code::PermissionDenied,
        app.client.get_top_up(authed(&c.token, pb::GetProviderRequestRequest { request_id: mine.request_id.clone() }))
    );
    let place = pb::PlaceHoldRequest {
        hold_id: Uuid::now_v7().to_string(),
        user_id: b.id.to_string(),
        merchant_id: Uuid::now_v7().to_string(),
        amount: "5.00".into(),
        currency: "CNY".into(),
        idempotency_key: key(),
        ..Default::default()
    };
    refused!(app, Code::PermissionDenied, app.client.place_hold(authed(&b.token, place.clone())));
    let hold = app.client.place_hold(authed(&operator.token, place.clone())).await.unwrap().into_inner();
    refused!(
        app,
        Code::PermissionDenied,
        app.client.get_hold(authed(&c.token, pb::GetHoldRequest { hold_id: hold.hold_id.clone() }))
    );
    let too_much = pb::CaptureHoldRequest {
        hold_id: hold.hold_id.clone(),
        amount: "5.01".into(),
        r#final: true,
        idempotency_key: key(),
    };
    let status = refused!(app, Code::FailedPrecondition, app.client.capture_hold(authed(&operator.token, too_much)));
    assert!(status.message().contains("exceeds"), "{}", status.message());
    let short = pb::PlaceHoldRequest {
        hold_id: Uuid::now_v7().to_string(),
        amount: "1000.00".into(),
        idempotency_key: key(),
        ..place
    };
    refused!(app, Code::FailedPrecondition, app.client.place_hold(authed(&operator.token, short)));
    let campaign = pb::CreateCharityCampaignRequest {
        title: "x".into(),
        currency: "CNY".into(),
        idempotency_key: key(),
        ..Default::default()
    };
    refused!(app, Code::PermissionDenied, app.client.create_charity_campaign(authed(&b.token, campaign)));
    app.stop().await;
}
