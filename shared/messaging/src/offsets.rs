//! Offsets of applied messages, committed to the broker in groups.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext};

/// How long applied offsets may wait before they are committed to the broker.
const COMMIT_INTERVAL: Duration = Duration::from_millis(100);

/// Next offsets to commit, per partition, for messages already applied.
#[derive(Default)]
pub(crate) struct Offsets {
    next: HashMap<(String, i32), i64>,
    since: Option<Instant>,
    /// Every partition's next offset after the last applied event, kept after commits (for the
    /// watchdog, which re-sends commits the broker lost).
    pub(crate) applied: HashMap<(String, i32), i64>,
}

impl Offsets {
    pub(crate) fn record(&mut self, topic: &str, partition: i32, offset: i64) {
        self.next.insert((topic.to_string(), partition), offset + 1);
        self.applied.insert((topic.to_string(), partition), offset + 1);
        self.since.get_or_insert_with(Instant::now);
    }

    pub(crate) fn due(&self) -> bool {
        self.since.is_some_and(|t| t.elapsed() >= COMMIT_INTERVAL)
    }

    pub(crate) fn commit<X: ConsumerContext, C: Consumer<X>>(&mut self, consumer: &C, mode: CommitMode) {
        if self.next.is_empty() {
            return;
        }
        let mut list = rdkafka::TopicPartitionList::new();
        for ((topic, partition), offset) in self.next.drain() {
            let _ = list.add_partition_offset(&topic, partition, rdkafka::Offset::Offset(offset));
        }
        self.since = None;
        if let Err(e) = consumer.commit(&list, mode) {
            // A later commit covers it; at worst the events are redelivered and skipped.
            tracing::warn!(error = %e, "offset commit failed");
        }
    }
}
