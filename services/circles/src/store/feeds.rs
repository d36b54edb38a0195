//! Tables fed by consumers, in the `public` schema (a projection rebuild must not drop them):
//!
//! - friendships, blocks and verified merchants, from the users service's events
//!   (`tuan.users.v1`), kept by the shared `tuan_messaging::social::SocialGraph` handler in its tables
//!   (`public.friends`, `public.blocks`, `public.merchants`). Invitations, timelines and public
//!   accounts read them.
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
};
use tuan_proto::{circles::v1 as circles_pb, events::v1::EventEnvelope};

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
                let rows = sqlx::query(
                    "INSERT INTO public.timeline (owner_id, created_at, moment_id, author_id) \
                     SELECT f.friend_id, $3, $2, $1 FROM public.friends f WHERE f.user_id = $1 \
                     UNION ALL SELECT $1, $3, $2, $1 \
                     ON CONFLICT DO NOTHING",
                )
                .bind(uuid_field("id", &e.author_id)?)
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
