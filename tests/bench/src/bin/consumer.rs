//! Idempotent consumer throughput: events applied per second by one consumer, with a handler
//! that writes one row, after 5,000 events were published at once; timed from the first event
//! applied, so the consumer group's join is not counted.
//!
//! `cargo run --release -p tuan-bench --bin consumer [events]`

use std::time::{Duration, Instant};

use futures::{FutureExt, future::BoxFuture};
use prost::Message as _;
use rdkafka::{producer::FutureRecord, util::Timeout};
use sqlx::PgConnection;
use tuan_bench::rate;
use tuan_messaging::{EventHandler, HandlerError, IdempotentConsumer, KafkaClients, dead_letter_topic, topics};
use tuan_proto::events::v1::EventEnvelope;
use tuan_runtime::shutdown::Shutdown;
use tuan_testkit::{OwnBroker, TestDb};
use uuid::Uuid;

struct OneRow;

impl EventHandler for OneRow {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            sqlx::query("INSERT INTO applied (event_id) VALUES ($1)").bind(&event.event_id).execute(conn).await?;
            Ok(())
        }
        .boxed()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(5_000);
    let broker = OwnBroker::start();
    let db = TestDb::new().await;
    sqlx::query("CREATE TABLE applied (event_id TEXT PRIMARY KEY)").execute(&db.pool).await?;
    let prefix = tuan_testkit::unique_prefix();
    let topic = format!("{prefix}bench.consumer");
    for partitions in [1, 6] {
        let topic = format!("{topic}.{partitions}");
        topics::ensure_topics(&broker.address(), std::slice::from_ref(&topic), partitions, 1, Duration::from_secs(20))
            .await?;
        let kafka = KafkaClients::new(&broker.address())?;
        let publishing = Instant::now();
        for i in 0..events {
            let envelope = EventEnvelope {
                event_id: Uuid::now_v7().to_string(),
                event_type: "bench.Event".into(),
                ..Default::default()
            };
            let bytes = envelope.encode_to_vec();
            let key = format!("k{}", i % 64);
            kafka.producer.send_result(FutureRecord::to(&topic).key(&key).payload(&bytes)).map_err(|(e, _)| e)?;
        }
        // Every event delivered before the consumer starts. (An empty "end" marker used to
        // follow them: the consumer rightly retried it as undecodable, and with several
        // partitions those retries, in the middle of the run, were most of its time.)
        rdkafka::producer::Producer::flush(&kafka.producer, Timeout::After(Duration::from_secs(60)))?;
        let published = publishing.elapsed();
        println!(
            "{partitions} partition(s): {events} events published in {:.2} s = {:.0} events/s",
            published.as_secs_f64(),
            rate(events as u64, published)
        );
        sqlx::query("TRUNCATE applied").execute(&db.pool).await?;
        let (trigger, shutdown) = Shutdown::new();
        let (consumer, _handle) = IdempotentConsumer::new(
            &format!("{prefix}group{partitions}"),
            std::slice::from_ref(&topic),
            dead_letter_topic(&prefix),
            db.pool.clone(),
            kafka,
            OneRow,
        )?;
        let start = Instant::now();
        let mut first: Option<Instant> = None;
        tokio::spawn(consumer.run(shutdown));
        loop {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM applied").fetch_one(&db.pool).await?;
            if n > 0 {
                first.get_or_insert_with(Instant::now);
            }
            if n as usize >= events {
                break;
            }
            anyhow::ensure!(start.elapsed() < Duration::from_secs(300), "only {n} applied");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (elapsed, joined) = (start.elapsed(), first.map(|f| f.duration_since(start)).unwrap_or_default());
        trigger.trigger();
        let applying = elapsed - joined;
        println!(
            "{partitions} partition(s): {events} events applied {:.2} s after the first one = {:.0} events/s (group join and first fetch took {:.2} s)",
            applying.as_secs_f64(),
            rate(events as u64, applying),
            joined.as_secs_f64()
        );
    }
    Ok(())
}
