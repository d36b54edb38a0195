//! Holds (stream `hold`, id = hold id): money reserved in a user's wallet for a merchant, then
//! captured (whole or in parts), released, or expired.
//!
//! A hold id is processed once: placing a hold id that exists already changes nothing, so a
//! redelivered or repeated request never reserves twice.

use tuan_eventstore::{Aggregate, event_enum};
use tuan_kernel::recorded;
use uuid::Uuid;

use super::{
    AccountRef, Currency, FeeRate, JournalEntry, Money, PaymentError, Posting, events as pb, journal::EntryKind,
    ledger::LedgerError,
};

event_enum! {
    pub enum HoldEvent {
        Placed(pb::HoldPlaced),
        Rejected(pb::HoldRejected),
        Captured(pb::HoldCaptured),
        Released(pb::HoldReleased),
    }
}

/// The reason recorded when the expiry scanner releases a hold.
pub const EXPIRED: &str = "expired";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HoldStatus {
    #[default]
    New,
    Placed,
    Captured,
    Released,
    Expired,
    Rejected,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::New => "new",
            HoldStatus::Placed => "placed",
            HoldStatus::Captured => "captured",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
            HoldStatus::Rejected => "rejected",
        }
    }
}

/// Why a command on a hold was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldError {
    #[error("hold not found")]
    NotFound,
    #[error("hold is already captured")]
    AlreadyCaptured,
    #[error("hold was rejected")]
    WasRejected,
    /// Released or expired: nothing left to capture.
    #[error("hold is {0}")]
    Closed(&'static str),
    #[error("merchant_id does not match the hold's merchant")]
    OtherMerchant,
    #[error("hold is already captured; it cannot be released")]
    CapturedCannotRelease,
    #[error("hold id is already used by another request")]
    IdTaken,
}

/// What a hold request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldRequest {
    pub hold_id: Uuid,
    pub user: Uuid,
    pub merchant: Uuid,
    pub amount: Money,
    pub campaign_id: String,
    pub team_id: String,
    pub expires_at_micros: i64,
}

