//! AA bills (stream `aa_bill`) and their collections (stream `collection`, id = bill id, so a
//! bill has at most one collection).
//!
//! A bill records who paid and each participant's part; it moves no money. A collection is the
//! organiser (the bill's only payer) asking every other participant for their part, which they
//! pay from their wallets.

use std::collections::BTreeMap;

use tuan_eventstore::{Aggregate, event_enum};
use tuan_kernel::recorded;
use uuid::Uuid;

use super::{Bill, Currency, Money, PaymentError, SplitMethod, events as pb};

event_enum! {
    pub enum BillEvent {
        Recorded(pb::BillRecorded),
    }
}

event_enum! {
    pub enum CollectionEvent {
        Opened(pb::CollectionOpened),
        Paid(pb::CollectionPaid),
        Reminded(pb::CollectionReminded),
        Closed(pb::CollectionClosed),
    }
}

tuan_kernel::text_type!(
    /// A bill's or a charity campaign's title: 1 to 100 characters, one line.
    pub Title, "title", tuan_kernel::text::Bounds::line(1, 100));

pub fn method_name(method: &SplitMethod) -> &'static str {
    match method {
        SplitMethod::Equal => "equal",
        SplitMethod::Exact(_) => "exact",
        SplitMethod::Percent(_) => "percent",
        SplitMethod::Shares(_) => "shares",
    }
}

/// The group whose balances a bill (and the payments settling it) belong to.
pub fn group_key(circle: Option<Uuid>) -> String {
    match circle {
        Some(c) => format!("circle:{c}"),
        None => "friends".to_string(),
    }
}

#[derive(Clone, Debug)]
pub struct RecordBill {
    pub bill_id: Uuid,
    pub creator: Uuid,
    pub title: Title,
    pub circle: Option<Uuid>,
    pub method: &'static str,
    pub bill: Bill,
}

/// Why a command on a bill or its collection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    #[error("bill exists already")]
    BillExists,
    #[error("bill not found")]
    BillNotFound,
    #[error("this is not your bill")]
    NotYourBill,
    #[error("this bill already has a collection")]
    AlreadyCollected,
    #[error("only a bill with a single payer can be collected; settle it with SettleUp")]
    SeveralPayers,
    #[error("only the bill's payer may collect it")]
    PayerOnly,
    #[error("nobody owes the organiser anything on this bill")]
    NothingOwed,
    #[error("collection not found")]
    CollectionNotFound,
    #[error("collection is closed")]
    CollectionClosed,
    #[error("you are not asked to pay in this collection")]
    NotAsked,
    #[error("you have already paid your part")]
    AlreadyPaid,
    #[error("only the organiser may do this")]
    OrganiserOnly,
    #[error("everyone has paid; nobody to remind")]
    NobodyToRemind,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AaBill {
    pub recorded: bool,
    pub bill_id: Uuid,
    pub creator: Uuid,
    pub title: String,
    pub circle: Option<Uuid>,
    pub currency: Option<Currency>,
    pub total: i64,
    pub method: String,
    /// (user, minor units), in the order given.
    pub payers: Vec<(Uuid, i64)>,
    pub parts: Vec<(Uuid, i64)>,
}

impl AaBill {
    pub fn is_member(&self, user: Uuid) -> bool {
        self.creator == user
            || self.payers.iter().any(|(u, _)| *u == user)
            || self.parts.iter().any(|(u, _)| *u == user)
    }

    pub fn currency(&self) -> Currency {
        self.currency.unwrap_or(Currency::CNY)
    }
}

fn share(user: Uuid, amount: Money) -> pb::BillShare {
    pb::BillShare { user_id: user.to_string(), amount: amount.amount().to_string() }
}

impl Aggregate for AaBill {
    const STREAM_TYPE: &'static str = "aa_bill";
    type Event = BillEvent;
    type Command = RecordBill;
    type Error = PaymentError;

    fn handle(&self, c: RecordBill) -> Result<Vec<BillEvent>, PaymentError> {
        if self.recorded {
            return Err(BillError::BillExists.into());
        }
        let total = c.bill.total();
        Ok(vec![BillEvent::Recorded(pb::BillRecorded {
            bill_id: c.bill_id.to_string(),
            creator_id: c.creator.to_string(),
            title: c.title.as_str().to_string(),
            total: total.amount().to_string(),
            currency: total.currency().code().to_string(),
            split_method: c.method.to_string(),
            circle_id: c.circle.map(|c| c.to_string()).unwrap_or_default(),
            payers: c.bill.payers().iter().map(|(u, m)| share(*u, *m)).collect(),
            parts: c.bill.split().parts().iter().map(|p| share(p.user, p.amount)).collect(),
        })])
    }

