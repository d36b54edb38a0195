//! A join (stream type `join`, id = join id = the hold id at payments): one buyer's unit of
//! stock and payment hold, driven by the payments saga. Every step is idempotent: a command
//! that does not fit the current state changes nothing.
//!
//! The unit of stock is taken by `JoinRequested` and given back exactly once, by
//! `JoinStockReturned`, when the join fails or its hold is released.

use tuan_eventstore::{Aggregate, event_enum};
use tuan_kernel::{Money, recorded};
use uuid::Uuid;

use super::{error::GroupBuyError, events as pb, names::named};

event_enum! {
    pub enum JoinEvent {
        Requested(pb::JoinRequested),
        HoldRequested(pb::HoldRequested),
        Confirmed(pb::JoinConfirmed),
        CaptureRequested(pb::HoldCaptureRequested),
        ReleaseRequested(pb::HoldReleaseRequested),
        StockReturned(pb::JoinStockReturned),
        Captured(pb::JoinCaptured),
        Released(pb::JoinReleased),
        Failed(pb::JoinFailed),
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JoinStatus {
    #[default]
    None,
    /// Stock taken, hold requested.
    Pending,
    Confirmed,
    Capturing,
    Captured,
    Releasing,
    Released,
    Failed,
}

named!(JoinStatus, "join status", {
    None => "none",
    Pending => "pending",
    Confirmed => "confirmed",
    Capturing => "capturing",
    Captured => "captured",
    Releasing => "releasing",
    Released => "released",
    Failed => "failed",
});

/// What a buyer asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinRequest {
    pub join_id: Uuid,
    pub campaign_id: Uuid,
    pub team_id: Option<Uuid>,
    pub user_id: Uuid,
    pub merchant_id: Uuid,
    /// What the buyer pays: the group price, less the leader's discount for a leader.
    pub price: Money,
    pub bucket: u32,
    /// When payments may release the hold by itself if we never decided.
    pub hold_expires_at_micros: i64,
}

#[derive(Clone, Debug)]
pub enum JoinCommand {
    Request(JoinRequest),
    /// payments: HoldPlaced.
    HoldPlaced,
    /// payments: HoldRejected.
    HoldRejected {
        reason: String,
    },
    /// The deal is on.
    Capture,
    /// The deal is off for this buyer.
    Release {
        reason: String,
    },
    /// payments: HoldCaptured.
    HoldCaptured,
    /// payments: HoldReleased (asked for, or expired by payments).
    HoldReleased {
        reason: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Join {
    pub join_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub merchant_id: Option<Uuid>,
    pub price: Option<Money>,
    pub bucket: u32,
    pub status: JoinStatus,
    /// The unit of stock is still taken by this join.
    pub holds_stock: bool,
    pub reason: String,
}

impl Join {
    fn ids(&self) -> (String, String, String, String) {
        let s = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
        (s(self.join_id), s(self.campaign_id), s(self.team_id), s(self.user_id))
    }

    fn stock_returned(&self) -> Option<JoinEvent> {
        let (join_id, campaign_id, _, user_id) = self.ids();
        self.holds_stock.then_some(JoinEvent::StockReturned(pb::JoinStockReturned {
            join_id,
            campaign_id,
            user_id,
            bucket: self.bucket,
        }))
    }

    fn released(&self, reason: &str) -> JoinEvent {
        let (join_id, campaign_id, team_id, user_id) = self.ids();
        JoinEvent::Released(pb::JoinReleased { join_id, campaign_id, team_id, user_id, reason: reason.to_string() })
    }
}

impl Aggregate for Join {
    const STREAM_TYPE: &'static str = "join";
    type Event = JoinEvent;
    type Command = JoinCommand;
    type Error = GroupBuyError;

    fn handle(&self, command: JoinCommand) -> Result<Vec<JoinEvent>, GroupBuyError> {
        use JoinStatus::*;
        let (join_id, campaign_id, team_id, user_id) = self.ids();
        let events = match (command, self.status) {
            (JoinCommand::Request(r), None) => {
                let team_id = r.team_id.map(|t| t.to_string()).unwrap_or_default();
                let (amount, currency) = (r.price.amount().to_string(), r.price.currency().code().to_string());
                vec![
                    JoinEvent::Requested(pb::JoinRequested {
                        join_id: r.join_id.to_string(),
                        campaign_id: r.campaign_id.to_string(),
                        team_id: team_id.clone(),
                        user_id: r.user_id.to_string(),
                        merchant_id: r.merchant_id.to_string(),
                        amount: amount.clone(),
                        currency: currency.clone(),
                        bucket: r.bucket,
                    }),
                    JoinEvent::HoldRequested(pb::HoldRequested {
                        hold_id: r.join_id.to_string(),
                        user_id: r.user_id.to_string(),
                        merchant_id: r.merchant_id.to_string(),
                        amount,
                        currency,
                        campaign_id: r.campaign_id.to_string(),
                        team_id,
                        expires_at_micros: r.hold_expires_at_micros,
                    }),
                ]
            }
            (JoinCommand::Request(_), _) => return Err(GroupBuyError::JoinExists),
            (_, None) => return Err(GroupBuyError::JoinNotFound),
            (JoinCommand::HoldPlaced, Pending) => {
                vec![JoinEvent::Confirmed(pb::JoinConfirmed { join_id, campaign_id, team_id, user_id })]
            }
            (JoinCommand::HoldRejected { reason }, Pending | Releasing) => {
                let mut events =
                    vec![JoinEvent::Failed(pb::JoinFailed { join_id, campaign_id, team_id, user_id, reason })];
                events.extend(self.stock_returned());
                events
            }
            (JoinCommand::Capture, Confirmed) => vec![JoinEvent::CaptureRequested(pb::HoldCaptureRequested {
                hold_id: join_id,
                amount: String::new(),
                merchant_id: self.merchant_id.map(|m| m.to_string()).unwrap_or_default(),
            })],
            (JoinCommand::Release { reason }, Pending | Confirmed) => {
                let mut events =
                    vec![JoinEvent::ReleaseRequested(pb::HoldReleaseRequested { hold_id: join_id, reason })];
                events.extend(self.stock_returned());
                events
            }
            (JoinCommand::HoldCaptured, Capturing) => vec![JoinEvent::Captured(pb::JoinCaptured {
                join_id,
                campaign_id,
                team_id,
                user_id,
                amount: self.price.map(|p| p.amount().to_string()).unwrap_or_default(),
                currency: self.price.map(|p| p.currency().code().to_string()).unwrap_or_default(),
            })],
            (JoinCommand::HoldReleased { reason }, Releasing) => vec![self.released(&reason)],
            // Payments let the hold lapse before we decided: the unit goes back.
            (JoinCommand::HoldReleased { reason }, Pending | Confirmed | Capturing) => {
                let mut events = vec![self.released(&reason)];
                events.extend(self.stock_returned());
                events
            }
            // Anything else is a duplicate or comes too late: nothing to do.
            _ => vec![],
        };
        Ok(events)
    }

    fn apply(&mut self, event: &JoinEvent) {
        match event {
            JoinEvent::Requested(e) => {
                self.join_id = Some(recorded::uuid("join_id", &e.join_id));
                self.campaign_id = Some(recorded::uuid("campaign_id", &e.campaign_id));
                self.team_id = recorded::optional_uuid("team_id", &e.team_id);
                self.user_id = Some(recorded::uuid("user_id", &e.user_id));
                self.merchant_id = Some(recorded::uuid("merchant_id", &e.merchant_id));
                let currency = recorded::currency("currency", &e.currency);
                self.price = Some(recorded::money("amount", &e.amount, currency));
                self.bucket = e.bucket;
                self.status = JoinStatus::Pending;
                self.holds_stock = true;
            }
            JoinEvent::HoldRequested(_) => {}
            JoinEvent::Confirmed(_) => self.status = JoinStatus::Confirmed,
            JoinEvent::CaptureRequested(_) => self.status = JoinStatus::Capturing,
            JoinEvent::ReleaseRequested(e) => {
                self.status = JoinStatus::Releasing;
                self.reason = e.reason.clone();
            }
            JoinEvent::StockReturned(_) => self.holds_stock = false,
            JoinEvent::Captured(_) => self.status = JoinStatus::Captured,
            JoinEvent::Released(e) => {
                self.status = JoinStatus::Released;
                if self.reason.is_empty() {
                    self.reason = e.reason.clone();
                }
            }
            JoinEvent::Failed(e) => {
                self.status = JoinStatus::Failed;
                self.reason = e.reason.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tuan_eventstore::testing::run_ok as run;

    fn requested() -> Join {
        let mut j = Join::default();
        let events = run(
            &mut j,
            JoinCommand::Request(JoinRequest {
                join_id: Uuid::now_v7(),
                campaign_id: Uuid::now_v7(),
                team_id: None,
                user_id: Uuid::now_v7(),
                merchant_id: Uuid::now_v7(),
                price: Money::parse_positive("9.90", tuan_kernel::Currency::CNY).unwrap(),
                bucket: 3,
                hold_expires_at_micros: 0,
            }),
        );
        assert!(matches!(events[1], JoinEvent::HoldRequested(_)), "the hold request is appended with the join");
        j
    }

    fn returns_stock(events: &[JoinEvent]) -> usize {
        events.iter().filter(|e| matches!(e, JoinEvent::StockReturned(_))).count()
    }

    #[test]
    fn the_happy_path_captures_once() {
        let mut j = requested();
        assert_eq!(run(&mut j, JoinCommand::HoldPlaced).len(), 1);
        assert!(run(&mut j, JoinCommand::HoldPlaced).is_empty());
        assert_eq!(run(&mut j, JoinCommand::Capture).len(), 1);
        assert!(run(&mut j, JoinCommand::Capture).is_empty(), "never asks to capture twice");
        assert!(run(&mut j, JoinCommand::Release { reason: "late".into() }).is_empty(), "captures are final");
        assert_eq!(run(&mut j, JoinCommand::HoldCaptured).len(), 1);
        assert_eq!(j.status, JoinStatus::Captured);
        assert!(j.holds_stock);
    }

    #[test]
    fn stock_goes_back_exactly_once() {
        let mut j = requested();
        let mut returned = returns_stock(&run(&mut j, JoinCommand::Release { reason: "expired".into() }));
        returned += returns_stock(&run(&mut j, JoinCommand::Release { reason: "again".into() }));
        returned += returns_stock(&run(&mut j, JoinCommand::HoldRejected { reason: "insufficient funds".into() }));
        returned += returns_stock(&run(&mut j, JoinCommand::HoldReleased { reason: "x".into() }));
        assert_eq!(returned, 1);

        let mut k = requested();
        let events = run(&mut k, JoinCommand::HoldRejected { reason: "insufficient funds".into() });
        assert_eq!(returns_stock(&events), 1);
        assert_eq!(k.status, JoinStatus::Failed);
        assert!(run(&mut k, JoinCommand::HoldPlaced).is_empty());
    }

    #[test]
    fn a_hold_payments_let_lapse_returns_the_unit() {
        let mut j = requested();
        run(&mut j, JoinCommand::HoldPlaced);
        let events = run(&mut j, JoinCommand::HoldReleased { reason: "expired".into() });
        assert_eq!(returns_stock(&events), 1);
        assert_eq!(j.status, JoinStatus::Released);
    }
}
