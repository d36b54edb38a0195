//! Tables fed by consumers, in the `public` schema (a projection rebuild must not drop them):
//!
//! - [`UsersFeed`]: friendships, blocks and verified merchants, from the users service's
//!   events (`tuan.users.v1`), kept by the shared `tuan_messaging::social::SocialGraph` handler
//!   in its tables (`public.friends`, `public.blocks`, `public.merchants`), and each new
//!   friendship's backfill of recent moments. Invitations, timelines and public accounts read
//!   them.
//! - [`FanoutFeed`]: moments into the timelines of the author and every friend, and broadcasts
//!   into the inbox of every non-muted follower, from this service's own events
//!   (`tuan.circles.v1`). The request appends one event; the fan-out happens here.
//!
//! Fan-out is one `INSERT ... SELECT` per event, in the consumer's transaction together with
//! its processed-event record: a crash mid-way rolls the whole fan-out back and the
//! redelivery redoes it, and the primary key makes any repeat a no-op. Measured at ~10,000
//! rows in well under a second (see the fan-out test), so a moment to tens of thousands of
//! friends stays one short transaction. The timeline's primary key is its read order
//! `(owner_id, created_at, moment_id)` (created_at is the event's own timestamp, the same on
//! every redelivery), so each fanned-out row maintains one index only.

use futures::{FutureExt, future::BoxFuture};
use sqlx::{PgConnection, PgPool};
use tuan_messaging::{
    EventHandler, HandlerError,
    envelope::{decode, is, occurred_at, uuid_field},
    social::SocialGraph,
};
use tuan_proto::{circles::v1 as circles_pb, events::v1::EventEnvelope, users::v1 as users_pb};
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

/// The users service's events: the shared social graph, and each new friendship's backfill.
///
/// A moment fans out to the author's friends as circles knows them when its event is applied;
/// a friendship that circles learns later (the two events come on different topics, in either
/// order) would miss it for good. So a friendship also copies each side's recent moments
/// into the other's timeline, in the same transaction. The moment rows are committed with
/// the command that posted them, before its event is even published. The two consumers run
/// in separate transactions, so each could read before the other commits (the backfill finds
/// no moment yet, the fan-out finds no friendship yet) and the moment would be lost: both
/// take [`lock_author`] before they read, so whichever runs second reads what the first
/// committed. The timeline's key (owner, the moment's time, id) makes the copy and the
/// fan-out of one moment the same row. Removing or blocking a friend
/// keeps hiding the moments, as the timeline read joins the friendships.
pub struct UsersFeed;

impl EventHandler for UsersFeed {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        envelope: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            SocialGraph::apply(conn, envelope).await?;
            if is::<users_pb::FriendRequestAccepted>(envelope) {
                let e: users_pb::FriendRequestAccepted = decode(envelope)?;
                let (a, b) = (uuid_field("from_user_id", &e.from_user_id)?, uuid_field("to_user_id", &e.to_user_id)?);
                // In one order, so two friendships that share a user cannot deadlock.
                lock_author(conn, a.min(b)).await?;
                lock_author(conn, a.max(b)).await?;
                let rows = backfill(conn, a, b).await? + backfill(conn, b, a).await?;
                tracing::debug!(%a, %b, rows, "new friends' recent moments backfilled");
            }
            Ok(())
        }
        .boxed()
    }

    fn wants(&self, event_type: &str) -> bool {
        SocialGraph::applies(event_type)
    }
}

/// Serialises, per author, the fan-out of their moments with the backfills of their new
/// friendships (held to the end of the consumer's transaction).
async fn lock_author(conn: &mut PgConnection, author: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7202612031))")
        .bind(author)
        .execute(conn)
        .await
        .map(drop)
}

/// Copies `author`'s recent moments into `owner`'s timeline; answers the rows added.
async fn backfill(conn: &mut PgConnection, owner: Uuid, author: Uuid) -> Result<u64, sqlx::Error> {
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

/// Moments to timelines, broadcasts to inboxes, from this service's own topic.
pub struct FanoutFeed;

impl EventHandler for FanoutFeed {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        envelope: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            if is::<circles_pb::MomentPosted>(envelope) {
                let e: circles_pb::MomentPosted = decode(envelope)?;
                let author = uuid_field("id", &e.author_id)?;
                lock_author(conn, author).await?;
                let rows = sqlx::query(
                    "INSERT INTO public.timeline (owner_id, created_at, moment_id, author_id) \
                     SELECT f.friend_id, $3, $2, $1 FROM public.friends f WHERE f.user_id = $1 \
                     UNION ALL SELECT $1, $3, $2, $1 \
                     ON CONFLICT DO NOTHING",
                )
                .bind(author)
                .bind(uuid_field("id", &e.moment_id)?)
                .bind(occurred_at(envelope)?)
                .execute(conn)
                .await?
                .rows_affected();
                tracing::debug!(moment = %e.moment_id, rows, "moment fanned out");
            } else if is::<circles_pb::BroadcastSent>(envelope) {
                let e: circles_pb::BroadcastSent = decode(envelope)?;
                // `follows` is this service's own read model (schema proj, first on the path).
                let rows = sqlx::query(
                    "INSERT INTO public.inbox (owner_id, created_at, broadcast_id, account_id) \
                     SELECT f.user_id, $3, $2, $1 FROM follows f WHERE f.account_id = $1 AND NOT f.muted \
                     ON CONFLICT DO NOTHING",
                )
                .bind(uuid_field("id", &e.account_id)?)
                .bind(uuid_field("id", &e.broadcast_id)?)
                .bind(occurred_at(envelope)?)
                .execute(conn)
                .await?
                .rows_affected();
                tracing::debug!(broadcast = %e.broadcast_id, rows, "broadcast fanned out");
            }
            Ok(())
        }
        .boxed()
    }
}
