//! The journal as an event stream: every [`JournalEntry`] is recorded once, as a
//! `JournalEntryPosted` event on its own stream (`journal/<entry id>`), with what caused it.
//! Balances and statements are projections of these events.

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{
    PaymentError, events as pb,
    ledger::{JournalEntry, LedgerError},
};

event_enum! {
    pub enum JournalEvent {
        Posted(pb::JournalEntryPosted),
    }
}

/// Why money moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    TopUp,
    Withdrawal,
    WithdrawalReversal,
    Transfer,
    HoldPlace,
    HoldCapture,
    HoldRelease,
    CollectionPayment,
    SettleUp,
    Donation,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::TopUp => "top_up",
            EntryKind::Withdrawal => "withdrawal",
            EntryKind::WithdrawalReversal => "withdrawal_reversal",
            EntryKind::Transfer => "transfer",
            EntryKind::HoldPlace => "hold_place",
            EntryKind::HoldCapture => "hold_capture",
            EntryKind::HoldRelease => "hold_release",
            EntryKind::CollectionPayment => "collection_payment",
            EntryKind::SettleUp => "settle_up",
            EntryKind::Donation => "donation",
        }
    }
}

tuan_kernel::text_type!(
    /// A memo on a transfer: at most 200 characters, one line.
    pub Memo, "memo", tuan_kernel::text::Bounds::line(0, 200));

/// A balanced entry with its context, ready to be posted.
#[derive(Clone, Debug)]
pub struct PostEntry {
    pub entry_id: Uuid,
    pub kind: EntryKind,
    pub entry: JournalEntry,
    pub initiator: Option<Uuid>,
    pub reference: String,
    pub memo: Memo,
    /// "circle:<id>" or "friends" when the payment settles group debts.
    pub group_key: String,
    pub from: Option<Uuid>,
    pub to: Option<Uuid>,
}

impl PostEntry {
    /// A new entry with a fresh id and no context beyond its kind.
    pub fn new(kind: EntryKind, entry: JournalEntry) -> Self {
        Self {
            entry_id: Uuid::now_v7(),
            kind,
            entry,
            initiator: None,
            reference: String::new(),
            memo: Memo::default(),
            group_key: String::new(),
            from: None,
            to: None,
        }
    }

    pub fn initiator(mut self, user: Uuid) -> Self {
        self.initiator = Some(user);
        self
    }

    pub fn reference(mut self, reference: impl ToString) -> Self {
        self.reference = reference.to_string();
        self
    }

    pub fn memo(mut self, memo: Memo) -> Self {
        self.memo = memo;
        self
    }

    pub fn between(mut self, from: Uuid, to: Uuid) -> Self {
        self.from = Some(from);
        self.to = Some(to);
        self
    }

    pub fn group(mut self, group_key: impl Into<String>) -> Self {
        self.group_key = group_key.into();
        self
    }

    pub fn stream_id(&self) -> String {
        self.entry_id.to_string()
    }

    fn to_event(&self) -> pb::JournalEntryPosted {
        let opt = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
        pb::JournalEntryPosted {
            entry_id: self.entry_id.to_string(),
            kind: self.kind.as_str().to_string(),
            postings: self
                .entry
                .postings()
                .iter()
                .map(|p| pb::Posting {
                    account: p.account().to_string(),
                    amount: p.amount().to_string(),
                    currency: p.currency().code().to_string(),
                })
                .collect(),
            initiator_id: opt(self.initiator),
            reference_id: self.reference.clone(),
            memo: self.memo.as_str().to_string(),
            group_key: self.group_key.clone(),
            from_user_id: opt(self.from),
            to_user_id: opt(self.to),
        }
    }
}

/// One journal entry's stream: it is posted once and never changes.
#[derive(Clone, Debug, Default)]
pub struct Journal {
    pub posted: bool,
}

impl Aggregate for Journal {
    const STREAM_TYPE: &'static str = "journal";
    type Event = JournalEvent;
    type Command = PostEntry;
    type Error = PaymentError;

    fn handle(&self, command: PostEntry) -> Result<Vec<JournalEvent>, PaymentError> {
        if self.posted {
            return Err(LedgerError::AlreadyPosted(command.entry_id).into());
        }
        Ok(vec![JournalEvent::Posted(command.to_event())])
    }

    fn apply(&mut self, _event: &JournalEvent) {
        self.posted = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, Money};

    #[test]
    fn an_entry_is_posted_once_with_its_balanced_postings() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let amount = Money::parse_positive("12.50", Currency::CNY).unwrap();
        let post = PostEntry::new(EntryKind::Transfer, JournalEntry::transfer(a, b, amount).unwrap())
            .initiator(a)
            .between(a, b)
            .memo(Memo::parse(" lunch ").unwrap());
        let events = Journal::default().handle(post.clone()).unwrap();
        let JournalEvent::Posted(e) = &events[0];
        assert_eq!(e.kind, "transfer");
        assert_eq!(e.memo, "lunch");
        assert_eq!(e.postings.len(), 2);
        assert_eq!(e.postings[0].amount, "-12.50");
        let journal = Journal::from_history(&events);
        assert!(matches!(journal.handle(post), Err(PaymentError::Ledger(LedgerError::AlreadyPosted(_)))));
    }

    #[test]
    fn long_memos_are_refused() {
        assert!(Memo::parse(&"x".repeat(201)).is_err());
        assert!(Memo::parse(&"x".repeat(200)).is_ok());
    }
}
