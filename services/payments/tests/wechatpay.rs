//! Top-ups through the WeChat Pay API v3 adapter, against a local server that speaks the
//! protocol with its own keys (tests/wechatpay/*.pem, made for these tests only):
//!
//! - a top-up makes an APP prepay order whose out_trade_no is the request id, in requests
//!   signed WECHATPAY2-SHA256-RSA2048 (the server refuses any other), and GetTopUp hands the
//!   app the signed payment parameters;
//! - a notification signed by the platform and decrypted with the APIv3 key credits the
//!   wallet once, however often it is delivered; a bad signature, another key, a stale
//!   timestamp, tampered ciphertext or another amount credit nothing; a later final state
//!   changes nothing;
//! - an order never confirmed is queried, and closed once past its lifetime (the top-up fails).

mod common;

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use common::{TestApp, User, authed};
use payments::{
    config::ProviderKind,
    wechat::{
        MerchantKey,
        local::{LocalAccount, LocalWeChatPay, Notification},
        sign::lines,
    },
};
use rsa::{
    RsaPublicKey,
    pkcs1v15::{Signature, VerifyingKey},
    pkcs8::DecodePublicKey,
    signature::Verifier,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::Sha256;
use tuan_proto::payments::v1 as pb;

/// Payments with the WeChat Pay adapter pointed at a local server with the tests' account.
async fn payments(tune: impl FnOnce(&mut payments::config::PaymentsConfig)) -> (TestApp, LocalWeChatPay, LocalAccount) {
    let account = LocalAccount::for_tests();
    let server = LocalWeChatPay::start(account.clone()).await.unwrap();
    let (url, a) = (server.url.clone(), account.clone());
    // The notify endpoint's port, known before payments starts: the URL the orders carry.
    let notify = tuan_testkit::free_port();
    let app = TestApp::spawn_with(move |c| {
        let p = &mut c.payments;
        p.provider_kind = ProviderKind::Wechat;
        let w = &mut p.wechat;
        (w.base_url, w.mchid, w.app_id, w.merchant_serial) = (url, a.mchid, a.app_id, a.merchant_serial);
        w.merchant_private_key = a.merchant_private_pem.into();
        w.api_v3_key = a.api_v3_key.into();
        (w.platform_public_key, w.platform_public_key_id) = (a.platform_public_pem, a.platform_key_id);
        (w.notify_url, w.notify_addr) =
            (format!("http://127.0.0.1:{notify}/wechatpay/notify"), format!("127.0.0.1:{notify}"));
        tune(c);
    })
    .await;
    (app, server, account)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Posts `n` to payments' notify endpoint; its HTTP status.
async fn deliver(app: &TestApp, n: &Notification) -> u16 {
    let url = format!("http://127.0.0.1:{}/wechatpay/notify", app.notify_port.expect("the notify endpoint"));
    LocalWeChatPay::deliver(&url, n).await
}

async fn top_up(app: &mut TestApp, user: &User, amount: &str) -> String {
    let request = pb::TopUpRequest {
        amount: amount.into(),
        currency: "CNY".into(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    };
    app.client.top_up(authed(&user.token, request)).await.expect("top up").into_inner().request_id
}

/// GetTopUp once the adapter made the order (the app polls the same way).
async fn with_payment(app: &mut TestApp, user: &User, id: &str) -> pb::ProviderRequest {
    for _ in 0..200 {
        let got = app
            .client
            .get_top_up(authed(&user.token, pb::GetProviderRequestRequest { request_id: id.into() }))
            .await
            .unwrap()
            .into_inner();
        if got.app_payment.is_some() {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the top-up {id} never got its payment parameters")
}

async fn status(app: &mut TestApp, user: &User, id: &str) -> pb::ProviderRequestStatus {
    let request = pb::GetProviderRequestRequest { request_id: id.into() };
    app.client.get_top_up(authed(&user.token, request)).await.unwrap().into_inner().status()
}

#[tokio::test]
async fn a_paid_order_credits_the_wallet_once_and_forged_notifications_credit_nothing() {
    let (mut app, server, account) = payments(|_| {}).await;
    let alice = app.user();
    let id = top_up(&mut app, &alice, "100.00").await;

    // The order, and what the app pays it with, signed by the merchant.
    let request = with_payment(&mut app, &alice, &id).await;
    let order = server.order(&id).expect("an order whose out_trade_no is the request id");
    let notify_url = format!("http://127.0.0.1:{}/wechatpay/notify", app.notify_port.unwrap());
    assert_eq!((order.total, order.notify_url.clone()), (10_000, notify_url), "in fen, notified at payments' endpoint");
    let pay = request.app_payment.unwrap();
    let expected = (account.app_id.as_str(), account.mchid.as_str(), "Sign=WXPay");
    assert_eq!((pay.app_id.as_str(), pay.partner_id.as_str(), pay.package.as_str()), expected);
    let message = lines(&[&pay.app_id, &pay.timestamp, &pay.nonce_str, &pay.prepay_id]);
    let signature = Signature::try_from(BASE64.decode(&pay.sign).unwrap().as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(RsaPublicKey::from_public_key_pem(&account.merchant_public_pem).unwrap())
        .verify(message.as_bytes(), &signature)
        .expect("the app's parameters are signed by the merchant's key");
    assert!(server.refused().is_empty(), "every request was signed: {:?}", server.refused());

    let mut paid = order.clone();
    paid.state = "SUCCESS".into();
    let platform = account.platform_private_pem.as_str();
    let notification = |order: &payments::wechat::local::Order, at: i64| {
        server.notification(&server.transaction(&id, order), at, platform)
    };
    let good = notification(&paid, now());
    let zero = Decimal::ZERO;

    // Forgeries and replays: refused, nothing credited.
    let by_another_key = server.sign(good.body.clone(), now(), &account.merchant_private_pem);
    let stale = notification(&paid, now() - 600);
    let mut unknown_key = notification(&paid, now());
    unknown_key.key_id = "PUB_KEY_ID_SOMEONE_ELSE".into();
    let mut tampered_body: Value = serde_json::from_str(&good.body).unwrap();
    let ciphertext = tampered_body["resource"]["ciphertext"].as_str().unwrap().to_string();
    let mut bytes = BASE64.decode(ciphertext).unwrap();
    bytes[3] ^= 0x20;
    tampered_body["resource"]["ciphertext"] = json!(BASE64.encode(bytes));
    let tampered = server.sign(tampered_body.to_string(), now(), platform);
    let mut edited = notification(&paid, now());
    edited.body = edited.body.replace("支付成功", "paid");
    let mut underpaid = paid.clone();
    underpaid.total = 1;
    let other_amount = notification(&underpaid, now());
    for (what, forged, expected) in [
        ("signed by another key", &by_another_key, 401),
        ("ten minutes old", &stale, 401),
        ("naming a key we do not trust", &unknown_key, 401),
        ("with tampered ciphertext", &tampered, 401),
        ("edited after signing", &edited, 401),
        ("for another amount", &other_amount, 500),
    ] {
        assert_eq!(deliver(&app, forged).await, expected, "a notification {what}");
        assert_eq!(app.available(&alice, "CNY").await, zero, "a notification {what} credits nothing");
    }
    assert_eq!(status(&mut app, &alice, &id).await, pb::ProviderRequestStatus::Pending);

    // The real one credits once; delivered again, and then a later final state, nothing changes.
    assert_eq!(deliver(&app, &good).await, 204);
    assert_eq!(app.available(&alice, "CNY").await, Decimal::new(10_000, 2));
    assert_eq!(status(&mut app, &alice, &id).await, pb::ProviderRequestStatus::Completed);
    let events = app.event_count().await;
    assert_eq!(deliver(&app, &good).await, 204, "a duplicate is acknowledged");
    let mut closed = paid.clone();
    closed.state = "CLOSED".into();
    assert_eq!(deliver(&app, &notification(&closed, now())).await, 204, "out of order");
    assert_eq!(app.available(&alice, "CNY").await, Decimal::new(10_000, 2), "credited exactly once");
    assert_eq!(app.event_count().await, events, "duplicates and late states change nothing");
    app.stop().await;
}

#[tokio::test]
async fn an_order_never_confirmed_is_queried_and_credited_or_closed() {
    let (mut app, server, _) = payments(|c| {
        c.payments.provider.resubmit_after_secs = 1;
        c.payments.wechat.order_ttl_secs = 3;
    })
    .await;
    let (bob, carol) = (app.user(), app.user());
    let paid_id = top_up(&mut app, &bob, "30.00").await;
    let unpaid_id = top_up(&mut app, &carol, "40.00").await;
    with_payment(&mut app, &bob, &paid_id).await;
    with_payment(&mut app, &carol, &unpaid_id).await;
    // Bob pays, but the notification never arrives; Carol never pays.
    server.set_state(&paid_id, "SUCCESS");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (paid, unpaid) = (status(&mut app, &bob, &paid_id).await, status(&mut app, &carol, &unpaid_id).await);
        if paid != pb::ProviderRequestStatus::Pending && unpaid != pb::ProviderRequestStatus::Pending {
            assert_eq!(paid, pb::ProviderRequestStatus::Completed, "found paid by querying the order");
            assert_eq!(unpaid, pb::ProviderRequestStatus::Failed, "closed unpaid past its lifetime");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the orders were never settled by querying them");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.available(&bob, "CNY").await, Decimal::new(3_000, 2));
    assert_eq!(app.available(&carol, "CNY").await, Decimal::ZERO);
    assert_eq!(server.order(&unpaid_id).unwrap().state, "CLOSED", "the unpaid order was closed at WeChat Pay");
    let calls = server.calls();
    assert!(calls.iter().any(|c| c.ends_with(&format!("{unpaid_id}/close"))), "{calls:?}");
    app.stop().await;
}

#[tokio::test]
async fn wechat_pay_settings_must_be_whole_outside_development() {
    let a = LocalAccount::for_tests();
    let mut config = payments::config::PaymentsConfig::default();
    config.common.auth.jwt_secret = "a-jwt-secret-of-at-least-thirty-two-chars".to_string().into();
    config.payments.provider_kind = ProviderKind::Wechat;
    let err = config.check().unwrap_err().to_string();
    assert!(err.contains("TUAN_PAYMENTS__WECHAT__MCHID") && err.contains("API_V3_KEY"), "{err}");
    let w = &mut config.payments.wechat;
    (w.mchid, w.app_id, w.merchant_serial) = (a.mchid, a.app_id, a.merchant_serial);
    w.merchant_private_key = a.merchant_private_pem.into();
    w.api_v3_key = a.api_v3_key.into();
    (w.platform_public_key, w.platform_public_key_id) = (a.platform_public_pem, a.platform_key_id);
    w.notify_url = "http://pay.example/wechatpay/notify".into();
    assert!(config.check().unwrap_err().to_string().contains("https://"), "no plain HTTP outside development");
    config.payments.wechat.notify_url = "https://pay.example/wechatpay/notify".into();
    config.check().expect("a whole WeChat Pay configuration starts payments outside development");
    config.payments.wechat.api_v3_key = "short".to_string().into();
    assert!(config.check().unwrap_err().to_string().contains("32 characters"));
}

/// Notification headers naming `serial`'s key, with a nonce of "n".
fn signed_as<'a>(timestamp: &'a str, signature: &'a str, serial: &'a str) -> payments::wechat::NotifyHeaders<'a> {
    payments::wechat::NotifyHeaders {
        timestamp: Some(timestamp),
        nonce: Some("n"),
        signature: Some(signature),
        serial: Some(serial),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever an attacker posts (any body, any signature, a real signature over another body,
    /// any timestamp far from now), the notification never opens; only the platform's own
    /// signature over exactly these bytes, recent, does.
    #[test]
    fn no_forged_or_altered_notification_opens(
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        signature in "[A-Za-z0-9+/=]{0,400}",
        skew in 301i64..100_000,
        flip in 0usize..400,
    ) {
        use payments::wechat::NotificationCheck;
        let account = LocalAccount::for_tests();
        let check = NotificationCheck::new(
            &account.platform_public_pem, &account.platform_key_id, &account.api_v3_key, Duration::from_secs(300),
        ).unwrap();
        let now = chrono::Utc::now().timestamp();
        let (ts, key_id) = (now.to_string(), account.platform_key_id.clone());

        let ts_ref = ts.as_str();
        proptest::prop_assert!(check.open(&signed_as(ts_ref, &signature, &key_id), &body, now).is_err());
        // A real platform signature, but over other bytes (one flipped) or long ago.
        let platform = MerchantKey::from_pem(&account.platform_private_pem, "", "").unwrap();
        let text = String::from_utf8_lossy(&body).to_string();
        let real = platform.sign(&lines(&[ts_ref, "n", &text]));
        let mut altered = text.clone().into_bytes();
        if !altered.is_empty() {
            let i = flip % altered.len();
            altered[i] ^= 1;
            proptest::prop_assert!(check.open(&signed_as(ts_ref, &real, &key_id), &altered, now).is_err());
        }
        let old = (now - skew).to_string();
        let stale = platform.sign(&lines(&[&old, "n", &text]));
        proptest::prop_assert!(check.open(&signed_as(&old, &stale, &key_id), text.as_bytes(), now).is_err());
    }
}

/// The withdrawal's status once it is no longer pending (up to 20 s).
async fn settled_withdrawal(app: &mut TestApp, user: &User, id: &str) -> pb::ProviderRequest {
    for _ in 0..400 {
        let request = pb::GetProviderRequestRequest { request_id: id.into() };
        let got = app.client.get_withdrawal(authed(&user.token, request)).await.unwrap().into_inner();
        if got.status() != pb::ProviderRequestStatus::Pending {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the withdrawal {id} never settled")
}

/// The transfer bill payments made for withdrawal `id` at the local WeChat Pay (up to 10 s).
async fn transfer_of(server: &LocalWeChatPay, id: &str) -> payments::wechat::local::Transfer {
    let no = id.replace('-', "");
    for _ in 0..200 {
        if let Some((_, t)) = server.transfers().into_iter().find(|(n, _)| *n == no) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no transfer bill for withdrawal {id}")
}

#[tokio::test]
async fn withdrawals_are_paid_out_to_the_users_wechat_balance() {
    let (mut app, server, _) = payments(|_| {}).await;
    let alice = app.user();
    let id = top_up(&mut app, &alice, "100.00").await;
    with_payment(&mut app, &alice, &id).await;
    assert!(server.pay(&id, Duration::from_secs(30)));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.available(&alice, "CNY").await != Decimal::new(10_000, 2) {
        assert!(tokio::time::Instant::now() < deadline, "the paid top-up was never credited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let withdraw = |amount: &str, openid: &str| pb::WithdrawRequest {
        amount: amount.into(),
        currency: "CNY".into(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
        wechat_openid: openid.into(),
    };

    // Paid out: the bill names the user's openid and the amount in fen; the money left at once.
    let paid = app.client.withdraw(authed(&alice.token, withdraw("30.00", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"))).await;
    let paid = paid.unwrap().into_inner().request_id;
    let bill = transfer_of(&server, &paid).await;
    assert_eq!((bill.amount, bill.openid.as_str()), (3_000, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"));
    assert_eq!(app.available(&alice, "CNY").await, Decimal::new(7_000, 2));
    assert!(server.finish_transfer(&paid.replace('-', ""), "SUCCESS", Duration::from_secs(30)));
    assert_eq!(settled_withdrawal(&mut app, &alice, &paid).await.status(), pb::ProviderRequestStatus::Completed);
    assert_eq!(app.available(&alice, "CNY").await, Decimal::new(7_000, 2));

    // A payout WeChat Pay fails returns to the wallet, as does one with no account to pay to.
    let failed = app.client.withdraw(authed(&alice.token, withdraw("20.00", "o-closed-account"))).await;
    let failed = failed.unwrap().into_inner().request_id;
    transfer_of(&server, &failed).await;
    assert!(server.finish_transfer(&failed.replace('-', ""), "FAIL", Duration::from_secs(30)));
    let settled = settled_withdrawal(&mut app, &alice, &failed).await;
    assert_eq!(settled.status(), pb::ProviderRequestStatus::Failed, "{settled:?}");
    let nowhere = app.client.withdraw(authed(&alice.token, withdraw("10.00", ""))).await.unwrap().into_inner();
    let settled = settled_withdrawal(&mut app, &alice, &nowhere.request_id).await;
    assert!(settled.failure_reason.contains("wechat_openid"), "{settled:?}");
    assert_eq!(app.available(&alice, "CNY").await, Decimal::new(7_000, 2), "both came back");

    let bad = app.client.withdraw(authed(&alice.token, withdraw("1.00", "not an openid"))).await;
    assert_eq!(bad.unwrap_err().code(), tonic::Code::InvalidArgument);
    assert!(server.refused().is_empty(), "{:?}", server.refused());
    app.stop().await;
}
