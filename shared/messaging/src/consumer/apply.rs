//! How a consumer applies what it received: the messages waiting in its queue, several keys
//! at once, each event in a transaction of its own with retries, dead letters for events that
//! can never be applied.
//!
//! Why not one transaction for a whole batch: the event store replays in transaction-id order,
//! and a transaction gets its id at its first write. A long batch transaction would take its
//! id early, then append to streams that other transactions appended to after that, and a
//! rebuild would replay those appends in the wrong order (the chaos harness caught exactly
//! this: a join released by its member then rejected, rebuilt the other way round). Separate
//! transactions running side by side get most of the gain anyway: Postgres flushes the WAL
//! of concurrent commits together.

use std::{collections::HashMap, sync::atomic::Ordering, time::Duration};

use futures::StreamExt as _;
use prost::Message as _;
use rdkafka::{producer::FutureRecord, util::Timeout};
use tracing::Instrument as _;
use tuan_proto::events::v1::{DeadLetter, EventEnvelope};
use tuan_runtime::{shutdown::Shutdown, telemetry};
use uuid::Uuid;

use super::{
    CONCURRENT_KEYS, EventHandler, HandlerError, IdempotentConsumer, MAX_BACKOFF, Outcome, PERMANENT_ATTEMPTS,
};
use crate::headers;

/// Why the envelope is a forgery, if it claims a source other than the service that owns its
/// topic. Only that service's relay writes there (in Kubernetes the broker's ACLs make sure of
/// it), so another source is someone else's message: it is set aside, never applied.
fn forgery(topic: &str, envelope: &EventEnvelope) -> Option<String> {
    let owner = crate::topic_owner(topic)?;
    (envelope.source != owner).then(|| format!("forged: an event from {:?} on {owner}'s topic", envelope.source))
}

impl<H: EventHandler> IdempotentConsumer<H> {
    /// Applies a batch of messages: events of one key in order, up to `CONCURRENT_KEYS` keys at
    /// a time. Returns false only if shutdown interrupted the retries.
    pub(super) async fn process_batch<M: rdkafka::Message>(&self, batch: &[M], shutdown: &Shutdown) -> bool {
        let mut wanted = Vec::with_capacity(batch.len());
        for message in batch {
            match crate::envelope::accept(message.payload().unwrap_or_default()) {
                Err(reason) => {
                    self.dead_letter(message, &reason, 1).await;
                }
                Ok(envelope) => match forgery(message.topic(), &envelope) {
                    Some(reason) => {
                        self.dead_letter(message, &reason, 1).await;
                    }
                    None if !self.handler.wants(&envelope.event_type) => self.count(Outcome::Ignored),
                    None => wanted.push((message, envelope)),
                },
            }
        }
        // One queue per message key (the aggregate id): a key's events in their order, the keys
        // side by side, each event in its own transaction.
        let mut queues: Vec<Vec<(&M, EventEnvelope)>> = Vec::new();
        let mut queue_of: HashMap<&[u8], usize> = HashMap::new();
        for (message, envelope) in wanted {
            let queue = *queue_of.entry(message.key().unwrap_or_default()).or_insert_with(|| {
                queues.push(Vec::new());
                queues.len() - 1
            });
            queues[queue].push((message, envelope));
        }
        let queues: Vec<_> = queues.into_iter().map(|queue| self.process_queue(queue, shutdown)).collect();
        futures::stream::iter(queues)
            .buffer_unordered(CONCURRENT_KEYS)
            .fold(true, |all, done| async move { all && done })
            .await
    }

    /// Applies one key's events in order. False if shutdown interrupted the retries.
    async fn process_queue<M: rdkafka::Message>(&self, queue: Vec<(&M, EventEnvelope)>, shutdown: &Shutdown) -> bool {
        for (message, envelope) in &queue {
            if !self.process(*message, envelope, shutdown).await {
                return false;
            }
        }
        true
    }

    /// Applies one message. Returns false only if shutdown interrupted the retries.
    async fn process<M: rdkafka::Message>(&self, message: &M, envelope: &EventEnvelope, shutdown: &Shutdown) -> bool {
        let span = self.span(message, envelope);
        let mut backoff = Duration::from_millis(100);
        let mut permanent_failures = 0;
        loop {
            match self.apply(envelope).instrument(span.clone()).await {
                Ok(true) => {
                    self.count(Outcome::Applied);
                    return true;
                }
                Ok(false) => {
                    self.count(Outcome::Duplicate);
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

    /// The span of applying one message, a child of the span that published it.
    fn span<M: rdkafka::Message>(&self, message: &M, envelope: &EventEnvelope) -> tracing::Span {
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
        span
    }

    fn count(&self, outcome: Outcome) {
        let (counter, label) = match outcome {
            Outcome::Applied => (Some(&self.stats.applied), "applied"),
            Outcome::Duplicate => (Some(&self.stats.duplicates), "duplicate"),
            Outcome::Ignored => (None, "ignored"),
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        metrics::counter!("tuan_consumer_events_total", "consumer" => self.name.clone(), "outcome" => label)
            .increment(1);
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
    async fn dead_letter<M: rdkafka::Message>(&self, message: &M, reason: &str, attempts: u32) -> bool {
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
