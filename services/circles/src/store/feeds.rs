//! Tables fed by consumers (`crate::consumers`), in the `public` schema (a projection rebuild
//! must not drop them), and the statements that feed them:
//!
//! - friendships, blocks and verified merchants, from the users service's events
//!   (`tuan.users.v1`), in the tables of the shared `tuan_messaging::social` schema
//!   (`public.friends`, `public.blocks`, `public.merchants`), and each new friendship's
//!   backfill of recent moments ([`backfill`]). Invitations, timelines and public accounts
//!   read them.
//! - `public.timeline` and `public.inbox`: moments into the timelines of the author and every
//!   friend ([`fan_out_moment`]), and broadcasts into the inbox of every non-muted follower
//!   ([`fan_out_broadcast`]), from this service's own events (`tuan.circles.v1`). The request
//!   appends one event; the fan-out happens in the consumer.
//!
//! Fan-out is one `INSERT ... SELECT` per event, in the consumer's transaction together with
//! its processed-event record: a crash mid-way rolls the whole fan-out back and the
//! redelivery redoes it, and the primary key makes any repeat a no-op. Measured at ~10,000
//! rows in well under a second (see the fan-out test), so a moment to tens of thousands of
//! friends stays one short transaction. The timeline's primary key is its read order
//! `(owner_id, created_at, moment_id)` (created_at is the event's own timestamp, the same on
//! every redelivery), so each fanned-out row maintains one index only.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const PUBLIC_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS public.timeline (
    owner_id   UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    moment_id  UUID NOT NULL,
    author_id  UUID NOT NULL,
    PRIMARY KEY (owner_id, created_at, moment_id)
);
CREATE TABLE IF NOT EXISTS public.inbox (
    owner_id     UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    broadcast_id UUID NOT NULL,
    account_id   UUID NOT NULL,
    PRIMARY KEY (owner_id, created_at, broadcast_id)
);
"#;

/// Creates the consumer-fed tables if missing (idempotent; serialised across replicas).
pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_messaging::social::install(pool).await?;
    tuan_eventstore::install_tables(pool, PUBLIC_SCHEMA).await
}

/// How far back a new friendship brings the other's moments into each timeline, as WeChat
/// shows a new friend the author's recent moments.
pub const BACKFILL_DAYS: i32 = 30;
/// At most this many of the other's newest moments (within [`BACKFILL_DAYS`]).
pub const BACKFILL_MOMENTS: i64 = 100;

/// Serialises, per author, the fan-out of their moments with the backfills of their new
/// friendships (held to the end of the consumer's transaction).
pub async fn lock_author(conn: &mut PgConnection, author: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7202612031))")
        .bind(author)
        .execute(conn)
        .await
        .map(drop)
}

/// Copies `author`'s recent moments into `owner`'s timeline; answers the rows added.
pub async fn backfill(conn: &mut PgConnection, owner: Uuid, author: Uuid) -> Result<u64, sqlx::Error> {
    // `moments` is this service's own read model (schema proj, first on the path).
    let done = sqlx::query(
        "INSERT INTO public.timeline (owner_id, created_at, moment_id, author_id)          SELECT $1, m.created_at, m.moment_id, m.author_id FROM (              SELECT moment_id, author_id, created_at FROM moments              WHERE author_id = $2 AND created_at > now() - make_interval(days => $3)              ORDER BY created_at DESC LIMIT $4) m          ON CONFLICT DO NOTHING",
    )
    .bind(owner)
    .bind(author)
    .bind(BACKFILL_DAYS)
    .bind(BACKFILL_MOMENTS)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Puts moment `moment` of `author` (posted at `at`) into the timelines of the author and of
/// every friend; answers the rows added. The caller holds [`lock_author`].
pub async fn fan_out_moment(
    conn: &mut PgConnection,
    author: Uuid,
    moment: Uuid,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO public.timeline (owner_id, created_at, moment_id, author_id) \
         SELECT f.friend_id, $3, $2, $1 FROM public.friends f WHERE f.user_id = $1 \
         UNION ALL SELECT $1, $3, $2, $1 \
         ON CONFLICT DO NOTHING",
    )
    .bind(author)
    .bind(moment)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Puts broadcast `broadcast` of public account `account` (sent at `at`) into the inbox of
/// every follower who did not mute it; answers the rows added.
pub async fn fan_out_broadcast(
    conn: &mut PgConnection,
    account: Uuid,
    broadcast: Uuid,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    // `follows` is this service's own read model (schema proj, first on the path).
    let done = sqlx::query(
        "INSERT INTO public.inbox (owner_id, created_at, broadcast_id, account_id) \
         SELECT f.user_id, $3, $2, $1 FROM follows f WHERE f.account_id = $1 AND NOT f.muted \
         ON CONFLICT DO NOTHING",
    )
    .bind(account)
    .bind(broadcast)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
