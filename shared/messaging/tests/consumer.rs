//! The idempotent consumer against the real broker: duplicates change nothing, poison
//! messages are dead-lettered and the partition moves on.

use std::{sync::atomic::Ordering, time::Duration};

use futures::{FutureExt, future::BoxFuture};
use prost::Message as _;
use rdkafka::{producer::FutureRecord, util::Timeout};
use sqlx::{PgConnection, PgPool};
use tuan_messaging::{
    ConsumerHandle, EventHandler, HandlerError, IdempotentConsumer, KafkaClients, dead_letter_topic, topics,
};
use tuan_proto::events::v1::EventEnvelope;
use tuan_runtime::shutdown::{Shutdown, ShutdownTrigger};
use tuan_testkit::{TestDb, shared_broker, unique_prefix};
use uuid::Uuid;

/// Counts applications per event; payload "poison" is a permanent failure.
struct Counting;

impl EventHandler for Counting {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            if event.payload == b"poison" {
                return Err(HandlerError::Permanent("payload says poison".into()));
            }
            // A value an int column cannot hold: the database refuses it the same way every time.
            if event.payload == b"overflow" {
                sqlx::query("SELECT $1::bigint::int").bind(10_000_000_000_i64).execute(&mut *conn).await?;
            }
            sqlx::query(
                "INSERT INTO seen (event_id, applied) VALUES ($1, 1) \
                 ON CONFLICT (event_id) DO UPDATE SET applied = seen.applied + 1",
            )
            .bind(&event.event_id)
            .execute(conn)
            .await?;
            Ok(())
        }
        .boxed()
    }

    fn wants(&self, event_type: &str) -> bool {
        event_type != "test.Ignored"
    }
}

struct Fixture {
    db: TestDb,
    kafka: KafkaClients,
    topic: String,
    group: String,
    trigger: ShutdownTrigger,
    handle: ConsumerHandle,
}

