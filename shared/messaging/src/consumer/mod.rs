//! Applies other services' events exactly once in effect.
//!
//! For each message: decode the envelope; skip it if this consumer already applied its
//! event id; otherwise run the handler and record the event id in the same transaction; only
//! after that commits is the Kafka offset committed. A redelivery therefore changes nothing.
//! A message that cannot be decoded, or that the handler rejects as permanently wrong, goes to
//! the dead-letter topic (and the `dead_letters` table) with the reason, and the consumer moves
//! on. So does an envelope whose `source` is not the service that owns its topic (a forgery:
//! only that service's relay writes there). Transient failures (database down) are retried
//! with backoff, never dead-lettered.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::{FutureExt as _, future::BoxFuture};
use rdkafka::{
    ClientContext, Message as _,
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer},
};
use sqlx::{PgConnection, PgPool};
use thiserror::Error;
use tokio::sync::watch;
use tuan_proto::events::v1::EventEnvelope;
use tuan_runtime::shutdown::Shutdown;

mod apply;

use crate::{
    client::{KafkaClients, consumer_config},
    offsets::Offsets,
    watchdog::{Action, GroupWatch},
};

/// How often a permanently failing event is tried before it is dead-lettered.
const PERMANENT_ATTEMPTS: u32 = 3;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often an idle consumer polls its queue again (see the `RECV_TICK` branch in `run`).
const RECV_TICK: Duration = Duration::from_millis(20);
/// Most messages taken from the client's queue at once (what is already there; a batch is
/// never waited for). Their events are applied per key, several keys at a time.
const MAX_BATCH: usize = 100;
/// How many keys' events are applied side by side: the transactions commit together (one WAL
/// flush for several), which is what bounded a consumer that had fallen behind. Kept well
/// under the service's pool (20 by default), which its API and other consumers share.
const CONCURRENT_KEYS: usize = 6;
/// What became of a message, as counted in `tuan_consumer_events_total{outcome}`.
#[derive(Clone, Copy)]
enum Outcome {
    Applied,
    /// Applied before (a redelivery).
    Duplicate,
    /// Of a type the handler does not want.
    Ignored,
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

/// Whether a database error will come back however often the same event is applied: its data
/// is wrong for the schema (SQLSTATE class 22: a number out of range, text Postgres cannot
/// hold, a value too long), it breaks a constraint (class 23), or the statement itself is
/// wrong (class 42). Retried forever, such an error stops its key for good; after a few tries
/// it is dead-lettered with the error. Everything else (the connection, a timeout, a deadlock
/// or serialization failure, a server shutting down) is worth waiting out.
pub fn is_deterministic(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|code| code.starts_with("22") || code.starts_with("23") || code.starts_with("42"))
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::TypeNotFound { .. } => true,
        _ => false,
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        if is_deterministic(&e) {
            HandlerError::Permanent(e.to_string())
        } else {
            HandlerError::Transient(e.to_string())
        }
    }
}

