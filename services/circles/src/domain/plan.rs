//! A user's plan (stream type `plan`, id = user id). Premium owners may raise a circle's cap
//! up to the premium limit. Granted and revoked by operators.

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{CircleError, events as pb};

event_enum! {
    pub enum PlanEvent {
        Granted(pb::PremiumGranted),
        Revoked(pb::PremiumRevoked),
    }
}

#[derive(Clone, Debug)]
pub struct SetPremium {
    pub user_id: Uuid,
    pub premium: bool,
    pub by: Uuid,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub premium: bool,
}

impl Aggregate for Plan {
    const STREAM_TYPE: &'static str = "plan";
    type Event = PlanEvent;
    type Command = SetPremium;
    type Error = CircleError;

    fn handle(&self, cmd: SetPremium) -> Result<Vec<PlanEvent>, CircleError> {
        if cmd.premium == self.premium {
            return Ok(vec![]);
        }
        let (user_id, by_user_id) = (cmd.user_id.to_string(), cmd.by.to_string());
        Ok(vec![if cmd.premium {
            PlanEvent::Granted(pb::PremiumGranted { user_id, by_user_id })
        } else {
            PlanEvent::Revoked(pb::PremiumRevoked { user_id, by_user_id })
        }])
    }

    fn apply(&mut self, event: &PlanEvent) {
        self.premium = matches!(event, PlanEvent::Granted(_));
    }
}
