//! `tuanctl events`: what the services published, as people read it.
//!
//! - `tail` reads services' topics straight from the broker, outside any consumer group: it
//!   assigns every partition itself and commits nothing, so it never moves a service's group
//!   or its lag. From the start, the end or an offset; it stops at the end offsets it found
//!   when it started, or with `--follow` waits for more. Several services at once interleave
//!   their topics, so one saga can be followed across them by its trace id (read to an end,
//!   a trace prints in time order).
//! - `show` asks a service's admin API for one aggregate's stream from its event store: what
//!   was decided, including events whose publication still waits in the outbox.
//!
//! Each envelope prints as one line, or with `--json` as one JSON object per line, with the
//! payload decoded by its type from the protobuf descriptors compiled into this binary.
//! Fields that name a password or a hash print as `[redacted]`: a terminal is not the place
//! for them.

use std::{
    collections::HashMap,
    io::Write,
    sync::LazyLock,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use rdkafka::{
    Message as _, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer as _},
};
use serde_json::{Value, json};
use tuan_proto::events::v1::EventEnvelope;

const BROKER_TIMEOUT: Duration = Duration::from_secs(10);
/// Without `--follow`, how long the end offsets found at the start may stay out of reach.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

static DESCRIPTORS: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(tuan_proto::FILE_DESCRIPTOR_SET).expect("the compiled-in descriptor set decodes")
});

/// Where `tail` starts on every partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Beginning,
    End,
    /// This offset (clamped to what the partition still holds).
    Offset(i64),
}

/// Parses `beginning`, `end` or an offset.
pub fn parse_start(s: &str) -> Result<Start, String> {
    match s.trim() {
        "beginning" | "start" | "earliest" => Ok(Start::Beginning),
        "end" | "latest" => Ok(Start::End),
        n => n
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Start::Offset)
            .ok_or_else(|| format!("{n:?} is not beginning, end or an offset (0 or more)")),
    }
}

/// Which envelopes to print; every given condition must hold.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// A full type (`tuan.groupbuy.v1.JoinRequested`) or its last part (`JoinRequested`).
    pub event_type: Option<String>,
    /// The message key (services key by aggregate id).
    pub key: Option<String>,
    /// A W3C trace id (32 hex digits) or a correlation id.
    pub trace: Option<String>,
}

impl Filter {
    pub fn admits(&self, key: &str, envelope: &EventEnvelope) -> bool {
        let type_ok = self
            .event_type
            .as_deref()
            .is_none_or(|t| envelope.event_type == t || envelope.event_type.rsplit('.').next() == Some(t));
        let key_ok = self.key.as_deref().is_none_or(|k| k == key);
        let trace_ok = self.trace.as_deref().is_none_or(|t| {
            trace_id(envelope).is_some_and(|id| id.eq_ignore_ascii_case(t)) || envelope.correlation_id == t
        });
        type_ok && key_ok && trace_ok
    }
}

/// The trace id of the span that produced the event (from its `traceparent`).
pub fn trace_id(envelope: &EventEnvelope) -> Option<&str> {
    let parent = envelope.trace_context.get("traceparent")?;
    parent.split('-').nth(1).filter(|id| id.len() == 32)
}

/// Where an envelope was read: a topic's partition and offset, or the event store's position.
pub enum Location<'a> {
    Topic { topic: &'a str, partition: i32, offset: i64, key: &'a str },
    Store { global_position: i64 },
}

/// The envelope as one JSON object, its payload decoded by type.
pub fn describe(envelope: &EventEnvelope, location: &Location<'_>) -> Value {
    let mut value = json!({
        "event_type": envelope.event_type,
        "stream_type": envelope.stream_type,
        "stream_id": envelope.stream_id,
        "version": envelope.version,
        "event_id": envelope.event_id,
        "occurred_at": crate::output::when(envelope.occurred_at_micros),
        "source": envelope.source,
        "trace_id": trace_id(envelope),
        "correlation_id": envelope.correlation_id,
        "causation_id": envelope.causation_id,
        "payload": payload(&envelope.event_type, &envelope.payload),
    });
    let place = match location {
        Location::Topic { topic, partition, offset, key } => {
            json!({ "topic": topic, "partition": partition, "offset": offset, "key": key })
        }
        Location::Store { global_position } => json!({ "global_position": global_position }),
    };
    if let (Value::Object(fields), Value::Object(place)) = (&mut value, place) {
        fields.extend(place);
    }
    value
}

