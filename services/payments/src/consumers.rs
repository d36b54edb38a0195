//! Kafka consumers: circle membership from the circles service, and the hold protocol from the
//! group-buy service. Friendships, blocks and merchant verification from the users service are
//! kept by `tuan_messaging::social`.

use std::time::Duration;

use futures::{FutureExt, future::BoxFuture};
use prost::Name as _;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use tuan_messaging::{
    EventHandler, HandlerError,
    envelope::{caused_by, decode, kind_of, occurred_at, uuid_field},
    social,
};
use tuan_proto::{circles::v1 as circles, events::v1::EventEnvelope, groupbuy::v1 as groupbuy};
use tuan_runtime::{ApiError, ErrorKind};

use crate::{
    app::{PaymentsApp, holds::WhenShort},
    domain::{Currency, Money, hold::HoldRequest},
    store::membership,
};

/// How long a hold request for a merchant payments does not know as verified waits for the
/// users service's `MerchantVerified` (group buying learned it on its own consumer before it let
/// the campaign launch; payments' consumer of the same topic may be a moment behind). After
/// that the hold is rejected: money goes only to merchants the operators verified.
const UNKNOWN_MERCHANT_GRACE: Duration = Duration::from_secs(10);

/// Places, captures and releases holds as the group-buy service asks; the answers
/// (`HoldPlaced`, `HoldRejected`, `HoldCaptured`, `HoldReleased`) go out through the outbox.
pub struct GroupBuyHandler {
    pub app: PaymentsApp,
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
    async fn hold_requested(&self, conn: &mut PgConnection, envelope: &EventEnvelope) -> Result<(), HandlerError> {
        let e: groupbuy::HoldRequested = decode(envelope)?;
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

    async fn capture_requested(&self, conn: &mut PgConnection, envelope: &EventEnvelope) -> Result<(), HandlerError> {
        let e: groupbuy::HoldCaptureRequested = decode(envelope)?;
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

    async fn release_requested(&self, conn: &mut PgConnection, envelope: &EventEnvelope) -> Result<(), HandlerError> {
        let e: groupbuy::HoldReleaseRequested = decode(envelope)?;
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
            match SagaStep::of(&envelope.event_type) {
                Some(SagaStep::Place) => self.hold_requested(conn, envelope).await,
                Some(SagaStep::Capture) => self.capture_requested(conn, envelope).await,
                Some(SagaStep::Release) => self.release_requested(conn, envelope).await,
                None => Ok(()),
            }
        }
        .boxed()
    }

    fn wants(&self, event_type: &str) -> bool {
        SagaStep::of(event_type).is_some()
    }
}

/// The group-buy events payments acts on (the hold requests of the join saga); one list for
/// both `wants` and `handle`.
#[derive(Clone, Copy)]
enum SagaStep {
    Place,
    Capture,
    Release,
}

impl SagaStep {
    fn of(event_type: &str) -> Option<Self> {
        kind_of(
            event_type,
            [
                (groupbuy::HoldRequested::full_name(), Self::Place),
                (groupbuy::HoldCaptureRequested::full_name(), Self::Capture),
                (groupbuy::HoldReleaseRequested::full_name(), Self::Release),
            ],
        )
    }
}

/// Keeps circle membership (`store::membership`) in step with the circles service: who joined,
/// left or was kicked, and which circles were dissolved. AA bills in a circle follow it.
pub struct CirclesHandler;

#[derive(Clone, Copy)]
enum CircleFact {
    Joined,
    Left,
    Kicked,
    Dissolved,
}

impl CircleFact {
    fn of(event_type: &str) -> Option<Self> {
        kind_of(
            event_type,
            [
                (circles::MemberJoined::full_name(), Self::Joined),
                (circles::MemberLeft::full_name(), Self::Left),
                (circles::MemberKicked::full_name(), Self::Kicked),
                (circles::CircleDissolved::full_name(), Self::Dissolved),
            ],
        )
    }
}

impl CirclesHandler {
    async fn apply(conn: &mut PgConnection, envelope: &EventEnvelope, fact: CircleFact) -> Result<(), HandlerError> {
        // Membership events come one stream per (circle, user), in order per key; the stream's
        // version orders them should an old one be delivered again after a newer one.
        let version = i64::try_from(envelope.version)
            .map_err(|_| HandlerError::Permanent(format!("version {} is out of range", envelope.version)))?;
        let (circle, user, member) = match fact {
            CircleFact::Joined => {
                let e: circles::MemberJoined = decode(envelope)?;
                (e.circle_id, e.user_id, true)
            }
            CircleFact::Left => {
                let e: circles::MemberLeft = decode(envelope)?;
                (e.circle_id, e.user_id, false)
            }
            CircleFact::Kicked => {
                let e: circles::MemberKicked = decode(envelope)?;
                (e.circle_id, e.user_id, false)
            }
            CircleFact::Dissolved => {
                let e: circles::CircleDissolved = decode(envelope)?;
                return Ok(membership::dissolve(conn, uuid_field("circle_id", &e.circle_id)?).await?);
            }
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
        async move {
            match CircleFact::of(&envelope.event_type) {
                Some(fact) => Self::apply(conn, envelope, fact).await,
                None => Ok(()),
            }
        }
        .boxed()
    }

    fn wants(&self, event_type: &str) -> bool {
        CircleFact::of(event_type).is_some()
    }
}
