//! Envelope metadata mirrored into Kafka headers, so tools and brokers can route and trace
//! without decoding payloads.

use std::collections::HashMap;

use rdkafka::message::{Header, Headers, OwnedHeaders};
use tuan_proto::events::v1::EventEnvelope;

pub fn from_envelope(envelope: &EventEnvelope, trace: &HashMap<String, String>) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new_with_capacity(8 + trace.len());
    for (key, value) in [
        ("event_id", envelope.event_id.as_str()),
        ("event_type", envelope.event_type.as_str()),
        ("stream_type", envelope.stream_type.as_str()),
        ("stream_id", envelope.stream_id.as_str()),
        ("correlation_id", envelope.correlation_id.as_str()),
        ("causation_id", envelope.causation_id.as_str()),
        ("source", envelope.source.as_str()),
    ] {
        headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
    }
    for (key, value) in trace {
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
