//! Spawns the circles service on a fresh database, a free port and the shared broker, with a
//! client, token minting, and a producer that plays the users service (publishes its events
//! onto `<prefix>tuan.users.v1`), so the users service need not run.

#![allow(dead_code)]

use std::time::Duration;

use circles::{Application, config::CirclesConfig, startup::wait_consumers_assigned};
use prost::{Message as _, Name};
use rdkafka::{producer::FutureRecord, util::Timeout};
use tonic::transport::Channel;
use tuan_messaging::KafkaClients;
use tuan_proto::{
    circles::v1::{self as pb, circles_service_client::CirclesServiceClient},
    events::v1::EventEnvelope,
    users::v1 as users_pb,
};
use tuan_testkit::{Server, TestDb};
pub use tuan_testkit::{User, authed, envelope};
use uuid::Uuid;

pub type Client = CirclesServiceClient<Channel>;

pub struct TestApp {
    pub db: Option<TestDb>,
    pub server: Server<anyhow::Error>,
    pub config: CirclesConfig,
    pub client: Client,
    kafka: KafkaClients,
}

pub fn config_for(db: &TestDb, brokers: &str) -> CirclesConfig {
    tuan_testkit::config_for(db, brokers, |c: &mut CirclesConfig| &mut c.common)
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_configured(|_| {}).await
    }

    pub async fn spawn_configured(adjust: impl FnOnce(&mut CirclesConfig)) -> Self {
        let (db, config) = tuan_testkit::fresh(config_for, adjust).await;
        Self::spawn_with(db, config).await
    }

    /// Starts the service and waits until its consumers have their partitions.
    pub async fn spawn_with(db: TestDb, config: CirclesConfig) -> Self {
        let app = Application::build(config.clone()).await.expect("build circles service");
        let consumers = app.consumers();
        let server = Server::spawn(app.port(), |stop| app.run_until_stopped(stop));
        assert!(
            wait_consumers_assigned(consumers, Duration::from_secs(45)).await,
            "consumers got no partitions in 45 s"
        );
        let client = CirclesServiceClient::new(server.channel().await);
        let kafka = KafkaClients::new(&config.common.kafka.brokers).expect("kafka clients");
        Self { db: Some(db), server, config, client, kafka }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.db.as_ref().expect("database").pool
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(&mut self) {
        self.server.stop().await;
    }

    /// Kills the service as a crash would: every task (server, relay, consumers) is dropped
    /// mid-flight, open transactions roll back, no offsets are committed. Returns the database
    /// and config so a new instance can take over.
    pub async fn kill(mut self) -> (TestDb, CirclesConfig) {
        self.server.kill().await;
        (self.db.take().expect("database"), self.config.clone())
    }

    pub fn user_with_roles(&self, roles: &[&str]) -> User {
        User::with_roles(&self.config.common.auth, roles)
    }

    pub fn user(&self) -> User {
        User::new(&self.config.common.auth)
    }

    pub fn operator(&self) -> User {
        User::operator(&self.config.common.auth)
    }

    /// Publishes a users-service event as the users service's outbox relay would.
    pub async fn publish_users_event<M: Name + prost::Message>(&self, stream_type: &str, stream_id: &str, event: M) {
        self.publish("users", &envelope("users", stream_type, stream_id, 1, &event)).await;
    }

    /// Publishes `envelope` onto `<prefix>tuan.<service>.v1`, keyed by its stream id, as that
    /// service's outbox relay would.
    pub async fn publish(&self, service: &str, envelope: &EventEnvelope) {
        let topic = format!("{}tuan.{service}.v1", self.config.common.kafka.topic_prefix);
        let payload = envelope.encode_to_vec();
        self.kafka
            .producer
            .send(
                FutureRecord::to(&topic).key(&envelope.stream_id).payload(&payload),
                Timeout::After(Duration::from_secs(10)),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap_or_else(|e| panic!("publish {} event: {e}", envelope.event_type));
    }

    /// Makes `a` and `b` friends (as the users service would announce) without waiting.
    pub async fn befriend_async(&self, a: &User, b: &User) {
        let event = users_pb::FriendRequestAccepted { from_user_id: a.id.to_string(), to_user_id: b.id.to_string() };
        self.publish_users_event("friendship", &pair(a.id, b.id), event).await;
    }

    /// Makes `a` and `b` friends and waits until this service knows.
    pub async fn befriend(&self, a: &User, b: &User) {
        self.befriend_async(a, b).await;
        self.wait_for(
            "friendship",
            "SELECT count(*) FROM public.friends WHERE user_id = $1 AND friend_id = $2",
            a.id,
            b.id,
            1,
        )
        .await;
    }

    pub async fn block(&self, blocker: &User, blocked: &User) {
        let event = users_pb::UserBlocked { blocker_id: blocker.id.to_string(), blocked_id: blocked.id.to_string() };
        self.publish_users_event("friendship", &pair(blocker.id, blocked.id), event).await;
        self.wait_for(
            "block",
            "SELECT count(*) FROM public.blocks WHERE blocker_id = $1 AND blocked_id = $2",
            blocker.id,
            blocked.id,
            1,
        )
        .await;
    }

    pub async fn verify_merchant(&self, merchant: &User, operator: &User) {
        let event =
            users_pb::MerchantVerified { user_id: merchant.id.to_string(), operator_id: operator.id.to_string() };
        self.publish_users_event("merchant", &merchant.id.to_string(), event).await;
        self.wait_for(
            "merchant",
            "SELECT count(*) FROM public.merchants WHERE user_id = $1 AND $2::uuid IS NOT NULL",
            merchant.id,
            merchant.id,
            1,
        )
        .await;
    }

    /// Polls `sql` (a count with two uuid parameters) until it reaches `expected` (30 s).
    pub async fn wait_for(&self, what: &str, sql: &'static str, a: Uuid, b: Uuid, expected: i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let n: i64 = sqlx::query_scalar(sql).bind(a).bind(b).fetch_one(self.pool()).await.unwrap();
            if n >= expected {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{what}: {n} of {expected} after 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn event_count(&self) -> i64 {
        tuan_testkit::event_count(self.pool()).await
    }

    pub async fn create_circle(&mut self, owner: &User, kind: pb::CircleKind, approval_required: bool) -> pb::Circle {
        let request = pb::CreateCircleRequest {
            name: "Hotpot Friday".into(),
            kind: kind as i32,
            topic: "dinner".into(),
            approval_required,
        };
        self.client.create_circle(authed(&owner.token, request)).await.expect("create circle").into_inner()
    }

    pub async fn circle(&mut self, user: &User, circle_id: &str) -> pb::Circle {
        self.client.get_circle(authed(&user.token, circle(circle_id))).await.expect("get circle").into_inner()
    }
}

pub fn pair(a: Uuid, b: Uuid) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

pub fn circle(circle_id: &str) -> pb::CircleTarget {
    pb::CircleTarget { circle_id: circle_id.into() }
}

pub fn member(circle_id: &str, user: &User) -> pb::MemberTarget {
    pb::MemberTarget { circle_id: circle_id.into(), user_id: user.id.to_string() }
}
