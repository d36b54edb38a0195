//! The pure core of payments: money, bill splitting, the double-entry ledger, debt
//! simplification, and the aggregates (holds, bills, collections, campaigns, provider
//! requests, journal entries). No I/O lives here, so every rule is tested without a database.

pub mod bill;
pub mod charity;
pub mod error;
pub mod hold;
pub mod journal;
pub mod ledger;
pub mod limits;

pub mod provider;
pub mod simplify;
pub mod split;

pub use error::PaymentError;
pub use ledger::LedgerError;
pub use ledger::{AccountRef, Balances, CaptureKind, FeeRate, HoldCapture, JournalEntry, Posting};
pub use simplify::BalanceError;
pub use simplify::{
    EXACT_MAX_MEMBERS, GroupBalances, NetBalances, SettlementMethod, SettlementPlan, Transfer, simplify,
    simplify_greedy,
};
pub use split::SplitError;
pub use split::{Bill, MAX_PARTICIPANTS, NetEffect, Participants, Split, SplitMethod, SplitPart};
pub use tuan_kernel::{Currency, Money, MoneyError};

/// The protobuf event messages this domain emits (the published contract).
pub use tuan_proto::payments::v1 as events;
