//! The WeChat Pay API v3 adapter: a top-up is an APP prepay order whose `out_trade_no` is the
//! request id; the app pays it with the signed parameters ([`AppPayment`]); the outcome comes
//! by notification to the endpoint payments serves ([`notify`]), verified against the
//! platform key and decrypted with the APIv3 key. A request left unconfirmed is submitted
//! again by the dispatcher: the order is queried, credited if paid, closed (and the top-up
//! failed) if unpaid past its lifetime.
//!
//! A withdrawal is a transfer bill to the user's WeChat balance (`out_bill_no` the request id),
//! to the openid the app gave with it (from WeChat login in the app); its outcome comes the
//! same way (notification, or a query on resubmission). Without an openid it fails, and the
//! wallet gets the money back.

pub mod local;
pub mod notify;
pub mod sign;

use std::{sync::Arc, time::Duration};

use futures::{FutureExt, future::BoxFuture};
use rand::{Rng, distributions::Alphanumeric};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{
    domain::{Currency, Money, provider::Outcome},
    provider::{Confirmation, PaymentProvider, ProviderRequest, ProviderUnavailable, RequestKind, Submitted},
};
pub use sign::{MerchantKey, NotificationCheck, NotifyHeaders, Transaction, TransferBill};

/// What the adapter needs to know about the merchant and the platform.
#[derive(Clone)]
pub struct WeChatPayConfig {
    /// `https://api.mch.weixin.qq.com`, or a local server that speaks the protocol.
    pub base_url: String,
    pub app_id: String,
    pub merchant: MerchantKey,
    /// Where the platform posts notifications (payments' notify endpoint, as the internet sees it).
    pub notify_url: String,
    /// The order's description on the payer's bill.
    pub description: String,
    /// An order unpaid this long after the top-up was asked for is closed.
    pub order_ttl: Duration,
    pub timeout: Duration,
}

pub struct WeChatPay {
    client: reqwest::Client,
    config: WeChatPayConfig,
    confirmations: mpsc::UnboundedSender<Confirmation>,
}

fn nonce() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// How long ago the request (a UUIDv7, which carries its creation time) was made.
fn age(id: Uuid) -> Duration {
    let made = id.get_timestamp().map(|t| t.to_unix().0 as i64).unwrap_or_else(now);
    Duration::from_secs(now().saturating_sub(made).max(0) as u64)
}

/// What a notification reports: a payment order, or a transfer bill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reported {
    Order(Transaction),
    Transfer(TransferBill),
}

impl Reported {
    pub fn parse(resource: Value) -> Result<Self, String> {
        if resource.get("out_bill_no").is_some() {
            serde_json::from_value(resource).map(Reported::Transfer).map_err(|e| e.to_string())
        } else {
            serde_json::from_value(resource).map(Reported::Order).map_err(|e| e.to_string())
        }
    }

    /// The merchant it is for.
    pub fn mchid(&self) -> &str {
        match self {
            Reported::Order(t) => &t.mchid,
            Reported::Transfer(b) => &b.mch_id,
        }
    }

    /// The request it answers and the confirmation its state makes, if final.
    pub fn confirmation(&self) -> Result<Option<Confirmation>, String> {
        let (no, confirmation) = match self {
            Reported::Order(t) => (&t.out_trade_no, Uuid::parse_str(&t.out_trade_no).map(|id| confirmation_of(id, t))),
            Reported::Transfer(b) => {
                (&b.out_bill_no, Uuid::parse_str(&b.out_bill_no).map(|id| transfer_confirmation(id, b)))
            }
        };
        confirmation.map_err(|_| format!("{no} is not one of ours"))
    }
}

/// The confirmation a finished transfer bill makes, with what it paid out.
pub fn transfer_confirmation(id: Uuid, bill: &TransferBill) -> Option<Confirmation> {
    let outcome = match bill.state.as_str() {
        "SUCCESS" => Outcome::Succeeded { provider_reference: bill.transfer_bill_no.clone() },
        "FAIL" | "CANCELLED" => {
            Outcome::Failed { reason: format!("WeChat Pay: {} {}", bill.state, bill.fail_reason).trim().into() }
        }
        _ => return None,
    };
    let amount = bill.transfer_amount.and_then(|fen| Money::from_minor_units(fen, Currency::CNY).ok());
    Some(Confirmation { id, kind: RequestKind::Withdrawal, outcome, amount })
}