/// The payload decoded by its type, with protobuf field names; what cannot be decoded says why.
pub fn payload(event_type: &str, bytes: &[u8]) -> Value {
    let Some(descriptor) = DESCRIPTORS.get_message_by_name(event_type) else {
        return json!({ "undecoded": format!("no type {event_type} in this tuanctl"), "bytes": bytes.len() });
    };
    let decoded = DynamicMessage::decode(descriptor, bytes).map_err(|e| e.to_string()).and_then(|message| {
        let options = SerializeOptions::new().use_proto_field_name(true).stringify_64_bit_integers(false);
        message.serialize_with_options(serde_json::value::Serializer, &options).map_err(|e| e.to_string())
    });
    match decoded {
        Ok(mut value) => {
            redact(&mut value);
            value
        }
        Err(e) => json!({ "undecoded": e, "bytes": bytes.len() }),
    }
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if name.contains("password") || name.contains("secret") || name.ends_with("_hash") {
                    *field = json!("[redacted]");
                } else {
                    redact(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// One line for people: when, where, what, which aggregate, the trace, then the payload.
pub fn line(v: &Value) -> String {
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let place = match v.get("topic").and_then(Value::as_str) {
        Some(topic) => format!("{topic}[{}]@{}", v["partition"], v["offset"]),
        None => format!("#{}", v["global_position"]),
    };
    let short_type = text("event_type").rsplit('.').next().unwrap_or_default().to_string();
    let trace = text("trace_id");
    format!(
        "{} {place} {short_type} {}/{} v{} trace={trace} {}",
        text("occurred_at"),
        text("stream_type"),
        text("stream_id"),
        v["version"],
        v["payload"],
    )
}

/// The offset each (topic, partition) must be read up to.
type EndOffsets = HashMap<(String, i32), i64>;

/// What `tail` reads and prints.
pub struct Tail<'a> {
    pub brokers: &'a str,
    pub topics: Vec<String>,
    pub start: Start,
    pub follow: bool,
    pub filter: Filter,
    /// Stop after printing this many.
    pub limit: Option<u64>,
    pub json: bool,
}

impl Tail<'_> {
    /// Prints matching envelopes to `out`; answers how many. Blocking: run it on its own thread.
    pub fn run(&self, out: &mut impl Write) -> anyhow::Result<u64> {
        let consumer: BaseConsumer = tuan_messaging::reader_config(self.brokers, "tuanctl").create()?;
        let (assignment, mut unread) = self.assignment(&consumer)?;
        consumer.assign(&assignment)?;
        let (mut printed, mut last_progress) = (0u64, Instant::now());
        let mut saga = Vec::new();
        while self.follow || !unread.is_empty() {
            if self.limit.is_some_and(|limit| printed >= limit) {
                break;
            }
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                if !self.follow && last_progress.elapsed() > CATCH_UP_TIMEOUT {
                    bail!("no message for {CATCH_UP_TIMEOUT:?} while {} partitions had more to read", unread.len());
                }
                continue;
            };
            let message = message.context("reading from the broker")?;
            last_progress = Instant::now();
            let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
            if !self.follow {
                // Read up to the end offsets seen at the start, so the run ends.
                match unread.get(&(topic.to_string(), partition)) {
                    Some(end) if offset < *end => {
                        if offset + 1 >= *end {
                            unread.remove(&(topic.to_string(), partition));
                        }
                    }
                    _ => continue,
                }
            }
            let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
            let location = Location::Topic { topic, partition, offset, key: &key };
            let mut occurred = 0;
            let value = match tuan_messaging::envelope::accept(message.payload().unwrap_or_default()) {
                Ok(envelope) if self.filter.admits(&key, &envelope) => {
                    occurred = envelope.occurred_at_micros;
                    describe(&envelope, &location)
                }
                Ok(_) => continue,
                // Not an envelope (a dead letter's topic, a stray producer): say so, unless filtered.
                Err(reason) if self.filter.event_type.is_none() && self.filter.trace.is_none() => {
                    json!({ "topic": topic, "partition": partition, "offset": offset, "key": key, "undecoded": reason })
                }
                Err(_) => continue,
            };
            let text =
                if self.json { value.to_string() } else { undecoded_line(&value).unwrap_or_else(|| line(&value)) };
            if self.in_time_order() {
                saga.push((occurred, topic.to_string(), partition, offset, text));
            } else {
                writeln!(out, "{text}")?;
                out.flush()?;
            }
            printed += 1;
        }
        // Events of one trace come from several topics and partitions, each in its own order:
        // in time order they read as the saga happened (one stream's events keep their offsets).
        saga.sort();
        for (.., text) in saga {
            writeln!(out, "{text}")?;
        }
        Ok(printed)
    }

    /// A trace read to an end is small (one request's events): it prints sorted by time.
    fn in_time_order(&self) -> bool {
        !self.follow && self.filter.trace.is_some()
    }

    /// Every partition of every topic at its start offset, and (without --follow) the end
    /// offset each must be read to.
    fn assignment(&self, consumer: &BaseConsumer) -> anyhow::Result<(TopicPartitionList, EndOffsets)> {
        let mut assignment = TopicPartitionList::new();
        let mut unread = HashMap::new();
        for topic in &self.topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), BROKER_TIMEOUT)
                .with_context(|| format!("asking {} about topic {topic}", self.brokers))?;
            let partitions: Vec<i32> = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == topic && t.error().is_none())
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if partitions.is_empty() {
                bail!(
                    "{} has no topic {topic}: has its service started, and is --topic-prefix the services' own?",
                    self.brokers
                );
            }
            for partition in partitions {
                let (low, high) = consumer.fetch_watermarks(topic, partition, BROKER_TIMEOUT)?;
                let start = match self.start {
                    Start::Beginning => low,
                    Start::End => high,
                    Start::Offset(n) => n.clamp(low, high),
                };
                assignment.add_partition_offset(topic, partition, Offset::Offset(start))?;
                if start < high {
                    unread.insert((topic.clone(), partition), high);
                }
            }
        }
        Ok((assignment, unread))
    }
}

