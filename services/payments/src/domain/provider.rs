//! Requests to the payment provider: top-ups (stream `top_up`) and withdrawals (stream
//! `withdrawal`). Each is requested once and then completes or fails once; a second
//! confirmation of the same outcome changes nothing.

use tuan_eventstore::{Aggregate, event_enum};
use tuan_kernel::recorded;
use uuid::Uuid;

use super::{Money, PaymentError, events as pb};

event_enum! {
    pub enum TopUpEvent {
        Requested(pb::TopUpRequested),
        Completed(pb::TopUpCompleted),
        Failed(pb::TopUpFailed),
    }
}

event_enum! {
    pub enum WithdrawalEvent {
        Requested(pb::WithdrawalRequested),
        Completed(pb::WithdrawalCompleted),
        Failed(pb::WithdrawalFailed),
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RequestStatus {
    #[default]
    New,
    Pending,
    Completed,
    Failed,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::New => "new",
            RequestStatus::Pending => "pending",
            RequestStatus::Completed => "completed",
            RequestStatus::Failed => "failed",
        }
    }
}

/// Why a command on a top-up or withdrawal request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("request exists already")]
    Exists,
    #[error("provider request not found")]
    NotFound,
}

/// What the provider said about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded { provider_reference: String },
    Failed { reason: String },
}

#[derive(Clone, Debug)]
pub enum ProviderCommand {
    Request { id: Uuid, user: Uuid, amount: Money },
    Confirm(Outcome),
}

/// The lifecycle both kinds share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderRequest {
    pub status: RequestStatus,
    pub id: Uuid,
    pub user: Uuid,
    pub amount: Option<Money>,
}

impl ProviderRequest {
    /// Events for `command`, built by the kind's constructors.
    fn decide<E>(
        &self,
        command: ProviderCommand,
        requested: impl FnOnce(Uuid, Uuid, Money) -> E,
        completed: impl FnOnce(String) -> E,
        failed: impl FnOnce(String) -> E,
    ) -> Result<Vec<E>, PaymentError> {
        match (command, self.status) {
            (ProviderCommand::Request { id, user, amount }, RequestStatus::New) => {
                Ok(vec![requested(id, user, amount)])
            }
            (ProviderCommand::Request { .. }, _) => Err(ProviderError::Exists.into()),
            (ProviderCommand::Confirm(_), RequestStatus::New) => Err(ProviderError::NotFound.into()),
            (ProviderCommand::Confirm(Outcome::Succeeded { provider_reference }), RequestStatus::Pending) => {
                Ok(vec![completed(provider_reference)])
            }
            (ProviderCommand::Confirm(Outcome::Failed { reason }), RequestStatus::Pending) => Ok(vec![failed(reason)]),
            // Settled already: a repeated confirmation changes nothing.
            (ProviderCommand::Confirm(_), _) => Ok(vec![]),
        }
    }
}

fn recorded_amount(amount: &str, currency: &str) -> Money {
    recorded::money("amount", amount, recorded::currency("currency", currency))
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopUp(pub ProviderRequest);

impl Aggregate for TopUp {
    const STREAM_TYPE: &'static str = "top_up";
    type Event = TopUpEvent;
    type Command = ProviderCommand;
    type Error = PaymentError;

    fn handle(&self, command: ProviderCommand) -> Result<Vec<TopUpEvent>, PaymentError> {
        let (id, user) = (self.0.id.to_string(), self.0.user.to_string());
        let (amount, currency) =
            self.0.amount.map(|m| (m.amount().to_string(), m.currency().code().to_string())).unwrap_or_default();
        self.0.decide(
            command,
            |id, user, amount| {
                TopUpEvent::Requested(pb::TopUpRequested {
                    top_up_id: id.to_string(),
                    user_id: user.to_string(),
                    amount: amount.amount().to_string(),
                    currency: amount.currency().code().to_string(),
                })
            },
            |provider_reference| {
                TopUpEvent::Completed(pb::TopUpCompleted {
                    top_up_id: id.clone(),
                    user_id: user.clone(),
                    amount,
                    currency,
                    provider_reference,
                })
            },
            |reason| TopUpEvent::Failed(pb::TopUpFailed { top_up_id: id.clone(), user_id: user.clone(), reason }),
        )
    }

    fn apply(&mut self, event: &TopUpEvent) {
        match event {
            TopUpEvent::Requested(e) => {
                self.0 = ProviderRequest {
                    status: RequestStatus::Pending,
                    id: recorded::uuid("top_up_id", &e.top_up_id),
                    user: recorded::uuid("user_id", &e.user_id),
                    amount: Some(recorded_amount(&e.amount, &e.currency)),
                }
            }
            TopUpEvent::Completed(_) => self.0.status = RequestStatus::Completed,
            TopUpEvent::Failed(_) => self.0.status = RequestStatus::Failed,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Withdrawal(pub ProviderRequest);

impl Aggregate for Withdrawal {
    const STREAM_TYPE: &'static str = "withdrawal";
    type Event = WithdrawalEvent;
    type Command = ProviderCommand;
    type Error = PaymentError;

    fn handle(&self, command: ProviderCommand) -> Result<Vec<WithdrawalEvent>, PaymentError> {
        let (id, user) = (self.0.id.to_string(), self.0.user.to_string());
        self.0.decide(
            command,
            |id, user, amount| {
                WithdrawalEvent::Requested(pb::WithdrawalRequested {
                    withdrawal_id: id.to_string(),
                    user_id: user.to_string(),
                    amount: amount.amount().to_string(),
                    currency: amount.currency().code().to_string(),
                })
            },
            |provider_reference| {
                WithdrawalEvent::Completed(pb::WithdrawalCompleted {
                    withdrawal_id: id.clone(),
                    user_id: user.clone(),
                    provider_reference,
                })
            },
            |reason| {
                WithdrawalEvent::Failed(pb::WithdrawalFailed {
                    withdrawal_id: id.clone(),
                    user_id: user.clone(),
                    reason,
                })
            },
        )
    }

    fn apply(&mut self, event: &WithdrawalEvent) {
        match event {
            WithdrawalEvent::Requested(e) => {
                self.0 = ProviderRequest {
                    status: RequestStatus::Pending,
                    id: recorded::uuid("withdrawal_id", &e.withdrawal_id),
                    user: recorded::uuid("user_id", &e.user_id),
                    amount: Some(recorded_amount(&e.amount, &e.currency)),
                }
            }
            WithdrawalEvent::Completed(_) => self.0.status = RequestStatus::Completed,
            WithdrawalEvent::Failed(_) => self.0.status = RequestStatus::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    #[test]
    fn a_top_up_settles_once() {
        let amount = Money::parse_positive("10", Currency::CNY).unwrap();
        let req = ProviderCommand::Request { id: Uuid::from_u128(1), user: Uuid::from_u128(2), amount };
        let mut t = TopUp::from_history(&TopUp::default().handle(req.clone()).unwrap());
        assert_eq!(t.0.status, RequestStatus::Pending);
        assert!(t.handle(req).is_err());
        let ok = Outcome::Succeeded { provider_reference: "sim-1".into() };
        let done = t.handle(ProviderCommand::Confirm(ok.clone())).unwrap();
        t.apply(&done[0]);
        assert_eq!(t.0.status, RequestStatus::Completed);
        assert!(t.handle(ProviderCommand::Confirm(ok)).unwrap().is_empty());
        assert!(t.handle(ProviderCommand::Confirm(Outcome::Failed { reason: "x".into() })).unwrap().is_empty());
    }
}
