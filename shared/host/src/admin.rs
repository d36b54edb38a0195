//! The operator-only admin API (`tuan.admin.v1.Admin`) every service with a database serves
//! next to its own API: backlog and lag, dead letters and their re-drive, online projection
//! rebuilds, and sagas that stopped moving. `tuanctl` is its client.
//!
//! It is the same code in every service: the [`Host`](crate::Host) mounts it when it serves.
//! A service adds what only it knows: its consumer groups (those it runs with
//! [`Host::consume`](crate::Host::consume)) and the queries that find its stuck sagas
//! ([`StuckQuery`]).
//!
//! Re-driving re-publishes the stored message, unchanged, to the topic it came from. The
//! consumer that dead-lettered it applies it like any message (handler and processed-event
//! record in one transaction); consumers that had applied it already skip it by its event id.
//! So re-driving is safe to repeat, and a letter is marked `redriven_at` so it is published
//! once: a message that still fails is dead-lettered again as a new letter.

use std::{pin::Pin, sync::Arc, time::Duration};

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    producer::FutureRecord,
    util::Timeout,
};
use sqlx::{PgPool, Row, postgres::PgRow};
use tokio_stream::{Stream, wrappers::UnboundedReceiverStream};
use tonic::{Request, Response, Status};
use tuan_eventstore::{EventStore, ProjectionSet};
use tuan_messaging::KafkaClients;
use tuan_proto::admin::v1::{self as pb, admin_server::Admin};
use tuan_runtime::error::ApiError;

pub use tuan_proto::admin::v1::admin_server::AdminServer;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;
const DEFAULT_STUCK_AFTER_SECS: u64 = 15 * 60;
const DEFAULT_STUCK_LIMIT: u32 = 100;
const DEFAULT_STREAM_PAGE: u32 = 500;
const MAX_STREAM_PAGE: u32 = 5000;
const MAX_STREAM_ID: usize = 200;
const BROKER_TIMEOUT: Duration = Duration::from_secs(5);
/// The advisory lock a projection rebuild holds in its database (the relay's leader lock is
/// 7_202_611_232; the schema installers' 7_202_611_230 and 7_202_611_231).
const REBUILD_LOCK: i64 = 7_202_611_240;

/// How a service finds one kind of saga that stopped moving.
///
/// `sql` takes `$1` = the threshold in seconds (`float8`) and `$2` = the most rows (`bigint`),
/// and returns the columns `id`, `state`, `last_step`, `detail` (text) and `age_seconds`
/// (`float8`). `last_step` is best the saga stream's last event type: where it stopped.
#[derive(Clone, Copy, Debug)]
pub struct StuckQuery {
    pub kind: &'static str,
    pub sql: &'static str,
}

/// A consumer group whose lag the backlog reports.
#[derive(Clone, Debug)]
pub(crate) struct TrackedConsumer {
    pub group: String,
    pub topics: Vec<String>,
}

/// The admin API of one service.
#[derive(Clone)]
pub struct AdminApi {
    inner: Arc<Inner>,
}

struct Inner {
    service: &'static str,
    pool: PgPool,
    kafka: KafkaClients,
    projections: ProjectionSet,
    consumers: Vec<TrackedConsumer>,
    stuck: Vec<StuckQuery>,
    /// One rebuild at a time in this process (two would share the rebuild schema).
    rebuilding: Arc<tokio::sync::Mutex<()>>,
}

impl AdminApi {
    pub(crate) fn new(
        service: &'static str,
        pool: PgPool,
        kafka: KafkaClients,
        projections: ProjectionSet,
        consumers: Vec<TrackedConsumer>,
        stuck: Vec<StuckQuery>,
    ) -> Self {
        let rebuilding = Arc::new(tokio::sync::Mutex::new(()));
        Self { inner: Arc::new(Inner { service, pool, kafka, projections, consumers, stuck, rebuilding }) }
    }
}

/// Refuses anyone but an operator (no or bad token: `UNAUTHENTICATED`; others `PERMISSION_DENIED`).
fn require_operator<T>(request: &Request<T>) -> Result<(), Status> {
    tuan_runtime::auth::caller(request)?.require_operator()?;
    Ok(())
}

