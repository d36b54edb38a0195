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

use super::{NotificationCheck, NotifyHeaders, Reported};
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
    let reported = match endpoint.check.open(&signed, &body, chrono::Utc::now().timestamp()) {
        Ok(resource) => Reported::parse(resource),
        Err(error) => {
            tracing::warn!(%error, "WeChat Pay notification refused");
            return fail(StatusCode::UNAUTHORIZED, "refused", &error.to_string());
        }
    };
    let reported = match reported {
        Ok(reported) => reported,
        Err(error) => return fail(StatusCode::BAD_REQUEST, "refused", &error),
    };
    let other_app = matches!(&reported, Reported::Order(t) if t.appid != endpoint.app_id);
    if reported.mchid() != endpoint.mchid || other_app {
        tracing::warn!(mchid = reported.mchid(), "WeChat Pay notification for another merchant or app refused");
        return fail(StatusCode::UNAUTHORIZED, "refused", "not this merchant's");
    }
    // Only final states move money; anything else needs no answer but "received".
    let confirmation = match reported.confirmation() {
        Ok(Some(confirmation)) => confirmation,
        Ok(None) => return done("ignored"),
        Err(error) => return fail(StatusCode::BAD_REQUEST, "refused", &error),
    };
    let id = confirmation.id;
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
