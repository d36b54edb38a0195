//! What each user moved today, per kind and currency: the counters behind the daily limits.
//! One conditional upsert charges a move, in the command's own transaction, so concurrent
//! commands can never pass the limit together and a refused or rolled-back command counts
//! nothing.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS public.daily_usage (
    user_id  UUID NOT NULL,
    day      DATE NOT NULL,
    kind     TEXT NOT NULL,
    currency TEXT NOT NULL,
    used     NUMERIC NOT NULL CHECK (used > 0),
    PRIMARY KEY (user_id, day, kind, currency)
);
"#;

pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_eventstore::install_tables(pool, SCHEMA).await
}

/// Adds `amount` to what `user` moved on `day` if the total stays within `limit`; false (and
/// nothing counted) when it would not.
pub async fn charge(
    conn: &mut PgConnection,
    user: Uuid,
    day: NaiveDate,
    kind: &str,
    currency: &str,
    amount: Decimal,
    limit: Decimal,
) -> Result<bool, sqlx::Error> {
    let charged: Option<Decimal> = sqlx::query_scalar(
        "INSERT INTO public.daily_usage (user_id, day, kind, currency, used) \
         SELECT $1, $2, $3, $4, $5 WHERE $5 <= $6 \
         ON CONFLICT (user_id, day, kind, currency) DO UPDATE SET used = daily_usage.used + EXCLUDED.used \
         WHERE daily_usage.used + EXCLUDED.used <= $6 \
         RETURNING used",
    )
    .bind(user)
    .bind(day)
    .bind(kind)
    .bind(currency)
    .bind(amount)
    .bind(limit)
    .fetch_optional(conn)
    .await?;
    Ok(charged.is_some())
}
