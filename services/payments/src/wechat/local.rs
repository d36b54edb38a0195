//! A local server that speaks WeChat Pay API v3 — the parts payments uses: APP prepay orders,
//! queries and closing by `out_trade_no`, transfer bills (payouts) and their queries by
//! `out_bill_no`, and signed, encrypted notifications of both — with
//! keys of its own. For the tests, the end-to-end harness and the chaos workload; payments
//! never starts it. It refuses any request not signed by the merchant key it was given, as
//! WeChat Pay does, and records what it was asked.

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
use rsa::{
    RsaPublicKey,
    pkcs1v15::{Signature, VerifyingKey},
    pkcs8::DecodePublicKey,
    signature::Verifier,
};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{
    MerchantKey,
    sign::{encrypt_resource, lines},
};

/// The keys and ids of one merchant account and of the platform, both sides' halves.
#[derive(Clone, Debug)]
pub struct LocalAccount {
    pub mchid: String,
    pub app_id: String,
    pub merchant_serial: String,
    pub merchant_private_pem: String,
    pub merchant_public_pem: String,
    pub platform_private_pem: String,
    pub platform_public_pem: String,
    pub platform_key_id: String,
    pub api_v3_key: String,
}

impl LocalAccount {
    /// The account of the tests: keys made for them only (`tests/wechatpay/`).
    pub fn for_tests() -> Self {
        Self {
            mchid: "1900000109".into(),
            app_id: "wxd678efh567hg6787".into(),
            merchant_serial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
            merchant_private_pem: include_str!("../../tests/wechatpay/merchant-key.pem").into(),
            merchant_public_pem: include_str!("../../tests/wechatpay/merchant-pub.pem").into(),
            platform_private_pem: include_str!("../../tests/wechatpay/platform-key.pem").into(),
            platform_public_pem: include_str!("../../tests/wechatpay/platform-pub.pem").into(),
            platform_key_id: "PUB_KEY_ID_0114232134912410000000000000".into(),
            api_v3_key: "a-32-character-apiv3-key-for-tst".into(),
        }
    }

    /// The `TUAN_PAYMENTS__*` settings that point payments at `server` with this account.
    pub fn payments_env(&self, server: &str, notify_url: &str, notify_addr: &str) -> Vec<(String, String)> {
        [
            ("PROVIDER_KIND", "wechat"),
            ("WECHAT__BASE_URL", server),
            ("WECHAT__MCHID", &self.mchid),
            ("WECHAT__APP_ID", &self.app_id),
            ("WECHAT__MERCHANT_SERIAL", &self.merchant_serial),
            ("WECHAT__MERCHANT_PRIVATE_KEY", &self.merchant_private_pem),
            ("WECHAT__API_V3_KEY", &self.api_v3_key),
            ("WECHAT__PLATFORM_PUBLIC_KEY", &self.platform_public_pem),
            ("WECHAT__PLATFORM_PUBLIC_KEY_ID", &self.platform_key_id),
            ("WECHAT__NOTIFY_URL", notify_url),
            ("WECHAT__NOTIFY_ADDR", notify_addr),
        ]
        .into_iter()
        .map(|(k, v)| (format!("TUAN_PAYMENTS__{k}"), v.to_string()))
        .collect()
    }
}

impl LocalAccount {
    /// Order `no` as WeChat Pay reports it for this account.
    fn transaction(&self, no: &str, order: &Order) -> Value {
        let short = &no[..no.len().min(8)];
        json!({
            "mchid": self.mchid, "appid": self.app_id, "out_trade_no": no,
            "transaction_id": format!("4200{short}"), "trade_state": order.state, "trade_state_desc": "",
            "amount": { "total": order.total, "currency": "CNY" },
        })
    }

    /// Transfer bill `no` as WeChat Pay reports it for this account.
    fn transfer_bill(&self, no: &str, transfer: &Transfer) -> Value {
        let short = &no[..no.len().min(8)];
        let fail_reason = if transfer.state == "FAIL" { "PAYEE_ACCOUNT_ABNORMAL" } else { "" };
        json!({
            "mch_id": self.mchid, "out_bill_no": no, "transfer_bill_no": format!("1330{short}"),
            "state": transfer.state, "transfer_amount": transfer.amount, "openid": transfer.openid,
            "fail_reason": fail_reason,
        })
    }
}

/// One order as the server keeps it.
#[derive(Clone, Debug)]
pub struct Order {
    pub total: i64,
    pub state: String,
    pub notify_url: String,
}