#[derive(Clone, Debug)]
pub enum HoldCommand {
    Place(HoldRequest),
    /// Records that a request could not be honoured (nothing is reserved).
    Reject {
        request: HoldRequest,
        reason: String,
    },
    /// `amount: None` captures everything left. A final capture returns the rest to the wallet.
    Capture {
        amount: Option<Money>,
        final_capture: bool,
        merchant: Option<Uuid>,
        fee_rate: FeeRate,
    },
    Release {
        reason: String,
    },
    /// Releases the hold if its deadline has passed.
    Expire {
        now_micros: i64,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hold {
    pub status: HoldStatus,
    pub hold_id: Uuid,
    pub user: Uuid,
    pub merchant: Uuid,
    pub currency: Option<Currency>,
    /// Placed amount, captured so far and still held, in minor units.
    pub amount: i64,
    pub captured: i64,
    pub remaining: i64,
    pub campaign_id: String,
    pub team_id: String,
    pub expires_at_micros: i64,
    pub rejection_reason: String,
}

/// An amount of a recorded hold event, in minor units.
fn minor(field: &str, amount: &str, currency: &str) -> i64 {
    recorded::money(field, amount, recorded::currency("currency", currency)).minor_units()
}

impl Hold {
    fn money(&self, minor: i64) -> Money {
        let currency = self.currency.unwrap_or(Currency::CNY);
        Money::from_minor_units(minor, currency).expect("hold amounts are never negative")
    }

    pub fn amount_money(&self) -> Money {
        self.money(self.amount)
    }

    pub fn captured_money(&self) -> Money {
        self.money(self.captured)
    }

    pub fn remaining_money(&self) -> Money {
        self.money(self.remaining)
    }

    fn exists(&self) -> Result<(), PaymentError> {
        match self.status {
            HoldStatus::New => Err(HoldError::NotFound.into()),
            _ => Ok(()),
        }
    }

    fn capture(
        &self,
        amount: Option<Money>,
        final_capture: bool,
        merchant: Option<Uuid>,
        fee_rate: FeeRate,
    ) -> Result<Vec<HoldEvent>, PaymentError> {
        self.exists()?;
        match self.status {
            HoldStatus::Placed => {}
            HoldStatus::Captured => {
                return Err(HoldError::AlreadyCaptured.into());
            }
            HoldStatus::Rejected => {
                return Err(HoldError::WasRejected.into());
            }
            _ => {
                return Err(HoldError::Closed(self.status.as_str()).into());
            }
        }
        if merchant.is_some_and(|m| m != self.merchant) {
            return Err(HoldError::OtherMerchant.into());
        }
        let remaining = self.remaining_money();
        let amount = amount.unwrap_or(remaining);
        remaining.same_currency(amount)?;
        let rest = remaining
            .checked_sub(amount)
            .map_err(|_| LedgerError::CaptureExceedsHold { capture: amount.amount(), remaining: remaining.amount() })?;
        let is_final = final_capture || rest.is_zero();
        let fee = fee_rate.fee_on(amount);
        let (released, left) =
            if is_final { (rest, Money::zero(rest.currency())) } else { (Money::zero(rest.currency()), rest) };
        let event = pb::HoldCaptured {
            hold_id: self.hold_id.to_string(),
            user_id: self.user.to_string(),
            amount: amount.amount().to_string(),
            currency: amount.currency().code().to_string(),
            campaign_id: self.campaign_id.clone(),
            team_id: self.team_id.clone(),
            merchant_id: self.merchant.to_string(),
            fee: fee.amount().to_string(),
            released: released.amount().to_string(),
            remaining: left.amount().to_string(),
            r#final: is_final,
        };
        // Validates the movement the event stands for before it is recorded.
        journal_entry(&HoldEvent::Captured(event.clone()))?;
        Ok(vec![HoldEvent::Captured(event)])
    }

    fn release(&self, reason: String) -> Result<Vec<HoldEvent>, PaymentError> {
        match self.status {
            HoldStatus::New => Err(HoldError::NotFound.into()),
            // Nothing was reserved, so there is nothing to give back.
            HoldStatus::Rejected => Ok(vec![]),
            HoldStatus::Placed => Ok(vec![HoldEvent::Released(pb::HoldReleased {
                hold_id: self.hold_id.to_string(),
                user_id: self.user.to_string(),
                amount: self.remaining_money().amount().to_string(),
                currency: self.remaining_money().currency().code().to_string(),
                campaign_id: self.campaign_id.clone(),
                team_id: self.team_id.clone(),
                reason,
            })]),
            // Released already: releasing again changes nothing.
            HoldStatus::Released | HoldStatus::Expired => Ok(vec![]),
            _ => Err(HoldError::CapturedCannotRelease.into()),
        }
    }
}

impl Aggregate for Hold {
    const STREAM_TYPE: &'static str = "hold";
    type Event = HoldEvent;
    type Command = HoldCommand;
    type Error = PaymentError;

    fn handle(&self, command: HoldCommand) -> Result<Vec<HoldEvent>, PaymentError> {
        match command {
            HoldCommand::Place(r) => {
                if self.status != HoldStatus::New {
                    let same = self.user == r.user && self.amount == r.amount.minor_units();
                    return if same { Ok(vec![]) } else { Err(HoldError::IdTaken.into()) };
                }
                Ok(vec![HoldEvent::Placed(pb::HoldPlaced {
                    hold_id: r.hold_id.to_string(),
                    user_id: r.user.to_string(),
                    merchant_id: r.merchant.to_string(),
                    amount: r.amount.amount().to_string(),
                    currency: r.amount.currency().code().to_string(),
                    campaign_id: r.campaign_id,
                    team_id: r.team_id,
                    expires_at_micros: r.expires_at_micros,
                })])
            }
            HoldCommand::Reject { request: r, reason } => {
                if self.status != HoldStatus::New {
                    return Ok(vec![]);
                }
                Ok(vec![HoldEvent::Rejected(pb::HoldRejected {
                    hold_id: r.hold_id.to_string(),
                    user_id: r.user.to_string(),
                    amount: r.amount.amount().to_string(),
                    currency: r.amount.currency().code().to_string(),
                    campaign_id: r.campaign_id,
                    team_id: r.team_id,
                    reason,
                    merchant_id: r.merchant.to_string(),
                })])
            }
            HoldCommand::Capture { amount, final_capture, merchant, fee_rate } => {
                self.capture(amount, final_capture, merchant, fee_rate)
            }
            HoldCommand::Release { reason } => self.release(reason),
            HoldCommand::Expire { now_micros } => {
                if self.status == HoldStatus::Placed && self.expires_at_micros <= now_micros {
                    self.release(EXPIRED.to_string())
                } else {
                    Ok(vec![])
                }
            }
        }
    }

    fn apply(&mut self, event: &HoldEvent) {
        match event {
            HoldEvent::Placed(e) => {
                *self = Hold {
                    status: HoldStatus::Placed,
                    hold_id: recorded::uuid("hold_id", &e.hold_id),
                    user: recorded::uuid("user_id", &e.user_id),
                    merchant: recorded::uuid("merchant_id", &e.merchant_id),
                    currency: Some(recorded::currency("currency", &e.currency)),
                    amount: minor("amount", &e.amount, &e.currency),
                    captured: 0,
                    remaining: minor("amount", &e.amount, &e.currency),
                    campaign_id: e.campaign_id.clone(),
                    team_id: e.team_id.clone(),
                    expires_at_micros: e.expires_at_micros,
                    rejection_reason: String::new(),
                }
            }
            HoldEvent::Rejected(e) => {
                *self = Hold {
                    status: HoldStatus::Rejected,
                    hold_id: recorded::uuid("hold_id", &e.hold_id),
                    user: recorded::uuid("user_id", &e.user_id),
                    merchant: recorded::uuid("merchant_id", &e.merchant_id),
                    currency: Some(recorded::currency("currency", &e.currency)),
                    amount: minor("amount", &e.amount, &e.currency),
                    campaign_id: e.campaign_id.clone(),
                    team_id: e.team_id.clone(),
                    rejection_reason: e.reason.clone(),
                    ..Hold::default()
                }
            }
            HoldEvent::Captured(e) => {
                self.captured += minor("amount", &e.amount, &e.currency);
                self.remaining = minor("remaining", &e.remaining, &e.currency);
                if e.r#final {
                    self.status = HoldStatus::Captured;
                }
            }
            HoldEvent::Released(e) => {
                self.remaining = 0;
                self.status = if e.reason == EXPIRED { HoldStatus::Expired } else { HoldStatus::Released };
            }
        }
    }
}

/// The journal entry a hold event stands for (none for a rejection).
pub fn journal_entry(event: &HoldEvent) -> Result<Option<(EntryKind, JournalEntry)>, PaymentError> {
    let currency = |c: &str| recorded::currency("currency", c);
    let money = |field, amount, c| recorded::money(field, amount, c);
    let uuid = recorded::uuid;
    Ok(Some(match event {
        HoldEvent::Rejected(_) => return Ok(None),
        HoldEvent::Placed(e) => {
            let c = currency(&e.currency);
            (
                EntryKind::HoldPlace,
                JournalEntry::hold_place(
                    uuid("user_id", &e.user_id),
                    uuid("hold_id", &e.hold_id),
                    money("amount", &e.amount, c),
                )?,
            )
        }
        HoldEvent::Released(e) => {
            let c = currency(&e.currency);
            (
                EntryKind::HoldRelease,
                JournalEntry::hold_release(
                    uuid("user_id", &e.user_id),
                    uuid("hold_id", &e.hold_id),
                    money("amount", &e.amount, c),
                )?,
            )
        }
        HoldEvent::Captured(e) => {
            let c = currency(&e.currency);
            let (amount, fee, released) =
                (money("amount", &e.amount, c), money("fee", &e.fee, c), money("released", &e.released, c));
            let from_hold = amount.checked_add(released)?;
            let to_merchant = amount.checked_sub(fee)?;
            let mut postings =
                vec![Posting::new(AccountRef::Hold(uuid("hold_id", &e.hold_id)), -from_hold.amount(), c)?];
            if !to_merchant.is_zero() {
                postings.push(Posting::new(
                    AccountRef::MerchantPayable(uuid("merchant_id", &e.merchant_id)),
                    to_merchant.amount(),
                    c,
                )?);
            }
            if !fee.is_zero() {
                postings.push(Posting::new(AccountRef::PlatformFees, fee.amount(), c)?);
            }
            if !released.is_zero() {
                postings.push(Posting::new(AccountRef::UserWallet(uuid("user_id", &e.user_id)), released.amount(), c)?);
            }
            (EntryKind::HoldCapture, JournalEntry::new(postings)?)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Balances;

    fn cny(s: &str) -> Money {
        Money::parse_positive(s, Currency::CNY).unwrap()
    }

    fn request() -> HoldRequest {
        HoldRequest {
            hold_id: Uuid::from_u128(9),
            user: Uuid::from_u128(1),
            merchant: Uuid::from_u128(2),
            amount: cny("100.00"),
            campaign_id: "c".into(),
            team_id: "t".into(),
            expires_at_micros: 1_000,
        }
    }

    fn placed() -> (Hold, Vec<HoldEvent>) {
        let events = Hold::default().handle(HoldCommand::Place(request())).unwrap();
        (Hold::from_history(&events), events)
    }

    fn fee() -> FeeRate {
        FeeRate::from_basis_points(100).unwrap()
    }

    #[test]
    fn placing_twice_changes_nothing_and_a_different_request_is_refused() {
        let (hold, _) = placed();
        assert_eq!(hold.status, HoldStatus::Placed);
        assert!(hold.handle(HoldCommand::Place(request())).unwrap().is_empty());
        let other = HoldRequest { amount: cny("1.00"), ..request() };
        assert!(matches!(hold.handle(HoldCommand::Place(other)), Err(PaymentError::Hold(HoldError::IdTaken))));
        let reject = HoldCommand::Reject { request: request(), reason: "x".into() };
        assert!(hold.handle(reject).unwrap().is_empty());
    }

    #[test]
    fn a_partial_then_final_capture_balances_and_returns_the_rest() {
        let (mut hold, mut events) = placed();
        let partial = hold
            .handle(HoldCommand::Capture {
                amount: Some(cny("30.00")),
                final_capture: false,
                merchant: None,
                fee_rate: fee(),
            })
            .unwrap();
        hold.apply(&partial[0]);
        assert_eq!((hold.status, hold.remaining), (HoldStatus::Placed, 7000));
        events.extend(partial);
        let last = hold
            .handle(HoldCommand::Capture {
                amount: Some(cny("50.00")),
                final_capture: true,
                merchant: None,
                fee_rate: fee(),
            })
            .unwrap();
        hold.apply(&last[0]);
        events.extend(last);
        assert_eq!((hold.status, hold.captured, hold.remaining), (HoldStatus::Captured, 8000, 0));

        let mut balances = Balances::new();
        balances.apply(&JournalEntry::top_up(hold.user, cny("100.00")).unwrap()).unwrap();
        for e in &events {
            balances.apply(&journal_entry(e).unwrap().unwrap().1).unwrap();
        }
        assert_eq!(balances.balance(AccountRef::UserWallet(hold.user), Currency::CNY).to_string(), "20.00");
        assert_eq!(balances.balance(AccountRef::PlatformFees, Currency::CNY).to_string(), "0.80");
        assert_eq!(balances.balance(AccountRef::MerchantPayable(hold.merchant), Currency::CNY).to_string(), "79.20");
        assert!(balances.balance(AccountRef::Hold(hold.hold_id), Currency::CNY).is_zero());
    }

    #[test]
    fn capturing_more_than_held_or_a_closed_hold_is_refused() {
        let (hold, _) = placed();
        let too_much =
            HoldCommand::Capture { amount: Some(cny("100.01")), final_capture: true, merchant: None, fee_rate: fee() };
        assert!(matches!(hold.handle(too_much), Err(PaymentError::Ledger(LedgerError::CaptureExceedsHold { .. }))));
        let mut h = hold.clone();
        h.apply(&hold.handle(HoldCommand::Release { reason: "left".into() }).unwrap()[0]);
        assert_eq!(h.status, HoldStatus::Released);
        assert!(h.handle(HoldCommand::Release { reason: "again".into() }).unwrap().is_empty());
        let capture = HoldCommand::Capture { amount: None, final_capture: true, merchant: None, fee_rate: fee() };
        assert!(matches!(h.handle(capture), Err(PaymentError::Hold(_))));
        let unknown = HoldCommand::Release { reason: "x".into() };
        assert!(matches!(Hold::default().handle(unknown), Err(PaymentError::Hold(HoldError::NotFound))));
    }

    #[test]
    fn expiry_releases_only_after_the_deadline() {
        let (hold, _) = placed();
        assert!(hold.handle(HoldCommand::Expire { now_micros: 999 }).unwrap().is_empty());
        let events = hold.handle(HoldCommand::Expire { now_micros: 1_000 }).unwrap();
        let mut h = hold.clone();
        h.apply(&events[0]);
        assert_eq!(h.status, HoldStatus::Expired);
    }
}
