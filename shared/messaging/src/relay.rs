//! Publishes the outbox to Kafka.
//!
//! One replica at a time relays (a Postgres advisory lock held on a dedicated connection),
//! so events of an aggregate are published in version order even with several replicas.
//! Rows are deleted only after the broker acknowledged them; a broker outage means backing
//! off and trying again, never losing an event. A retry can publish an event twice, which
//! consumers absorb.

use std::time::Duration;

use futures::future::join_all;
use prost::Message as _;
use rdkafka::{
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use sqlx::PgPool;
use tracing::Instrument as _;
use tuan_eventstore::{EventStore, RecordedEvent};
use tuan_runtime::{shutdown::Shutdown, telemetry};

use crate::{client::KafkaClients, headers};

const BATCH: i64 = 2_000;
/// How long the relay waits when the outbox was empty. Appends do not NOTIFY (see
/// `EventStore::append`), so this bounds the publish latency; an empty poll is one index probe.
const IDLE_POLL: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Advisory lock key held by the replica that relays.
const RELAY_LOCK: i64 = 7_202_611_232;

/// The outbox relay of one service.
pub struct OutboxRelay {
    pool: PgPool,
    store: EventStore,
    kafka: KafkaClients,
    /// The relay's own producer, replaced after a failed batch: an idempotent producer whose
    /// messages timed out during an outage can be refused by a restarted broker for good
    /// (seen with tansu), while a fresh producer id starts clean.
    producer: FutureProducer,
    topic: String,
    source: String,
}

impl OutboxRelay {
    pub fn new(pool: PgPool, kafka: KafkaClients, topic: String, source: &str) -> Self {
        let producer = kafka.producer.clone();
        Self { store: EventStore::new(pool.clone()), pool, kafka, producer, topic, source: source.to_string() }
    }

    /// Relays until `shutdown`; waits for the relay lock while another replica holds it.
    pub async fn run(mut self, mut shutdown: Shutdown) {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_triggered() {
            let result = tokio::select! {
                r = self.lead(shutdown.clone()) => r,
                _ = shutdown.wait() => Ok(()),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, ?backoff, "outbox relay interrupted, retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.wait() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            } else {
                backoff = Duration::from_millis(100);
            }
        }
    }

    /// Takes the relay lock, then publishes until an error or shutdown.
    async fn lead(&mut self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut lock_conn = self.pool.acquire().await?;
        loop {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(RELAY_LOCK)
                .fetch_one(&mut *lock_conn)
                .await?;
            if got {
                break;
            }
            if shutdown.is_triggered() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // The lock lives as long as `lock_conn`; dropping the connection returns it to the pool
        // still locked, so unlock explicitly on the way out.
        let result = self.publish_loop(shutdown).await;
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(RELAY_LOCK).execute(&mut *lock_conn).await.ok();
        result
    }

    async fn publish_loop(&mut self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_triggered() {
            match self.publish_batch().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    tokio::time::sleep(IDLE_POLL).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, ?backoff, "publishing outbox failed; events stay queued");
                    match crate::producer_config(&self.kafka.brokers).create() {
                        Ok(fresh) => self.producer = fresh,
                        Err(e) => tracing::warn!(error = %e, "recreating the producer failed"),
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        Ok(())
    }

    /// Publishes up to one batch in position order and deletes what the broker acknowledged.
    /// Returns how many were published.
    pub async fn publish_batch(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let events = self.store.claim_outbox(&mut tx, BATCH).await?;
        if events.is_empty() {
            return Ok(0);
        }
        // Private events are acknowledged with the rest, never sent (see `PRIVATE_EVENTS`).
        let sends = events.iter().filter(|event| !crate::is_private(&event.event_type)).map(|event| self.send(event));
        let results = join_all(sends).await;
        if let Some(err) = results.into_iter().find_map(Result::err) {
            // Nothing is deleted: the whole batch is retried (consumers absorb duplicates).
            return Err(err);
        }
        let positions: Vec<i64> = events.iter().map(|e| e.global_position).collect();
        self.store.ack_outbox(&mut tx, &positions).await?;
        tx.commit().await?;
        Ok(events.len())
    }

    async fn send(&self, event: &RecordedEvent) -> anyhow::Result<()> {
        let span = tracing::info_span!(
            "publish",
            otel.name = %format!("{} publish", self.topic),
            otel.kind = "producer",
            messaging.system = "kafka",
            messaging.operation.type = "send",
            messaging.destination.name = %self.topic,
            messaging.message.id = %event.event_id,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        telemetry::set_parent(&span, &event.trace_context);
        async {
            let envelope = event.to_envelope(&self.source);
            // The producer span's context, so the consumer's span links to this one.
            let trace = telemetry::current_trace_context();
            let payload = envelope.encode_to_vec();
            let record = FutureRecord::to(&self.topic)
                .key(&envelope.stream_id)
                .payload(&payload)
                .headers(headers::from_envelope(&envelope, &trace));
            self.producer
                .send(record, Timeout::After(Duration::from_secs(15)))
                .await
                .map(|_| ())
                .map_err(|(e, _)| anyhow::anyhow!("kafka delivery failed: {e}"))
        }
        .instrument(span)
        .await
    }
}
