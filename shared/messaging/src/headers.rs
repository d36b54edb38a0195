//! What a Kafka message carries beside its payload: the event's id and type, so tools and
//! brokers can route and deduplicate without decoding payloads, and the W3C trace context of
//! the producer span. The rest of the envelope (stream, correlation, causation, source) is in
//! the payload only: every header is a row of its own in some brokers' storage (tansu's
//! sqlite: one insert per header per message, one query per message on fetch), and seven
//! copies of what the payload already holds made the broker's writes several times dearer.

use std::collections::HashMap;

use rdkafka::message::{Header, Headers, OwnedHeaders};
use tuan_proto::events::v1::EventEnvelope;

pub fn from_envelope(envelope: &EventEnvelope, trace: &HashMap<String, String>) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new_with_capacity(2 + trace.len());
    for (key, value) in [("event_id", envelope.event_id.as_str()), ("event_type", envelope.event_type.as_str())] {
        headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
    }
    for (key, value) in trace.iter().filter(|(_, v)| !v.is_empty()) {
        headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
    }
    headers
}
/// The W3C trace context headers of a message.
pub fn trace_context<H: Headers>(headers: Option<&H>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some(headers) = headers {
        for header in headers.iter() {
            if matches!(header.key, "traceparent" | "tracestate")
                && let Some(value) = header.value.and_then(|v| std::str::from_utf8(v).ok())
            {
                out.insert(header.key.to_string(), value.to_string());
            }
        }
    }
    out
}