    fn apply(&mut self, event: &BillEvent) {
        let BillEvent::Recorded(e) = event;
        let currency = recorded::currency("currency", &e.currency);
        let minor = |field: &str, amount: &str| recorded::money(field, amount, currency).minor_units();
        let shares = |s: &[pb::BillShare]| {
            s.iter().map(|s| (recorded::uuid("user_id", &s.user_id), minor("amount", &s.amount))).collect()
        };
        *self = AaBill {
            recorded: true,
            bill_id: recorded::uuid("bill_id", &e.bill_id),
            creator: recorded::uuid("creator_id", &e.creator_id),
            title: e.title.clone(),
            circle: recorded::optional_uuid("circle_id", &e.circle_id),
            currency: Some(currency),
            total: minor("total", &e.total),
            method: e.split_method.clone(),
            payers: shares(&e.payers),
            parts: shares(&e.parts),
        };
    }
}

#[derive(Clone, Debug)]
pub enum CollectionCommand {
    Open { bill: AaBill, organiser: Uuid },
    Pay { participant: Uuid, entry_id: Uuid },
    Remind { by: Uuid },
    Close { by: Uuid },
}

/// One participant's line in a collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requested {
    pub amount: i64,
    pub paid: bool,
    pub reminders: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Collection {
    pub opened: bool,
    pub closed: bool,
    pub collection_id: Uuid,
    pub organiser: Uuid,
    pub currency: Option<Currency>,
    pub circle: Option<Uuid>,
    /// In participant order.
    pub order: Vec<Uuid>,
    pub requested: BTreeMap<Uuid, Requested>,
}

impl Collection {
    pub fn currency(&self) -> Currency {
        self.currency.unwrap_or(Currency::CNY)
    }

    pub fn unpaid(&self) -> Vec<Uuid> {
        self.order.iter().filter(|u| self.requested.get(u).is_some_and(|r| !r.paid)).copied().collect()
    }

    /// What `participant` owes, if they are asked and have not paid.
    pub fn due(&self, participant: Uuid) -> Result<Money, PaymentError> {
        if !self.opened {
            return Err(BillError::CollectionNotFound.into());
        }
        if self.closed {
            return Err(BillError::CollectionClosed.into());
        }
        let line = self.requested.get(&participant).ok_or(BillError::NotAsked)?;
        if line.paid {
            return Err(BillError::AlreadyPaid.into());
        }
        Ok(Money::from_minor_units(line.amount, self.currency())?)
    }

    fn organiser_only(&self, by: Uuid) -> Result<(), PaymentError> {
        if !self.opened {
            return Err(BillError::CollectionNotFound.into());
        }
        if by != self.organiser {
            return Err(BillError::OrganiserOnly.into());
        }
        if self.closed {
            return Err(BillError::CollectionClosed.into());
        }
        Ok(())
    }
}

impl Aggregate for Collection {
    const STREAM_TYPE: &'static str = "collection";
    type Event = CollectionEvent;
    type Command = CollectionCommand;
    type Error = PaymentError;

    fn handle(&self, command: CollectionCommand) -> Result<Vec<CollectionEvent>, PaymentError> {
        match command {
            CollectionCommand::Open { bill, organiser } => {
                if !bill.recorded {
                    return Err(BillError::BillNotFound.into());
                }
                if !bill.is_member(organiser) {
                    return Err(BillError::NotYourBill.into());
                }
                if self.opened {
                    return Err(BillError::AlreadyCollected.into());
                }
                let payer = match bill.payers.as_slice() {
                    [(payer, _)] => *payer,
                    _ => {
                        return Err(BillError::SeveralPayers.into());
                    }
                };
                if payer != organiser {
                    return Err(BillError::PayerOnly.into());
                }
                let currency = bill.currency();
                let requested: Vec<pb::BillShare> = bill
                    .parts
                    .iter()
                    .filter(|(u, m)| *u != organiser && *m > 0)
                    .map(|(u, m)| Ok(share(*u, Money::from_minor_units(*m, currency)?)))
                    .collect::<Result<_, PaymentError>>()?;
                if requested.is_empty() {
                    return Err(BillError::NothingOwed.into());
                }
                Ok(vec![CollectionEvent::Opened(pb::CollectionOpened {
                    collection_id: bill.bill_id.to_string(),
                    bill_id: bill.bill_id.to_string(),
                    organiser_id: organiser.to_string(),
                    currency: currency.code().to_string(),
                    requested,
                    circle_id: bill.circle.map(|c| c.to_string()).unwrap_or_default(),
                })])
            }
            CollectionCommand::Pay { participant, entry_id } => {
                let due = self.due(participant)?;
                Ok(vec![CollectionEvent::Paid(pb::CollectionPaid {
                    collection_id: self.collection_id.to_string(),
                    participant_id: participant.to_string(),
                    amount: due.amount().to_string(),
                    currency: due.currency().code().to_string(),
                    entry_id: entry_id.to_string(),
                })])
            }
            CollectionCommand::Remind { by } => {
                self.organiser_only(by)?;
                let unpaid = self.unpaid();
                if unpaid.is_empty() {
                    return Err(BillError::NobodyToRemind.into());
                }
                Ok(vec![CollectionEvent::Reminded(pb::CollectionReminded {
                    collection_id: self.collection_id.to_string(),
                    organiser_id: by.to_string(),
                    reminded_user_ids: unpaid.iter().map(Uuid::to_string).collect(),
                })])
            }
            CollectionCommand::Close { by } => {
                self.organiser_only(by)?;
                Ok(vec![CollectionEvent::Closed(pb::CollectionClosed {
                    collection_id: self.collection_id.to_string(),
                    closed_by: by.to_string(),
                    unpaid_user_ids: self.unpaid().iter().map(Uuid::to_string).collect(),
                })])
            }
        }
    }

