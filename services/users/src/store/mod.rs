//! Persistence of the users service: its read models (projections of its own events) and
//! the queries over them, written through the event store only; and discovery's tables
//! (derived from the read models and the discovery secret, see [`discovery`]) and failed
//! logins ([`login`]) and phone codes ([`phone_codes`]).

pub mod discovery;
pub mod login;
pub mod phone_codes;
pub mod projection;
pub mod queries;

pub use projection::UsersProjection;

/// Installs the tables outside the projections (discovery's, failed logins, phone codes).
pub async fn install(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    discovery::install(pool).await?;
    login::install(pool).await?;
    phone_codes::install(pool).await
}