fn internal(e: impl std::fmt::Display) -> Status {
    ApiError::internal(e).into()
}

fn micros(t: Option<chrono::DateTime<chrono::Utc>>) -> i64 {
    t.map(|t| t.timestamp_micros()).unwrap_or_default()
}

const LETTER_COLUMNS: &str =
    "id, consumer, topic, partition, kafka_offset, message_value, reason, attempts, failed_at, redriven_at";

fn letter_from_row(row: &PgRow) -> Result<pb::DeadLetter, sqlx::Error> {
    let value: Vec<u8> = row.try_get("message_value")?;
    let envelope = tuan_messaging::envelope::accept(&value).ok();
    Ok(pb::DeadLetter {
        id: row.try_get("id")?,
        consumer: row.try_get("consumer")?,
        topic: row.try_get("topic")?,
        partition: row.try_get("partition")?,
        offset: row.try_get("kafka_offset")?,
        reason: row.try_get("reason")?,
        attempts: row.try_get::<i32, _>("attempts")?.max(0) as u32,
        failed_at_micros: micros(row.try_get("failed_at")?),
        redriven_at_micros: micros(row.try_get("redriven_at")?),
        event_type: envelope.as_ref().map(|e| e.event_type.clone()).unwrap_or_default(),
        event_id: envelope.map(|e| e.event_id).unwrap_or_default(),
    })
}

type ProgressStream = Pin<Box<dyn Stream<Item = Result<pb::RebuildProgress, Status>> + Send>>;

#[tonic::async_trait]
impl Admin for AdminApi {
    async fn get_backlog(&self, request: Request<pb::GetBacklogRequest>) -> Result<Response<pb::Backlog>, Status> {
        require_operator(&request)?;
        let store = EventStore::new(self.inner.pool.clone());
        let (outbox_rows, outbox_oldest_age_seconds) = store.outbox_backlog().await.map_err(ApiError::from)?;
        let dead_letters_waiting = store.dead_letters_waiting().await.map_err(ApiError::from)?;
        let (brokers, consumers) = (self.inner.kafka.brokers.clone(), self.inner.consumers.clone());
        let (lag, lag_error) = match tokio::task::spawn_blocking(move || measure_lag(&brokers, &consumers)).await {
            Ok(Ok(lag)) => (lag, String::new()),
            Ok(Err(e)) => (Vec::new(), e.to_string()),
            Err(e) => (Vec::new(), e.to_string()),
        };
        Ok(Response::new(pb::Backlog {
            service: self.inner.service.to_string(),
            outbox_rows,
            outbox_oldest_age_seconds,
            dead_letters_waiting,
            lag,
            lag_error,
        }))
    }