impl From<tuan_eventstore::StoreError> for HandlerError {
    fn from(e: tuan_eventstore::StoreError) -> Self {
        use tuan_eventstore::StoreError;
        match e {
            StoreError::Decode(reason) => HandlerError::Permanent(reason),
            StoreError::UniqueViolation { .. } => HandlerError::Permanent(e.to_string()),
            StoreError::Database(db) => db.into(),
            // Another writer won the stream: apply again on the new version.
            StoreError::Conflict { .. } => HandlerError::Transient(e.to_string()),
            // A malformed or reused key in an event is the event's fault, not the moment's.
            StoreError::Idempotency(tuan_eventstore::idempotency::IdempotencyError::Database(db)) => db.into(),
            StoreError::Idempotency(_) => HandlerError::Permanent(e.to_string()),
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
/// Dropping every handle changes nothing for the consumer: it runs on, unpaused (or paused,
/// if it was, until shutdown).
#[derive(Clone)]
pub struct ConsumerHandle {
    pub stats: Arc<ConsumerStats>,
    assigned: watch::Receiver<usize>,
    paused: Arc<watch::Sender<bool>>,
}

/// The consumer's side of a [`ConsumerHandle`] made before its consumer
/// ([`ConsumerHandle::detached`]); [`IdempotentConsumer::linked`] takes it.
pub struct ConsumerLink {
    stats: Arc<ConsumerStats>,
    assigned: watch::Sender<usize>,
    paused: Arc<watch::Sender<bool>>,
}

impl ConsumerHandle {
    /// A handle for a consumer made later (once its topics exist, say) from the link with
    /// [`IdempotentConsumer::linked`]. It can be waited on meanwhile
    /// ([`wait_assigned`](Self::wait_assigned)); its counters are the consumer's.
    pub fn detached() -> (Self, ConsumerLink) {
        let stats = Arc::new(ConsumerStats::default());
        let (assigned_tx, assigned) = watch::channel(0);
        let paused = Arc::new(watch::channel(false).0);
        let handle = Self { stats: stats.clone(), assigned, paused: paused.clone() };
        (handle, ConsumerLink { stats, assigned: assigned_tx, paused })
    }

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
    /// The sender of `paused`, held so the channel stays open as long as the consumer runs: a
    /// closed channel answers `changed` at once, every time, and the loop in `run` would spin
    /// on it (a core's worth of CPU) once the handles were dropped.
    _pause_switch: Arc<watch::Sender<bool>>,
    dead_letter_topic: String,
    pool: PgPool,
    kafka: KafkaClients,
    consumer: ClosedApart<StreamConsumer<GroupContext>>,
    /// For the context of a consumer created to rejoin the group (see `crate::watchdog`).
    assigned: watch::Sender<usize>,
    formed: Arc<std::sync::atomic::AtomicBool>,
    handler: H,
    stats: Arc<ConsumerStats>,
}

/// A Kafka consumer that is closed on a thread of its own when dropped. Closing leaves the
/// group and can block for good: librdkafka's close may wait on a rebalance callback that asks
/// for the rebalance protocol, an answer that never comes when the group is still being
/// joined (librdkafka#4041, rust-rdkafka#509; seen here as a test hanging at teardown with its
/// thread in `rebalance_protocol`). Dropped inline, that would hang the task or the whole
/// runtime's shutdown; apart, it costs at most a parked thread until the process exits.
struct ClosedApart<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> ClosedApart<T> {
    fn into_inner(mut self) -> T {
        self.0.take().expect("a consumer until dropped")
    }
}

impl<T: Send + 'static> std::ops::Deref for ClosedApart<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("a consumer until dropped")
    }
}

impl<T: Send + 'static> Drop for ClosedApart<T> {
    fn drop(&mut self) {
        if let Some(consumer) = self.0.take() {
            let _ = std::thread::Builder::new().name("kafka-close".into()).spawn(move || drop(consumer));
        }
    }
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
        let (handle, link) = ConsumerHandle::detached();
        let consumer = Self::linked(name, topics, dead_letter_topic, pool, kafka, handler, link)?;
        Ok((consumer, handle))
    }

    /// [`IdempotentConsumer::new`] for a handle made before ([`ConsumerHandle::detached`]).
    pub fn linked(
        name: &str,
        topics: &[String],
        dead_letter_topic: String,
        pool: PgPool,
        kafka: KafkaClients,
        handler: H,
        link: ConsumerLink,
    ) -> anyhow::Result<Self> {
        let ConsumerLink { stats, assigned: tx, paused: pause_switch } = link;
        let formed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let consumer: StreamConsumer<GroupContext> = consumer_config(&kafka.brokers, name)
            .create_with_context(GroupContext { assigned: tx.clone(), formed: formed.clone() })?;
        let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topic_refs)?;
        Ok(Self {
            name: name.to_string(),
            topics: topics.to_vec(),
            paused: pause_switch.subscribe(),
            _pause_switch: pause_switch,
            dead_letter_topic,
            pool,
            kafka,
            consumer: ClosedApart(Some(consumer)),
            assigned: tx,
            formed,
            handler,
            stats,
        })
    }

    /// Leaves the group and joins it again as a new member (see `crate::watchdog`).
    async fn rejoin(&mut self) -> anyhow::Result<()> {
        metrics::counter!("tuan_consumer_rejoins_total", "consumer" => self.name.clone()).increment(1);
        let fresh: StreamConsumer<GroupContext> = consumer_config(&self.kafka.brokers, &self.name)
            .create_with_context(GroupContext { assigned: self.assigned.clone(), formed: self.formed.clone() })?;
        self.formed.store(false, Ordering::Relaxed);
        let stale = std::mem::replace(&mut self.consumer, ClosedApart(Some(fresh))).into_inner();
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
                applied.commit(&*self.consumer, CommitMode::Sync);
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
                applied.commit(&*self.consumer, CommitMode::Sync);
                // Keep polling so the group membership stays alive, but take nothing.
                let _ = self.consumer.pause(&self.consumer.assignment().unwrap_or_default());
                tokio::select! {
                    _ = self.paused.wait_for(|p| !*p) => {}
                    _ = shutdown.wait() => break,
                }
                let _ = self.consumer.resume(&self.consumer.assignment().unwrap_or_default());
            }
            let message = tokio::select! {
                // Paused (or resumed): the top of the loop acts on it. The consumer holds a
                // sender of this channel, so it never closes and this never answers at once.
                _ = self.paused.changed() => continue,
                m = self.consumer.recv() => m,
                _ = tokio::time::sleep(RECV_TICK) => {
                    // Nothing arrived for a tick. Re-polling here is not optional: rust-rdkafka's
                    // StreamConsumer can miss its wakeup when an internal event (a commit
                    // result, a rebalance) sat in librdkafka's queue ahead of a message
                    // (fede1024/rust-rdkafka#665), and the message then waited for the next
                    // one to arrive: seconds in a saga, forever at the end of a burst.
                    if applied.due() {
                        applied.commit(&*self.consumer, CommitMode::Async);
                    }
                    if std::time::Instant::now() >= next_watch {
                        next_watch = std::time::Instant::now() + Duration::from_secs(1);
                        self.watch_group(&mut watch, &mut applied, &progress).await;
                    }
                    continue;
                }
                _ = shutdown.wait() => break,
            };
            let first = match message {
                Ok(message) => message,
                Err(e) => {
                    tracing::warn!(consumer = %self.name, error = %e, "kafka receive error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            // Whatever else is already waiting joins the first message's batch.
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.consumer.recv().now_or_never() {
                    Some(Ok(message)) => batch.push(message),
                    Some(Err(e)) => {
                        tracing::warn!(consumer = %self.name, error = %e, "kafka receive error");
                        break;
                    }
                    None => break,
                }
            }
            if !self.process_batch(&batch, &shutdown).await {
                break; // shutdown while retrying: leave the offsets uncommitted
            }
            for message in &batch {
                applied.record(message.topic(), message.partition(), message.offset());
            }
            if applied.due() {
                applied.commit(&*self.consumer, CommitMode::Async);
            }
        }
        applied.commit(&*self.consumer, CommitMode::Sync);
        self.consumer.unsubscribe();
    }
}
