//! The social graph every service keeps from the users service's events (`tuan.users.v1`):
//! friendships, blocks and verified merchants. One handler and one schema for all; each
//! service keeps its own copy in its own database, in `public` (a projection rebuild must
//! not drop tables fed from another service's topic):
//!
//! - `public.friends (user_id, friend_id)`: one row per direction, so "my friends" is one
//!   index range and "is b my friend" one probe;
//! - `public.blocks (blocker_id, blocked_id)`: blocking is per direction and ends a
//!   friendship;
//! - `public.merchants (user_id, verified_at)`: merchants the operators verified (a rejection
//!   removes the row).
//!
//! A service's own queries may join these tables; the common questions are here.

use futures::{FutureExt, future::BoxFuture};
use sqlx::{PgConnection, PgExecutor, PgPool};
use tuan_proto::{events::v1::EventEnvelope, users::v1 as users};
use uuid::Uuid;

use crate::{
    EventHandler, Events, HandlerError,
    envelope::{occurred_at, uuid_field},
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS public.friends (
    user_id   UUID NOT NULL,
    friend_id UUID NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);
CREATE TABLE IF NOT EXISTS public.blocks (
    blocker_id UUID NOT NULL,
    blocked_id UUID NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE TABLE IF NOT EXISTS public.merchants (
    user_id     UUID PRIMARY KEY,
    verified_at TIMESTAMPTZ NOT NULL
);
"#;

/// Creates the social-graph tables if missing (idempotent; serialised across replicas).
pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_eventstore::install_tables(pool, SCHEMA).await
}

/// Applies the users service's friendship, block and merchant events to the tables above.
/// Every statement is idempotent, so a redelivery changes nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct SocialGraph;

crate::events! {
    /// The users events [`SocialGraph`] applies: one list for `wants` and `handle`. A handler
    /// that keeps the social graph besides its own events takes this list into its own
    /// (`..Social(SocialEvent),`).
    #[derive(Clone, Debug)]
    pub enum SocialEvent {
        Befriended(users::FriendRequestAccepted),
        Unfriended(users::FriendRemoved),
        Blocked(users::UserBlocked),
        Unblocked(users::UserUnblocked),
        MerchantVerified(users::MerchantVerified),
        MerchantRejected(users::MerchantRejected),
    }
}

impl SocialGraph {
    /// Whether `event_type` is one of the events this handler applies.
    pub fn applies(event_type: &str) -> bool {
        SocialEvent::wants(event_type)
    }

    /// Applies `envelope` in the consumer's transaction; other events change nothing.
    pub async fn apply(conn: &mut PgConnection, envelope: &EventEnvelope) -> Result<(), HandlerError> {
        match SocialEvent::decode(envelope)? {
            Some(event) => Self::apply_event(conn, envelope, &event).await,
            None => Ok(()),
        }
    }

    /// Applies `event`, decoded from `envelope`, in the consumer's transaction.
    pub async fn apply_event(
        conn: &mut PgConnection,
        envelope: &EventEnvelope,
        event: &SocialEvent,
    ) -> Result<(), HandlerError> {
        match event {
            SocialEvent::Befriended(e) => {
                let (a, b) = (uuid_field("from_user_id", &e.from_user_id)?, uuid_field("to_user_id", &e.to_user_id)?);
                sqlx::query(
                    "INSERT INTO public.friends (user_id, friend_id) VALUES ($1, $2), ($2, $1) ON CONFLICT DO NOTHING",
                )
                .bind(a)
                .bind(b)
                .execute(conn)
                .await?;
            }
            SocialEvent::Unfriended(e) => {
                unfriend(
                    conn,
                    uuid_field("by_user_id", &e.by_user_id)?,
                    uuid_field("other_user_id", &e.other_user_id)?,
                )
                .await?;
            }
            SocialEvent::Blocked(e) => {
                let (blocker, blocked) =
                    (uuid_field("blocker_id", &e.blocker_id)?, uuid_field("blocked_id", &e.blocked_id)?);
                unfriend(conn, blocker, blocked).await?;
                sqlx::query(
                    "INSERT INTO public.blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(blocker)
                .bind(blocked)
                .execute(conn)
                .await?;
            }
            SocialEvent::Unblocked(e) => {
                sqlx::query("DELETE FROM public.blocks WHERE blocker_id = $1 AND blocked_id = $2")
                    .bind(uuid_field("blocker_id", &e.blocker_id)?)
                    .bind(uuid_field("blocked_id", &e.blocked_id)?)
                    .execute(conn)
                    .await?;
            }
            SocialEvent::MerchantVerified(e) => {
                sqlx::query(
                    "INSERT INTO public.merchants (user_id, verified_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(uuid_field("user_id", &e.user_id)?)
                .bind(occurred_at(envelope)?)
                .execute(conn)
                .await?;
            }
            SocialEvent::MerchantRejected(e) => {
                sqlx::query("DELETE FROM public.merchants WHERE user_id = $1")
                    .bind(uuid_field("user_id", &e.user_id)?)
                    .execute(conn)
                    .await?;
            }
        }
        Ok(())
    }
}

impl EventHandler for SocialGraph {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        envelope: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Self::apply(conn, envelope).boxed()
    }

    fn wants(&self, event_type: &str) -> bool {
        SocialEvent::wants(event_type)
    }
}

async fn unfriend(conn: &mut PgConnection, a: Uuid, b: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM public.friends WHERE (user_id, friend_id) IN (($1, $2), ($2, $1))")
        .bind(a)
        .bind(b)
        .execute(conn)
        .await?;
    Ok(())
}

/// How `other` stands to `user`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Friends,
    Strangers,
    /// `user` blocked `other`.
    Blocking,
    /// `other` blocked `user`.
    BlockedBy,
}

impl Relation {
    /// Either side blocked the other.
    pub fn is_blocked(self) -> bool {
        matches!(self, Relation::Blocking | Relation::BlockedBy)
    }
}

/// How `other` stands to `user`, in one statement; a block by `other` comes first (it decides
/// what `user` may do, whatever `user` did).
pub async fn relation<'c>(db: impl PgExecutor<'c>, user: Uuid, other: Uuid) -> Result<Relation, sqlx::Error> {
    let (blocking, blocked_by, friends): (bool, bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM public.blocks WHERE blocker_id = $1 AND blocked_id = $2), \
                EXISTS (SELECT 1 FROM public.blocks WHERE blocker_id = $2 AND blocked_id = $1), \
                EXISTS (SELECT 1 FROM public.friends WHERE user_id = $1 AND friend_id = $2)",
    )
    .bind(user)
    .bind(other)
    .fetch_one(db)
    .await?;
    Ok(if blocked_by {
        Relation::BlockedBy
    } else if blocking {
        Relation::Blocking
    } else if friends {
        Relation::Friends
    } else {
        Relation::Strangers
    })
}

/// Whether `blocker` blocked `blocked` (one direction).
pub async fn has_blocked<'c>(db: impl PgExecutor<'c>, blocker: Uuid, blocked: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.blocks WHERE blocker_id = $1 AND blocked_id = $2)")
        .bind(blocker)
        .bind(blocked)
        .fetch_one(db)
        .await
}

/// Whether the users service verified `user` as a merchant.
pub async fn is_verified_merchant<'c>(db: impl PgExecutor<'c>, user: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.merchants WHERE user_id = $1)")
        .bind(user)
        .fetch_one(db)
        .await
}
