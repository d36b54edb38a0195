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

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    routing::{get, post},
};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use common::{TestApp, User, authed};
use payments::{
    config::ProviderKind,
    wechat::{
        MerchantKey,
        sign::{encrypt_resource, lines},
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

const MERCHANT_KEY: &str = include_str!("wechatpay/merchant-key.pem");
const MERCHANT_PUB: &str = include_str!("wechatpay/merchant-pub.pem");
const PLATFORM_KEY: &str = include_str!("wechatpay/platform-key.pem");
const PLATFORM_PUB: &str = include_str!("wechatpay/platform-pub.pem");
const MCHID: &str = "1900000109";
const APP_ID: &str = "wxd678efh567hg6787";
const SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
const PLATFORM_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";
const API_V3_KEY: &str = "a-32-character-apiv3-key-for-tst";

/// One order as the local server keeps it.
#[derive(Clone, Debug)]
struct Order {
    total: i64,
    state: String,
    notify_url: String,
}

/// The local WeChat Pay: orders by out_trade_no, and every request it refused.
#[derive(Default)]
struct FakeWeChatPay {
    orders: Mutex<HashMap<String, Order>>,
    refused: Mutex<Vec<String>>,
    calls: Mutex<Vec<String>>,
}

/// Checks a request's `Authorization` as WeChat Pay does: the merchant's id and serial, and an
/// RSA-SHA256 signature by the merchant's key over method, path, timestamp, nonce and body.
fn signed_by_merchant(headers: &HeaderMap, method: &Method, uri: &Uri, body: &str) -> Result<(), String> {
    let header = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or("no Authorization")?;
    let fields = header.strip_prefix("WECHATPAY2-SHA256-RSA2048 ").ok_or("not WECHATPAY2-SHA256-RSA2048")?;
    let field = |name: &str| {
        fields
            .split(',')
            .find_map(|f| f.strip_prefix(&format!("{name}=\"")).and_then(|v| v.strip_suffix('"')))
            .ok_or(format!("no {name}"))
    };
    if field("mchid")? != MCHID || field("serial_no")? != SERIAL {
        return Err("another merchant".into());
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or_default();
    let message = lines(&[method.as_str(), path, field("timestamp")?, field("nonce_str")?, body]);
    let signature = Signature::try_from(BASE64.decode(field("signature")?).map_err(|e| e.to_string())?.as_slice())
        .map_err(|e| e.to_string())?;
    let key = VerifyingKey::<Sha256>::new(RsaPublicKey::from_public_key_pem(MERCHANT_PUB).unwrap());
    key.verify(message.as_bytes(), &signature).map_err(|_| "bad signature".to_string())
}

type Answer = (StatusCode, String);

fn check(fake: &FakeWeChatPay, headers: &HeaderMap, method: Method, uri: &Uri, body: &str) -> Result<(), Answer> {
    fake.calls.lock().unwrap().push(format!("{method} {}", uri.path()));
    signed_by_merchant(headers, &method, uri, body).map_err(|why| {
        fake.refused.lock().unwrap().push(why.clone());
        (StatusCode::UNAUTHORIZED, json!({"code": "SIGN_ERROR", "message": why}).to_string())
    })
}

async fn prepay(State(fake): State<Arc<FakeWeChatPay>>, headers: HeaderMap, uri: Uri, body: Bytes) -> Answer {
    let text = String::from_utf8_lossy(&body).to_string();
    if let Err(answer) = check(&fake, &headers, Method::POST, &uri, &text) {
        return answer;
    }
    let order: Value = serde_json::from_str(&text).unwrap();
    let no = order["out_trade_no"].as_str().unwrap().to_string();
    let total = order["amount"]["total"].as_i64().unwrap();
    let notify_url = order["notify_url"].as_str().unwrap().to_string();
    assert_eq!((order["appid"].as_str(), order["mchid"].as_str()), (Some(APP_ID), Some(MCHID)));
    fake.orders.lock().unwrap().entry(no.clone()).or_insert(Order { total, state: "NOTPAY".into(), notify_url });
    (StatusCode::OK, json!({ "prepay_id": format!("wx{}", &no[..8]) }).to_string())
}

fn transaction(no: &str, order: &Order) -> Value {
    json!({
        "mchid": MCHID, "appid": APP_ID, "out_trade_no": no, "transaction_id": format!("4200{}", &no[..8]),
        "trade_state": order.state, "trade_state_desc": "", "amount": { "total": order.total, "currency": "CNY" },
    })
}

async fn query(State(fake): State<Arc<FakeWeChatPay>>, Path(no): Path<String>, headers: HeaderMap, uri: Uri) -> Answer {
    if let Err(answer) = check(&fake, &headers, Method::GET, &uri, "") {
        return answer;
    }
    match fake.orders.lock().unwrap().get(&no) {
        Some(order) => (StatusCode::OK, transaction(&no, order).to_string()),
        None => (StatusCode::NOT_FOUND, json!({"code": "ORDER_NOT_EXIST", "message": "no such order"}).to_string()),
    }
}

async fn close(
    State(fake): State<Arc<FakeWeChatPay>>,
    Path(no): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Answer {
    if let Err(answer) = check(&fake, &headers, Method::POST, &uri, &String::from_utf8_lossy(&body)) {
        return answer;
    }
    if let Some(order) = fake.orders.lock().unwrap().get_mut(&no) {
        order.state = "CLOSED".into();
    }
    (StatusCode::NO_CONTENT, String::new())
}

async fn fake_wechat_pay() -> (Arc<FakeWeChatPay>, String) {
    let fake = Arc::new(FakeWeChatPay::default());
    let app = Router::new()
        .route("/v3/pay/transactions/app", post(prepay))
        .route("/v3/pay/transactions/out-trade-no/{no}", get(query))
        .route("/v3/pay/transactions/out-trade-no/{no}/close", post(close))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, url)
}

/// Payments with the WeChat Pay adapter pointed at the local server.
async fn payments(base_url: &str, tune: impl FnOnce(&mut payments::config::PaymentsConfig)) -> TestApp {
    let base_url = base_url.to_string();
    TestApp::spawn_with(move |c| {
        let p = &mut c.payments;
        p.provider_kind = ProviderKind::Wechat;
        let w = &mut p.wechat;
        (w.base_url, w.mchid, w.app_id, w.merchant_serial) = (base_url, MCHID.into(), APP_ID.into(), SERIAL.into());
        w.merchant_private_key = MERCHANT_KEY.to_string().into();
        w.api_v3_key = API_V3_KEY.to_string().into();
        (w.platform_public_key, w.platform_public_key_id) = (PLATFORM_PUB.into(), PLATFORM_KEY_ID.into());
        (w.notify_url, w.notify_addr) = ("http://127.0.0.1/wechatpay/notify".into(), "127.0.0.1:0".into());
        tune(c);
    })
    .await
}

/// A notification of `transaction` as the platform would send it: the resource encrypted
/// with the APIv3 key, the body signed by `signer` at `timestamp`, naming `key_id`.
struct Notification {
    body: String,
    timestamp: i64,
    nonce: String,
    signature: String,
    key_id: String,
}

fn notification(transaction: &Value, timestamp: i64) -> Notification {
    let ciphertext = encrypt_resource(
        API_V3_KEY.as_bytes().try_into().unwrap(),
        "nonce-0123ab",
        "transaction",
        transaction.to_string().as_bytes(),
    );
    let body = json!({
        "id": "EV-2018022511223320873", "create_time": "2026-12-04T10:34:56+08:00",
        "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": { "original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                      "ciphertext": ciphertext, "associated_data": "transaction", "nonce": "nonce-0123ab" },
    })
    .to_string();
    signed(body, timestamp, PLATFORM_KEY)
}

fn signed(body: String, timestamp: i64, key: &str) -> Notification {
    let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".to_string();
    let signature = MerchantKey::from_pem(key, "", "").unwrap().sign(&lines(&[&timestamp.to_string(), &nonce, &body]));
    Notification { body, timestamp, nonce, signature, key_id: PLATFORM_KEY_ID.into() }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Posts `n` to payments' notify endpoint; its HTTP status.
async fn deliver(app: &TestApp, n: &Notification) -> u16 {
    let url = format!("http://127.0.0.1:{}/wechatpay/notify", app.notify_port.expect("the notify endpoint"));
    reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header("Wechatpay-Timestamp", n.timestamp.to_string())
        .header("Wechatpay-Nonce", &n.nonce)
        .header("Wechatpay-Signature", &n.signature)
        .header("Wechatpay-Serial", &n.key_id)
        .body(n.body.clone())
        .send()
        .await
        .expect("payments' notify endpoint answers")
        .status()
        .as_u16()
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
    let (fake, url) = fake_wechat_pay().await;
    let mut app = payments(&url, |_| {}).await;
    let alice = app.user();
    let id = top_up(&mut app, &alice, "100.00").await;

    // The order, and what the app pays it with, signed by the merchant.
    let request = with_payment(&mut app, &alice, &id).await;
    let order = fake.orders.lock().unwrap().get(&id).cloned().expect("an order whose out_trade_no is the request id");
    assert_eq!((order.total, order.notify_url.as_str()), (10_000, "http://127.0.0.1/wechatpay/notify"), "in fen");
    let pay = request.app_payment.unwrap();
    assert_eq!((pay.app_id.as_str(), pay.partner_id.as_str(), pay.package.as_str()), (APP_ID, MCHID, "Sign=WXPay"));
    let message = lines(&[&pay.app_id, &pay.timestamp, &pay.nonce_str, &pay.prepay_id]);
    let signature = Signature::try_from(BASE64.decode(&pay.sign).unwrap().as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(RsaPublicKey::from_public_key_pem(MERCHANT_PUB).unwrap())
        .verify(message.as_bytes(), &signature)
        .expect("the app's parameters are signed by the merchant's key");
    assert!(fake.refused.lock().unwrap().is_empty(), "every request was signed: {:?}", fake.refused.lock().unwrap());

    let mut paid = order.clone();
    paid.state = "SUCCESS".into();
    let good = notification(&transaction(&id, &paid), now());
    let zero = Decimal::ZERO;

    // Forgeries and replays: refused, nothing credited.
    let by_another_key = signed(good.body.clone(), now(), MERCHANT_KEY);
    let stale = notification(&transaction(&id, &paid), now() - 600);
    let mut unknown_key = notification(&transaction(&id, &paid), now());
    unknown_key.key_id = "PUB_KEY_ID_SOMEONE_ELSE".into();
    let mut tampered_body: Value = serde_json::from_str(&good.body).unwrap();
    let ciphertext = tampered_body["resource"]["ciphertext"].as_str().unwrap().to_string();
    let mut bytes = BASE64.decode(ciphertext).unwrap();
    bytes[3] ^= 0x20;
    tampered_body["resource"]["ciphertext"] = json!(BASE64.encode(bytes));
    let tampered = signed(tampered_body.to_string(), now(), PLATFORM_KEY);
    let mut edited = notification(&transaction(&id, &paid), now());
    edited.body = edited.body.replace("支付成功", "paid");
    let mut underpaid = paid.clone();
    underpaid.total = 1;
    let other_amount = notification(&transaction(&id, &underpaid), now());
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
    assert_eq!(deliver(&app, &notification(&transaction(&id, &closed), now())).await, 204, "out of order");
    assert_eq!(app.available(&alice, "CNY").await, Decimal::new(10_000, 2), "credited exactly once");
    assert_eq!(app.event_count().await, events, "duplicates and late states change nothing");
    app.stop().await;
}

#[tokio::test]
async fn an_order_never_confirmed_is_queried_and_credited_or_closed() {
    let (fake, url) = fake_wechat_pay().await;
    let mut app = payments(&url, |c| {
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
    fake.orders.lock().unwrap().get_mut(&paid_id).unwrap().state = "SUCCESS".into();

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
    assert_eq!(fake.orders.lock().unwrap()[&unpaid_id].state, "CLOSED", "the unpaid order was closed at WeChat Pay");
    let calls = fake.calls.lock().unwrap().clone();
    assert!(calls.iter().any(|c| c.ends_with(&format!("{unpaid_id}/close"))), "{calls:?}");
    app.stop().await;
}

#[tokio::test]
async fn wechat_pay_settings_must_be_whole_outside_development() {
    let mut config = payments::config::PaymentsConfig::default();
    config.common.auth.jwt_secret = "a-jwt-secret-of-at-least-thirty-two-chars".to_string().into();
    config.payments.provider_kind = ProviderKind::Wechat;
    let err = config.check().unwrap_err().to_string();
    assert!(err.contains("TUAN_PAYMENTS__WECHAT__MCHID") && err.contains("API_V3_KEY"), "{err}");
    let w = &mut config.payments.wechat;
    (w.mchid, w.app_id, w.merchant_serial) = (MCHID.into(), APP_ID.into(), SERIAL.into());
    w.merchant_private_key = MERCHANT_KEY.to_string().into();
    w.api_v3_key = API_V3_KEY.to_string().into();
    (w.platform_public_key, w.platform_public_key_id) = (PLATFORM_PUB.into(), PLATFORM_KEY_ID.into());
    w.notify_url = "http://pay.example/wechatpay/notify".into();
    assert!(config.check().unwrap_err().to_string().contains("https://"), "no plain HTTP outside development");
    config.payments.wechat.notify_url = "https://pay.example/wechatpay/notify".into();
    config.check().expect("a whole WeChat Pay configuration starts payments outside development");
    config.payments.wechat.api_v3_key = "short".to_string().into();
    assert!(config.check().unwrap_err().to_string().contains("32 characters"));
}
