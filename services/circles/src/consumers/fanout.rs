//! This service's own events (`tuan.circles.v1`): the fan-out of moments and broadcasts.

use futures::{FutureExt, future::BoxFuture};
use sqlx::PgConnection;
use tuan_messaging::{
    EventHandler, Events, HandlerError,
    envelope::{occurred_at, uuid_field},
};
use tuan_proto::{circles::v1 as circles_pb, events::v1::EventEnvelope};

use crate::store::feeds::{fan_out_broadcast, fan_out_moment, lock_author};

/// Moments to timelines, broadcasts to inboxes, from this service's own topic.
#[derive(Clone, Copy, Debug, Default)]
pub struct FanoutFeed;

tuan_messaging::events! {
    /// The circles events that fan out; the rest of the topic passes by.
    enum Fanout {
        Moment(circles_pb::MomentPosted),
        Broadcast(circles_pb::BroadcastSent),
    }
}

impl EventHandler for FanoutFeed {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        envelope: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            match Fanout::decode(envelope)? {
                Some(Fanout::Moment(e)) => {
                    let author = uuid_field("id", &e.author_id)?;
                    lock_author(conn, author).await?;
                    let rows =
                        fan_out_moment(conn, author, uuid_field("id", &e.moment_id)?, occurred_at(envelope)?).await?;
                    tracing::debug!(moment = %e.moment_id, rows, "moment fanned out");
                }
                Some(Fanout::Broadcast(e)) => {
                    let (account, broadcast) = (uuid_field("id", &e.account_id)?, uuid_field("id", &e.broadcast_id)?);
                    let rows = fan_out_broadcast(conn, account, broadcast, occurred_at(envelope)?).await?;
                    tracing::debug!(broadcast = %e.broadcast_id, rows, "broadcast fanned out");
                }
                None => {}
            }
            Ok(())
        }
        .boxed()
    }

    fn wants(&self, event_type: &str) -> bool {
        Fanout::wants(event_type)
    }
}
