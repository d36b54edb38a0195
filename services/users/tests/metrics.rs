//! The metrics endpoint exposes RPC, outbox and pool metrics in Prometheus text format.

mod common;

use std::time::Duration;

use common::{TestApp, phone};
use tuan_proto::users::v1 as pb;

#[tokio::test]
async fn metrics_endpoint_exposes_rpc_outbox_and_pool_metrics() {
    let port = tuan_testkit::free_port();
    let mut app = TestApp::spawn_tuned(|config| config.common.metrics_addr = Some(([127, 0, 0, 1], port).into())).await;
    app.sign_up(&phone(), "Metric").await;
    let refused = app.client.login(pb::LoginRequest { phone: phone(), password: "wrong-password-1".into() }).await;
    assert!(refused.is_err());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = tuan_testkit::scrape_metrics(port).await;
        if text.contains("tuan_outbox_backlog") || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for expected in [
        r#"tuan_rpc_requests_total{service_name="users",service="tuan.users.v1.UsersService",method="SignUp",code="OK"} 1"#,
        r#"method="Login",code="UNAUTHENTICATED"} 1"#,
        r#"tuan_sms_total{service_name="users",kind="sign_up",outcome="sent"} 1"#,
        "tuan_rpc_duration_seconds_bucket{",
        "tuan_outbox_backlog{",
        "tuan_outbox_oldest_age_seconds{",
        r#"tuan_db_pool_connections{service_name="users",state="idle"}"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    app.stop().await;
}
