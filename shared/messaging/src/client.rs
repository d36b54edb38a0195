use std::sync::OnceLock;

use rdkafka::{ClientConfig, producer::FutureProducer};
use tuan_runtime::config::KafkaSecurity;

/// The process's broker identity, set once at start-up ([`use_identity`]). It is the process's,
/// not a client's: every producer, consumer, admin client and reader it makes authenticates
/// with it, so no call site can forget it.
static IDENTITY: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();

/// Makes every Kafka client this process creates from now on authenticate as `security` says.
/// The first call wins (a process has one identity); tests that set none talk plaintext.
pub fn use_identity(security: &KafkaSecurity) {
    let _ = IDENTITY.set(security.client_settings());
}

fn with_identity(mut config: ClientConfig) -> ClientConfig {
    for (key, value) in IDENTITY.get().map(Vec::as_slice).unwrap_or_default() {
        config.set(*key, value);
    }
    config
}

/// Producer settings: idempotent (no duplicates or reordering from retries), `acks=all`,
/// and a bounded delivery timeout so a broker outage surfaces as an error the relay retries.
pub fn producer_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "10000")
        .set("socket.keepalive.enable", "true");
    with_identity(config)
}

/// Consumer settings: offsets are committed by the consumer after its transaction commits,
/// never automatically.
pub fn consumer_config(brokers: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        // A topic created after subscribing (its producer started later) is noticed within
        // seconds instead of librdkafka's default five minutes.
        .set("topic.metadata.refresh.interval.ms", "5000")
        // Sagas hop between services several times; a fetch that idles up to librdkafka's
        // default 500 ms per hop dominated their latency against tansu.
        .set("fetch.wait.max.ms", "20")
        .set("socket.keepalive.enable", "true");
    with_identity(config)
}

/// A reader outside any consumer group, for tools: it assigns partitions itself and commits
/// nothing, so it neither joins nor moves a service's group. (librdkafka still wants a group
/// id to consume; `name` plus the process id is one nobody joins.)
pub fn reader_config(brokers: &str, name: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{name}-reader-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("fetch.wait.max.ms", "100")
        .set("socket.keepalive.enable", "true");
    with_identity(config)
}

/// The Kafka clients a service shares among its relay and consumers.
#[derive(Clone)]
pub struct KafkaClients {
    pub brokers: String,
    pub producer: FutureProducer,
}

impl KafkaClients {
    pub fn new(brokers: &str) -> anyhow::Result<Self> {
        Ok(Self { brokers: brokers.to_string(), producer: producer_config(brokers).create()? })
    }
}
