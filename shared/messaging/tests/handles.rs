//! A consumer's handles against the real broker: dropping them leaves the consumer running
//! without spinning on its pause channel, and a handle made before its consumer waits for
//! its partitions and pauses it like any. (A binary of its own: the CPU this process uses is what
//! these tests measure.)

use std::time::Duration;

use futures::{FutureExt, future::BoxFuture};
use prost::Message as _;
use rdkafka::{producer::FutureRecord, util::Timeout};
use sqlx::{PgConnection, PgPool};
use tuan_messaging::{
    ConsumerHandle, EventHandler, HandlerError, IdempotentConsumer, KafkaClients, dead_letter_topic, topics,
};
use tuan_proto::events::v1::EventEnvelope;
use tuan_runtime::shutdown::Shutdown;
use tuan_testkit::{TestDb, shared_broker, unique_prefix};
use uuid::Uuid;

/// Records each event it applies.
#[derive(Clone)]
struct Recording;

impl EventHandler for Recording {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            sqlx::query("INSERT INTO seen (event_id) VALUES ($1)").bind(&event.event_id).execute(conn).await?;
            Ok(())
        }
        .boxed()
    }
}

struct Setup {
    db: TestDb,
    kafka: KafkaClients,
    topic: String,
    dlq: String,
    group: String,
}

async fn setup() -> Setup {
    tuan_testkit::init_tracing();
    let db = TestDb::new().await;
    sqlx::query("CREATE TABLE seen (event_id TEXT PRIMARY KEY)").execute(&db.pool).await.unwrap();
    let brokers = shared_broker();
    let prefix = unique_prefix();
    let (topic, dlq) = (format!("{prefix}test.events"), dead_letter_topic(&prefix));
    topics::ensure_topics(&brokers, &[topic.clone(), dlq.clone()], 1, 1, Duration::from_secs(20)).await.unwrap();
    let kafka = KafkaClients::new(&brokers).unwrap();
    Setup { db, kafka, topic, dlq, group: format!("{prefix}group") }
}

async fn produce(s: &Setup, event_id: &str) {
    let value = EventEnvelope {
        event_id: event_id.into(),
        stream_type: "test".into(),
        stream_id: "s".into(),
        version: 1,
        event_type: "test.Event".into(),
        ..Default::default()
    }
    .encode_to_vec();
    s.kafka
        .producer
        .send(FutureRecord::to(&s.topic).key("s").payload(&value), Timeout::After(Duration::from_secs(10)))
        .await
        .map_err(|(e, _)| e)
        .unwrap();
}

async fn seen(pool: &PgPool, event_id: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM seen WHERE event_id = $1)")
        .bind(event_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_seen(pool: &PgPool, event_id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !seen(pool, event_id).await {
        assert!(tokio::time::Instant::now() < deadline, "event {event_id} was never applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CPU time this process used so far (user + system, all threads), from `/proc/self/stat`.
fn cpu_used() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat fields").1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ, 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

/// CPU this process uses over `over` of (consumer) idleness.
async fn cpu_over(over: Duration) -> Duration {
    let before = cpu_used();
    tokio::time::sleep(over).await;
    cpu_used().saturating_sub(before)
}

/// A spinning consumer takes a core's worth (~2 s of CPU in 2 s); an idle one polls every 20 ms.
const IDLE_CPU: Duration = Duration::from_millis(700);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_handles_are_dropped_runs_on_without_spinning() {
    let s = setup().await;
    let (trigger, shutdown) = Shutdown::new();

    // Running, not paused: its handle goes.
    let (consumer, mut handle) = IdempotentConsumer::new(
        &s.group,
        std::slice::from_ref(&s.topic),
        s.dlq.clone(),
        s.db.pool.clone(),
        s.kafka.clone(),
        Recording,
    )
    .unwrap();
    tokio::spawn(consumer.run(shutdown.clone()));
    assert!(handle.wait_assigned(Duration::from_secs(30)).await, "consumer got no partition in 30 s");
    drop(handle);
    let first = Uuid::now_v7().to_string();
    produce(&s, &first).await;
    wait_seen(&s.db.pool, &first).await;
    let used = cpu_over(Duration::from_secs(2)).await;
    assert!(used < IDLE_CPU, "an idle consumer without a handle used {used:?} of CPU in 2 s");

    // Paused, then its handle goes: it stays paused (nobody can resume it), and still idles.
    let (consumer, mut handle) = IdempotentConsumer::new(
        &format!("{}-paused", s.group),
        std::slice::from_ref(&s.topic),
        s.dlq.clone(),
        s.db.pool.clone(),
        s.kafka.clone(),
        Recording,
    )
    .unwrap();
    tokio::spawn(consumer.run(shutdown.clone()));
    assert!(handle.wait_assigned(Duration::from_secs(30)).await, "consumer got no partition in 30 s");
    handle.pause();
    drop(handle);
    let used = cpu_over(Duration::from_secs(2)).await;
    assert!(used < IDLE_CPU, "a paused consumer without a handle used {used:?} of CPU in 2 s");
    // The first consumer still applies what comes.
    let second = Uuid::now_v7().to_string();
    produce(&s, &second).await;
    wait_seen(&s.db.pool, &second).await;
    trigger.trigger();
}

#[tokio::test]
async fn a_handle_made_before_its_consumer_waits_for_it_and_pauses_it() {
    let s = setup().await;
    let (trigger, shutdown) = Shutdown::new();
    let (mut handle, link) = ConsumerHandle::detached();
    // Nothing assigned yet: there is no consumer.
    assert!(!handle.wait_assigned(Duration::from_millis(200)).await);
    let consumer = IdempotentConsumer::linked(
        &s.group,
        std::slice::from_ref(&s.topic),
        s.dlq.clone(),
        s.db.pool.clone(),
        s.kafka.clone(),
        Recording,
        link,
    )
    .unwrap();
    tokio::spawn(consumer.run(shutdown));
    assert!(handle.wait_assigned(Duration::from_secs(30)).await, "consumer got no partition in 30 s");

    handle.pause();
    let event = Uuid::now_v7().to_string();
    produce(&s, &event).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!seen(&s.db.pool, &event).await, "applied while paused");
    handle.resume();
    wait_seen(&s.db.pool, &event).await;
    assert_eq!(handle.stats.applied.load(std::sync::atomic::Ordering::Relaxed), 1);
    trigger.trigger();
}