/// The outcome an order's state means, if it is final.
pub fn outcome_of(transaction: &Transaction) -> Option<Outcome> {
    match transaction.trade_state.as_str() {
        "SUCCESS" => Some(Outcome::Succeeded { provider_reference: transaction.transaction_id.clone() }),
        "CLOSED" | "REVOKED" | "PAYERROR" => Some(Outcome::Failed {
            reason: format!("WeChat Pay: {} {}", transaction.trade_state, transaction.trade_state_desc).trim().into(),
        }),
        _ => None,
    }
}

/// The confirmation a paid or final order makes, with what WeChat Pay says was paid.
pub fn confirmation_of(id: Uuid, transaction: &Transaction) -> Option<Confirmation> {
    let outcome = outcome_of(transaction)?;
    let amount = transaction.amount.as_ref().and_then(|a| Money::from_minor_units(a.total, Currency::CNY).ok());
    Some(Confirmation { id, kind: RequestKind::TopUp, outcome, amount })
}

impl WeChatPay {
    pub fn new(config: WeChatPayConfig) -> anyhow::Result<(Arc<Self>, mpsc::UnboundedReceiver<Confirmation>)> {
        let client = reqwest::Client::builder().timeout(config.timeout).build()?;
        let (confirmations, rx) = mpsc::unbounded_channel();
        Ok((Arc::new(Self { client, config, confirmations }), rx))
    }

    /// One signed API call; the status and the JSON answer (`{}` when there is none).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), ProviderUnavailable> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let authorization = self.config.merchant.authorization(method.as_str(), path, &body, now(), &nonce());
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.config.base_url.trim_end_matches('/')))
            .header("Authorization", authorization)
            .header("Accept", "application/json");
        if !body.is_empty() {
            request = request.header("Content-Type", "application/json").body(body);
        }
        let response = request.send().await.map_err(|e| ProviderUnavailable(e.without_url().to_string()))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ProviderUnavailable(e.to_string()))?;
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ProviderUnavailable(format!(
                "WeChat Pay answered {status}: {}",
                text.chars().take(200).collect::<String>()
            )));
        }
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    fn confirm(&self, confirmation: Confirmation) {
        let _ = self.confirmations.send(confirmation);
    }

    fn fail(&self, request: &ProviderRequest, reason: String) {
        self.confirm(Confirmation {
            id: request.id,
            kind: request.kind,
            outcome: Outcome::Failed { reason },
            amount: None,
        });
    }

    async fn top_up(&self, request: ProviderRequest) -> Result<Submitted, ProviderUnavailable> {
        if request.amount.currency() != Currency::CNY {
            self.fail(&request, "WeChat Pay tops up CNY only".into());
            return Ok(Submitted::Accepted);
        }
        let mchid = self.config.merchant.mchid.clone();
        let (status, order) = self
            .call(Method::GET, &format!("/v3/pay/transactions/out-trade-no/{}?mchid={mchid}", request.id), None)
            .await?;
        if status.is_success() {
            let transaction: Transaction =
                serde_json::from_value(order).map_err(|e| ProviderUnavailable(format!("order query: {e}")))?;
            if let Some(confirmation) = confirmation_of(request.id, &transaction) {
                self.confirm(confirmation);
                return Ok(Submitted::Accepted);
            }
            if age(request.id) > self.config.order_ttl {
                let close = json!({ "mchid": mchid });
                let path = format!("/v3/pay/transactions/out-trade-no/{}/close", request.id);
                let (status, answer) = self.call(Method::POST, &path, Some(close)).await?;
                if !status.is_success() {
                    return Err(ProviderUnavailable(format!("closing the order: {status} {answer}")));
                }
                let minutes = self.config.order_ttl.as_secs() / 60;
                self.fail(&request, format!("not paid within {minutes} minutes; the order was closed"));
                return Ok(Submitted::Accepted);
            }
        } else if status != StatusCode::NOT_FOUND {
            return Err(ProviderUnavailable(format!("order query: {status} {order}")));
        }
        // No order yet, or one still waiting for the payer: (re)make it. The same out_trade_no
        // with the same parameters gives the same prepay id.
        let prepay = json!({
            "appid": self.config.app_id,
            "mchid": mchid,
            "description": self.config.description,
            "out_trade_no": request.id.to_string(),
            "notify_url": self.config.notify_url,
            "amount": { "total": request.amount.minor_units(), "currency": "CNY" },
        });
        let (status, answer) = self.call(Method::POST, "/v3/pay/transactions/app", Some(prepay)).await?;
        let prepay_id = answer.get("prepay_id").and_then(Value::as_str);
        match (status.is_success(), prepay_id) {
            (true, Some(prepay_id)) => Ok(Submitted::AwaitingPayer(sign::app_payment(
                &self.config.merchant,
                &self.config.app_id,
                prepay_id,
                now(),
                &nonce(),
            ))),
            // A refusal that will not change (a parameter WeChat Pay rejects): the top-up fails.
            (false, _) if status.is_client_error() => {
                let message = answer.get("message").and_then(Value::as_str).unwrap_or("refused");
                self.fail(&request, format!("WeChat Pay refused the order: {message}"));
                Ok(Submitted::Accepted)
            }
            _ => Err(ProviderUnavailable(format!("prepay: {status} {answer}"))),
        }
    }
}

