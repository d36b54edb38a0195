//! The one error type of the payments domain.
//!
//! Each rule fails with the error of its room ([`SplitError`] for splitting a bill,
//! [`LedgerError`] for journal entries, [`BalanceError`] for a group's balances, `MoneyError`
//! and `TextError` from the kernel); commands over holds, bills, collections, campaigns and
//! provider requests fail with [`PaymentError`], which wraps them all. [`Classify`] says what
//! kind of failure each is so the API layer maps it to a gRPC status in one place.

use tuan_runtime::error::{Classify, ErrorKind};

use super::{
    bill::BillError, hold::HoldError, ledger::LedgerError, provider::ProviderError, simplify::BalanceError,
    split::SplitError,
};
use tuan_kernel::{MoneyError, TextError};

/// Why a payments rule refused a value or a movement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    // --- money ---
    /// An amount or currency was refused (see [`MoneyError`]).
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// A text field was empty, too long or held control characters (see [`TextError`]).
    #[error(transparent)]
    Text(#[from] TextError),
    /// A bill's payers or split were refused (see [`SplitError`]).
    #[error(transparent)]
    Split(#[from] SplitError),
    /// A journal entry was refused (see [`LedgerError`]).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A command on a hold was refused (see [`HoldError`]).
    #[error(transparent)]
    Hold(#[from] HoldError),
    /// A command on a bill or its collection was refused (see [`BillError`]).
    #[error(transparent)]
    Bill(#[from] BillError),
    /// A command on a top-up or withdrawal request was refused (see [`ProviderError`]).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A group's balances were refused (see [`BalanceError`]).
    #[error(transparent)]
    Balance(#[from] BalanceError),

    // --- commands on holds, bills, collections, campaigns, provider requests ---
    /// A field of a command is malformed (named in the message).
    #[error("{0}")]
    InvalidInput(String),
    /// The thing a command names does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The thing a command would create exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// The command does not fit the current state (closed, already paid, already captured).
    #[error("{0}")]
    StateConflict(String),
    /// The caller may not do this to this thing (another user's bill, wallet or hold).
    #[error("{0}")]
    Forbidden(String),
    /// A wallet lacks the money (the ledger's balance constraint refused the entry).
    #[error("insufficient funds")]
    WalletInsufficient,
}

impl Classify for PaymentError {
    fn kind(&self) -> ErrorKind {
        use PaymentError::*;
        match self {
            Ledger(e) => e.kind(),
            Hold(e) => e.kind(),
            Bill(e) => e.kind(),
            Provider(e) => e.kind(),
            // A command that does not fit the current state (closed, already paid), and a
            // wallet short of money: the same request may succeed later.
            WalletInsufficient | StateConflict(_) => ErrorKind::FailedPrecondition,
            NotFound(_) => ErrorKind::NotFound,
            AlreadyExists(_) => ErrorKind::AlreadyExists,
            Forbidden(_) => ErrorKind::PermissionDenied,
            Money(_) | Text(_) | Split(_) | Balance(_) | InvalidInput(_) => ErrorKind::InvalidArgument,
        }
    }
}

impl Classify for HoldError {
    fn kind(&self) -> ErrorKind {
        use HoldError::*;
        match self {
            NotFound => ErrorKind::NotFound,
            IdTaken => ErrorKind::AlreadyExists,
            OtherMerchant => ErrorKind::InvalidArgument,
            AlreadyCaptured | WasRejected | Closed(_) | CapturedCannotRelease => ErrorKind::FailedPrecondition,
        }
    }
}

impl Classify for BillError {
    fn kind(&self) -> ErrorKind {
        use BillError::*;
        match self {
            BillNotFound | CollectionNotFound => ErrorKind::NotFound,
            BillExists | AlreadyCollected => ErrorKind::AlreadyExists,
            NotYourBill | PayerOnly | NotAsked | OrganiserOnly => ErrorKind::PermissionDenied,
            SeveralPayers | NothingOwed | CollectionClosed | AlreadyPaid | NobodyToRemind => {
                ErrorKind::FailedPrecondition
            }
        }
    }
}

impl Classify for ProviderError {
    fn kind(&self) -> ErrorKind {
        match self {
            ProviderError::Exists => ErrorKind::AlreadyExists,
            ProviderError::NotFound => ErrorKind::NotFound,
        }
    }
}

/// A refused split or a group's balances are the caller's bad input.
impl Classify for SplitError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
}

impl Classify for BalanceError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
}

impl Classify for LedgerError {
    fn kind(&self) -> ErrorKind {
        use LedgerError::*;
        match self {
            // Not enough money (or hold) is a state of the world, not a bad request: the same
            // request may succeed after a top-up.
            InsufficientFunds { .. } | CaptureExceedsHold { .. } => ErrorKind::FailedPrecondition,
            // Journal entries are built by our own code from already-parsed values; an
            // unbalanced or empty one is a bug on our side, so it must not leak as a 400.
            EmptyEntry | ZeroPosting(_) | DuplicatePosting(_) | UnbalancedEntry { .. } => ErrorKind::Internal,
            AlreadyPosted(_) => ErrorKind::AlreadyExists,
            Money(_) | SelfTransfer | FeeRateOutOfRange(_) => ErrorKind::InvalidArgument,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use tuan_kernel::Currency;
    use uuid::Uuid;

    #[test]
    fn insufficient_funds_is_a_failed_precondition() {
        let err = LedgerError::InsufficientFunds {
            account: crate::domain::AccountRef::UserWallet(Uuid::nil()),
            currency: Currency::CNY,
            available: Decimal::ZERO,
            required: Decimal::ONE,
        };
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
    }

    #[test]
    fn bad_amounts_and_splits_are_invalid_arguments() {
        assert_eq!(PaymentError::Money(MoneyError::NotPositive(Decimal::ZERO)).kind(), ErrorKind::InvalidArgument);
        assert_eq!(PaymentError::from(SplitError::NoParticipants).kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn unbalanced_entries_are_internal_bugs() {
        let err = LedgerError::UnbalancedEntry { currency: Currency::CNY, sum: Decimal::ONE };
        assert_eq!(err.kind(), ErrorKind::Internal);
    }
}
