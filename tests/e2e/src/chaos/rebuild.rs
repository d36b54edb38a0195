//! Every projection equals a rebuild from its event store: the live read models are copied
//! aside, then the service's own `rebuild_projections` replays every event into a fresh schema
//! and swaps it in (while the service runs, as an operator would), and every table of the
//! rebuild is compared with the copy, row for row.
//!
//! The rebuild reads to the very end of the log: its last stretch runs with appends paused. (A
//! replay that only reads settled events, `EventStore::read_all`, stops at the oldest
//! transaction running anywhere in the Postgres cluster, so it may stop short.)

use std::sync::Arc;

use sqlx::{AssertSqlSafe, PgPool, Row as _};
use tuan_eventstore::{EventStore, Projection, ProjectionSet, rebuild_projections};

/// Where the live read models are copied before the rebuild replaces them.
const LIVE_COPY: &str = "chaos_live";

/// Columns that are bookkeeping, not a function of the events (documented where they live).
const NOT_PROJECTED: &[(&str, &str)] = &[
    // payments: when to resubmit a pending request to the provider; a rebuild resets it.
    ("provider_requests", "next_attempt_at"),
    ("provider_requests", "attempts"),
];

/// The projections a service keeps inline.
pub fn projections(service: &str) -> Vec<Arc<dyn Projection>> {
    match service {
        "users" => vec![Arc::new(users::store::projection::UsersProjection)],
        "circles" => vec![Arc::new(circles::store::projection::CirclesProjection)],
        "groupbuy" => vec![Arc::new(groupbuy::store::projection::GroupBuyProjection)],
        "payments" => vec![Arc::new(payments::store::projection::PaymentsProjection)],
        other => panic!("no projections known for {other}"),
    }
}

/// Copies `service`'s read models aside, rebuilds them from its events with
/// `rebuild_projections`, and compares. Returns (events replayed, tables compared, differences).
pub async fn compare(service: &str, pool: &PgPool) -> anyhow::Result<(u64, usize, Vec<String>)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'proj' ORDER BY table_name",
    )
    .fetch_all(pool)
    .await?;
    let mut copy = format!("DROP SCHEMA IF EXISTS {LIVE_COPY} CASCADE; CREATE SCHEMA {LIVE_COPY};");
    for table in &tables {
        copy.push_str(&format!(" CREATE TABLE {LIVE_COPY}.{table} AS TABLE proj.{table};"));
    }
    sqlx::raw_sql(AssertSqlSafe(copy)).execute(pool).await?;

    let replayed =
        rebuild_projections(&EventStore::new(pool.clone()), &ProjectionSet::new(projections(service))).await?;

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'proj' ORDER BY table_name",
    )
    .fetch_all(pool)
    .await?;
    let mut differences = Vec::new();
    for table in &tables {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'proj' AND table_name = $1 \
             ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(pool)
        .await?;
        let columns: Vec<String> = columns
            .into_iter()
            .filter(|c| !NOT_PROJECTED.contains(&(table.as_str(), c.as_str())))
            .map(|c| format!("\"{c}\""))
            .collect();
        let cols = columns.join(", ");
        // Rows in one and not the other, as JSON, counting duplicates (EXCEPT ALL).
        let sql = format!(
            "SELECT side, row_to_json(d)::text AS row FROM ( \
               (SELECT 'live only' AS side, {cols} FROM {LIVE_COPY}.{table} EXCEPT ALL SELECT 'live only', {cols} FROM proj.{table}) \
               UNION ALL \
               (SELECT 'rebuild only', {cols} FROM proj.{table} EXCEPT ALL SELECT 'rebuild only', {cols} FROM {LIVE_COPY}.{table}) \
             ) d"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(pool).await?;
        if !rows.is_empty() {
            let sample: Vec<String> = rows
                .iter()
                .take(3)
                .map(|r| format!("{}: {}", r.get::<String, _>("side"), r.get::<String, _>("row")))
                .collect();
            differences.push(format!("{service}.{table}: {} rows differ, e.g. {}", rows.len(), sample.join(" | ")));
        }
    }
    sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {LIVE_COPY} CASCADE"))).execute(pool).await?;
    Ok((replayed, tables.len(), differences))
}
