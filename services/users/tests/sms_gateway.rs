//! The HTTP SMS adapter against a local server that speaks the gateway's protocol (Twilio's
//! Messages API): the code arrives in the SMS a person would read, with the account's
//! credentials; a gateway that is down for a moment is retried with backoff, one that refuses
//! is not; failures show in the metrics.

mod common;

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Form, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::post,
};
use common::{TestApp, phone};
use tuan_proto::users::v1 as pb;
use users::config::SmsSenderKind;

/// One message as the gateway received it.
#[derive(Clone, Debug)]
struct Received {
    account: String,
    authorization: String,
    form: HashMap<String, String>,
}

/// A gateway that answers each message with the next status of its script (201 when it runs
/// out) and keeps what it received.
#[derive(Default)]
struct FakeGateway {
    script: Mutex<VecDeque<u16>>,
    received: Mutex<Vec<Received>>,
}

async fn messages(
    State(gateway): State<Arc<FakeGateway>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, String) {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    gateway.received.lock().unwrap().push(Received { account, authorization, form });
    let status = gateway.script.lock().unwrap().pop_front().unwrap_or(201);
    let body = match status {
        201 => r#"{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}"#.to_string(),
        code => format!(r#"{{"code": 20003, "message": "scripted failure", "status": {code}}}"#),
    };
    (StatusCode::from_u16(status).unwrap(), body)
}

/// Starts the gateway on a free port; returns it and its base URL.
async fn fake_gateway(script: &[u16]) -> (Arc<FakeGateway>, String) {
    let gateway = Arc::new(FakeGateway { script: Mutex::new(script.iter().copied().collect()), ..Default::default() });
    let app =
        Router::new().route("/2010-04-01/Accounts/{account}/Messages.json", post(messages)).with_state(gateway.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (gateway, url)
}

/// The users service sending through the gateway at `url`, with its metrics served on a port.
async fn users_with_gateway(url: &str) -> (TestApp, u16) {
    let port = tuan_testkit::free_port();
    let app = TestApp::spawn_tuned(|config| {
        let sms = &mut config.users.sms;
        (sms.sender, sms.url, sms.account, sms.from) =
            (SmsSenderKind::Http, url.to_string(), "AC-test".into(), "+15005550006".into());
        sms.token = "secret-token".to_string().into();
        sms.backoff_ms = 50;
        config.common.metrics_addr = Some(([127, 0, 0, 1], port).into());
    })
    .await;
    (app, port)
}

/// What the gateway received once it has `n` messages (up to 10 s).
async fn received(gateway: &FakeGateway, n: usize) -> Vec<Received> {
    for _ in 0..200 {
        if gateway.received.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gateway.received.lock().unwrap().clone()
}

fn ask(phone: &str) -> pb::RequestPhoneCodeRequest {
    pb::RequestPhoneCodeRequest { phone: phone.into(), purpose: pb::PhoneCodePurpose::SignUp as i32 }
}

#[tokio::test]
async fn codes_go_out_through_the_gateway_retried_while_it_is_down_and_not_when_it_refuses() {
    // Down twice for the first message (503, then 429), then fine; the second is refused for good.
    let (gateway, url) = fake_gateway(&[503, 429, 201, 400]).await;
    let (mut app, metrics_port) = users_with_gateway(&url).await;
    let number = phone();
    app.client.request_phone_code(ask(&number)).await.expect("queued");
    let got = received(&gateway, 3).await;
    assert_eq!(got.len(), 3, "two retries, then delivered: {got:?}");
    let sms = &got[2];
    assert_eq!(sms.account, "AC-test");
    assert_eq!(sms.authorization, "Basic QUMtdGVzdDpzZWNyZXQtdG9rZW4=", "HTTP basic auth with the account's token");
    assert_eq!((sms.form["To"].as_str(), sms.form["From"].as_str()), (number.as_str(), "+15005550006"));
    let code: String = sms.form["Body"].chars().filter(char::is_ascii_digit).take(6).collect();
    assert!(sms.form["Body"].starts_with(&code) && code.len() == 6, "{:?}", sms.form["Body"]);

    let sign_up = pb::SignUpRequest {
        phone: number.clone(),
        password: "correct-horse-42".into(),
        display_name: "Wen".into(),
        region: String::new(),
        code,
    };
    app.client.sign_up(sign_up).await.expect("the code from the gateway's SMS signs up");

    // A refusal (400: a number the gateway will not send to) is not retried.
    app.client.request_phone_code(ask(&phone())).await.expect("queued");
    received(&gateway, 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(gateway.received.lock().unwrap().len(), 4, "no retry after a permanent refusal");

    let text = tuan_testkit::scrape_metrics(metrics_port).await;
    for expected in [
        r#"tuan_sms_total{service_name="users",kind="sign_up",outcome="sent"} 1"#,
        r#"tuan_sms_total{service_name="users",kind="sign_up",outcome="failed"} 1"#,
        r#"tuan_sms_retries_total{service_name="users",kind="sign_up"} 2"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    app.stop().await;
}
