//! The endpoint WeChat Pay posts payment notifications to (`POST /wechatpay/notify`, on
//! `TUAN_PAYMENTS__WECHAT__NOTIFY_ADDR`, published as `notify_url`). A notification is
//! applied only if its signature verifies against the platform key, its timestamp is within
//! the tolerance window and its resource decrypts with the APIv3 key; it is acknowledged
//! (204) only once the wallet is credited, so WeChat Pay delivers it again after a failure,
//! and a second delivery changes nothing (a completed top-up stays completed).

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::post,
};
use futures::future::BoxFuture;
use uuid::Uuid;

use super::{NotificationCheck, NotifyHeaders, confirmation_of};
use crate::provider::Confirmation;

pub const PATH: &str = "/wechatpay/notify";

/// Applies a confirmation durably (payments' `confirm`); Err when it could not be.
pub type Apply = Arc<dyn Fn(Confirmation) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

#[derive(Clone)]
struct Endpoint {
    check: Arc<NotificationCheck>,
    mchid: String,
    app_id: String,
    apply: Apply,
}

pub fn router(check: NotificationCheck, mchid: &str, app_id: &str, apply: Apply) -> Router {
    let endpoint = Endpoint { check: Arc::new(check), mchid: mchid.into(), app_id: app_id.into(), apply };
    Router::new().route(PATH, post(notified)).with_state(endpoint)
}

/// WeChat Pay's answer format for a notification it should deliver again.
fn fail(status: StatusCode, outcome: &'static str, message: &str) -> Response {
    metrics::counter!("tuan_wechatpay_notifications_total", "outcome" => outcome).increment(1);
    let body = serde_json::json!({ "code": "FAIL", "message": message }).to_string();
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

fn done(outcome: &'static str) -> Response {
    metrics::counter!("tuan_wechatpay_notifications_total", "outcome" => outcome).increment(1);
    StatusCode::NO_CONTENT.into_response()
}

async fn notified(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = NotifyHeaders {
        timestamp: header("Wechatpay-Timestamp"),
        nonce: header("Wechatpay-Nonce"),
        signature: header("Wechatpay-Signature"),
        serial: header("Wechatpay-Serial"),
    };
    let transaction = match endpoint.check.open(&signed, &body, chrono::Utc::now().timestamp()) {
        Ok(transaction) => transaction,
        Err(error) => {
            tracing::warn!(%error, "WeChat Pay notification refused");
            return fail(StatusCode::UNAUTHORIZED, "refused", &error.to_string());
        }
    };
    if transaction.mchid != endpoint.mchid || transaction.appid != endpoint.app_id {
        tracing::warn!(mchid = transaction.mchid, "WeChat Pay notification for another merchant or app refused");
        return fail(StatusCode::UNAUTHORIZED, "refused", "not this merchant's order");
    }
    let Ok(id) = Uuid::parse_str(&transaction.out_trade_no) else {
        return fail(StatusCode::BAD_REQUEST, "refused", "out_trade_no is not one of ours");
    };
    // Only final states move money; anything else needs no answer but "received".
    let Some(confirmation) = confirmation_of(id, &transaction) else { return done("ignored") };
    match (endpoint.apply)(confirmation).await {
        Ok(()) => done("applied"),
        Err(error) => {
            tracing::warn!(%error, request = %id, "WeChat Pay notification not applied; it will be delivered again");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "failed", "not applied yet")
        }
    }
}

/// Serves `router` on `listener` until `stop` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(stop).await
}
