//! Kafka consumers: the join saga's steps on payments' answers (`tuan.payments.v1`) and the
//! social graph (verified merchants, blocks) from users' events (`tuan.users.v1`).
//!
//! The handler names the events it acts on in one `tuan_messaging::events!` list (what it
//! wants and what it dispatches on); `startup.rs` runs it with `Host::consume`. The steps
//! themselves are use cases of `app::saga`, run in the consumer's transaction.

use futures::{FutureExt, future::BoxFuture};
use sqlx::PgConnection;
use tuan_eventstore::CommandError;
use tuan_messaging::{EventHandler, Events, HandlerError, envelope::caused_by, social::SocialGraph};
use tuan_proto::{events::v1::EventEnvelope, payments::v1 as payments};

use crate::{
    app::GroupBuyApp,
    domain::{GroupBuyError, join::JoinCommand},
};

/// Consumes `tuan.payments.v1` (hold outcomes) and `tuan.users.v1` (the social graph).
#[derive(Clone)]
pub struct SagaHandler {
    app: GroupBuyApp,
}

impl SagaHandler {
    pub fn new(app: GroupBuyApp) -> Self {
        Self { app }
    }
}

tuan_messaging::events! {
    /// The events [`SagaHandler`] acts on; the rest of the payments and users topics passes by.
    enum SagaEvent {
        HoldPlaced(payments::HoldPlaced),
        HoldRejected(payments::HoldRejected),
        HoldCaptured(payments::HoldCaptured),
        HoldReleased(payments::HoldReleased),
        // Verified merchants and blocks, from the users service.
        ..SocialGraph(tuan_messaging::social::SocialEvent),
    }
}

fn handler_error(err: CommandError<GroupBuyError>) -> HandlerError {
    match err {
        CommandError::Store(e) => e.into(),
        CommandError::Domain(e) => HandlerError::Permanent(e.to_string()),
    }
}

impl EventHandler for SagaHandler {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        env: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            let meta = caused_by(env);
            let app = &self.app;
            let result = match SagaEvent::decode(env)? {
                Some(SagaEvent::HoldPlaced(e)) => app.on_hold_placed(conn, &meta, &e.hold_id).await,
                Some(SagaEvent::HoldRejected(e)) => app.on_hold_rejected(conn, &meta, &e.hold_id, e.reason).await,
                Some(SagaEvent::HoldCaptured(e)) => {
                    app.on_join(conn, &meta, &e.hold_id, JoinCommand::HoldCaptured).await.map(|_| ())
                }
                Some(SagaEvent::HoldReleased(e)) => app.on_hold_released(conn, &meta, &e.hold_id, e.reason).await,
                Some(SagaEvent::SocialGraph(e)) => return SocialGraph::apply_event(conn, env, &e).await,
                // Not in the list: `wants` kept it out.
                None => return Ok(()),
            };
            result.map_err(handler_error)
        }
        .boxed()
    }

    fn wants(&self, event_type: &str) -> bool {
        SagaEvent::wants(event_type)
    }
}
