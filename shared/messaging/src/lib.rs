//! Kafka for tuan services.
//!
//! - [`OutboxRelay`] publishes the event store's outbox to the service's topic (idempotent
//!   producer, `acks=all`, key = aggregate id, envelope metadata and trace context in headers).
//! - [`IdempotentConsumer`] applies events from other services exactly once in effect: the
//!   effect and the processed-event record commit together, and only then is the offset
//!   committed. Messages that cannot be applied go to the dead-letter topic with the reason.
//! - [`social`]: friendships, blocks and verified merchants from the users service, one
//!   handler and schema for every service that needs them.
//! - [`topics`] creates topics through the admin API, so the same code works on tansu and Kafka.

mod client;
mod consumer;
pub mod envelope;
mod headers;
pub mod lag;
mod offsets;
mod relay;
pub mod social;
pub mod topics;
mod watchdog;

pub use client::{KafkaClients, consumer_config, producer_config, reader_config};
pub use consumer::{ConsumerHandle, ConsumerStats, EventHandler, HandlerError, IdempotentConsumer, is_deterministic};
pub use relay::OutboxRelay;

/// The topic a service publishes its events on, e.g. `tuan.users.v1`.
pub fn service_topic(prefix: &str, service: &str) -> String {
    format!("{prefix}tuan.{service}.v1")
}

/// The service that owns `topic` (`<prefix>tuan.<service>.v1`): the only one whose events may
/// travel on it. `None` for any other topic (the dead letters', a test's).
pub fn topic_owner(topic: &str) -> Option<&str> {
    let service = topic.rsplit_once("tuan.")?.1.strip_suffix(".v1")?;
    let named = !service.is_empty() && service.bytes().all(|b| b.is_ascii_lowercase());
    (named && service != "deadletter").then_some(service)
}

/// The topic every consumer's dead letters go to, keyed by consumer name.
pub fn dead_letter_topic(prefix: &str) -> String {
    format!("{prefix}tuan.deadletter.v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_is_owned_by_the_service_it_names() {
        assert_eq!(topic_owner(&service_topic("", "groupbuy")), Some("groupbuy"));
        assert_eq!(topic_owner(&service_topic("t1a2b.", "payments")), Some("payments"));
        assert_eq!(topic_owner(&service_topic("tuan.staging.", "users")), Some("users"));
        assert_eq!(topic_owner(&dead_letter_topic("")), None);
        assert_eq!(topic_owner("orders"), None);
        assert_eq!(topic_owner("tuan..v1"), None);
    }
}
