//! The group-buy service's hold requests (`tuan.groupbuy.v1`): holds placed, captured and
//! released as the join saga asks.

use std::time::Duration;

use futures::{FutureExt, future::BoxFuture};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use tuan_messaging::{
    EventHandler, Events, HandlerError,
    envelope::{caused_by, occurred_at, uuid_field},
    social,
};
use tuan_proto::{events::v1::EventEnvelope, groupbuy::v1 as groupbuy};
use tuan_runtime::{ApiError, ErrorKind};

use crate::{
    app::{PaymentsApp, holds::WhenShort},
    domain::{Currency, Money, hold::HoldRequest},
};

/// How long a hold request for a merchant payments does not know as verified waits for the
/// users service's `MerchantVerified` (group buying learned it on its own consumer before it let
/// the campaign launch; payments' consumer of the same topic may be a moment behind). After
/// that the hold is rejected: money goes only to merchants the operators verified.
const UNKNOWN_MERCHANT_GRACE: Duration = Duration::from_secs(10);

/// Places, captures and releases holds as the group-buy service asks; the answers
/// (`HoldPlaced`, `HoldRejected`, `HoldCaptured`, `HoldReleased`) go out through the outbox.
#[derive(Clone)]
pub struct GroupBuyHandler {
    pub app: PaymentsApp,
}

tuan_messaging::events! {
    /// The group-buy events payments acts on (the hold requests of the join saga); one list for
    /// both `wants` and `handle`.
    enum SagaStep {
        Place(groupbuy::HoldRequested),
        Capture(groupbuy::HoldCaptureRequested),
        Release(groupbuy::HoldReleaseRequested),
    }
}

/// Database trouble is retried; a request that can never succeed is dead-lettered; a request
/// that no longer fits the hold's state (captured twice, released after capture) is logged and
/// skipped, since the hold's own events already told the requester what happened.
fn outcome<T>(envelope: &EventEnvelope, result: Result<T, ApiError>) -> Result<(), HandlerError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) => match e.kind {
            ErrorKind::Internal | ErrorKind::Unavailable | ErrorKind::Conflict => {
                Err(HandlerError::Transient(e.message))
            }
            ErrorKind::FailedPrecondition => {
                tracing::warn!(event = %envelope.event_id, reason = %e.message, "hold request skipped");
                Ok(())
            }
            _ => Err(HandlerError::Permanent(e.message)),
        },
    }
}

impl GroupBuyHandler {
    async fn hold_requested(
        &self,
        conn: &mut PgConnection,
        envelope: &EventEnvelope,
        e: groupbuy::HoldRequested,
    ) -> Result<(), HandlerError> {
        let hold_id = uuid_field("hold_id", &e.hold_id)?;
        let user = uuid_field("user_id", &e.user_id)?;
        let merchant = uuid_field("merchant_id", &e.merchant_id)?;
        let amount = Currency::parse(&e.currency).and_then(|c| Money::parse_positive(&e.amount, c));
        let request = |amount: Money| HoldRequest {
            hold_id,
            user,
            merchant,
            amount,
            campaign_id: e.campaign_id.clone(),
            team_id: e.team_id.clone(),
            expires_at_micros: self.app.hold_expiry(e.expires_at_micros),
        };
        let meta = caused_by(envelope);
        let verified = social::is_verified_merchant(&mut *conn, merchant).await?;
        if !verified {
            let age = chrono::Utc::now().signed_duration_since(occurred_at(envelope)?);
            if age.to_std().unwrap_or_default() < UNKNOWN_MERCHANT_GRACE {
                return Err(HandlerError::Transient(format!("merchant {merchant} not known as verified yet")));
            }
            tracing::warn!(event = %envelope.event_id, %merchant, "hold request for an unverified merchant refused");
        }
        let not_verified = || format!("merchant {merchant} is not verified");
        // A refused request is recorded as a rejection, so the requester hears of it (with a
        // placeholder amount when its own does not parse).
        let (amount, refusal) = match amount {
            Ok(amount) => (amount, (!verified).then(not_verified)),
            Err(bad) => {
                let placeholder = Money::zero(Currency::parse(&e.currency).unwrap_or(Currency::CNY));
                (placeholder, Some(if verified { format!("invalid amount: {bad}") } else { not_verified() }))
            }
        };
        let result = match refusal {
            None => self.app.place_hold_in(conn, &meta, request(amount), WhenShort::Reject).await,
            Some(reason) => self.app.reject_hold_in(conn, &meta, request(amount), reason).await,
        };
        outcome(envelope, result)
    }

    async fn capture_requested(
        &self,
        conn: &mut PgConnection,
        envelope: &EventEnvelope,
        e: groupbuy::HoldCaptureRequested,
    ) -> Result<(), HandlerError> {
        let hold_id = uuid_field("hold_id", &e.hold_id)?;
        let merchant = (!e.merchant_id.is_empty()).then(|| uuid_field("merchant_id", &e.merchant_id)).transpose()?;
        let amount = if e.amount.is_empty() {
            None
        } else {
            let parsed = Decimal::from_str_exact(&e.amount)
                .map_err(|_| HandlerError::Permanent(format!("capture amount {:?} is malformed", e.amount)))?;
            Some(parsed)
        };
        let meta = caused_by(envelope);
        let result = async {
            let amount = match amount {
                None => None,
                Some(d) => {
                    let hold = crate::store::queries::hold(self.app.pool(), hold_id).await?;
                    let currency = hold.and_then(|h| Currency::parse(&h.currency).ok()).unwrap_or(Currency::CNY);
                    Some(Money::positive(d, currency).map_err(ApiError::from)?)
                }
            };
            // A group-buy capture is the last: whatever is not captured goes back to the buyer.
            self.app.capture_hold_in(conn, &meta, hold_id, amount, true, merchant).await
        }
        .await;
        outcome(envelope, result)
    }

    async fn release_requested(
        &self,
        conn: &mut PgConnection,
        envelope: &EventEnvelope,
        e: groupbuy::HoldReleaseRequested,
    ) -> Result<(), HandlerError> {
        let hold_id = uuid_field("hold_id", &e.hold_id)?;
        let reason = if e.reason.trim().is_empty() { "released by group buying".to_string() } else { e.reason.clone() };
        outcome(envelope, self.app.release_hold_in(conn, &caused_by(envelope), hold_id, reason).await)
    }
}

impl EventHandler for GroupBuyHandler {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        envelope: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            match SagaStep::decode(envelope)? {
                Some(SagaStep::Place(e)) => self.hold_requested(conn, envelope, e).await,
                Some(SagaStep::Capture(e)) => self.capture_requested(conn, envelope, e).await,
                Some(SagaStep::Release(e)) => self.release_requested(conn, envelope, e).await,
                None => Ok(()),
            }
        }
        .boxed()
    }

    fn wants(&self, event_type: &str) -> bool {
        SagaStep::wants(event_type)
    }
}
