//! Every money command, retried with the same key, returns the first response and moves money
//! once; the same key with a different request is refused.

mod common;

use common::{TestApp, authed, dec, equal_bill, key, transfer};
use tonic::Code;
use tuan_proto::payments::v1 as pb;
use uuid::Uuid;

/// Sends `$request` twice (same key), asserts equal responses, then sends `$different` with the
/// same key and expects FAILED_PRECONDITION with nothing changed. Evaluates to the response.
macro_rules! twice {
    ($app:expr, $method:ident, $token:expr, $request:expr, $different:expr) => {{
        let first = $app.client.$method(authed($token, $request.clone())).await.expect("first call").into_inner();
        let events = $app.request_event_count().await;
        let second = $app.client.$method(authed($token, $request.clone())).await.expect("retry").into_inner();
        assert_eq!(first, second, "a retry returns the first response");
        let refused = $app.client.$method(authed($token, $different)).await.expect_err("same key, different request");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{}", refused.message());
        assert_eq!($app.request_event_count().await, events, "retries and refusals append nothing");
        first
    }};
}

#[tokio::test]
async fn every_money_command_is_idempotent() {
    let mut app = TestApp::spawn().await;
    let (alice, bob, operator) = (app.user(), app.user(), app.operator());
    app.befriend(&alice, &bob).await;

    // TopUp
    let k = key();
    let top_up = pb::TopUpRequest { amount: "100.00".into(), currency: "CNY".into(), idempotency_key: k.clone() };
    let pending =
        twice!(app, top_up, &alice.token, top_up, pb::TopUpRequest { amount: "99.00".into(), ..top_up.clone() });
    app.wait_top_up(&alice, &pending.request_id).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(app.available(&alice, "CNY").await, dec("100.00"), "topped up once");

    // Withdraw
    let withdraw = pb::WithdrawRequest {
        amount: "10.00".into(),
        currency: "CNY".into(),
        idempotency_key: key(),
        ..Default::default()
    };
    twice!(app, withdraw, &alice.token, withdraw, pb::WithdrawRequest { amount: "11.00".into(), ..withdraw.clone() });
    assert_eq!(app.available(&alice, "CNY").await, dec("90.00"), "withdrawn once");

    // Transfer
    let t = transfer(&bob, "5.00", &key());
    let receipt = twice!(app, transfer, &alice.token, t, pb::TransferRequest { memo: "changed".into(), ..t.clone() });
    assert_eq!(receipt.amount, "5.00");
    assert_eq!(app.available(&alice, "CNY").await, dec("85.00"));
    assert_eq!(app.available(&bob, "CNY").await, dec("5.00"));

    // PlaceHold / CaptureHold / ReleaseHold (operator API)
    let merchant = Uuid::now_v7();
    let place = pb::PlaceHoldRequest {
        hold_id: Uuid::now_v7().to_string(),
        user_id: alice.id.to_string(),
        merchant_id: merchant.to_string(),
        amount: "40.00".into(),
        currency: "CNY".into(),
        idempotency_key: key(),
        ..Default::default()
    };
    twice!(app, place_hold, &operator.token, place, pb::PlaceHoldRequest { amount: "41.00".into(), ..place.clone() });
    assert_eq!(app.available(&alice, "CNY").await, dec("45.00"), "held once");
    let capture = pb::CaptureHoldRequest {
        hold_id: place.hold_id.clone(),
        amount: "10.00".into(),
        r#final: false,
        idempotency_key: key(),
    };
    let hold = twice!(
        app,
        capture_hold,
        &operator.token,
        capture,
        pb::CaptureHoldRequest { amount: "11.00".into(), ..capture.clone() }
    );
    assert_eq!((hold.captured.as_str(), hold.remaining.as_str()), ("10.00", "30.00"), "captured once");
    let release =
        pb::ReleaseHoldRequest { hold_id: place.hold_id.clone(), reason: "done".into(), idempotency_key: key() };
    twice!(
        app,
        release_hold,
        &operator.token,
        release,
        pb::ReleaseHoldRequest { reason: "other".into(), ..release.clone() }
    );
    assert_eq!(app.available(&alice, "CNY").await, dec("75.00"), "the rest released once");
    assert_eq!(app.account(&format!("merchant-payable:{merchant}")).await, dec("9.90"));

    // CreateBill, then PayCollection
    let bill_request = equal_bill("dinner", "30.00", &[&alice, &bob], &key());
    let bill = twice!(
        app,
        create_bill,
        &alice.token,
        bill_request,
        pb::CreateBillRequest { title: "lunch".into(), ..bill_request.clone() }
    );
    let listed =
        app.client.list_bills(authed(&alice.token, pb::ListBillsRequest::default())).await.unwrap().into_inner();
    assert_eq!(listed.bills.len(), 1, "recorded once");
    app.client
        .open_collection(authed(&alice.token, pb::OpenCollectionRequest { bill_id: bill.bill_id.clone() }))
        .await
        .unwrap();
    app.fund(&bob, "20.00").await;
    let pay = pb::PayCollectionRequest { collection_id: bill.bill_id.clone(), idempotency_key: key() };
    let paid = twice!(
        app,
        pay_collection,
        &bob.token,
        pay,
        pb::PayCollectionRequest { collection_id: Uuid::now_v7().to_string(), ..pay.clone() }
    );
    assert_eq!(paid.amount, "15.00");
    assert_eq!(app.available(&bob, "CNY").await, dec("10.00"), "paid once");

    // SettleUp: bob paid a taxi for both, alice owes him half.
    let mut taxi = equal_bill("taxi", "8.00", &[&alice, &bob], &key());
    taxi.payers = vec![pb::Payer { user_id: bob.id.to_string(), amount: "8.00".into() }];
    app.client.create_bill(authed(&bob.token, taxi)).await.unwrap();
    let settle = pb::SettleUpRequest {
        group: Some(pb::settle_up_request::Group::FriendId(bob.id.to_string())),
        currency: "CNY".into(),
        idempotency_key: key(),
    };
    let settled =
        twice!(app, settle_up, &alice.token, settle, pb::SettleUpRequest { currency: "USD".into(), ..settle.clone() });
    assert_eq!(settled.transfers.len(), 1);
    assert_eq!(settled.transfers[0].amount, "4.00");
    assert_eq!(app.available(&bob, "CNY").await, dec("14.00"), "settled once");

    // CreateCharityCampaign and Donate
    let create = pb::CreateCharityCampaignRequest {
        title: "school books".into(),
        description: "for the village school".into(),
        currency: "CNY".into(),
        goal: "1000.00".into(),
        idempotency_key: key(),
    };
    let campaign = twice!(
        app,
        create_charity_campaign,
        &operator.token,
        create,
        pb::CreateCharityCampaignRequest { goal: "2000.00".into(), ..create.clone() }
    );
    let donate =
        pb::DonateRequest { campaign_id: campaign.campaign_id.clone(), amount: "3.00".into(), idempotency_key: key() };
    twice!(app, donate, &bob.token, donate, pb::DonateRequest { amount: "4.00".into(), ..donate.clone() });
    let campaign = app
        .client
        .get_charity_campaign(authed(
            &bob.token,
            pb::GetCharityCampaignRequest { campaign_id: campaign.campaign_id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (campaign.raised.as_str(), campaign.donor_count, campaign.donation_count),
        ("3.00", 1, 1),
        "donated once"
    );
    assert_eq!(app.ledger_sum().await, dec("0"));
    app.stop().await;
}

#[tokio::test]
async fn idempotency_keys_must_be_present_and_short() {
    let mut app = TestApp::spawn().await;
    let (alice, bob) = (app.user(), app.user());
    for bad in ["", "   ", &"k".repeat(65)] {
        let status = app.client.transfer(authed(&alice.token, transfer(&bob, "1.00", bad))).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        assert!(status.message().contains("idempotency_key"));
    }
    assert_eq!(app.event_count().await, 0);
    app.stop().await;
}
