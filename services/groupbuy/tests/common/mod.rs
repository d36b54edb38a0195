//! Spawns the group-buy service on a fresh database, a free port and the shared broker, with a
//! payments simulator on the same topics, merchants verified through users' events, and a
//! client.

#![allow(dead_code)]

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use groupbuy::{Application, config::GroupBuyConfig};
use prost::{Message as _, Name};
use rdkafka::{
    ClientConfig, Message as _, Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use tonic::{Request, transport::Channel};
use tuan_messaging::{service_topic, topics};
use tuan_proto::{
    events::v1::EventEnvelope,
    groupbuy::v1::{self as pb, group_buy_service_client::GroupBuyServiceClient},
    payments::v1 as payments,
    users::v1 as users,
};
pub use tuan_testkit::authed;
use tuan_testkit::{Server, TestDb};
use uuid::Uuid;

pub type Client = GroupBuyServiceClient<Channel>;

pub struct TestApp {
    pub db: TestDb,
    pub server: Server<anyhow::Error>,
    pub config: GroupBuyConfig,
    pub client: Client,
    pub sim: PaymentsSim,
}

pub fn config_for(db: &TestDb, brokers: &str, max_connections: u32) -> GroupBuyConfig {
    let mut config = tuan_testkit::config_for(db, brokers, |c: &mut GroupBuyConfig| &mut c.common);
    config.common.database.max_connections = max_connections;
    config.groupbuy.deadline_scan_ms = 200;
    config.groupbuy.progress_tick_ms = 1000;
    config.groupbuy.saga_consumers = 1;
    config
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_sized(8).await
    }

    pub async fn spawn_sized(max_connections: u32) -> Self {
        let sized = |db: &TestDb, brokers: &str| config_for(db, brokers, max_connections);
        let (db, config) = tuan_testkit::fresh(sized, |_| {}).await;
        let sim = PaymentsSim::start(&config).await;
        let (server, client) = start(&config).await;
        Self { db, server, config, client, sim }
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(&mut self) {
        self.server.stop().await;
    }

    /// Starts the service again on the same database and topics.
    pub async fn restart(&mut self) {
        self.stop().await;
        (self.server, self.client) = start(&self.config).await;
    }

    pub fn token(&self, user: Uuid) -> String {
        tuan_testkit::rpc::token(&self.config.common.auth, user, &[])
    }

    pub fn as_user<T>(&self, user: Uuid, message: T) -> Request<T> {
        authed(&self.token(user), message)
    }

    /// A merchant verified by the users service (its event, published on users' topic).
    pub async fn merchant(&self) -> Uuid {
        let user = Uuid::now_v7();
        let event = users::MerchantVerified { user_id: user.to_string(), operator_id: Uuid::now_v7().to_string() };
        let topic = service_topic(&self.config.common.kafka.topic_prefix, "users");
        publish(&self.sim.producer, &topic, "merchant", &user.to_string(), &event).await;
        let pool = &self.db.pool;
        wait_for(Duration::from_secs(30), "merchant projection", || async move {
            sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM public.merchants WHERE user_id = $1)")
                .bind(user)
                .fetch_one(pool)
                .await
                .unwrap()
        })
        .await;
        user
    }

    /// Publishes `event` on the users service's topic, as the users service would.
    pub async fn users_event<M: prost::Message + Name>(&self, stream_type: &str, stream_id: &str, event: &M) {
        let topic = service_topic(&self.config.common.kafka.topic_prefix, "users");
        publish(&self.sim.producer, &topic, stream_type, stream_id, event).await;
    }

    /// Whether the social graph has `blocker` blocking `blocked`.
    pub async fn blocks(&self, blocker: Uuid, blocked: Uuid) -> bool {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.blocks WHERE blocker_id = $1 AND blocked_id = $2)")
            .bind(blocker)
            .bind(blocked)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    pub async fn launch(
        &mut self,
        merchant: Uuid,
        stock: u32,
        mode: pb::launch_campaign_request::Mode,
    ) -> pb::Campaign {
        let request = self.as_user(merchant, launch_request(stock, mode));
        self.client.launch_campaign(request).await.expect("launch").into_inner()
    }

    pub async fn event_count(&self) -> i64 {
        tuan_testkit::event_count(&self.db.pool).await
    }

    pub async fn count_events(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    pub async fn joins_in(&self, campaign: &str, status: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM joins WHERE campaign_id = $1::uuid AND status = $2")
            .bind(campaign)
            .bind(status)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    pub async fn stock_left(&self, campaign: &str) -> i64 {
        sqlx::query_scalar("SELECT COALESCE(sum(remaining), 0)::int8 FROM campaign_stock WHERE campaign_id = $1::uuid")
            .bind(campaign)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// Waits until `count` joins of `campaign` have `status`.
    pub async fn wait_joins(&self, campaign: &str, status: &str, count: i64, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let n = self.joins_in(campaign, status).await;
            if n == count {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{n} joins {status}, expected {count} within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn team(&mut self, viewer: Uuid, team_id: &str) -> pb::Team {
        let request = self.as_user(viewer, pb::TeamRef { team_id: team_id.into() });
        self.client.get_team(request).await.expect("get team").into_inner()
    }

    /// Waits until the team has `status`.
    pub async fn wait_team(
        &mut self,
        viewer: Uuid,
        team_id: &str,
        status: pb::TeamStatus,
        timeout: Duration,
    ) -> pb::Team {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let team = self.team(viewer, team_id).await;
            if team.status == status as i32 {
                return team;
            }
            assert!(tokio::time::Instant::now() < deadline, "team still {:?}, expected {status:?}", team.status());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Starts the service and waits until its saga consumer has a partition.
async fn start(config: &GroupBuyConfig) -> (Server<anyhow::Error>, Client) {
    let app = Application::build(config.clone()).await.expect("build groupbuy service");
    let mut consumer = app.consumer();
    let server = Server::spawn(app.port(), |stop| app.run_until_stopped(stop));
    assert!(consumer.wait_assigned(Duration::from_secs(30)).await, "saga consumer got no partition in 30 s");
    let client = GroupBuyServiceClient::new(server.channel().await);
    (server, client)
}

pub fn launch_request(stock: u32, mode: pb::launch_campaign_request::Mode) -> pb::LaunchCampaignRequest {
    pb::LaunchCampaignRequest {
        title: "Yantai apples, 5 kg".into(),
        description: "Crisp and sweet".into(),
        list_price: "99.00".into(),
        group_price: "59.90".into(),
        currency: "CNY".into(),
        stock,
        per_user_limit: 1,
        starts_at_micros: 0,
        ends_at_micros: (Utc::now() + chrono::Duration::hours(2)).timestamp_micros(),
        mode: Some(mode),
    }
}

pub fn team_mode(size: u32, window_secs: u64) -> pb::launch_campaign_request::Mode {
    pb::launch_campaign_request::Mode::Team(pb::TeamSettings {
        team_size: size,
        team_window_secs: window_secs,
        leader_discount: String::new(),
    })
}

pub fn tipping_mode(min_buyers: u32) -> pb::launch_campaign_request::Mode {
    pb::launch_campaign_request::Mode::Tipping(pb::TippingSettings { min_buyers })
}

pub async fn wait_for<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what} did not happen within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn publish<M: prost::Message + Name>(
    producer: &FutureProducer,
    topic: &str,
    stream_type: &str,
    stream_id: &str,
    message: &M,
) {
    // From the topic's owner, as it would be (consumers set aside events from anyone else).
    let source = tuan_messaging::topic_owner(topic).unwrap_or("test");
    let bytes = tuan_testkit::envelope(source, stream_type, stream_id, 1, message).encode_to_vec();
    producer
        .send(FutureRecord::to(topic).key(stream_id).payload(&bytes), Timeout::After(Duration::from_secs(10)))
        .await
        .map_err(|(e, _)| e)
        .expect("publish");
}

/// What the simulated payments service saw and did, per hold id.
#[derive(Default, Debug)]
pub struct SimState {
    pub seen_events: HashSet<String>,
    pub placed: HashSet<String>,
    pub rejected: HashSet<String>,
    /// Capture requests per hold (distinct events): more than one would be a double charge.
    pub capture_requests: HashMap<String, u32>,
    pub release_requests: HashMap<String, u32>,
    pub captured: HashSet<String>,
    pub released: HashSet<String>,
    /// Users whose holds are refused ("insufficient funds").
    pub broke: HashSet<String>,
}

/// Answers the hold protocol like payments would: HoldRequested -> HoldPlaced (or HoldRejected
/// for broke users), HoldCaptureRequested -> HoldCaptured, HoldReleaseRequested -> HoldReleased.
/// Reads `<prefix>tuan.groupbuy.v1` by direct partition assignment (no group join to wait for).
#[derive(Clone)]
pub struct PaymentsSim {
    pub state: Arc<Mutex<SimState>>,
    pub producer: FutureProducer,
}

impl PaymentsSim {
    pub async fn start(config: &GroupBuyConfig) -> Self {
        let kafka = &config.common.kafka;
        let prefix = &kafka.topic_prefix;
        let (ours, theirs, users) =
            (service_topic(prefix, "groupbuy"), service_topic(prefix, "payments"), service_topic(prefix, "users"));
        topics::ensure_topics(
            &kafka.brokers,
            &[ours.clone(), theirs.clone(), users],
            kafka.partitions,
            1,
            Duration::from_secs(20),
        )
        .await
        .expect("create topics");
        let producer: FutureProducer = tuan_messaging::producer_config(&kafka.brokers).create().expect("producer");
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &kafka.brokers)
            .set("group.id", format!("{prefix}payments-sim"))
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let mut assignment = TopicPartitionList::new();
        for p in 0..kafka.partitions {
            assignment.add_partition_offset(&ours, p, Offset::Beginning).unwrap();
        }
        consumer.assign(&assignment).expect("assign");
        let sim = Self { state: Arc::default(), producer };
        let worker = sim.clone();
        tokio::spawn(async move {
            loop {
                let Ok(message) = consumer.recv().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let Ok(envelope) = EventEnvelope::decode(message.payload().unwrap_or_default()) else { continue };
                worker.answer(&theirs, envelope).await;
            }
        });
        sim
    }

    pub fn make_broke(&self, user: Uuid) {
        self.state.lock().unwrap().broke.insert(user.to_string());
    }

    async fn answer(&self, topic: &str, env: EventEnvelope) {
        enum Reply {
            Placed(payments::HoldPlaced),
            Rejected(payments::HoldRejected),
            Captured(payments::HoldCaptured),
            Released(payments::HoldReleased),
        }
        let reply = {
            let mut s = self.state.lock().unwrap();
            if !s.seen_events.insert(env.event_id.clone()) {
                return; // a redelivery
            }
            match env.event_type.as_str() {
                "tuan.groupbuy.v1.HoldRequested" => {
                    let e = pb::HoldRequested::decode(env.payload.as_slice()).unwrap();
                    if s.broke.contains(&e.user_id) {
                        s.rejected.insert(e.hold_id.clone());
                        Some(Reply::Rejected(payments::HoldRejected {
                            hold_id: e.hold_id,
                            user_id: e.user_id,
                            amount: e.amount,
                            currency: e.currency,
                            campaign_id: e.campaign_id,
                            team_id: e.team_id,
                            reason: "insufficient funds".into(),
                            merchant_id: e.merchant_id,
                        }))
                    } else {
                        s.placed.insert(e.hold_id.clone());
                        Some(Reply::Placed(payments::HoldPlaced {
                            hold_id: e.hold_id,
                            user_id: e.user_id,
                            merchant_id: e.merchant_id,
                            amount: e.amount,
                            currency: e.currency,
                            campaign_id: e.campaign_id,
                            team_id: e.team_id,
                            expires_at_micros: e.expires_at_micros,
                        }))
                    }
                }
                "tuan.groupbuy.v1.HoldCaptureRequested" => {
                    let e = pb::HoldCaptureRequested::decode(env.payload.as_slice()).unwrap();
                    *s.capture_requests.entry(e.hold_id.clone()).or_default() += 1;
                    let fresh = s.placed.contains(&e.hold_id)
                        && !s.released.contains(&e.hold_id)
                        && s.captured.insert(e.hold_id.clone());
                    fresh.then(|| {
                        Reply::Captured(payments::HoldCaptured {
                            hold_id: e.hold_id,
                            r#final: true,
                            ..Default::default()
                        })
                    })
                }
                "tuan.groupbuy.v1.HoldReleaseRequested" => {
                    let e = pb::HoldReleaseRequested::decode(env.payload.as_slice()).unwrap();
                    *s.release_requests.entry(e.hold_id.clone()).or_default() += 1;
                    let fresh = s.placed.contains(&e.hold_id)
                        && !s.captured.contains(&e.hold_id)
                        && s.released.insert(e.hold_id.clone());
                    fresh.then(|| {
                        Reply::Released(payments::HoldReleased {
                            hold_id: e.hold_id,
                            reason: e.reason,
                            ..Default::default()
                        })
                    })
                }
                _ => None,
            }
        };
        match reply {
            Some(Reply::Placed(m)) => publish(&self.producer, topic, "hold", &m.hold_id.clone(), &m).await,
            Some(Reply::Rejected(m)) => publish(&self.producer, topic, "hold", &m.hold_id.clone(), &m).await,
            Some(Reply::Captured(m)) => publish(&self.producer, topic, "hold", &m.hold_id.clone(), &m).await,
            Some(Reply::Released(m)) => publish(&self.producer, topic, "hold", &m.hold_id.clone(), &m).await,
            None => {}
        }
    }

    /// Holds asked to be captured more than once (must stay empty).
    pub fn double_captures(&self) -> Vec<String> {
        self.state.lock().unwrap().capture_requests.iter().filter(|(_, n)| **n > 1).map(|(h, _)| h.clone()).collect()
    }

    pub fn captured(&self) -> usize {
        self.state.lock().unwrap().captured.len()
    }

    pub fn released(&self) -> usize {
        self.state.lock().unwrap().released.len()
    }
}