    async fn list_dead_letters(
        &self,
        request: Request<pb::ListDeadLettersRequest>,
    ) -> Result<Response<pb::ListDeadLettersResponse>, Status> {
        require_operator(&request)?;
        let r = request.into_inner();
        let limit = if r.limit == 0 { DEFAULT_PAGE } else { r.limit.min(MAX_PAGE) };
        let before = if r.before_id <= 0 { i64::MAX } else { r.before_id };
        let sql = format!(
            "SELECT {LETTER_COLUMNS} FROM public.dead_letters \
             WHERE id < $1 AND ($2 OR redriven_at IS NULL) ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(before)
            .bind(r.include_redriven)
            .bind(i64::from(limit))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(ApiError::from)?;
        let letters = rows.iter().map(letter_from_row).collect::<Result<Vec<_>, _>>().map_err(internal)?;
        let next_before_id = if letters.len() == limit as usize { letters.last().map_or(0, |l| l.id) } else { 0 };
        Ok(Response::new(pb::ListDeadLettersResponse { letters, next_before_id }))
    }

    async fn redrive_dead_letter(
        &self,
        request: Request<pb::RedriveDeadLetterRequest>,
    ) -> Result<Response<pb::RedriveDeadLetterResponse>, Status> {
        require_operator(&request)?;
        let id = request.into_inner().id;
        if id <= 0 {
            return Err(ApiError::invalid(format!("id must be a positive dead letter id, got {id}")).into());
        }
        let mut tx = self.inner.pool.begin().await.map_err(ApiError::from)?;
        // The row lock makes concurrent re-drives of one letter publish it once.
        let sql = format!("SELECT {LETTER_COLUMNS}, message_key FROM public.dead_letters WHERE id = $1 FOR UPDATE");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found(format!("no dead letter {id} in {}", self.inner.service)))?;
        let letter = letter_from_row(&row).map_err(internal)?;
        if letter.redriven_at_micros != 0 {
            return Ok(Response::new(pb::RedriveDeadLetterResponse { letter: Some(letter), published: false }));
        }
        let key: Vec<u8> = row.try_get("message_key").map_err(internal)?;
        let value: Vec<u8> = row.try_get("message_value").map_err(internal)?;
        let record = FutureRecord::to(&letter.topic).key(&key).payload(&value);
        if let Err((e, _)) = self.inner.kafka.producer.send(record, Timeout::After(Duration::from_secs(10))).await {
            return Err(ApiError::new(
                tuan_runtime::error::ErrorKind::Unavailable,
                format!("cannot publish to {}: {e}", letter.topic),
            )
            .into());
        }
        let when: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
            "UPDATE public.dead_letters SET redriven_at = now() WHERE id = $1 RETURNING redriven_at",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(ApiError::from)?;
        tx.commit().await.map_err(ApiError::from)?;
        tracing::info!(id, consumer = %letter.consumer, topic = %letter.topic, "dead letter re-driven");
        let letter = pb::DeadLetter { redriven_at_micros: when.timestamp_micros(), ..letter };
        Ok(Response::new(pb::RedriveDeadLetterResponse { letter: Some(letter), published: true }))
    }

    type RebuildProjectionsStream = ProgressStream;

    async fn rebuild_projections(
        &self,
        request: Request<pb::RebuildProjectionsRequest>,
    ) -> Result<Response<Self::RebuildProjectionsStream>, Status> {
        require_operator(&request)?;
        let inner = self.inner.clone();
        let busy = || -> Status {
            ApiError::new(
                tuan_runtime::error::ErrorKind::FailedPrecondition,
                "a rebuild of this service's projections is already running",
            )
            .into()
        };
        let Ok(running) = inner.rebuilding.clone().try_lock_owned() else {
            return Err(busy());
        };
        // Across replicas too: a session advisory lock on a connection taken out of the pool,
        // held until the rebuild ends and released by closing the connection.
        let mut lock = inner.pool.acquire().await.map_err(ApiError::from)?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(REBUILD_LOCK)
            .fetch_one(&mut lock)
            .await
            .map_err(ApiError::from)?;
        if !locked {
            return Err(busy());
        }
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM public.events")
            .fetch_one(&inner.pool)
            .await
            .map_err(ApiError::from)?;
        let total = total.max(0) as u64;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = tx.send(Ok(pb::RebuildProgress { replayed: 0, total, done: false }));
        // The rebuild goes on if the operator disconnects: it is swapped in whole or not at all.
        tokio::spawn(async move {
            let _running = running;
            let store = EventStore::new(inner.pool.clone());
            let progress = tx.clone();
            let result = tuan_eventstore::rebuild_projections_with_progress(&store, &inner.projections, |replayed| {
                let _ = progress.send(Ok(pb::RebuildProgress { replayed, total: total.max(replayed), done: false }));
            })
            .await;
            let _ = tx.send(match result {
                Ok(replayed) => Ok(pb::RebuildProgress { replayed, total: total.max(replayed), done: true }),
                Err(e) => Err(ApiError::from(e).into()),
            });
            use sqlx::Connection as _;
            let _ = lock.close().await;
        });
        Ok(Response::new(Box::pin(UnboundedReceiverStream::new(rx))))
    }