    fn apply(&mut self, event: &CollectionEvent) {
        match event {
            CollectionEvent::Opened(e) => {
                let currency = recorded::currency("currency", &e.currency);
                self.opened = true;
                self.collection_id = recorded::uuid("collection_id", &e.collection_id);
                self.organiser = recorded::uuid("organiser_id", &e.organiser_id);
                self.currency = Some(currency);
                self.circle = recorded::optional_uuid("circle_id", &e.circle_id);
                for s in &e.requested {
                    let user = recorded::uuid("user_id", &s.user_id);
                    let amount = recorded::money("amount", &s.amount, currency).minor_units();
                    self.order.push(user);
                    self.requested.insert(user, Requested { amount, ..Requested::default() });
                }
            }
            CollectionEvent::Paid(e) => {
                if let Some(line) = self.requested.get_mut(&recorded::uuid("participant_id", &e.participant_id)) {
                    line.paid = true;
                }
            }
            CollectionEvent::Reminded(e) => {
                for u in &e.reminded_user_ids {
                    if let Some(line) = self.requested.get_mut(&recorded::uuid("reminded_user_ids", u)) {
                        line.reminders += 1;
                    }
                }
            }
            CollectionEvent::Closed(_) => self.closed = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(s: &str) -> Money {
        Money::parse_positive(s, Currency::CNY).unwrap()
    }

    const A: Uuid = Uuid::from_u128(1);
    const B: Uuid = Uuid::from_u128(2);
    const C: Uuid = Uuid::from_u128(3);

    fn bill() -> AaBill {
        let bill = Bill::new(cny("100.00"), vec![(A, cny("100.00"))], vec![A, B, C], SplitMethod::Equal).unwrap();
        let record = RecordBill {
            bill_id: Uuid::from_u128(50),
            creator: A,
            title: Title::parse("dinner").unwrap(),
            circle: None,
            method: "equal",
            bill,
        };
        AaBill::from_history(&AaBill::default().handle(record).unwrap())
    }

    #[test]
    fn the_aa_example_splits_33_34_33_33_33_33() {
        let b = bill();
        assert_eq!(b.parts, vec![(A, 3334), (B, 3333), (C, 3333)]);
    }

    #[test]
    fn a_collection_asks_everyone_but_the_organiser_and_closes() {
        let b = bill();
        assert!(matches!(
            Collection::default().handle(CollectionCommand::Open { bill: b.clone(), organiser: B }),
            Err(PaymentError::Bill(BillError::PayerOnly))
        ));
        let mut c = Collection::from_history(
            &Collection::default().handle(CollectionCommand::Open { bill: b.clone(), organiser: A }).unwrap(),
        );
        assert_eq!(c.unpaid(), vec![B, C]);
        assert!(matches!(
            c.handle(CollectionCommand::Pay { participant: A, entry_id: Uuid::nil() }),
            Err(PaymentError::Bill(BillError::NotAsked))
        ));
        let paid = c.handle(CollectionCommand::Pay { participant: B, entry_id: Uuid::nil() }).unwrap();
        c.apply(&paid[0]);
        assert!(matches!(
            c.handle(CollectionCommand::Pay { participant: B, entry_id: Uuid::nil() }),
            Err(PaymentError::Bill(BillError::AlreadyPaid))
        ));
        assert!(matches!(
            c.handle(CollectionCommand::Remind { by: B }),
            Err(PaymentError::Bill(BillError::OrganiserOnly))
        ));
        let reminded = c.handle(CollectionCommand::Remind { by: A }).unwrap();
        c.apply(&reminded[0]);
        assert_eq!(c.requested[&C].reminders, 1);
        let closed = c.handle(CollectionCommand::Close { by: A }).unwrap();
        c.apply(&closed[0]);
        assert!(matches!(
            c.handle(CollectionCommand::Pay { participant: C, entry_id: Uuid::nil() }),
            Err(PaymentError::Bill(BillError::CollectionClosed))
        ));
        assert!(matches!(
            c.handle(CollectionCommand::Open { bill: b, organiser: A }),
            Err(PaymentError::Bill(BillError::AlreadyCollected))
        ));
    }
}
