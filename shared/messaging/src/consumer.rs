//! Applies other services' events exactly once in effect.
//!
//! For each message: decode the envelope; skip it if this consumer already applied its
//! event id; otherwise run the handler and record the event id in the same transaction; only
//! after that commits is the Kafka offset committed. A redelivery therefore changes nothing.
//! A message that cannot be decoded, or that the handler rejects as permanently wrong, goes to
//! the dead-letter topic (and the `dead_letters` table) with the reason, and the consumer moves
//! on. Transient failures (database down) are retried with backoff, never dead-lettered.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::future::BoxFuture;
use prost::Message as _;
use rdkafka::{
    ClientContext, Message as _,
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer},
    message::BorrowedMessage,
    producer::FutureRecord,
    util::Timeout,
};
use sqlx::{PgConnection, PgPool};
use thiserror::Error;
use tokio::sync::watch;
use tracing::Instrument as _;
use tuan_proto::events::v1::{DeadLetter, EventEnvelope};
use tuan_runtime::{shutdown::Shutdown, telemetry};
use uuid::Uuid;

use crate::{
    client::{KafkaClients, consumer_config},
    headers,
    watchdog::{Action, GroupWatch},
};

/// How often a permanently failing event is tried before it is dead-lettered.
const PERMANENT_ATTEMPTS: u32 = 3;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long applied offsets may wait before they are committed to the broker.
const COMMIT_INTERVAL: Duration = Duration::from_millis(100);
/// How often an idle consumer polls its queue again (see the `RECV_TICK` branch in `run`).
const RECV_TICK: Duration = Duration::from_millis(20);
/// Next offsets to commit, per partition, for messages already applied.
#[derive(Default)]
struct Offsets {
    next: std::collections::HashMap<(String, i32), i64>,
    since: Option<std::time::Instant>,
    /// Every partition's next offset after the last applied event, kept after commits (for the
    /// watchdog, which re-sends commits the broker lost).
    applied: std::collections::HashMap<(String, i32), i64>,
}

impl Offsets {
    fn record(&mut self, topic: &str, partition: i32, offset: i64) {
        self.next.insert((topic.to_string(), partition), offset + 1);
        self.applied.insert((topic.to_string(), partition), offset + 1);
        self.since.get_or_insert_with(std::time::Instant::now);
    }

    fn due(&self) -> bool {
        self.since.is_some_and(|t| t.elapsed() >= COMMIT_INTERVAL)
    }

    fn commit<C: Consumer<GroupContext>>(&mut self, consumer: &C, mode: CommitMode) {
        if self.next.is_empty() {
            return;
        }
        let mut list = rdkafka::TopicPartitionList::new();
        for ((topic, partition), offset) in self.next.drain() {
            let _ = list.add_partition_offset(&topic, partition, rdkafka::Offset::Offset(offset));
        }
        self.since = None;
        if let Err(e) = consumer.commit(&list, mode) {
            // A later commit covers it; at worst the events are redelivered and skipped.
            tracing::warn!(error = %e, "offset commit failed");
        }
    }
}

/// Why a handler could not apply an event.
#[derive(Debug, Error)]
pub enum HandlerError {
    /// The event can never be applied (bad payload, impossible state): dead-letter it.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Try again later (a dependency is down).
    #[error("transient: {0}")]
    Transient(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        HandlerError::Transient(e.to_string())
    }
}

impl From<tuan_eventstore::StoreError> for HandlerError {
    fn from(e: tuan_eventstore::StoreError) -> Self {
        match e {
            tuan_eventstore::StoreError::Decode(reason) => HandlerError::Permanent(reason),
            other => HandlerError::Transient(other.to_string()),
        }
    }
}

/// What a consumer does with each event, inside the transaction that records it as processed.
pub trait EventHandler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;

    /// Whether events of `event_type` matter to this handler at all. The others are passed over
    /// without a database transaction: nothing is applied, so there is nothing to deduplicate.
    /// Topics carry every event of a service, and most of them concern other consumers.
    fn wants(&self, _event_type: &str) -> bool {
        true
    }
}

/// Counters a consumer keeps, shared with whoever wants to watch it.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    pub applied: AtomicU64,
    pub duplicates: AtomicU64,
    pub dead_lettered: AtomicU64,
}