    async fn list_stuck_sagas(
        &self,
        request: Request<pb::ListStuckSagasRequest>,
    ) -> Result<Response<pb::ListStuckSagasResponse>, Status> {
        require_operator(&request)?;
        let r = request.into_inner();
        let older_than = if r.older_than_seconds == 0 { DEFAULT_STUCK_AFTER_SECS } else { r.older_than_seconds };
        let limit = if r.limit == 0 { DEFAULT_STUCK_LIMIT } else { r.limit.min(MAX_PAGE) };
        let mut sagas = Vec::new();
        for query in &self.inner.stuck {
            let rows = sqlx::query(query.sql)
                .bind(older_than as f64)
                .bind(i64::from(limit))
                .fetch_all(&self.inner.pool)
                .await
                .map_err(ApiError::from)?;
            for row in rows {
                sagas.push(pb::StuckSaga {
                    kind: query.kind.to_string(),
                    id: row.try_get("id").map_err(internal)?,
                    state: row.try_get("state").map_err(internal)?,
                    age_seconds: row.try_get("age_seconds").map_err(internal)?,
                    last_step: row.try_get::<Option<String>, _>("last_step").map_err(internal)?.unwrap_or_default(),
                    detail: row.try_get::<Option<String>, _>("detail").map_err(internal)?.unwrap_or_default(),
                });
            }
        }
        Ok(Response::new(pb::ListStuckSagasResponse { service: self.inner.service.to_string(), sagas }))
    }

    async fn read_stream(
        &self,
        request: Request<pb::ReadStreamRequest>,
    ) -> Result<Response<pb::ReadStreamResponse>, Status> {
        require_operator(&request)?;
        let r = request.into_inner();
        let stream_id = r.stream_id.trim();
        if stream_id.is_empty() || stream_id.chars().count() > MAX_STREAM_ID {
            return Err(ApiError::invalid(format!("stream_id must be 1 to {MAX_STREAM_ID} characters")).into());
        }
        let stream_type = Some(r.stream_type.trim()).filter(|t| !t.is_empty());
        let limit = if r.limit == 0 { DEFAULT_STREAM_PAGE } else { r.limit.min(MAX_STREAM_PAGE) };
        let after_version = r.after_version.min(i64::MAX as u64);
        let store = EventStore::new(self.inner.pool.clone());
        // One more than asked says whether another page follows.
        let mut events = store
            .read_stream_by_id(stream_type, stream_id, after_version, i64::from(limit) + 1)
            .await
            .map_err(ApiError::from)?;
        let more = events.len() > limit as usize;
        events.truncate(limit as usize);
        let events = events
            .iter()
            .map(|e| pb::StoredEvent {
                global_position: e.global_position,
                envelope: Some(e.to_envelope(self.inner.service)),
            })
            .collect();
        Ok(Response::new(pb::ReadStreamResponse { events, more }))
    }
}

/// Each tracked group's position on every partition of its topics, asked of the broker.
fn measure_lag(
    brokers: &str,
    consumers: &[TrackedConsumer],
) -> Result<Vec<pb::PartitionLag>, rdkafka::error::KafkaError> {
    let mut out = Vec::new();
    for consumer in consumers {
        let client: BaseConsumer = tuan_messaging::consumer_config(brokers, &consumer.group).create()?;
        let mut wanted = TopicPartitionList::new();
        let mut ends = Vec::new();
        for topic in &consumer.topics {
            let metadata = client.fetch_metadata(Some(topic), BROKER_TIMEOUT)?;
            for t in metadata.topics() {
                for p in t.partitions() {
                    // A partition that never had a record has no watermarks on tansu: skip it.
                    if let Ok((low, high)) = client.fetch_watermarks(topic, p.id(), BROKER_TIMEOUT) {
                        wanted.add_partition(topic, p.id());
                        ends.push((topic.clone(), p.id(), low, high));
                    }
                }
            }
        }
        let committed = client.committed_offsets(wanted, BROKER_TIMEOUT)?;
        for (topic, partition, low, high) in ends {
            let done = match committed.find_partition(&topic, partition).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => low,
            };
            out.push(pb::PartitionLag {
                consumer: consumer.group.clone(),
                topic,
                partition,
                committed: done,
                end_offset: high,
                lag: (high - done).max(0),
            });
        }
    }
    Ok(out)
}
