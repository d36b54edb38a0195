//! Spawns the payments service on a fresh database, a free port and the shared broker, with a
//! client, users with tokens, and helpers to feed it other services' events (friendships and
//! blocks from users, circle membership from circles).

#![allow(dead_code)]

use std::time::Duration;

use payments::{Application, config::PaymentsConfig};
use prost::{Message, Name};
use rdkafka::{
    ClientConfig, Message as _,
    consumer::{Consumer, StreamConsumer},
    producer::FutureRecord,
    util::Timeout,
};
use tonic::transport::Channel;
use tuan_messaging::KafkaClients;
use tuan_proto::{
    circles::v1 as circles,
    events::v1::EventEnvelope,
    payments::v1::{self as pb, payments_service_client::PaymentsServiceClient},
    users::v1 as users,
};
use tuan_testkit::{Server, TestDb};
pub use tuan_testkit::{User, authed};
use uuid::Uuid;

pub struct TestApp {
    pub db: TestDb,
    pub server: Server<anyhow::Error>,
    pub config: PaymentsConfig,
    pub client: PaymentsServiceClient<Channel>,
    pub kafka: KafkaClients,
    /// Where WeChat Pay notifications go, with that provider.
    pub notify_port: Option<u16>,
}

pub fn config_for(db: &TestDb, brokers: &str) -> PaymentsConfig {
    let mut config = tuan_testkit::config_for(db, brokers, |c: &mut PaymentsConfig| &mut c.common);
    config.common.database.max_connections = 30;
    config.payments.provider.min_latency_ms = 0;
    config.payments.provider.max_latency_ms = 50;
    config.payments.provider.failure_rate = 0.0;
    config.payments.expiry_scan_interval_ms = 200;
    config
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut PaymentsConfig)) -> Self {
        let (db, config) = tuan_testkit::fresh(config_for, adjust).await;
        let app = Application::build(config.clone()).await.expect("build payments service");
        let notify_port = app.notify_port();
        let server = Server::spawn(app.port(), |stop| app.run_until_stopped(stop));
        let client = PaymentsServiceClient::new(server.channel().await);
        let kafka = KafkaClients::new(&config.common.kafka.brokers).unwrap();
        Self { db, server, config, client, kafka, notify_port }
    }

    pub async fn stop(&mut self) {
        self.server.stop().await;
    }

    pub fn user(&self) -> User {
        User::new(&self.config.common.auth)
    }

    pub fn operator(&self) -> User {
        User::operator(&self.config.common.auth)
    }

    pub fn user_with_roles(&self, roles: &[&str]) -> User {
        User::with_roles(&self.config.common.auth, roles)
    }

    pub fn topic(&self, service: &str) -> String {
        tuan_messaging::service_topic(&self.config.common.kafka.topic_prefix, service)
    }

    /// Publishes `message` as another service's event, keyed by `key`.
    pub async fn publish<M: Message + Name>(&self, service: &str, key: &str, message: &M) -> String {
        self.publish_at(service, service, key, 1, message).await
    }

    /// Publishes `message` as another service's event of stream `stream_type`/`key` (the Kafka
    /// key) at `version` of that stream.
    pub async fn publish_at<M: Message + Name>(
        &self,
        service: &str,
        stream_type: &str,
        key: &str,
        version: u64,
        message: &M,
    ) -> String {
        self.publish_claiming(service, service, stream_type, key, version, message).await
    }

    /// Publishes `message` on `service`'s topic with an envelope that says it comes from
    /// `source` (a forgery, unless they are the same).
    pub async fn publish_claiming<M: Message + Name>(
        &self,
        service: &str,
        source: &str,
        stream_type: &str,
        key: &str,
        version: u64,
        message: &M,
    ) -> String {
        // Without a time (the epoch): old enough for any grace period to have passed.
        let envelope = EventEnvelope {
            occurred_at_micros: 0,
            ..tuan_testkit::envelope(source, stream_type, key, version, message)
        };
        let bytes = envelope.encode_to_vec();
        let topic = self.topic(service);
        self.kafka
            .producer
            .send(FutureRecord::to(&topic).key(key).payload(&bytes), Timeout::After(Duration::from_secs(10)))
            .await
            .map_err(|(e, _)| e)
            .expect("publish");
        envelope.event_id
    }

    /// Makes `a` and `b` friends through a users event and waits until payments knows.
    pub async fn befriend(&self, a: &User, b: &User) {
        let event = users::FriendRequestAccepted { from_user_id: a.id.to_string(), to_user_id: b.id.to_string() };
        self.publish("users", &format!("{}:{}", a.id.min(b.id), a.id.max(b.id)), &event).await;
        self.wait_for(
            "friendship",
            "SELECT count(*) FROM public.friends WHERE user_id = $1 AND friend_id = $2",
            a.id,
            b.id,
            1,
        )
        .await;
    }

    /// A merchant the operators verified (a users event), once payments knows: holds for
    /// anyone else are refused.
    pub async fn merchant(&self) -> Uuid {
        let merchant = Uuid::now_v7();
        let event = users::MerchantVerified { user_id: merchant.to_string(), operator_id: Uuid::now_v7().to_string() };
        self.publish("users", &merchant.to_string(), &event).await;
        self.wait_for(
            "merchant verification",
            "SELECT count(*) FROM public.merchants WHERE user_id = $1 AND user_id <> $2",
            merchant,
            Uuid::nil(),
            1,
        )
        .await;
        merchant
    }

    /// `blocker` blocks `blocked` through a users event and waits until payments knows.
    pub async fn block(&self, blocker: &User, blocked: &User) {
        let event = users::UserBlocked { blocker_id: blocker.id.to_string(), blocked_id: blocked.id.to_string() };
        let (a, b) = (blocker.id, blocked.id);
        self.publish("users", &format!("{}:{}", a.min(b), a.max(b)), &event).await;
        self.wait_for("block", "SELECT count(*) FROM public.blocks WHERE blocker_id = $1 AND blocked_id = $2", a, b, 1)
            .await;
    }

    /// Puts `users` into `circle` as the circles service tells it (a `MemberJoined` on each
    /// one's membership stream, `<circle>:<user>`) and waits until payments knows.
    pub async fn join_circle(&self, circle: Uuid, users: &[&User]) {
        for user in users {
            let event = circles::MemberJoined {
                circle_id: circle.to_string(),
                user_id: user.id.to_string(),
                role: "member".into(),
                added_by: String::new(),
            };
            self.publish_at("circles", "membership", &format!("{circle}:{}", user.id), 1, &event).await;
        }
        for user in users {
            self.wait_for("membership", MEMBER, circle, user.id, 1).await;
        }
    }

    /// `user` leaves `circle` (or is kicked from it), after joining it with `join_circle`.
    pub async fn leave_circle(&self, circle: Uuid, user: &User, kicked: bool) {
        let (circle_id, user_id) = (circle.to_string(), user.id.to_string());
        let key = format!("{circle}:{}", user.id);
        if kicked {
            let event = circles::MemberKicked { circle_id, user_id, by_user_id: Uuid::now_v7().to_string() };
            self.publish_at("circles", "membership", &key, 2, &event).await;
        } else {
            self.publish_at("circles", "membership", &key, 2, &circles::MemberLeft { circle_id, user_id }).await;
        }
        self.wait_for("leaving", MEMBER, circle, user.id, 0).await;
    }

    /// The owner dissolves `circle`, as the circles service tells it.
    pub async fn dissolve_circle(&self, circle: Uuid, owner: &User) {
        let event = circles::CircleDissolved { circle_id: circle.to_string(), by_user_id: owner.id.to_string() };
        self.publish_at("circles", "circle", &circle.to_string(), 2, &event).await;
        let sql = "SELECT count(*) FROM public.dissolved_circles WHERE circle_id = $1 AND circle_id = $2";
        self.wait_for("dissolution", sql, circle, circle, 1).await;
    }

    async fn wait_for(&self, what: &str, sql: &'static str, a: Uuid, b: Uuid, expected: i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let n: i64 = sqlx::query_scalar(sql).bind(a).bind(b).fetch_one(&self.db.pool).await.unwrap();
            if n == expected {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{what} never reached payments");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Tops up `user` through the simulated provider and waits until the wallet is credited.
    pub async fn fund(&mut self, user: &User, amount: &str) {
        self.fund_in(user, amount, "CNY").await
    }

    /// `fund` in `currency`.
    pub async fn fund_in(&mut self, user: &User, amount: &str, currency: &str) {
        let before = self.available(user, currency).await;
        let request = pb::TopUpRequest {
            amount: amount.into(),
            currency: currency.into(),
            idempotency_key: Uuid::now_v7().to_string(),
        };
        let pending = self.client.top_up(authed(&user.token, request)).await.expect("top up").into_inner();
        let done = self.wait_top_up(user, &pending.request_id).await;
        assert_eq!(done.status(), pb::ProviderRequestStatus::Completed);
        let after = self.available(user, currency).await;
        assert_eq!(after - before, dec(amount));
    }

    pub async fn wait_top_up(&mut self, user: &User, id: &str) -> pb::ProviderRequest {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let r = self
                .client
                .get_top_up(authed(&user.token, pb::GetProviderRequestRequest { request_id: id.into() }))
                .await
                .unwrap()
                .into_inner();
            if r.status() != pb::ProviderRequestStatus::Pending {
                return r;
            }
            assert!(tokio::time::Instant::now() < deadline, "top-up {id} never settled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wallet(&mut self, user: &User) -> pb::Wallet {
        self.client.get_wallet(authed(&user.token, pb::GetWalletRequest::default())).await.unwrap().into_inner()
    }

    /// Spendable balance in `currency` (0 if none).
    pub async fn available(&mut self, user: &User, currency: &str) -> rust_decimal::Decimal {
        let wallet = self.wallet(user).await;
        wallet.balances.iter().find(|b| b.currency == currency).map(|b| dec(&b.available)).unwrap_or_default()
    }

    pub async fn event_count(&self) -> i64 {
        tuan_testkit::event_count(&self.db.pool).await
    }

    /// Events appended by API requests only: not by the provider's asynchronous confirmations
    /// or the expiry scanner, which may land at any moment.
    pub async fn request_event_count(&self) -> i64 {
        tuan_testkit::request_event_count(&self.db.pool).await
    }

    /// Sum of every account (must be zero: every entry balances).
    pub async fn ledger_sum(&self) -> rust_decimal::Decimal {
        sqlx::query_scalar("SELECT COALESCE(sum(balance), 0) FROM proj.account_balances")
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// Balance of any ledger account, e.g. "platform-fees".
    pub async fn account(&self, account: &str) -> rust_decimal::Decimal {
        sqlx::query_scalar("SELECT COALESCE(sum(balance), 0) FROM proj.account_balances WHERE account = $1")
            .bind(account)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// A consumer of this service's own topic, reading from the start.
    pub fn payments_events(&self) -> EventWatcher {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.kafka.brokers)
            .set("group.id", format!("test-watch-{}", Uuid::now_v7()))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            // The topic may be created just after subscribing; notice it within a second.
            .set("topic.metadata.refresh.interval.ms", "1000")
            .create()
            .unwrap();
        consumer.subscribe(&[&self.topic("payments")]).unwrap();
        EventWatcher { consumer, seen: Vec::new() }
    }
}

/// Reads envelopes off a topic until one matches.
pub struct EventWatcher {
    consumer: StreamConsumer,
    pub seen: Vec<EventEnvelope>,
}

impl EventWatcher {
    /// The first event of type `M` for which `matches` holds.
    pub async fn expect<M: Message + Name + Default>(&mut self, matches: impl Fn(&M) -> bool) -> M {
        let find = |seen: &[EventEnvelope]| {
            seen.iter()
                .filter(|e| e.event_type == M::full_name())
                .map(|e| M::decode(e.payload.as_slice()).unwrap())
                .find(|m| matches(m))
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(found) = find(&self.seen) {
                return found;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "no {} arrived; saw {:?}",
                M::full_name(),
                self.seen.iter().map(|e| &e.event_type).collect::<Vec<_>>()
            );
            if let Ok(Ok(message)) = tokio::time::timeout(left, self.consumer.recv()).await {
                self.seen.push(EventEnvelope::decode(message.payload().unwrap_or_default()).unwrap());
            }
        }
    }
}

const MEMBER: &str = "SELECT count(*) FROM public.circle_members WHERE circle_id = $1 AND user_id = $2 AND member";

pub fn dec(s: &str) -> rust_decimal::Decimal {
    rust_decimal::Decimal::from_str_exact(s).unwrap()
}

pub fn key() -> String {
    Uuid::now_v7().to_string()
}

pub fn transfer(to: &User, amount: &str, key: &str) -> pb::TransferRequest {
    pb::TransferRequest {
        to_user_id: to.id.to_string(),
        amount: amount.into(),
        currency: "CNY".into(),
        memo: String::new(),
        idempotency_key: key.into(),
    }
}

pub fn equal_bill(title: &str, total: &str, participants: &[&User], key: &str) -> pb::CreateBillRequest {
    pb::CreateBillRequest {
        title: title.into(),
        total: total.into(),
        currency: "CNY".into(),
        split_method: pb::SplitMethod::Equal as i32,
        payers: vec![],
        participants: participants
            .iter()
            .map(|u| pb::Participant { user_id: u.id.to_string(), value: String::new() })
            .collect(),
        circle_id: String::new(),
        idempotency_key: key.into(),
    }
}
