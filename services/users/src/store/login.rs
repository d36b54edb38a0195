//! Failed logins per phone number, for the login throttle (`domain::login`).
//!
//! Kept in `public`, outside the projections: it is operational state, not derived from
//! events, and a projection rebuild must not unlock every account.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS public.login_failures (
    phone_e164     TEXT PRIMARY KEY,
    failures       INT NOT NULL,
    last_failed_at TIMESTAMPTZ NOT NULL,
    locked_until   TIMESTAMPTZ
);
"#;

pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_eventstore::install_tables(pool, SCHEMA).await
}

/// Until when logins for `phone` are refused, if they are now.
pub async fn locked_until(
    pool: &PgPool,
    phone: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT locked_until FROM public.login_failures WHERE phone_e164 = $1 AND locked_until > $2")
        .bind(phone)
        .bind(now)
        .fetch_optional(pool)
        .await
        .map(Option::flatten)
}

/// Counts one more failure for `phone` (a count older than `forget_after` starts again) and
/// returns the count.
pub async fn record_failure(
    pool: &PgPool,
    phone: &str,
    now: DateTime<Utc>,
    forget_after: Duration,
) -> Result<u32, sqlx::Error> {
    let failures: i32 = sqlx::query_scalar(
        "INSERT INTO public.login_failures (phone_e164, failures, last_failed_at) VALUES ($1, 1, $2) \
         ON CONFLICT (phone_e164) DO UPDATE SET last_failed_at = $2, failures = CASE \
           WHEN login_failures.last_failed_at < $2 - make_interval(secs => $3) THEN 1 \
           ELSE login_failures.failures + 1 END \
         RETURNING failures",
    )
    .bind(phone)
    .bind(now)
    .bind(forget_after.as_secs_f64())
    .fetch_one(pool)
    .await?;
    Ok(failures.max(0) as u32)
}

pub async fn lock(pool: &PgPool, phone: &str, until: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE public.login_failures SET locked_until = $2 WHERE phone_e164 = $1")
        .bind(phone)
        .bind(until)
        .execute(pool)
        .await?;
    Ok(())
}

/// A successful login forgets the failures.
pub async fn clear(pool: &PgPool, phone: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM public.login_failures WHERE phone_e164 = $1").bind(phone).execute(pool).await?;
    Ok(())
}
