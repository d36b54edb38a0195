//! Circle membership from the circles service (`tuan.circles.v1`), into `store::membership`.

use futures::{FutureExt, future::BoxFuture};
use sqlx::PgConnection;
use tuan_messaging::{EventHandler, Events, HandlerError, envelope::uuid_field};
use tuan_proto::{circles::v1 as circles, events::v1::EventEnvelope};

use crate::store::membership;

/// Keeps circle membership (`store::membership`) in step with the circles service: who joined,
/// left or was kicked, and which circles were dissolved. AA bills in a circle follow it.
#[derive(Clone, Copy, Debug, Default)]
pub struct CirclesHandler;

tuan_messaging::events! {
    /// The circles events payments acts on; one list for both `wants` and `handle`.
    enum CircleFact {
        Joined(circles::MemberJoined),
        Left(circles::MemberLeft),
        Kicked(circles::MemberKicked),
        Dissolved(circles::CircleDissolved),
    }
}

impl CirclesHandler {
    async fn apply(conn: &mut PgConnection, envelope: &EventEnvelope) -> Result<(), HandlerError> {
        // Membership events come one stream per (circle, user), in order per key; the stream's
        // version orders them should an old one be delivered again after a newer one.
        let version = i64::try_from(envelope.version)
            .map_err(|_| HandlerError::Permanent(format!("version {} is out of range", envelope.version)))?;
        let (circle, user, member) = match CircleFact::decode(envelope)? {
            Some(CircleFact::Joined(e)) => (e.circle_id, e.user_id, true),
            Some(CircleFact::Left(e)) => (e.circle_id, e.user_id, false),
            Some(CircleFact::Kicked(e)) => (e.circle_id, e.user_id, false),
            Some(CircleFact::Dissolved(e)) => {
                return Ok(membership::dissolve(conn, uuid_field("circle_id", &e.circle_id)?).await?);
            }
            // Not in the list: `wants` kept it out.
            None => return Ok(()),
        };
        let (circle, user) = (uuid_field("circle_id", &circle)?, uuid_field("user_id", &user)?);
        membership::set_member(conn, circle, user, member, version).await?;
        Ok(())
    }
}

impl EventHandler for CirclesHandler {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        envelope: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Self::apply(conn, envelope).boxed()
    }

    fn wants(&self, event_type: &str) -> bool {
        CircleFact::wants(event_type)
    }
}