/// One transfer bill (a payout) as the server keeps it.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub amount: i64,
    pub openid: String,
    pub state: String,
    pub notify_url: String,
}

/// A notification as the platform sends it: the body and the headers its signature needs.
#[derive(Clone, Debug)]
pub struct Notification {
    pub body: String,
    pub timestamp: i64,
    pub nonce: String,
    pub signature: String,
    pub key_id: String,
}

struct Shared {
    account: LocalAccount,
    orders: Mutex<HashMap<String, Order>>,
    transfers: Mutex<HashMap<String, Transfer>>,
    refused: Mutex<Vec<String>>,
    calls: Mutex<Vec<String>>,
}

/// The running server.
#[derive(Clone)]
pub struct LocalWeChatPay {
    shared: Arc<Shared>,
    pub url: String,
}

type Answer = (StatusCode, String);

/// WeChat Pay's answer to a request it refuses: `{"code", "message"}`.
fn refusal(status: StatusCode, code: &str, message: &str) -> Answer {
    (status, json!({ "code": code, "message": message }).to_string())
}

impl LocalWeChatPay {
    pub async fn start(account: LocalAccount) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            account,
            orders: Mutex::default(),
            transfers: Mutex::default(),
            refused: Mutex::default(),
            calls: Mutex::default(),
        });
        let app = Router::new()
            .route("/v3/pay/transactions/app", post(prepay))
            .route("/v3/pay/transactions/out-trade-no/{no}", get(query))
            .route("/v3/pay/transactions/out-trade-no/{no}/close", post(close))
            .route("/v3/fund-app/mch-transfer/transfer-bills", post(transfer))
            .route("/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{no}", get(transfer_query))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { shared, url })
    }

    /// Every order, by out_trade_no.
    pub fn orders(&self) -> Vec<(String, Order)> {
        self.shared.orders.lock().unwrap().iter().map(|(no, o)| (no.clone(), o.clone())).collect()
    }

    pub fn order(&self, no: &str) -> Option<Order> {
        self.shared.orders.lock().unwrap().get(no).cloned()
    }

    /// Sets an order's state, as the payer (or WeChat Pay) would.
    pub fn set_state(&self, no: &str, state: &str) {
        if let Some(order) = self.shared.orders.lock().unwrap().get_mut(no) {
            order.state = state.into();
        }
    }

    /// Every call, as "METHOD path", and why each refused one was.
    pub fn calls(&self) -> Vec<String> {
        self.shared.calls.lock().unwrap().clone()
    }

    pub fn refused(&self) -> Vec<String> {
        self.shared.refused.lock().unwrap().clone()
    }

    /// The order as WeChat Pay reports it (a notification's resource, a query's answer).
    pub fn transaction(&self, no: &str, order: &Order) -> Value {
        self.shared.account.transaction(no, order)
    }

    /// A notification of `transaction`, encrypted with the APIv3 key and signed at `timestamp`
    /// with the key in `signer_pem` (the platform's, unless a test forges one).
    pub fn notification(&self, transaction: &Value, timestamp: i64, signer_pem: &str) -> Notification {
        let key: [u8; 32] = self.shared.account.api_v3_key.as_bytes().try_into().expect("a 32-byte APIv3 key");
        let ciphertext = encrypt_resource(&key, "nonce-0123ab", "transaction", transaction.to_string().as_bytes());
        let body = json!({
            "id": "EV-2018022511223320873", "create_time": "2026-12-04T10:34:56+08:00",
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": { "original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                          "ciphertext": ciphertext, "associated_data": "transaction", "nonce": "nonce-0123ab" },
        })
        .to_string();
        self.sign(body, timestamp, signer_pem)
    }

    /// `body` signed at `timestamp` with `signer_pem`, naming the platform key.
    pub fn sign(&self, body: String, timestamp: i64, signer_pem: &str) -> Notification {
        let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".to_string();
        let signer = MerchantKey::from_pem(signer_pem, "", "").expect("a PKCS#8 PEM RSA key");
        let signature = signer.sign(&lines(&[&timestamp.to_string(), &nonce, &body]));
        Notification { body, timestamp, nonce, signature, key_id: self.shared.account.platform_key_id.clone() }
    }

    /// Posts `notification` to `url`; the HTTP status (0 when nothing answered).
    pub async fn deliver(url: &str, n: &Notification) -> u16 {
        let sent = reqwest::Client::new()
            .post(url)
            .header("Content-Type", "application/json")
            .header("Wechatpay-Timestamp", n.timestamp.to_string())
            .header("Wechatpay-Nonce", &n.nonce)
            .header("Wechatpay-Signature", &n.signature)
            .header("Wechatpay-Serial", &n.key_id)
            .body(n.body.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        sent.map(|r| r.status().as_u16()).unwrap_or(0)
    }

    /// The payer pays order `no` in the WeChat app: it is paid, and its notification is
    /// delivered to the order's notify URL until payments acknowledges it, as WeChat Pay
    /// retries (here every half second, for up to `patience`). False if there is no such order.
    pub fn pay(&self, no: &str, patience: Duration) -> bool {
        self.set_state(no, "SUCCESS");
        let Some(order) = self.order(no) else { return false };
        let resource = self.transaction(no, &order);
        self.notify_until_acknowledged(order.notify_url, resource, patience);
        true
    }

    /// Every transfer bill, by out_bill_no.
    pub fn transfers(&self) -> Vec<(String, Transfer)> {
        self.shared.transfers.lock().unwrap().iter().map(|(no, t)| (no.clone(), t.clone())).collect()
    }

    /// The transfer bill as WeChat Pay reports it.
    pub fn transfer_bill(&self, no: &str, transfer: &Transfer) -> Value {
        self.shared.account.transfer_bill(no, transfer)
    }

    /// Transfer `no` ends in `state` (SUCCESS, FAIL or CANCELLED) and its notification is
    /// delivered until acknowledged, as [`LocalWeChatPay::pay`]. False if there is no such bill.
    pub fn finish_transfer(&self, no: &str, state: &str, patience: Duration) -> bool {
        let transfer = {
            let mut transfers = self.shared.transfers.lock().unwrap();
            let Some(transfer) = transfers.get_mut(no) else { return false };
            transfer.state = state.into();
            transfer.clone()
        };
        let resource = self.transfer_bill(no, &transfer);
        self.notify_until_acknowledged(transfer.notify_url, resource, patience);
        true
    }

    fn notify_until_acknowledged(&self, url: String, resource: Value, patience: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + patience;
            let platform = this.shared.account.platform_private_pem.clone();
            loop {
                let n = this.notification(&resource, chrono::Utc::now().timestamp(), &platform);
                if Self::deliver(&url, &n).await == 204 || tokio::time::Instant::now() > deadline {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
}

/// Checks a request's `Authorization` as WeChat Pay does: the merchant's id and serial, and an
/// RSA-SHA256 signature by the merchant's key over method, path, timestamp, nonce and body.
fn signed_by_merchant(
    account: &LocalAccount,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &str,
) -> Result<(), String> {
    let header = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or("no Authorization")?;
    let fields = header.strip_prefix("WECHATPAY2-SHA256-RSA2048 ").ok_or("not WECHATPAY2-SHA256-RSA2048")?;
    let field = |name: &str| {
        fields
            .split(',')
            .find_map(|f| f.strip_prefix(&format!("{name}=\"")).and_then(|v| v.strip_suffix('"')))
            .ok_or(format!("no {name}"))
    };
    if field("mchid")? != account.mchid || field("serial_no")? != account.merchant_serial {
        return Err("another merchant".into());
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or_default();
    let message = lines(&[method.as_str(), path, field("timestamp")?, field("nonce_str")?, body]);
    let signature = Signature::try_from(BASE64.decode(field("signature")?).map_err(|e| e.to_string())?.as_slice())
        .map_err(|e| e.to_string())?;
    let key = RsaPublicKey::from_public_key_pem(account.merchant_public_pem.trim()).map_err(|e| e.to_string())?;
    VerifyingKey::<Sha256>::new(key).verify(message.as_bytes(), &signature).map_err(|_| "bad signature".to_string())
}

fn check(shared: &Shared, headers: &HeaderMap, method: Method, uri: &Uri, body: &str) -> Result<(), Answer> {
    shared.calls.lock().unwrap().push(format!("{method} {}", uri.path()));
    signed_by_merchant(&shared.account, headers, &method, uri, body).map_err(|why| {
        shared.refused.lock().unwrap().push(why.clone());
        refusal(StatusCode::UNAUTHORIZED, "SIGN_ERROR", &why)
    })
}

async fn prepay(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri, body: Bytes) -> Answer {
    let text = String::from_utf8_lossy(&body).to_string();
    if let Err(answer) = check(&shared, &headers, Method::POST, &uri, &text) {
        return answer;
    }
    let Ok(order) = serde_json::from_str::<Value>(&text) else {
        return refusal(StatusCode::BAD_REQUEST, "PARAM_ERROR", "not JSON");
    };
    let (Some(no), Some(total), Some(notify_url)) =
        (order["out_trade_no"].as_str(), order["amount"]["total"].as_i64(), order["notify_url"].as_str())
    else {
        return refusal(StatusCode::BAD_REQUEST, "PARAM_ERROR", "missing fields");
    };
    if order["appid"].as_str() != Some(&shared.account.app_id) || order["mchid"].as_str() != Some(&shared.account.mchid)
    {
        return refusal(StatusCode::BAD_REQUEST, "PARAM_ERROR", "appid/mchid");
    }
    let mut orders = shared.orders.lock().unwrap();
    let kept =
        orders.entry(no.to_string()).or_insert(Order { total, state: "NOTPAY".into(), notify_url: notify_url.into() });
    if kept.total != total {
        return refusal(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "out_trade_no reused");
    }
    (StatusCode::OK, json!({ "prepay_id": format!("wx{}", &no[..no.len().min(8)]) }).to_string())
}

async fn query(State(shared): State<Arc<Shared>>, Path(no): Path<String>, headers: HeaderMap, uri: Uri) -> Answer {
    if let Err(answer) = check(&shared, &headers, Method::GET, &uri, "") {
        return answer;
    }
    let order = shared.orders.lock().unwrap().get(&no).cloned();
    match order {
        Some(order) => (StatusCode::OK, shared.account.transaction(&no, &order).to_string()),
        None => refusal(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "no such order"),
    }
}

async fn close(
    State(shared): State<Arc<Shared>>,
    Path(no): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Answer {
    if let Err(answer) = check(&shared, &headers, Method::POST, &uri, &String::from_utf8_lossy(&body)) {
        return answer;
    }
    let mut orders = shared.orders.lock().unwrap();
    match orders.get_mut(&no) {
        Some(order) if order.state == "SUCCESS" => refusal(StatusCode::BAD_REQUEST, "ORDERPAID", "paid already"),
        Some(order) => {
            order.state = "CLOSED".into();
            (StatusCode::NO_CONTENT, String::new())
        }
        None => refusal(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "no such order"),
    }
}

async fn transfer(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri, body: Bytes) -> Answer {
    let text = String::from_utf8_lossy(&body).to_string();
    if let Err(answer) = check(&shared, &headers, Method::POST, &uri, &text) {
        return answer;
    }
    let Ok(bill) = serde_json::from_str::<Value>(&text) else {
        return refusal(StatusCode::BAD_REQUEST, "PARAM_ERROR", "not JSON");
    };
    let (Some(no), Some(amount), Some(openid), Some(notify_url)) = (
        bill["out_bill_no"].as_str(),
        bill["transfer_amount"].as_i64(),
        bill["openid"].as_str(),
        bill["notify_url"].as_str(),
    ) else {
        return refusal(StatusCode::BAD_REQUEST, "PARAM_ERROR", "missing fields");
    };
    if bill["appid"].as_str() != Some(&shared.account.app_id) {
        return refusal(StatusCode::BAD_REQUEST, "PARAM_ERROR", "appid");
    }
    let mut transfers = shared.transfers.lock().unwrap();
    let kept = transfers.entry(no.to_string()).or_insert(Transfer {
        amount,
        openid: openid.into(),
        state: "ACCEPTED".into(),
        notify_url: notify_url.into(),
    });
    if kept.amount != amount || kept.openid != openid {
        return refusal(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "out_bill_no reused");
    }
    let short = &no[..no.len().min(8)];
    let answer = json!({ "out_bill_no": no, "transfer_bill_no": format!("1330{short}"), "state": kept.state });
    (StatusCode::OK, answer.to_string())
}

async fn transfer_query(
    State(shared): State<Arc<Shared>>,
    Path(no): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Answer {
    if let Err(answer) = check(&shared, &headers, Method::GET, &uri, "") {
        return answer;
    }
    let transfer = shared.transfers.lock().unwrap().get(&no).cloned();
    match transfer {
        Some(transfer) => (StatusCode::OK, shared.account.transfer_bill(&no, &transfer).to_string()),
        None => refusal(StatusCode::NOT_FOUND, "NOT_FOUND", "no such bill"),
    }
}