impl WeChatPay {
    /// A transfer bill to the user's WeChat balance, `out_bill_no` the request id (32 hex
    /// digits); queried first, so a resubmission finds the bill it made.
    async fn pay_out(&self, request: ProviderRequest) -> Result<Submitted, ProviderUnavailable> {
        let Some(openid) = request.payout_openid.clone() else {
            self.fail(&request, "no WeChat account to pay out to (the withdrawal named no wechat_openid)".into());
            return Ok(Submitted::Accepted);
        };
        if request.amount.currency() != Currency::CNY {
            self.fail(&request, "WeChat Pay pays out CNY only".into());
            return Ok(Submitted::Accepted);
        }
        let no = request.id.simple().to_string();
        let path = format!("/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{no}");
        let (status, bill) = self.call(Method::GET, &path, None).await?;
        if status.is_success() {
            let bill: TransferBill =
                serde_json::from_value(bill).map_err(|e| ProviderUnavailable(format!("transfer query: {e}")))?;
            if let Some(confirmation) = transfer_confirmation(request.id, &bill) {
                self.confirm(confirmation);
            }
            return Ok(Submitted::Accepted);
        } else if status != StatusCode::NOT_FOUND {
            return Err(ProviderUnavailable(format!("transfer query: {status} {bill}")));
        }
        let transfer = json!({
            "appid": self.config.app_id,
            "out_bill_no": no,
            "transfer_scene_id": "1000",
            "openid": openid,
            "transfer_amount": request.amount.minor_units(),
            "transfer_remark": "tuan wallet withdrawal",
            "notify_url": self.config.notify_url,
            "transfer_scene_report_infos": [
                { "info_type": "活动名称", "info_content": "钱包提现" },
                { "info_type": "奖励说明", "info_content": "余额提现" },
            ],
        });
        let (status, answer) =
            self.call(Method::POST, "/v3/fund-app/mch-transfer/transfer-bills", Some(transfer)).await?;
        match status {
            s if s.is_success() => Ok(Submitted::Accepted),
            s if s.is_client_error() => {
                let message = answer.get("message").and_then(Value::as_str).unwrap_or("refused");
                self.fail(&request, format!("WeChat Pay refused the payout: {message}"));
                Ok(Submitted::Accepted)
            }
            s => Err(ProviderUnavailable(format!("transfer: {s} {answer}"))),
        }
    }
}

impl PaymentProvider for WeChatPay {
    fn submit(&self, request: ProviderRequest) -> BoxFuture<'_, Result<Submitted, ProviderUnavailable>> {
        async move {
            match request.kind {
                RequestKind::TopUp => self.top_up(request).await,
                RequestKind::Withdrawal => self.pay_out(request).await,
            }
        }
        .boxed()
    }
}
