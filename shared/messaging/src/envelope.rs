//! Reading other services' events inside a consumer's handler.

use chrono::{DateTime, Utc};
use tuan_eventstore::EventMeta;
use tuan_proto::events::v1::EventEnvelope;
use uuid::Uuid;

use crate::HandlerError;

/// The envelope in a Kafka message's payload, if it is one a consumer can apply: it decodes
/// and has a UUID event id (the key of exactly-once). Otherwise why not, for the dead letter.
/// The bytes are untrusted: anything may arrive on a topic.
pub fn accept(payload: &[u8]) -> Result<EventEnvelope, String> {
    use prost::Message as _;
    match EventEnvelope::decode(payload) {
        Ok(envelope) if Uuid::parse_str(&envelope.event_id).is_ok() => Ok(envelope),
        Ok(_) => Err("envelope has no valid event_id".into()),
        Err(e) => Err(format!("undecodable envelope: {e}")),
    }
}

/// Whether the envelope carries an `M` (event types are full protobuf names,
/// e.g. `tuan.users.v1.UserBlocked`).
pub fn is<M: prost::Name>(envelope: &EventEnvelope) -> bool {
    is_type::<M>(&envelope.event_type)
}

/// Whether `event_type` is `M`'s full protobuf name (`<package>.<name>`), without building it:
/// a consumer asks this of every message on its topics.
pub fn is_type<M: prost::Name>(event_type: &str) -> bool {
    event_type.strip_prefix(M::PACKAGE).and_then(|rest| rest.strip_prefix('.')) == Some(M::NAME)
}

/// The payload as an `M`; a payload that does not decode can never be applied.
pub fn decode<M: prost::Message + Default>(envelope: &EventEnvelope) -> Result<M, HandlerError> {
    M::decode(envelope.payload.as_slice())
        .map_err(|e| HandlerError::Permanent(format!("cannot decode {}: {e}", envelope.event_type)))
}

/// A UUID field of a payload, named in the error.
pub fn uuid_field(field: &str, value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value).map_err(|_| HandlerError::Permanent(format!("{field} is not a UUID: {value:?}")))
}

/// When the event happened, by its producer's clock.
pub fn occurred_at(envelope: &EventEnvelope) -> Result<DateTime<Utc>, HandlerError> {
    DateTime::from_timestamp_micros(envelope.occurred_at_micros)
        .ok_or_else(|| HandlerError::Permanent(format!("bad occurred_at {}", envelope.occurred_at_micros)))
}

/// Metadata for events a handler appends because of `envelope`: same correlation, caused by
/// it, in the current (consumer) span's trace.
pub fn caused_by(envelope: &EventEnvelope) -> EventMeta {
    EventMeta {
        correlation_id: envelope.correlation_id.clone(),
        causation_id: envelope.event_id.clone(),
        trace_context: tuan_runtime::telemetry::current_trace_context(),
    }
}

#[cfg(test)]
mod tests {
    use prost::Name as _;
    use tuan_proto::{groupbuy::v1 as groupbuy, users::v1 as users};

    use super::is_type;

    #[test]
    fn an_event_type_is_the_full_name_of_its_message() {
        assert!(is_type::<users::UserBlocked>(&users::UserBlocked::full_name()));
        assert!(is_type::<users::UserBlocked>("tuan.users.v1.UserBlocked"));
        assert!(!is_type::<users::UserBlocked>("tuan.users.v1.UserUnblocked"));
        assert!(!is_type::<users::UserBlocked>("tuan.users.v1UserBlocked"));
        assert!(!is_type::<users::UserBlocked>("tuan.users.v1.UserBlocked.x"));
        assert!(!is_type::<users::UserBlocked>("UserBlocked"));
        assert!(!is_type::<groupbuy::HoldRequested>(&users::UserBlocked::full_name()));
    }
}
