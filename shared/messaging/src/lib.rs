//! Kafka for tuan services.
//!
//! - [`OutboxRelay`] publishes the event store's outbox to the service's topic (idempotent
//!   producer, `acks=all`, key = aggregate id, envelope metadata and trace context in headers).
//! - [`IdempotentConsumer`] applies events from other services exactly once in effect: the
//!   effect and the processed-event record commit together, and only then is the offset
//!   committed. Messages that cannot be applied go to the dead-letter topic with the reason.
//! - [`topics`] creates topics through the admin API, so the same code works on tansu and Kafka.

mod client;
mod consumer;
mod headers;
mod relay;
pub mod topics;

pub use client::{KafkaClients, consumer_config, producer_config};
pub use consumer::{ConsumerHandle, EventHandler, HandlerError, IdempotentConsumer};
pub use relay::OutboxRelay;

/// The topic every service's dead letters go to, keyed by consumer name.
pub const DEAD_LETTER_TOPIC: &str = "tuan.deadletter.v1";

/// The topic a service publishes its events on, e.g. `tuan.users.v1`.
pub fn service_topic(prefix: &str, service: &str) -> String {
    format!("{prefix}tuan.{service}.v1")
}
