//! Saga health for Prometheus, sampled from the read models.
//!
//! - `join` sagas: a join waits on the payments service while `pending` (hold requested),
//!   `capturing` or `releasing`; its age is the time since its last step. `confirmed` joins
//!   wait for their team instead, which has a deadline of its own, so they do not count as stuck.
//! - `team` sagas: an open team is legitimately unfinished for its whole window (up to a day),
//!   so its age is how far past its deadline it is: anything above a few scan intervals means
//!   the deadline scanner is not keeping up.

use sqlx::PgPool;

use crate::store::queries::{self, SagaTable};

const JOIN_STATES: &[&str] = &["pending", "confirmed", "capturing", "captured", "releasing", "released", "failed"];
const TEAM_STATES: &[&str] = &["pending", "open", "completed", "expired", "failed"];

pub async fn sample(pool: PgPool) -> anyhow::Result<()> {
    let joins = queries::status_counts(&pool, SagaTable::Joins).await?;
    tuan_runtime::metrics::report_saga("join", JOIN_STATES, &joins, queries::oldest_waiting_join_secs(&pool).await?);
    let teams = queries::status_counts(&pool, SagaTable::Teams).await?;
    tuan_runtime::metrics::report_saga("team", TEAM_STATES, &teams, queries::most_overdue_team_secs(&pool).await?);
    Ok(())
}
