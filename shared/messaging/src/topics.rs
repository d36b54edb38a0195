//! Topic setup through the Kafka admin API.

use std::time::Duration;

use tuan_runtime::shutdown::Shutdown;

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::RDKafkaErrorCode,
};

/// Creates `topics` if they do not exist yet. Retries while the broker is unreachable,
/// up to `wait`.
pub async fn ensure_topics(
    brokers: &str,
    topics: &[String],
    partitions: i32,
    replication: i32,
    wait: Duration,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = crate::producer_config(brokers).create()?;
    let new: Vec<NewTopic> =
        topics.iter().map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(replication))).collect();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        match admin.create_topics(&new, &options).await {
            Ok(results) => {
                for result in results {
                    match result {
                        Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                        Err((topic, code)) => anyhow::bail!("creating topic {topic}: {code}"),
                    }
                }
                return Ok(());
            }
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "broker not reachable yet, retrying topic creation");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Like [`ensure_topics`], but keeps trying (with backoff) until it succeeds or `shutdown`.
/// Returns false if shut down first. A service starts serving without the broker and creates
/// its topics once the broker is back.
pub async fn ensure_topics_eventually(
    brokers: &str,
    topics: &[String],
    partitions: i32,
    replication: i32,
    mut shutdown: Shutdown,
) -> bool {
    let mut backoff = Duration::from_millis(200);
    loop {
        match ensure_topics(brokers, topics, partitions, replication, Duration::from_secs(5)).await {
            Ok(()) => return true,
            Err(e) => tracing::warn!(error = %e, ?topics, "cannot create topics yet"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait() => return false,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
