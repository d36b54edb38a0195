//! The one error type of the payments domain.
//!
//! Every rule the domain enforces fails with a [`PaymentError`]; [`Classify`] says what kind of
//! failure it is so the API layer can map it to a gRPC status in one place.

use rust_decimal::Decimal;
use tuan_runtime::error::{Classify, ErrorKind};
use uuid::Uuid;

use super::ledger::AccountRef;
use tuan_kernel::{Currency, MoneyError, TextError};

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

    // --- splitting ---
    /// A bill needs at least one participant.
    #[error("a bill needs at least one participant")]
    NoParticipants,
    /// More participants than a bill may have.
    #[error("{count} participants is more than the maximum of {max}")]
    TooManyParticipants { count: usize, max: usize },
    /// The same user was listed twice as a participant.
    #[error("participant {0} is listed more than once")]
    DuplicateParticipant(Uuid),
    /// The split method gave a different number of values than there are participants.
    #[error("the split gives {found} values for {expected} participants")]
    LengthMismatch { expected: usize, found: usize },
    /// Exact parts must add up to the bill total.
    #[error("exact parts sum to {sum}, but the total is {total}")]
    ExactSumMismatch { sum: Decimal, total: Decimal },
    /// Percentages must add up to exactly 100.
    #[error("percentages sum to {0}, not 100")]
    PercentNotHundred(Decimal),
    /// Each percentage must be positive with at most two decimal places.
    #[error("percentage {0} must be greater than zero with at most two decimal places")]
    InvalidPercent(Decimal),
    /// Each participant's number of shares must be at least one.
    #[error("participant at position {index} has zero shares")]
    ZeroShares { index: usize },
    /// A bill needs at least one payer.
    #[error("a bill needs at least one payer")]
    NoPayers,
    /// The same user was listed twice as a payer.
    #[error("payer {0} is listed more than once")]
    DuplicatePayer(Uuid),
    /// What the payers paid must add up to the bill total.
    #[error("payers paid {paid}, but the total is {total}")]
    PaidSumMismatch { paid: Decimal, total: Decimal },

    // --- ledger ---
    /// A journal entry must move something.
    #[error("a journal entry needs at least two postings")]
    EmptyEntry,
    /// A posting of zero records nothing and hides mistakes.
    #[error("posting to {0} has a zero amount")]
    ZeroPosting(AccountRef),
    /// An account appears twice in one currency in the same entry.
    #[error("account {0} appears more than once in one entry")]
    DuplicatePosting(AccountRef),
    /// The postings of an entry do not sum to zero in this currency.
    #[error("postings in {currency} sum to {sum}, not zero")]
    UnbalancedEntry { currency: Currency, sum: Decimal },
    /// A transfer from a wallet to itself moves nothing.
    #[error("cannot transfer from a wallet to itself")]
    SelfTransfer,
    /// Fee rates are basis points between 0 and 10 000.
    #[error("fee rate of {0} basis points is out of range 0..=10000")]
    FeeRateOutOfRange(u32),
    /// A capture larger than what is left on the hold.
    #[error("capture of {capture} exceeds the {remaining} left on the hold")]
    CaptureExceedsHold { capture: Decimal, remaining: Decimal },
    /// The entry would take an account below zero.
    #[error("insufficient funds in {account}: {available} {currency} available, {required} required")]
    InsufficientFunds { account: AccountRef, currency: Currency, available: Decimal, required: Decimal },

    // --- group balances ---
    /// Net balances of a group must sum to zero.
    #[error("net balances in {currency} sum to {sum}, not zero")]
    NetBalancesNotZero { currency: Currency, sum: Decimal },
    /// The same user has two net balances.
    #[error("user {0} has more than one net balance")]
    DuplicateUser(Uuid),

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
            // Not enough money (or hold) is a state of the world, not a bad request: the same
            // request may succeed after a top-up.
            InsufficientFunds { .. } | CaptureExceedsHold { .. } | WalletInsufficient | StateConflict(_) => {
                ErrorKind::FailedPrecondition
            }
            NotFound(_) => ErrorKind::NotFound,
            AlreadyExists(_) => ErrorKind::AlreadyExists,
            Forbidden(_) => ErrorKind::PermissionDenied,
            // Journal entries are built by our own code from already-parsed values; an
            // unbalanced or empty one is a bug on our side, so it must not leak as a 400.
            EmptyEntry | ZeroPosting(_) | DuplicatePosting(_) | UnbalancedEntry { .. } => ErrorKind::Internal,
            Money(_)
            | Text(_)
            | NoParticipants
            | TooManyParticipants { .. }
            | DuplicateParticipant(_)
            | LengthMismatch { .. }
            | ExactSumMismatch { .. }
            | PercentNotHundred(_)
            | InvalidPercent(_)
            | ZeroShares { .. }
            | NoPayers
            | DuplicatePayer(_)
            | PaidSumMismatch { .. }
            | SelfTransfer
            | FeeRateOutOfRange(_)
            | NetBalancesNotZero { .. }
            | DuplicateUser(_)
            | InvalidInput(_) => ErrorKind::InvalidArgument,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insufficient_funds_is_a_failed_precondition() {
        let err = PaymentError::InsufficientFunds {
            account: AccountRef::UserWallet(Uuid::nil()),
            currency: Currency::CNY,
            available: Decimal::ZERO,
            required: Decimal::ONE,
        };
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
    }

    #[test]
    fn bad_amounts_and_splits_are_invalid_arguments() {
        assert_eq!(PaymentError::Money(MoneyError::NotPositive(Decimal::ZERO)).kind(), ErrorKind::InvalidArgument);
        assert_eq!(PaymentError::NoParticipants.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn unbalanced_entries_are_internal_bugs() {
        let err = PaymentError::UnbalancedEntry { currency: Currency::CNY, sum: Decimal::ONE };
        assert_eq!(err.kind(), ErrorKind::Internal);
    }
}
