//! Consumer lag, measured from outside the consumer: a plain client asks the broker for each
//! partition's end offset and the group's committed offset. It keeps measuring while the
//! consumer is paused or stuck, which is exactly when lag matters.

use std::time::Duration;

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};
use tokio::sync::watch;
use tuan_runtime::shutdown::Shutdown;

const INTERVAL: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where a group stands on one partition, as last measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionProgress {
    pub topic: String,
    pub partition: i32,
    /// Events not consumed yet (end offset - committed offset).
    pub lag: i64,
    /// The group's committed offset (the log's start if it committed none).
    pub committed: i64,
}

/// Publishes `tuan_consumer_lag{consumer,topic,partition}` for `group` until shutdown, and the
/// same figures on `progress` (for the consumer's own watchdog, `crate::watchdog`).
pub async fn monitor(
    brokers: String,
    group: String,
    topics: Vec<String>,
    progress: watch::Sender<Vec<PartitionProgress>>,
    mut shutdown: Shutdown,
) {
    let client: BaseConsumer = match crate::consumer_config(&brokers, &group).create() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, %group, "lag monitor not started");
            return;
        }
    };
    let client = std::sync::Arc::new(client);
    loop {
        let (c, g, t) = (client.clone(), group.clone(), topics.clone());
        match tokio::task::spawn_blocking(move || measure(&c, &t)).await {
            Ok(Ok(lags)) => {
                for p in &lags {
                    metrics::gauge!("tuan_consumer_lag", "consumer" => g.clone(), "topic" => p.topic.clone(), "partition" => p.partition.to_string())
                        .set(p.lag as f64);
                }
                progress.send_replace(lags);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, group = %g, "measuring lag failed"),
            Err(e) => tracing::debug!(error = %e, "lag task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// Lag and committed offset of every partition of `topics` the broker answers for.
fn measure(client: &BaseConsumer, topics: &[String]) -> Result<Vec<PartitionProgress>, rdkafka::error::KafkaError> {
    let mut wanted = TopicPartitionList::new();
    let mut ends = Vec::new();
    for topic in topics {
        let metadata = client.fetch_metadata(Some(topic), TIMEOUT)?;
        for t in metadata.topics() {
            for p in t.partitions() {
                // One partition the broker cannot answer for (tansu errs on a partition that
                // never had a record) must not freeze the figures of all the others.
                match client.fetch_watermarks(topic, p.id(), TIMEOUT) {
                    Ok((low, high)) => {
                        wanted.add_partition(topic, p.id());
                        ends.push((topic.clone(), p.id(), low, high));
                    }
                    Err(e) => tracing::debug!(error = %e, %topic, partition = p.id(), "no watermarks"),
                }
            }
        }
    }
    let committed = client.committed_offsets(wanted, TIMEOUT)?;
    Ok(ends
        .into_iter()
        .map(|(topic, partition, low, high)| {
            let done = match committed.find_partition(&topic, partition).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => low,
            };
            PartitionProgress { topic, partition, lag: (high - done).max(0), committed: done }
        })
        .collect())
}