/// A `Counting` consumer with its partitions assigned, on a fresh topic of `partitions`.
async fn fixture(partitions: i32) -> Fixture {
    tuan_testkit::init_tracing();
    let db = TestDb::new().await;
    // `tx` tells which transaction applied an event first (events applied together share it).
    sqlx::query(
        "CREATE TABLE seen (event_id TEXT PRIMARY KEY, applied INT NOT NULL, tx XID8 NOT NULL DEFAULT pg_current_xact_id())",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let brokers = shared_broker();
    let prefix = unique_prefix();
    let (topic, dlq) = (format!("{prefix}test.events"), dead_letter_topic(&prefix));
    topics::ensure_topics(&brokers, &[topic.clone(), dlq.clone()], partitions, 1, Duration::from_secs(20))
        .await
        .unwrap();
    let kafka = KafkaClients::new(&brokers).unwrap();
    let group = format!("{prefix}group");
    let (trigger, shutdown) = Shutdown::new();
    let (consumer, mut handle) =
        IdempotentConsumer::new(&group, std::slice::from_ref(&topic), dlq, db.pool.clone(), kafka.clone(), Counting)
            .unwrap();
    tokio::spawn(consumer.run(shutdown));
    assert!(handle.wait_assigned(Duration::from_secs(30)).await, "consumer got no partition in 30 s");
    Fixture { db, kafka, topic, group, trigger, handle }
}

fn envelope(event_id: &str, payload: &[u8]) -> Vec<u8> {
    typed_envelope(event_id, "test.Event", payload)
}

fn typed_envelope(event_id: &str, event_type: &str, payload: &[u8]) -> Vec<u8> {
    EventEnvelope {
        event_id: event_id.into(),
        stream_type: "test".into(),
        stream_id: "s".into(),
        version: 1,
        event_type: event_type.into(),
        payload: payload.to_vec(),
        ..Default::default()
    }
    .encode_to_vec()
}

async fn produce(f: &Fixture, value: &[u8]) {
    produce_keyed(f, "s", value).await;
}

async fn produce_keyed(f: &Fixture, key: &str, value: &[u8]) {
    f.kafka
        .producer
        .send(FutureRecord::to(&f.topic).key(key).payload(value), Timeout::After(Duration::from_secs(10)))
        .await
        .map_err(|(e, _)| e)
        .unwrap();
}

async fn applied(pool: &PgPool, event_id: &str) -> Option<i32> {
    sqlx::query_scalar("SELECT applied FROM seen WHERE event_id = $1")
        .bind(event_id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn wait_applied(pool: &PgPool, event_id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while applied(pool, event_id).await.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "event {event_id} was never applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_same_event_delivered_twice_changes_the_projection_once() {
    let f = fixture(1).await;
    let (dup, marker) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
    produce(&f, &envelope(&dup, b"x")).await;
    produce(&f, &envelope(&dup, b"x")).await;
    produce(&f, &envelope(&marker, b"x")).await;
    wait_applied(&f.db.pool, &marker).await;
    assert_eq!(applied(&f.db.pool, &dup).await, Some(1));
    assert_eq!(f.handle.stats.duplicates.load(Ordering::Relaxed), 1);
    f.trigger.trigger();
}

#[tokio::test]
async fn a_database_error_that_will_recur_is_dead_lettered_with_the_error_and_the_partition_moves_on() {
    let f = fixture(1).await;
    let (overflow, after) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
    produce(&f, &envelope(&overflow, b"overflow")).await;
    produce(&f, &envelope(&after, b"fine")).await;
    wait_applied(&f.db.pool, &after).await;
    let letters: Vec<(String, i32)> =
        sqlx::query_as("SELECT reason, attempts FROM dead_letters").fetch_all(&f.db.pool).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(letters[0].0.contains("out of range"), "the database's own words: {}", letters[0].0);
    assert!(letters[0].1 >= 3, "dead-lettered after its tries: {letters:?}");
    assert_eq!(applied(&f.db.pool, &overflow).await, None, "nothing of it applied");
    f.trigger.trigger();
}

#[test]
fn only_errors_that_will_recur_count_as_permanent() {
    assert!(!tuan_messaging::is_deterministic(&sqlx::Error::PoolTimedOut));
    assert!(!tuan_messaging::is_deterministic(&sqlx::Error::Io(std::io::Error::other("connection reset"))));
    assert!(!tuan_messaging::is_deterministic(&sqlx::Error::PoolClosed));
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_and_the_consumer_moves_on() {
    let f = fixture(1).await;
    let poison = Uuid::now_v7().to_string();
    let after = Uuid::now_v7().to_string();
    produce(&f, b"\xff\xfenot protobuf").await;
    produce(&f, &envelope(&poison, b"poison")).await;
    produce(&f, &envelope(&after, b"fine")).await;
    wait_applied(&f.db.pool, &after).await;

    let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM dead_letters ORDER BY kafka_offset")
        .fetch_all(&f.db.pool)
        .await
        .unwrap();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("undecodable envelope"), "{}", reasons[0]);
    assert!(reasons[1].contains("payload says poison"), "{}", reasons[1]);
    assert_eq!(applied(&f.db.pool, &poison).await, None, "a failed event leaves no partial effect");
    assert_eq!(f.handle.stats.dead_lettered.load(Ordering::Relaxed), 2);
    f.trigger.trigger();
}

fn lag_of(group: &str) -> Option<f64> {
    let text = tuan_runtime::metrics::render();
    text.lines()
        .filter(|l| l.starts_with("tuan_consumer_lag{") && l.contains(&format!("consumer=\"{group}\"")))
        .map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0))
        .reduce(|a, b| a + b)
}

async fn wait_lag(group: &str, check: impl Fn(f64) -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(lag) = lag_of(group)
            && check(lag)
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "lag never {what}: {:?}", lag_of(group));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn consumer_lag_rises_while_paused_and_returns_to_zero_after_resuming() {
    tuan_runtime::metrics::install("messaging-test", None).unwrap();
    let f = fixture(1).await;
    let first = Uuid::now_v7().to_string();
    produce(&f, &envelope(&first, b"x")).await;
    wait_applied(&f.db.pool, &first).await;
    wait_lag(&f.group, |lag| lag == 0.0, "reached 0 after catching up").await;

    f.handle.pause();
    for _ in 0..5 {
        produce(&f, &envelope(&Uuid::now_v7().to_string(), b"x")).await;
    }
    wait_lag(&f.group, |lag| lag >= 5.0, "rose while paused").await;

    f.handle.resume();
    wait_lag(&f.group, |lag| lag == 0.0, "returned to 0 after resuming").await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM seen").fetch_one(&f.db.pool).await.unwrap();
    assert_eq!(applied, 6);
    f.trigger.trigger();
}

#[tokio::test]
async fn lag_returns_to_zero_after_batched_sends_and_unwanted_events_over_several_partitions() {
    tuan_runtime::metrics::install("messaging-test", None).unwrap();
    let f = fixture(3).await;
    // Sent at once, so the producer batches (and compresses) several records per partition.
    let ids: Vec<String> = (0..60).map(|_| Uuid::now_v7().to_string()).collect();
    // A third of the events are ones the handler does not want: passed over without a transaction,
    // its offset must still be committed.
    let ignored: Vec<String> = (0..30).map(|_| Uuid::now_v7().to_string()).collect();
    let messages = ids
        .iter()
        .map(|id| envelope(id, b"x"))
        .chain(ignored.iter().map(|id| typed_envelope(id, "test.Ignored", b"x")))
        .enumerate();
    let sends = messages.map(|(i, value)| {
        let f = &f;
        async move { produce_keyed(f, &format!("k{i}"), &value).await }
    });
    futures::future::join_all(sends).await;
    for id in &ids {
        wait_applied(&f.db.pool, id).await;
    }
    wait_lag(&f.group, |lag| lag == 0.0, "returned to 0 after every event was applied").await;
    for id in &ignored {
        assert_eq!(applied(&f.db.pool, id).await, None, "an unwanted event was applied");
    }
    f.trigger.trigger();
}

#[tokio::test]
async fn a_backlog_is_applied_once_in_each_keys_order_and_a_bad_event_in_it_spoils_nothing() {
    let f = fixture(1).await;
    // A backlog builds up while the consumer is paused: 200 events over 8 keys, one of them
    // sent twice, a poison event in the middle and events the handler does not want.
    f.handle.pause();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ids: Vec<String> = (0..200).map(|_| Uuid::now_v7().to_string()).collect();
    let key = |i: usize| format!("k{}", i % 8);
    let poison = Uuid::now_v7().to_string();
    let mut messages: Vec<(String, Vec<u8>)> =
        ids.iter().enumerate().map(|(i, id)| (key(i), envelope(id, b"x"))).collect();
    messages.insert(100, (key(3), envelope(&poison, b"poison")));
    messages.insert(50, (key(10), envelope(&ids[10], b"x")));
    messages.insert(150, (key(5), typed_envelope(&Uuid::now_v7().to_string(), "test.Ignored", b"x")));
    for (key, value) in &messages {
        f.kafka.producer.send_result(FutureRecord::to(&f.topic).key(key).payload(value)).map_err(|(e, _)| e).unwrap();
    }
    rdkafka::producer::Producer::flush(&f.kafka.producer, Timeout::After(Duration::from_secs(10))).unwrap();
    f.handle.resume();
    for id in &ids {
        wait_applied(&f.db.pool, id).await;
    }

    let (events, applications): (i64, i64) =
        sqlx::query_as("SELECT count(*), sum(applied) FROM seen").fetch_one(&f.db.pool).await.unwrap();
    assert_eq!((events, applications), (200, 200), "every event applied exactly once");
    assert_eq!(applied(&f.db.pool, &poison).await, None, "the poison event left no effect");
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM dead_letters").fetch_all(&f.db.pool).await.unwrap();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("payload says poison"), "{}", reasons[0]);
    assert_eq!(f.handle.stats.duplicates.load(Ordering::Relaxed), 1);
    assert_eq!(f.handle.stats.applied.load(Ordering::Relaxed), 200);
    // A key's events are applied in the order they were sent: each in a transaction that
    // started after the one before it (transaction ids only grow).
    for k in 0..8 {
        let of_key: Vec<String> =
            ids.iter().enumerate().filter(|(i, _)| i % 8 == k).map(|(_, id)| id.clone()).collect();
        let txs: Vec<String> = sqlx::query_scalar(
            "SELECT s.tx::text FROM unnest($1::text[]) WITH ORDINALITY AS k(id, n) JOIN seen s ON s.event_id = k.id ORDER BY k.n",
        )
        .bind(&of_key)
        .fetch_all(&f.db.pool)
        .await
        .unwrap();
        let txs: Vec<u64> = txs.iter().map(|t| t.parse().unwrap()).collect();
        assert!(txs.windows(2).all(|w| w[0] < w[1]), "key k{k} applied out of order: {txs:?}");
    }
    f.trigger.trigger();
}
