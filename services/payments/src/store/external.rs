//! Tables fed by other services' events, and payments' own bookkeeping outside `proj`
//! (a projection rebuild replaces `proj` wholesale, so these live in `public`).

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const SCHEMA: &str = r#"
-- From tuan.users.v1: one row per direction, so "is b my friend" is one index probe.
CREATE TABLE IF NOT EXISTS public.friendships (
    user_id   UUID NOT NULL,
    friend_id UUID NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);
CREATE TABLE IF NOT EXISTS public.blocks (
    blocker_id UUID NOT NULL,
    blocked_id UUID NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE TABLE IF NOT EXISTS public.verified_merchants (
    user_id UUID PRIMARY KEY
);

-- Money commands by (caller, key): the request's hash and the first response, written in the
-- command's own transaction.
CREATE TABLE IF NOT EXISTS public.idempotency_keys (
    caller       UUID NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response     BYTEA,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);
"#;

pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_eventstore::install_tables(pool, SCHEMA).await
}

pub async fn befriend(conn: &mut PgConnection, a: Uuid, b: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO public.friendships (user_id, friend_id) VALUES ($1, $2), ($2, $1) ON CONFLICT DO NOTHING")
        .bind(a)
        .bind(b)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn unfriend(conn: &mut PgConnection, a: Uuid, b: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM public.friendships WHERE (user_id, friend_id) IN (($1, $2), ($2, $1))")
        .bind(a)
        .bind(b)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn block(conn: &mut PgConnection, blocker: Uuid, blocked: Uuid) -> Result<(), sqlx::Error> {
    unfriend(conn, blocker, blocked).await?;
    sqlx::query("INSERT INTO public.blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(blocker)
        .bind(blocked)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn unblock(conn: &mut PgConnection, blocker: Uuid, blocked: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM public.blocks WHERE blocker_id = $1 AND blocked_id = $2")
        .bind(blocker)
        .bind(blocked)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn verify_merchant(conn: &mut PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO public.verified_merchants (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// How `other` relates to `user`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Friends,
    Strangers,
    /// Either side blocked the other.
    Blocked,
}

pub async fn relation(conn: &mut PgConnection, user: Uuid, other: Uuid) -> Result<Relation, sqlx::Error> {
    let (friends, blocked): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM public.friendships WHERE user_id = $1 AND friend_id = $2), \
                EXISTS (SELECT 1 FROM public.blocks WHERE (blocker_id, blocked_id) IN (($1, $2), ($2, $1)))",
    )
    .bind(user)
    .bind(other)
    .fetch_one(conn)
    .await?;
    Ok(if blocked {
        Relation::Blocked
    } else if friends {
        Relation::Friends
    } else {
        Relation::Strangers
    })
}

pub async fn is_verified_merchant(conn: &mut PgConnection, user: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.verified_merchants WHERE user_id = $1)")
        .bind(user)
        .fetch_one(conn)
        .await
}
