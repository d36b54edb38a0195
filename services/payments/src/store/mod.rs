//! Persistence of the payments service: read models (projections of its own events, balances
//! among them), the tables fed by other services' events (users: `external`; circles:
//! `membership`), idempotency keys, and the queries.
//! Money moves only by appending journal events.

pub mod external;
pub use tuan_eventstore::idempotency;
pub mod limits;
pub mod membership;
pub mod payer_actions;
pub mod projection;
pub mod queries;

pub use projection::PaymentsProjection;

/// Installs payments' tables outside `proj` (the social graph, circle membership, daily
/// usage): at start-up and in `--migrate-only`.
pub async fn install_public(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    external::install(pool).await?;
    membership::install(pool).await?;
    limits::install(pool).await?;
    payer_actions::install(pool).await
}
