//! Kafka for tuan services.
//!
//! - [`OutboxRelay`] publishes the event store's outbox to the service's topic (idempotent
//!   producer, `acks=all`, key = aggregate id, envelope metadata and trace context in headers).
//! - [`IdempotentConsumer`] applies events from other services exactly once in effect: the
//!   effect and the processed-event record commit together, and only then is the offset
//!   committed. Messages that cannot be applied go to the dead-letter topic with the reason.
//! - [`events!`] declares a handler's one list of the events it acts on: what it wants and
//!   what it dispatches on (see [`Events`]).
//! - [`social`]: friendships, blocks and verified merchants from the users service, one
//!   handler and schema for every service that needs them.
//! - [`topics`] creates topics through the admin API, so the same code works on tansu and Kafka.

mod client;
mod consumer;
mod dispatch;
pub mod envelope;
mod headers;
pub mod lag;
mod offsets;
mod relay;
pub mod social;
pub mod topics;
mod watchdog;

pub use client::{KafkaClients, consumer_config, producer_config, reader_config, use_identity};
pub use consumer::{
    ConsumerHandle, ConsumerLink, ConsumerStats, EventHandler, HandlerError, IdempotentConsumer, is_deterministic,
};
pub use dispatch::Events;
pub use relay::OutboxRelay;

/// What [`events!`] expands to refers to.
#[doc(hidden)]
pub mod __private {
    pub use tuan_proto::events::v1::EventEnvelope;
}

/// The topic a service publishes its events on, e.g. `tuan.users.v1`.
pub fn service_topic(prefix: &str, service: &str) -> String {
    format!("{prefix}tuan.{service}.v1")
}

/// Events that never leave the service that records them: they carry what is nobody else's
/// business (a raw phone number, a password hash, a licence number, who holds a session or a
/// role) and no other service needs them. The outbox relay acknowledges them without publishing
/// ([`OutboxRelay`]); every service drops a copy it kept before this rule existed
/// ([`purge_private_copies`]). What others need of a user comes in public events (friendships,
/// blocks, verifications, profile changes).
pub const PRIVATE_EVENTS: [&str; 8] = [
    "tuan.users.v1.UserSignedUp",
    "tuan.users.v1.PasswordChanged",
    "tuan.users.v1.SessionStarted",
    "tuan.users.v1.SessionRefreshed",
    "tuan.users.v1.SessionEnded",
    "tuan.users.v1.RoleGranted",
    "tuan.users.v1.RoleRevoked",
    "tuan.users.v1.MerchantApplied",
];

/// Whether events of `event_type` stay in their service's database (see [`PRIVATE_EVENTS`]).
pub fn is_private(event_type: &str) -> bool {
    PRIVATE_EVENTS.contains(&event_type)
}

/// Deletes the dead letters that hold a private event (kept before private events stopped
/// being published); answers how many. Idempotent: every service runs it at start-up.
pub async fn purge_private_copies(pool: &sqlx::PgPool) -> Result<u64, sqlx::Error> {
    use sqlx::Row as _;
    // Only letters from the topics private events travel on (`tuan.users.v1.X` travels on
    // `<prefix>tuan.users.v1`) are read and decoded: start-up need not read every letter.
    let mut topics: Vec<String> =
        PRIVATE_EVENTS.iter().filter_map(|t| t.rsplit_once('.')).map(|(topic, _)| format!("%{topic}")).collect();
    topics.dedup();
    let rows = sqlx::query("SELECT id, message_value FROM public.dead_letters WHERE topic LIKE ANY($1)")
        .bind(&topics)
        .fetch_all(pool)
        .await?;
    let private: Vec<i64> = rows
        .iter()
        .filter(|row| {
            let value: Vec<u8> = row.try_get("message_value").unwrap_or_default();
            envelope::accept(&value).is_ok_and(|e| is_private(&e.event_type))
        })
        .filter_map(|row| row.try_get("id").ok())
        .collect();
    if private.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query("DELETE FROM public.dead_letters WHERE id = ANY($1)").bind(&private).execute(pool).await?;
    Ok(done.rows_affected())
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
    fn the_private_events_are_real_event_types() {
        use prost::Name as _;
        use tuan_proto::users::v1 as users;
        let names = [
            users::UserSignedUp::full_name(),
            users::PasswordChanged::full_name(),
            users::SessionStarted::full_name(),
            users::SessionRefreshed::full_name(),
            users::SessionEnded::full_name(),
            users::RoleGranted::full_name(),
            users::RoleRevoked::full_name(),
            users::MerchantApplied::full_name(),
        ];
        assert_eq!(PRIVATE_EVENTS.map(String::from), names);
        assert!(!is_private(&users::FriendRequestAccepted::full_name()));
        assert!(!is_private(&users::MerchantVerified::full_name()));
    }

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
