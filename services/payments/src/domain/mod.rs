//! The pure core of payments: money, bill splitting, the double-entry ledger and debt
//! simplification. No I/O lives here, so every rule is tested without a database.

pub mod error;
pub mod ledger;
pub mod money;
pub mod simplify;
pub mod split;

pub use error::PaymentError;
pub use ledger::{AccountRef, Balances, CaptureKind, FeeRate, HoldCapture, JournalEntry, Posting};
pub use money::{Currency, Money};
pub use simplify::{GroupBalances, NetBalances, Transfer, simplify};
pub use split::{Bill, MAX_PARTICIPANTS, NetEffect, Participants, Split, SplitMethod, SplitPart};
