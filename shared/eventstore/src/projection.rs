//! Read models built from a service's own events, updated inline with every append.
//!
//! Their tables live in the Postgres schema [`PROJECTION_SCHEMA`] and are found through the
//! connection's `search_path`, so the same SQL can fill a fresh schema during a rebuild.

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::AssertSqlSafe;
use sqlx::{PgConnection, PgPool};

use crate::{
    error::StoreError,
    store::{EventStore, RecordedEvent},
};

/// The schema holding every projection table; connections use `search_path = proj, public`.
pub const PROJECTION_SCHEMA: &str = "proj";
const REBUILD_SCHEMA: &str = "proj_rebuild";
const RETIRED_SCHEMA: &str = "proj_retired";
const REPLAY_BATCH: i64 = 2_000;

/// A read model: its tables and how each event changes them.
///
/// `apply` must be deterministic and use unqualified table names: the same function fills the
/// live schema and a rebuild.
pub trait Projection: Send + Sync {
    fn name(&self) -> &'static str;
    /// Idempotent DDL (`CREATE TABLE IF NOT EXISTS ...`) with unqualified names.
    fn schema(&self) -> &'static str;
    /// Changes the tables for one event; events of types it does not follow are ignored.
    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// The projections a service keeps inline.
#[derive(Clone, Default)]
pub struct ProjectionSet(Vec<Arc<dyn Projection>>);

impl ProjectionSet {
    pub fn new(projections: Vec<Arc<dyn Projection>>) -> Self {
        Self(projections)
    }

    /// Creates the projection tables in the live schema if missing.
    pub async fn install(&self, pool: &PgPool) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7202611231)").execute(&mut *tx).await?;
        self.create_tables(&mut tx, PROJECTION_SCHEMA).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; SET LOCAL search_path = {schema}, public;"
        )))
        .execute(&mut *conn)
        .await?;
        for p in &self.0 {
            sqlx::raw_sql(p.schema()).execute(&mut *conn).await?;
        }
        Ok(())
    }

    pub async fn apply_all(&self, conn: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), StoreError> {
        for event in events {
            for p in &self.0 {
                p.apply(conn, event).await.map_err(|e| match e {
                    StoreError::Database(db) => StoreError::from_sqlx(db),
                    other => other,
                })?;
            }
        }
        Ok(())
    }
}

/// Rebuilds every projection from the event store into a fresh schema, then swaps it in.
///
/// The bulk of the replay runs while the service keeps serving; the last stretch runs with
/// appends paused (an `EXCLUSIVE` lock on `events`, which readers do not notice), so nothing
/// appended meanwhile is missed. Returns the number of events replayed.
pub async fn rebuild_projections(store: &EventStore, projections: &ProjectionSet) -> Result<u64, StoreError> {
    rebuild_projections_with_progress(store, projections, |_| {}).await
}

/// [`rebuild_projections`], calling `progress` with the number of events replayed so far after
/// every batch (operators watch a long rebuild).
pub async fn rebuild_projections_with_progress(
    store: &EventStore,
    projections: &ProjectionSet,
    mut progress: impl FnMut(u64) + Send,
) -> Result<u64, StoreError> {
    let pool = store.pool();
    let mut setup = pool.begin().await?;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE")))
        .execute(&mut *setup)
        .await?;
    projections.create_tables(&mut setup, REBUILD_SCHEMA).await?;
    setup.commit().await?;

    let mut cursor = None;
    let mut replayed = 0u64;
    loop {
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(AssertSqlSafe(format!("SET LOCAL search_path = {REBUILD_SCHEMA}, public")))
            .execute(&mut *tx)
            .await?;
        let (events, next) = store.read_all(&mut tx, cursor.clone(), REPLAY_BATCH).await?;
        projections.apply_all(&mut tx, &events).await?;
        tx.commit().await?;
        replayed += events.len() as u64;
        progress(replayed);
        cursor = next;
        if (events.len() as i64) < REPLAY_BATCH {
            break;
        }
    }

    let mut tx = pool.begin().await?;
    sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE").execute(&mut *tx).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("SET LOCAL search_path = {REBUILD_SCHEMA}, public"))).execute(&mut *tx).await?;
    loop {
        // With appends paused no transaction that wrote events is running, so this reads to the end.
        let (events, next) = store.read_all_paused(&mut tx, cursor.clone(), REPLAY_BATCH).await?;
        projections.apply_all(&mut tx, &events).await?;
        replayed += events.len() as u64;
        cursor = next;
        if (events.len() as i64) < REPLAY_BATCH {
            break;
        }
    }
    sqlx::raw_sql(AssertSqlSafe(format!(
        "ALTER SCHEMA {PROJECTION_SCHEMA} RENAME TO {RETIRED_SCHEMA}; \
         ALTER SCHEMA {REBUILD_SCHEMA} RENAME TO {PROJECTION_SCHEMA}; \
         DROP SCHEMA {RETIRED_SCHEMA} CASCADE;"
    )))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    progress(replayed);
    tracing::info!(replayed, "projections rebuilt and swapped in");
    Ok(replayed)
}