/// A running consumer: its counters, whether it has partitions assigned, and a pause switch.
#[derive(Clone)]
pub struct ConsumerHandle {
    pub stats: Arc<ConsumerStats>,
    assigned: watch::Receiver<usize>,
    paused: Arc<watch::Sender<bool>>,
}

impl ConsumerHandle {
    /// Stops taking new messages (the one in hand finishes); lag builds up until [`resume`](Self::resume).
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// Waits until the group coordinator assigned this member at least one partition.
    pub async fn wait_assigned(&mut self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.assigned.wait_for(|n| *n > 0)).await.is_ok_and(|r| r.is_ok())
    }
}

struct GroupContext {
    assigned: watch::Sender<usize>,
    /// Whether the last rebalance event was an assignment (the group is formed), not a
    /// revocation (a rebalance is under way).
    formed: Arc<std::sync::atomic::AtomicBool>,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let count = match rebalance {
            Rebalance::Assign(_) => consumer.assignment().map(|a| a.count()).unwrap_or(0),
            Rebalance::Revoke(_) | Rebalance::Error(_) => 0,
        };
        self.formed.store(matches!(rebalance, Rebalance::Assign(_)), Ordering::Relaxed);
        tracing::info!(partitions = count, "consumer group rebalanced");
        let _ = self.assigned.send(count);
    }
}

/// A consumer group member applying events from `topics` with `handler`.
pub struct IdempotentConsumer<H: EventHandler> {
    name: String,
    topics: Vec<String>,
    paused: watch::Receiver<bool>,
    dead_letter_topic: String,
    pool: PgPool,
    kafka: KafkaClients,
    consumer: StreamConsumer<GroupContext>,
    /// For the context of a consumer created to rejoin the group (see `crate::watchdog`).
    assigned: watch::Sender<usize>,
    formed: Arc<std::sync::atomic::AtomicBool>,
    handler: H,
    stats: Arc<ConsumerStats>,
}