fn undecoded_line(v: &Value) -> Option<String> {
    let reason = v.get("undecoded")?.as_str()?;
    Some(format!("{}[{}]@{} not an event envelope: {reason}", v["topic"].as_str()?, v["partition"], v["offset"]))
}

#[cfg(test)]
mod tests {
    use prost::{Message as _, Name as _};
    use tuan_proto::users::v1 as users;

    use super::*;

    fn envelope(event_type: &str, payload: Vec<u8>) -> EventEnvelope {
        EventEnvelope {
            event_type: event_type.into(),
            stream_type: "user".into(),
            stream_id: "u-1".into(),
            version: 1,
            correlation_id: "corr-1".into(),
            trace_context: [(
                "traceparent".to_string(),
                format!("00-{}-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"),
            )]
            .into(),
            payload,
            ..Default::default()
        }
    }

    #[test]
    fn a_payload_decodes_by_its_type_and_hides_what_is_secret() {
        let signed_up = users::UserSignedUp {
            user_id: "u-1".into(),
            phone_e164: "+8613800000009".into(),
            password_hash: "$argon2id$v=19$...".into(),
            display_name: "Dana".into(),
            ..Default::default()
        };
        let e = envelope(&users::UserSignedUp::full_name(), signed_up.encode_to_vec());
        let v = describe(&e, &Location::Store { global_position: 7 });
        assert_eq!(v["payload"]["display_name"], "Dana");
        assert_eq!(v["payload"]["password_hash"], "[redacted]");
        assert_eq!(v["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let text = line(&v);
        assert!(text.contains("#7 UserSignedUp user/u-1 v1 trace=4bf92f3577b34da6a3ce929d0e0e4736"), "{text}");
        assert!(!text.contains("argon2"), "{text}");
    }

    #[test]
    fn an_unknown_type_or_bad_bytes_say_so() {
        assert!(payload("tuan.nope.v1.Gone", b"x")["undecoded"].as_str().unwrap().contains("no type"));
        assert!(payload(&users::UserSignedUp::full_name(), &[0xff, 0xff])["undecoded"].is_string());
    }

    #[test]
    fn filters_match_type_by_either_name_key_and_trace_or_correlation() {
        let e = envelope(&users::UserSignedUp::full_name(), vec![]);
        let f = |event_type: Option<&str>, key: Option<&str>, trace: Option<&str>| Filter {
            event_type: event_type.map(String::from),
            key: key.map(String::from),
            trace: trace.map(String::from),
        };
        assert!(f(None, None, None).admits("k", &e));
        assert!(f(Some("UserSignedUp"), None, None).admits("k", &e));
        assert!(f(Some("tuan.users.v1.UserSignedUp"), Some("k"), None).admits("k", &e));
        assert!(!f(Some("SignedUp"), None, None).admits("k", &e));
        assert!(!f(None, Some("other"), None).admits("k", &e));
        assert!(f(None, None, Some("4BF92F3577B34DA6A3CE929D0E0E4736")).admits("k", &e));
        assert!(f(None, None, Some("corr-1")).admits("k", &e));
        assert!(!f(None, None, Some("0af7651916cd43dd8448eb211c80319c")).admits("k", &e));
    }

    #[test]
    fn starts_parse() {
        assert_eq!(parse_start("beginning"), Ok(Start::Beginning));
        assert_eq!(parse_start("end"), Ok(Start::End));
        assert_eq!(parse_start("42"), Ok(Start::Offset(42)));
        assert!(parse_start("-1").is_err());
        assert!(parse_start("yesterday").is_err());
    }
}
