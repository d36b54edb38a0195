//! Event append throughput beside a raw INSERT of the same rows, and outbox relay throughput.
//!
//! `cargo run --release -p tuan-bench --bin eventstore [events]`
//!
//! Each "command" is one transaction appending `batch` events to its own stream. The raw
//! baseline inserts the same rows, with the same transaction sizes and concurrency, into a bare
//! table with the same columns and only a primary key: what Postgres costs without the event
//! store's guarantees (version check, outbox row, relay wake-up, replay index).

use std::time::Duration;

use futures::future::join_all;
use sqlx::PgPool;
use tuan_bench::{rate, timed};
use tuan_eventstore::{EventMeta, EventStore, NewEvent, StreamRef};
use tuan_messaging::{KafkaClients, OutboxRelay, topics};
use tuan_runtime::shutdown::Shutdown;
use tuan_testkit::TestDb;
use uuid::Uuid;

const PAYLOAD: [u8; 120] = [7; 120];

fn new_events(batch: usize) -> Vec<NewEvent> {
    (0..batch).map(|_| NewEvent { event_type: "bench.Event", schema_version: 1, payload: PAYLOAD.to_vec() }).collect()
}

async fn append_run(store: &EventStore, writers: usize, commands: usize, batch: usize) -> anyhow::Result<()> {
    let per_writer = commands / writers;
    let tasks = (0..writers).map(|w| {
        let store = store.clone();
        async move {
            let events = new_events(batch);
            let meta = EventMeta { correlation_id: Uuid::now_v7().to_string(), ..Default::default() };
            for c in 0..per_writer {
                let stream = StreamRef::new("bench", format!("w{w}-c{c}-{}", Uuid::now_v7()));
                let mut tx = store.pool().begin().await?;
                store.append(&mut tx, &stream, 0, &events, &meta).await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }
    });
    join_all(tasks).await.into_iter().collect()
}

async fn raw_run(pool: &PgPool, writers: usize, commands: usize, batch: usize) -> anyhow::Result<()> {
    let per_writer = commands / writers;
    let tasks = (0..writers).map(|w| {
        let pool = pool.clone();
        async move {
            for c in 0..per_writer {
                let stream = format!("w{w}-c{c}-{}", Uuid::now_v7());
                let ids: Vec<Uuid> = (0..batch).map(|_| Uuid::now_v7()).collect();
                let versions: Vec<i64> = (1..=batch as i64).collect();
                let payloads: Vec<Vec<u8>> = vec![PAYLOAD.to_vec(); batch];
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO raw_events (event_id, stream_type, stream_id, version, event_type, schema_version, \
                       payload, occurred_at, correlation_id, causation_id, trace_context) \
                     SELECT e.id, 'bench', $2, e.version, 'bench.Event', 1, e.payload, now(), '', '', '{}'::jsonb \
                     FROM UNNEST($1::uuid[], $3::bigint[], $4::bytea[]) AS e(id, version, payload)",
                )
                .bind(&ids)
                .bind(&stream)
                .bind(&versions)
                .bind(&payloads)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }
    });
    join_all(tasks).await.into_iter().collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total_events: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(40_000);
    let db = TestDb::new().await;
    sqlx::raw_sql(
        "CREATE TABLE raw_events (event_id UUID PRIMARY KEY, stream_type TEXT, stream_id TEXT, version BIGINT, \
         event_type TEXT, schema_version INT, payload BYTEA, occurred_at TIMESTAMPTZ, correlation_id TEXT, \
         causation_id TEXT, trace_context JSONB)",
    )
    .execute(&db.pool)
    .await?;
    let pool = db.another_pool(20).await;
    let store = EventStore::new(pool.clone());

    println!("event append vs raw INSERT of the same rows ({total_events} events per run, 120-byte payloads)");
    println!("{:>7} {:>6} {:>14} {:>14} {:>7}", "writers", "batch", "append ev/s", "raw ev/s", "ratio");
    for writers in [1, 16] {
        for batch in [1, 10] {
            let commands = total_events / batch;
            let (r, append) = timed(append_run(&store, writers, commands, batch)).await;
            r?;
            let (r, raw) = timed(raw_run(&pool, writers, commands, batch)).await;
            r?;
            let events = (commands / writers * writers * batch) as u64;
            let (a, b) = (rate(events, append), rate(events, raw));
            println!("{writers:>7} {batch:>6} {a:>14.0} {b:>14.0} {:>7.2}", a / b);
        }
    }

    // Relay: drain what the runs above queued in the outbox.
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&pool).await?;
    // A broker of its own: 100k+ events would slow the shared test broker (sqlite storage).
    let broker = tuan_testkit::OwnBroker::start();
    let brokers = broker.address();
    let topic = format!("{}bench.events", tuan_testkit::unique_prefix());
    topics::ensure_topics(&brokers, std::slice::from_ref(&topic), 6, 1, Duration::from_secs(20)).await?;
    let (trigger, shutdown) = Shutdown::new();
    let relay = OutboxRelay::new(pool.clone(), KafkaClients::new(&brokers)?, topic, "bench");
    let ((), elapsed) = timed(async {
        tokio::spawn(relay.run(shutdown));
        loop {
            let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&pool).await.unwrap_or(1);
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    trigger.trigger();
    println!(
        "outbox relay: {queued} events to the broker in {:.2} s = {:.0} events/s",
        elapsed.as_secs_f64(),
        rate(queued as u64, elapsed)
    );
    Ok(())
}
