//! The circles service itself, started beside payments on the same broker and topic prefix:
//! what its members do through its gRPC reaches payments as events, and circle bills follow.

mod common;

use std::time::Duration;

use circles::{Application as Circles, config::CirclesConfig, startup::wait_consumers_assigned};
use common::{TestApp, User, authed, dec, key};
use tonic::Code;
use tuan_proto::{
    circles::v1::{self as circles_pb, circles_service_client::CirclesServiceClient},
    payments::v1 as pb,
};
use tuan_testkit::{Server, TestDb};
use uuid::Uuid;

/// The circles service of a test, on its own database.
struct CirclesService {
    _db: TestDb,
    client: CirclesServiceClient<tonic::transport::Channel>,
    server: Server<anyhow::Error>,
}

impl CirclesService {
    /// Starts circles publishing where `payments` reads (same broker and topic prefix) and
    /// trusting the same tokens.
    async fn start(payments: &TestApp) -> Self {
        let db = TestDb::new().await;
        let kafka = &payments.config.common.kafka;
        let mut config = tuan_testkit::config_for(&db, &kafka.brokers, |c: &mut CirclesConfig| &mut c.common);
        config.common.kafka = kafka.clone();
        config.common.auth = payments.config.common.auth.clone();
        let app = Circles::build(config).await.expect("build circles service");
        let consumers = app.consumers();
        let server = Server::spawn(app.port(), |stop| app.run_until_stopped(stop));
        assert!(wait_consumers_assigned(consumers, Duration::from_secs(45)).await, "circles consumers unassigned");
        let client = CirclesServiceClient::new(server.channel().await);
        Self { _db: db, client, server }
    }

    async fn stop(mut self) {
        self.server.stop().await;
    }
}

/// Waits until payments counts `user` in `circle` as `member` (or, with `None`, until `circle`
/// is dissolved).
async fn until_payments_knows(app: &TestApp, circle: &str, user: Option<(&User, bool)>) {
    let circle = Uuid::parse_str(circle).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let known: bool = match user {
            Some((user, member)) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM public.circle_members WHERE circle_id = $1 AND user_id = $2 AND member = $3)",
            )
            .bind(circle)
            .bind(user.id)
            .bind(member),
            None => sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.dissolved_circles WHERE circle_id = $1)")
                .bind(circle),
        }
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        if known {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "payments never learnt of circle {circle}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn dinner(circle: &str, people: &[&User]) -> pb::CreateBillRequest {
    pb::CreateBillRequest { circle_id: circle.into(), ..common::equal_bill("Dinner", "60.00", people, &key()) }
}

#[tokio::test]
async fn members_of_a_real_circle_split_bills_until_kicked_or_the_circle_is_dissolved() {
    let mut app = TestApp::spawn().await;
    let service = CirclesService::start(&app).await;
    let mut circles = service.client.clone();
    let (owner, b, c) = (app.user(), app.user(), app.user());
    let create = circles_pb::CreateCircleRequest {
        name: "Hotpot Friday".into(),
        kind: circles_pb::CircleKind::Cluster as i32,
        topic: "dinner".into(),
        approval_required: false,
    };
    let circle = circles.create_circle(authed(&owner.token, create)).await.unwrap().into_inner().circle_id;
    let target = || circles_pb::CircleTarget { circle_id: circle.clone() };
    for user in [&b, &c] {
        circles.join_circle(authed(&user.token, target())).await.unwrap();
    }
    for user in [&owner, &b, &c] {
        until_payments_knows(&app, &circle, Some((user, true))).await;
    }

    // Nobody is anybody's friend: the circle is what lets them split.
    let bill = app.client.create_bill(authed(&owner.token, dinner(&circle, &[&owner, &b, &c]))).await.unwrap();
    assert_eq!(bill.into_inner().parts.len(), 3);

    let kick = circles_pb::MemberTarget { circle_id: circle.clone(), user_id: c.id.to_string() };
    circles.kick_member(authed(&owner.token, kick)).await.unwrap();
    until_payments_knows(&app, &circle, Some((&c, false))).await;
    let refused = app.client.create_bill(authed(&owner.token, dinner(&circle, &[&owner, &c]))).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{}", refused.message());

    circles.dissolve_circle(authed(&owner.token, target())).await.unwrap();
    until_payments_knows(&app, &circle, None).await;
    let refused = app.client.create_bill(authed(&owner.token, dinner(&circle, &[&owner, &b]))).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{}", refused.message());
    // The dinner stays payable: B settles their 20.00.
    app.fund(&b, "20.00").await;
    let settle = pb::SettleUpRequest {
        group: Some(pb::settle_up_request::Group::CircleId(circle.clone())),
        currency: "CNY".into(),
        idempotency_key: key(),
    };
    app.client.settle_up(authed(&b.token, settle)).await.unwrap();
    assert_eq!(app.available(&owner, "CNY").await, dec("20.00"));
    service.stop().await;
    app.stop().await;
}
