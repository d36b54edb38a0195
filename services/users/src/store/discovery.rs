//! Discovery's tables: each user's phone hash under the salts of the kept periods, which of
//! those periods are filled, and how many numbers each user looked up per day.
//!
//! They live in `public`, not `proj`: they are derived from the users table, the discovery
//! secret and the clock, not from events alone, so a projection rebuild (which replaces `proj`
//! wholesale) must not drop them.

use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::queries::DiscoveredRow;

const SCHEMA: &str = r#"
-- A period is registered before it is filled; sign-ups add their own hash for every registered
-- period, and the filler walks the users registered before (fill_cursor: the last user id done).
CREATE TABLE IF NOT EXISTS public.discovery_periods (
    period      BIGINT PRIMARY KEY,
    fill_cursor UUID,
    filled_at   TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS public.discovery_hashes (
    period     BIGINT NOT NULL,
    phone_hash TEXT NOT NULL,
    user_id    UUID NOT NULL,
    PRIMARY KEY (period, phone_hash)
);
-- Numbers looked up per user and calendar day (UTC), charged before the lookup.
CREATE TABLE IF NOT EXISTS public.discovery_usage (
    user_id UUID NOT NULL,
    day     DATE NOT NULL,
    numbers INT NOT NULL,
    PRIMARY KEY (user_id, day)
);
CREATE INDEX IF NOT EXISTS discovery_usage_day ON public.discovery_usage (day);
"#;

/// Serialises registering a period against sign-ups (they take it shared): a sign-up either
/// commits before the period is registered, so the filler sees the user, or sees the period
/// and adds the user's hash for it itself.
const PERIODS_LOCK: i64 = 7_202_612_180;

pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_eventstore::install_tables(pool, SCHEMA).await
}

/// Registers `periods` (to be filled) if they are not yet.
pub async fn register_periods(pool: &PgPool, periods: &[i64]) -> Result<(), sqlx::Error> {
    // Mostly they are (this runs every minute): then sign-ups are not held up by the lock.
    let known: i64 = sqlx::query_scalar("SELECT count(*) FROM public.discovery_periods WHERE period = ANY($1)")
        .bind(periods)
        .fetch_one(pool)
        .await?;
    if known == periods.len() as i64 {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PERIODS_LOCK).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO public.discovery_periods (period) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING")
        .bind(periods)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// The registered periods, for a sign-up in `conn`'s transaction to add its hashes to (see
/// [`PERIODS_LOCK`]).
pub async fn periods_for_sign_up(conn: &mut PgConnection) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)").bind(PERIODS_LOCK).execute(&mut *conn).await?;
    sqlx::query_scalar("SELECT period FROM public.discovery_periods ORDER BY period").fetch_all(conn).await
}

/// Stores one user's hash per period (`(period, hash)` pairs).
pub async fn add_hashes(conn: &mut PgConnection, user: Uuid, hashes: &[(i64, String)]) -> Result<(), sqlx::Error> {
    let (periods, hashes): (Vec<i64>, Vec<&str>) = hashes.iter().map(|(p, h)| (*p, h.as_str())).unzip();
    sqlx::query(
        "INSERT INTO public.discovery_hashes (period, phone_hash, user_id) \
         SELECT p, h, $3 FROM unnest($1::bigint[], $2::text[]) AS t(p, h) ON CONFLICT DO NOTHING",
    )
    .bind(&periods)
    .bind(&hashes)
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// The registered periods not yet filled.
pub async fn unfilled_periods(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT period FROM public.discovery_periods WHERE filled_at IS NULL ORDER BY period")
        .fetch_all(pool)
        .await
}

/// Fills the next `batch` users of `period` with `hash` of their number; replicas doing the
/// same take turns on the period's row. Returns true once the period is filled (or gone).
pub async fn fill_batch(
    pool: &PgPool,
    period: i64,
    batch: i64,
    hash: impl Fn(&str) -> String,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row: Option<(Option<Uuid>, bool)> = sqlx::query_as(
        "SELECT fill_cursor, filled_at IS NOT NULL FROM public.discovery_periods WHERE period = $1 FOR UPDATE",
    )
    .bind(period)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((cursor, false)) = row else {
        return Ok(true);
    };
    let users: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT user_id, phone_e164 FROM users WHERE ($1::uuid IS NULL OR user_id > $1) ORDER BY user_id LIMIT $2",
    )
    .bind(cursor)
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    let (ids, hashes): (Vec<Uuid>, Vec<String>) = users.iter().map(|(id, phone)| (*id, hash(phone))).unzip();
    sqlx::query(
        "INSERT INTO public.discovery_hashes (period, phone_hash, user_id) \
         SELECT $1, h, u FROM unnest($2::text[], $3::uuid[]) AS t(h, u) ON CONFLICT DO NOTHING",
    )
    .bind(period)
    .bind(&hashes)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    let done = (users.len() as i64) < batch;
    sqlx::query(
        "UPDATE public.discovery_periods SET fill_cursor = COALESCE($2, fill_cursor), \
         filled_at = CASE WHEN $3 THEN now() END WHERE period = $1",
    )
    .bind(period)
    .bind(ids.last())
    .bind(done)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done)
}

/// Forgets periods before `oldest_kept` and allowances of days before `oldest_day`.
pub async fn retire(pool: &PgPool, oldest_kept: i64, oldest_day: NaiveDate) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM public.discovery_periods WHERE period < $1").bind(oldest_kept).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM public.discovery_hashes WHERE period < $1").bind(oldest_kept).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM public.discovery_usage WHERE day < $1").bind(oldest_day).execute(&mut *tx).await?;
    tx.commit().await
}

/// Charges `numbers` to `user`'s allowance for `day` if that keeps it within `limit`; false
/// when it would not (nothing is charged then). One statement: concurrent charges queue on the
/// row and each sees the others' totals, so together they never pass the limit.
pub async fn charge(pool: &PgPool, user: Uuid, day: NaiveDate, numbers: i32, limit: i32) -> Result<bool, sqlx::Error> {
    let charged: Option<i32> = sqlx::query_scalar(
        "INSERT INTO public.discovery_usage (user_id, day, numbers) SELECT $1, $2, $3 WHERE $3 <= $4 \
         ON CONFLICT (user_id, day) DO UPDATE SET numbers = discovery_usage.numbers + EXCLUDED.numbers \
         WHERE discovery_usage.numbers + EXCLUDED.numbers <= $4 \
         RETURNING numbers",
    )
    .bind(user)
    .bind(day)
    .bind(numbers)
    .bind(limit)
    .fetch_optional(pool)
    .await?;
    Ok(charged.is_some())
}

/// The users whose number hashes to one of `hashes` under `period`'s salt.
pub async fn users_by_hash(pool: &PgPool, period: i64, hashes: &[String]) -> Result<Vec<DiscoveredRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT d.phone_hash, {} FROM public.discovery_hashes d JOIN users u ON u.user_id = d.user_id \
         WHERE d.period = $1 AND d.phone_hash = ANY($2) ORDER BY d.phone_hash",
        super::queries::PROFILE
    )))
    .bind(period)
    .bind(hashes)
    .fetch_all(pool)
    .await
}
