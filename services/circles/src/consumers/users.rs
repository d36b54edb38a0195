//! The users service's events (`tuan.users.v1`).

use futures::{FutureExt, future::BoxFuture};
use sqlx::PgConnection;
use tuan_messaging::{
    EventHandler, Events, HandlerError,
    envelope::uuid_field,
    social::{SocialEvent, SocialGraph},
};
use tuan_proto::events::v1::EventEnvelope;

use crate::store::feeds::{backfill, lock_author};

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
#[derive(Clone, Copy, Debug, Default)]
pub struct UsersFeed;

impl EventHandler for UsersFeed {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        envelope: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            let Some(event) = SocialEvent::decode(envelope)? else { return Ok(()) };
            SocialGraph::apply_event(conn, envelope, &event).await?;
            if let SocialEvent::Befriended(e) = &event {
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
        SocialEvent::wants(event_type)
    }
}