impl<H: EventHandler> IdempotentConsumer<H> {
    /// `name` is the consumer group id and the key of its processed-event records;
    /// `dead_letter_topic` is where messages it cannot apply go (see [`crate::dead_letter_topic`]).
    pub fn new(
        name: &str,
        topics: &[String],
        dead_letter_topic: String,
        pool: PgPool,
        kafka: KafkaClients,
        handler: H,
    ) -> anyhow::Result<(Self, ConsumerHandle)> {
        let (tx, rx) = watch::channel(0);
        let formed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let consumer: StreamConsumer<GroupContext> = consumer_config(&kafka.brokers, name)
            .create_with_context(GroupContext { assigned: tx.clone(), formed: formed.clone() })?;
        let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topic_refs)?;
        let stats = Arc::new(ConsumerStats::default());
        let (pause_tx, paused) = watch::channel(false);
        let handle = ConsumerHandle { stats: stats.clone(), assigned: rx, paused: Arc::new(pause_tx) };
        let consumer = Self {
            name: name.to_string(),
            topics: topics.to_vec(),
            paused,
            dead_letter_topic,
            pool,
            kafka,
            consumer,
            assigned: tx,
            formed,
            handler,
            stats,
        };
        Ok((consumer, handle))
    }

    /// Leaves the group and joins it again as a new member (see `crate::watchdog`).
    async fn rejoin(&mut self) -> anyhow::Result<()> {
        metrics::counter!("tuan_consumer_rejoins_total", "consumer" => self.name.clone()).increment(1);
        let fresh: StreamConsumer<GroupContext> = consumer_config(&self.kafka.brokers, &self.name)
            .create_with_context(GroupContext { assigned: self.assigned.clone(), formed: self.formed.clone() })?;
        self.formed.store(false, Ordering::Relaxed);
        let stale = std::mem::replace(&mut self.consumer, fresh);
        // Leave, then join: tansu 0.6.0 keeps a leader that leaves a group being formed as that
        // group's leader for good, and the group never forms again. Closing sends LeaveGroup and
        // waits for the broker: not on the runtime's threads.
        let _ = tokio::task::spawn_blocking(move || drop(stale)).await;
        let topic_refs: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        self.consumer.subscribe(&topic_refs)?;
        Ok(())
    }

    /// Acts on what the watchdog sees while idle: commits the broker lost, or a group that
    /// leaves waiting events to nobody (see `crate::watchdog`).
    async fn watch_group(
        &mut self,
        watch: &mut GroupWatch,
        applied: &mut Offsets,
        progress: &watch::Receiver<Vec<crate::lag::PartitionProgress>>,
    ) {
        let owned: std::collections::HashSet<(String, i32)> = self
            .consumer
            .assignment()
            .map(|a| a.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect())
            .unwrap_or_default();
        let figures = progress.borrow().clone();
        let formed = self.formed.load(Ordering::Relaxed);
        match watch.check(std::time::Instant::now(), formed, &owned, &applied.applied, &figures) {
            Action::Nothing => {}
            Action::Recommit(offsets) => {
                tracing::info!(consumer = %self.name, partitions = offsets.len(), "committing again offsets the broker lost");
                let mut list = rdkafka::TopicPartitionList::new();
                for ((topic, partition), offset) in offsets {
                    let _ = list.add_partition_offset(&topic, partition, rdkafka::Offset::Offset(offset));
                }
                if let Err(e) = self.consumer.commit(&list, CommitMode::Async) {
                    tracing::warn!(error = %e, "offset commit failed");
                }
            }
            Action::Rejoin => {
                tracing::warn!(consumer = %self.name, "the group's events wait on partitions nobody consumes: rejoining the group");
                applied.commit(&self.consumer, CommitMode::Sync);
                applied.applied.clear();
                if let Err(e) = self.rejoin().await {
                    tracing::warn!(consumer = %self.name, error = %e, "rejoining the group failed");
                }
            }
        }
    }

    /// Consumes until `shutdown`, then commits the offsets of what was applied and leaves the group.
    pub async fn run(mut self, mut shutdown: Shutdown) {
        let (progress_tx, progress) = watch::channel(Vec::new());
        tokio::spawn(crate::lag::monitor(
            self.kafka.brokers.clone(),
            self.name.clone(),
            self.topics.clone(),
            progress_tx,
            shutdown.clone(),
        ));
        let mut watch = GroupWatch::default();
        let mut next_watch = std::time::Instant::now();
        // Offsets of applied messages, committed together every COMMIT_INTERVAL: one commit per
        // message made the broker (sqlite-backed tansu) the bottleneck. Only offsets of
        // messages whose transaction committed are ever in here.
        let mut applied = Offsets::default();
        loop {
            if *self.paused.borrow() {
                applied.commit(&self.consumer, CommitMode::Sync);
                // Keep polling so the group membership stays alive, but take nothing.
                let _ = self.consumer.pause(&self.consumer.assignment().unwrap_or_default());
                tokio::select! {
                    _ = self.paused.wait_for(|p| !*p) => {}
                    _ = shutdown.wait() => break,
                }
                let _ = self.consumer.resume(&self.consumer.assignment().unwrap_or_default());
            }
            let message = tokio::select! {
                _ = self.paused.changed() => continue,
                m = self.consumer.recv() => m,
                _ = tokio::time::sleep(RECV_TICK) => {
                    // Nothing arrived for a tick. Re-polling here is not optional: rust-rdkafka's
                    // StreamConsumer can miss its wakeup when an internal event (a commit
                    // result, a rebalance) sat in librdkafka's queue ahead of a message
                    // (fede1024/rust-rdkafka#665), and the message then waited for the next
                    // one to arrive: seconds in a saga, forever at the end of a burst.
                    if applied.due() {
                        applied.commit(&self.consumer, CommitMode::Async);
                    }
                    if std::time::Instant::now() >= next_watch {
                        next_watch = std::time::Instant::now() + Duration::from_secs(1);
                        self.watch_group(&mut watch, &mut applied, &progress).await;
                    }
                    continue;
                }
                _ = shutdown.wait() => break,
            };
            match message {
                Ok(message) => {
                    if self.process(&message, &shutdown).await {
                        applied.record(message.topic(), message.partition(), message.offset());
                        if applied.due() {
                            applied.commit(&self.consumer, CommitMode::Async);
                        }
                    } else {
                        break; // shutdown while retrying: leave the offset uncommitted
                    }
                }
                Err(e) => {
                    tracing::warn!(consumer = %self.name, error = %e, "kafka receive error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        applied.commit(&self.consumer, CommitMode::Sync);
        self.consumer.unsubscribe();
    }

    /// Applies one message. Returns false only if shutdown interrupted the retries.
    async fn process(&self, message: &BorrowedMessage<'_>, shutdown: &Shutdown) -> bool {
        let envelope = match crate::envelope::accept(message.payload().unwrap_or_default()) {
            Ok(envelope) => envelope,
            Err(reason) => return self.dead_letter(message, &reason, 1).await,
        };
        if !self.handler.wants(&envelope.event_type) {
            metrics::counter!("tuan_consumer_events_total", "consumer" => self.name.clone(), "outcome" => "ignored")
                .increment(1);
            return true;
        }
        let span = tracing::info_span!(
            "process",
            otel.name = %format!("{} process", message.topic()),
            otel.kind = "consumer",
            messaging.system = "kafka",
            messaging.operation.type = "process",
            messaging.destination.name = %message.topic(),
            messaging.consumer.group.name = %self.name,
            messaging.message.id = %envelope.event_id,
            messaging.kafka.offset = message.offset(),
            event_type = %envelope.event_type,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        telemetry::set_parent(&span, &headers::trace_context(message.headers()));

        let mut backoff = Duration::from_millis(100);
        let mut permanent_failures = 0;
        loop {
            match self.apply(&envelope).instrument(span.clone()).await {
                Ok(true) => {
                    self.stats.applied.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("tuan_consumer_events_total", "consumer" => self.name.clone(), "outcome" => "applied")
                        .increment(1);
                    return true;
                }
                Ok(false) => {
                    self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("tuan_consumer_events_total", "consumer" => self.name.clone(), "outcome" => "duplicate")
                        .increment(1);
                    return true;
                }
                Err(HandlerError::Permanent(reason)) => {
                    permanent_failures += 1;
                    if permanent_failures >= PERMANENT_ATTEMPTS {
                        return self.dead_letter(message, &reason, permanent_failures).await;
                    }
                }
                Err(HandlerError::Transient(reason)) => {
                    tracing::warn!(consumer = %self.name, %reason, ?backoff, "applying event failed, retrying");
                }
            }
            if shutdown.is_triggered() {
                return false;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Runs the handler and records the event, in one transaction. Ok(false) for a duplicate.
    async fn apply(&self, envelope: &EventEnvelope) -> Result<bool, HandlerError> {
        let event_id = Uuid::parse_str(&envelope.event_id).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        // Read before writing anything, so the handler's own appends come first in this
        // transaction (the event store's replay order relies on that).
        let seen: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2)")
                .bind(&self.name)
                .bind(event_id)
                .fetch_one(&mut *tx)
                .await?;
        if seen {
            return Ok(false);
        }
        self.handler.handle(&mut tx, envelope).await?;
        let recorded =
            sqlx::query("INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&self.name)
                .bind(event_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if recorded == 0 {
            // Another member applied it meanwhile (during a rebalance): undo ours.
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Sets a message aside with the reason. Returns true once it is safely recorded.
    async fn dead_letter(&self, message: &BorrowedMessage<'_>, reason: &str, attempts: u32) -> bool {
        tracing::error!(consumer = %self.name, topic = message.topic(), offset = message.offset(), %reason, "dead-lettering message");
        let letter = DeadLetter {
            consumer: self.name.clone(),
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().unwrap_or_default().to_vec(),
            value: message.payload().unwrap_or_default().to_vec(),
            reason: reason.to_string(),
            failed_at_micros: chrono::Utc::now().timestamp_micros(),
            attempts,
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.record_dead_letter(&letter).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "recording dead letter failed, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        let payload = letter.encode_to_vec();
        let record = FutureRecord::to(&self.dead_letter_topic).key(&self.name).payload(&payload);
        if let Err((e, _)) = self.kafka.producer.send(record, Timeout::After(Duration::from_secs(10))).await {
            // The table keeps it; operators can re-drive from there.
            tracing::warn!(error = %e, "publishing dead letter failed; kept in dead_letters table");
        }
        self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("tuan_dead_letters_total", "consumer" => self.name.clone()).increment(1);
        true
    }

    async fn record_dead_letter(&self, letter: &DeadLetter) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO dead_letters (consumer, topic, partition, kafka_offset, message_key, message_value, reason, attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (consumer, topic, partition, kafka_offset) DO NOTHING",
        )
        .bind(&letter.consumer)
        .bind(&letter.topic)
        .bind(letter.partition)
        .bind(letter.offset)
        .bind(&letter.key)
        .bind(&letter.value)
        .bind(&letter.reason)
        .bind(letter.attempts as i32)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
