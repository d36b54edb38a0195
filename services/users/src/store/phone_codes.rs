//! Phone codes waiting to be typed back, and the SMS sent lately (for the resend limits).
//!
//! Kept in `public`, outside the projections: operational state that lives minutes, not
//! derived from events (a code in an event would be published and kept forever).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::phone_code::{CodePurpose, SendHistory, StoredCode};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS public.phone_codes (
    phone_e164    TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    code_hash     BYTEA NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    attempts_left INT NOT NULL,
    PRIMARY KEY (phone_e164, purpose)
);
CREATE TABLE IF NOT EXISTS public.sms_sends (
    id         BIGSERIAL PRIMARY KEY,
    phone_e164 TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    client     TEXT NOT NULL,
    sent_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_sends_by_phone ON public.sms_sends (phone_e164, sent_at);
CREATE INDEX IF NOT EXISTS sms_sends_by_client ON public.sms_sends (client, sent_at);
"#;

pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_eventstore::install_tables(pool, SCHEMA).await
}

/// Serialises code requests for one number until the transaction ends, so two at once cannot
/// both slip under its limits.
pub async fn lock_phone(conn: &mut PgConnection, phone: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('phone_code:' || $1, 0))")
        .bind(phone)
        .execute(conn)
        .await?;
    Ok(())
}

/// What was sent in the hour before `now` to `phone` and from `client`.
pub async fn history(
    conn: &mut PgConnection,
    phone: &str,
    purpose: CodePurpose,
    client: &str,
    now: DateTime<Utc>,
) -> Result<SendHistory, sqlx::Error> {
    /// Last for the purpose; count and oldest to the number; count and oldest from the client.
    type Row = (Option<DateTime<Utc>>, i64, Option<DateTime<Utc>>, i64, Option<DateTime<Utc>>);
    let row: Row = sqlx::query_as(
        "WITH recent AS (SELECT * FROM public.sms_sends \
           WHERE (phone_e164 = $1 OR client = $3) AND sent_at > $4 - interval '1 hour') \
         SELECT max(sent_at) FILTER (WHERE phone_e164 = $1 AND purpose = $2), \
                count(*) FILTER (WHERE phone_e164 = $1), min(sent_at) FILTER (WHERE phone_e164 = $1), \
                count(*) FILTER (WHERE client = $3), min(sent_at) FILTER (WHERE client = $3) \
         FROM recent",
    )
    .bind(phone)
    .bind(purpose.as_str())
    .bind(client)
    .bind(now)
    .fetch_one(conn)
    .await?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(SendHistory { last_for_purpose: row.0, to_phone: (count(row.1), row.2), from_client: (count(row.3), row.4) })
}

/// Counts one SMS to `phone` from `client`, forgetting that number's and that client's sends
/// older than the hour the limits look at.
pub async fn record_send(
    conn: &mut PgConnection,
    phone: &str,
    purpose: CodePurpose,
    client: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH forgotten AS (DELETE FROM public.sms_sends \
           WHERE (phone_e164 = $1 OR client = $3) AND sent_at < $4 - interval '1 hour') \
         INSERT INTO public.sms_sends (phone_e164, purpose, client, sent_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(phone)
    .bind(purpose.as_str())
    .bind(client)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps `code` as the one live code for `phone` and `purpose` (an earlier one stops working).
pub async fn store_code(
    conn: &mut PgConnection,
    phone: &str,
    purpose: CodePurpose,
    code: &StoredCode,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.phone_codes (phone_e164, purpose, code_hash, expires_at, attempts_left) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (phone_e164, purpose) DO UPDATE \
         SET code_hash = $3, expires_at = $4, attempts_left = $5",
    )
    .bind(phone)
    .bind(purpose.as_str())
    .bind(&code.hash)
    .bind(code.expires_at)
    .bind(i32::try_from(code.attempts_left).unwrap_or(i32::MAX))
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses up one try of the live code for `phone` and `purpose` and returns its hash to compare
/// with; None when there is no live code (never sent, expired, used, or out of tries). The
/// try counts whatever the comparison says, in its own statement, so a failed sign-up that
/// rolls back does not give it back.
pub async fn spend_attempt(
    pool: &PgPool,
    phone: &str,
    purpose: CodePurpose,
    now: DateTime<Utc>,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE public.phone_codes SET attempts_left = attempts_left - 1 \
         WHERE phone_e164 = $1 AND purpose = $2 AND expires_at > $3 AND attempts_left > 0 \
         RETURNING code_hash",
    )
    .bind(phone)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Uses the code up, inside the caller's transaction: true if this call did (one of two
/// concurrent uses of the right code wins).
pub async fn consume(
    conn: &mut PgConnection,
    phone: &str,
    purpose: CodePurpose,
    hash: &[u8],
) -> Result<bool, sqlx::Error> {
    let deleted =
        sqlx::query("DELETE FROM public.phone_codes WHERE phone_e164 = $1 AND purpose = $2 AND code_hash = $3")
            .bind(phone)
            .bind(purpose.as_str())
            .bind(hash)
            .execute(conn)
            .await?;
    Ok(deleted.rows_affected() == 1)
}
