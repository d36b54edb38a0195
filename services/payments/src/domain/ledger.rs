//! The double-entry journal and the balances projected from it.
//!
//! Every movement of money is a [`JournalEntry`] whose postings sum to zero in each currency,
//! so money is never created or destroyed inside the system; it only enters and leaves
//! through the two clearing accounts that stand for the outside world.
//!
//! Sign convention: a positive posting increases what the account holds, a negative one
//! decreases it. Money entering from a payment provider therefore drives `TopUpClearing`
//! negative; that account mirrors the provider, not a pot of ours.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use tuan_kernel::{Currency, Money, MoneyError};

/// Why a journal entry or a posting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// An amount was refused.
    #[error(transparent)]
    Money(#[from] MoneyError),
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
    /// The journal entry was posted before (entry ids are idempotency: one posting each).
    #[error("journal entry {0} is already posted")]
    AlreadyPosted(Uuid),
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
}

/// An account in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccountRef {
    /// A user's spendable wallet.
    UserWallet(Uuid),
    /// Money reserved by a hold (escrow), by hold id.
    Hold(Uuid),
    /// What we owe a merchant for captured payments.
    MerchantPayable(Uuid),
    /// Fees the platform has earned.
    PlatformFees,
    /// The payment provider's side of top-ups (goes negative as money comes in).
    TopUpClearing,
    /// The payment provider's side of withdrawals (money on its way out).
    WithdrawalClearing,
    /// Donations collected by a charity campaign.
    CharityCampaign(Uuid),
}

impl AccountRef {
    /// Whether the account stands for the outside world. Only these may go negative, and
    /// only movements through them change how much money the system holds.
    pub fn is_external(&self) -> bool {
        matches!(self, AccountRef::TopUpClearing | AccountRef::WithdrawalClearing)
    }
}

impl AccountRef {
    /// Parses the text form written by `Display` (the ledger's account keys).
    pub fn parse(text: &str) -> Option<Self> {
        let id = |s: &str| Uuid::parse_str(s).ok();
        Some(match text.split_once(':') {
            Some(("wallet", rest)) => AccountRef::UserWallet(id(rest)?),
            Some(("hold", rest)) => AccountRef::Hold(id(rest)?),
            Some(("merchant-payable", rest)) => AccountRef::MerchantPayable(id(rest)?),
            Some(("charity", rest)) => AccountRef::CharityCampaign(id(rest)?),
            None if text == "platform-fees" => AccountRef::PlatformFees,
            None if text == "top-up-clearing" => AccountRef::TopUpClearing,
            None if text == "withdrawal-clearing" => AccountRef::WithdrawalClearing,
            _ => return None,
        })
    }
}

impl fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountRef::UserWallet(id) => write!(f, "wallet:{id}"),
            AccountRef::Hold(id) => write!(f, "hold:{id}"),
            AccountRef::MerchantPayable(id) => write!(f, "merchant-payable:{id}"),
            AccountRef::PlatformFees => f.write_str("platform-fees"),
            AccountRef::TopUpClearing => f.write_str("top-up-clearing"),
            AccountRef::WithdrawalClearing => f.write_str("withdrawal-clearing"),
            AccountRef::CharityCampaign(id) => write!(f, "charity:{id}"),
        }
    }
}

/// One line of a journal entry: a signed, non-zero amount on one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    account: AccountRef,
    amount: Decimal,
    currency: Currency,
}

impl Posting {
    /// A posting; the amount must be non-zero and within the currency's minor unit.
    pub fn new(account: AccountRef, amount: Decimal, currency: Currency) -> Result<Self, LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::ZeroPosting(account));
        }
        // Reuse Money's checks on the magnitude so postings obey the same precision rules.
        let magnitude = Money::new(amount.abs(), currency)?;
        let amount = if amount.is_sign_negative() { -magnitude.amount() } else { magnitude.amount() };
        Ok(Posting { account, amount, currency })
    }

    /// `amount` into `account`.
    fn credit(account: AccountRef, amount: Money) -> Self {
        Posting { account, amount: amount.amount(), currency: amount.currency() }
    }

    /// `amount` out of `account`.
    fn debit(account: AccountRef, amount: Money) -> Self {
        Posting { account, amount: -amount.amount(), currency: amount.currency() }
    }

    /// The account.
    pub fn account(&self) -> AccountRef {
        self.account
    }

    /// Signed amount: positive adds to the account, negative takes from it.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }
}

/// A platform fee rate in basis points (1 bp = 0.01 %), 0 to 10 000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeRate(u32);

impl FeeRate {
    /// No fee.
    pub const ZERO: FeeRate = FeeRate(0);

    /// A rate of `bps` basis points. Above 10 000 the fee would exceed the capture.
    pub fn from_basis_points(bps: u32) -> Result<Self, LedgerError> {
        if bps > 10_000 {
            return Err(LedgerError::FeeRateOutOfRange(bps));
        }
        Ok(FeeRate(bps))
    }

    /// The rate in basis points.
    pub fn basis_points(&self) -> u32 {
        self.0
    }

    /// The fee on `amount`, rounded half away from zero to the minor unit (the usual
    /// "round half up" of payment processors). Never more than `amount`.
    pub fn fee_on(&self, amount: Money) -> Money {
        let currency = amount.currency();
        let exact = amount.amount() * Decimal::from(self.0) / Decimal::from(10_000);
        let rounded = exact.round_dp_with_strategy(currency.minor_unit(), RoundingStrategy::MidpointAwayFromZero);
        // 0 <= rounded <= amount, both within the minor unit: cannot fail.
        Money::new(rounded, currency).expect("a fee is a valid amount no larger than its base")
    }
}

/// Whether a capture is the last one on a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaptureKind {
    /// More captures may follow; the rest stays on hold.
    Partial,
    /// The last capture: whatever is left on the hold goes back to the user's wallet.
    Final,
}

/// What a hold capture needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldCapture {
    /// The user whose wallet funded the hold (gets the remainder on a final capture).
    pub user: Uuid,
    /// The hold being captured.
    pub hold: Uuid,
    /// The merchant being paid.
    pub merchant: Uuid,
    /// How much to capture now (positive).
    pub amount: Money,
    /// What is left on the hold before this capture.
    pub remaining: Money,
    /// The platform's fee rate, taken out of the captured amount.
    pub fee_rate: FeeRate,
    /// Partial or final.
    pub kind: CaptureKind,
}

/// A balanced set of postings: the unit in which money moves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    postings: Vec<Posting>,
}

impl JournalEntry {
    /// Checks that the entry moves something and is balanced: at least two postings, none
    /// zero, no account twice in one currency, and a zero sum in every currency.
    pub fn new(postings: Vec<Posting>) -> Result<Self, LedgerError> {
        if postings.len() < 2 {
            return Err(LedgerError::EmptyEntry);
        }
        let mut sums: BTreeMap<Currency, Decimal> = BTreeMap::new();
        for (i, p) in postings.iter().enumerate() {
            if p.amount.is_zero() {
                return Err(LedgerError::ZeroPosting(p.account));
            }
            if postings[..i].iter().any(|q| q.account == p.account && q.currency == p.currency) {
                return Err(LedgerError::DuplicatePosting(p.account));
            }
            *sums.entry(p.currency).or_default() += p.amount;
        }
        if let Some((currency, sum)) = sums.into_iter().find(|(_, s)| !s.is_zero()) {
            return Err(LedgerError::UnbalancedEntry { currency, sum });
        }
        Ok(JournalEntry { postings })
    }

    /// The postings, in the order given.
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// Money arriving from the payment provider into `user`'s wallet.
    pub fn top_up(user: Uuid, amount: Money) -> Result<Self, LedgerError> {
        let amount = require_positive(amount)?;
        JournalEntry::new(vec![
            Posting::debit(AccountRef::TopUpClearing, amount),
            Posting::credit(AccountRef::UserWallet(user), amount),
        ])
    }

    /// Money leaving `user`'s wallet towards the payment provider.
    pub fn withdrawal(user: Uuid, amount: Money) -> Result<Self, LedgerError> {
        let amount = require_positive(amount)?;
        JournalEntry::new(vec![
            Posting::debit(AccountRef::UserWallet(user), amount),
            Posting::credit(AccountRef::WithdrawalClearing, amount),
        ])
    }

    /// Wallet to wallet (AA collection payments, settle-up).
    pub fn transfer(from: Uuid, to: Uuid, amount: Money) -> Result<Self, LedgerError> {
        let amount = require_positive(amount)?;
        if from == to {
            return Err(LedgerError::SelfTransfer);
        }
        JournalEntry::new(vec![
            Posting::debit(AccountRef::UserWallet(from), amount),
            Posting::credit(AccountRef::UserWallet(to), amount),
        ])
    }

    /// Reserves `amount` of `user`'s wallet on hold `hold`.
    pub fn hold_place(user: Uuid, hold: Uuid, amount: Money) -> Result<Self, LedgerError> {
        let amount = require_positive(amount)?;
        JournalEntry::new(vec![
            Posting::debit(AccountRef::UserWallet(user), amount),
            Posting::credit(AccountRef::Hold(hold), amount),
        ])
    }

    /// Captures part or all of a hold for a merchant.
    ///
    /// The captured amount leaves the hold; the merchant is owed it minus the platform fee
    /// ([`FeeRate::fee_on`] the captured amount), and the fee goes to `PlatformFees`. On a
    /// [`CaptureKind::Final`] capture whatever is left on the hold returns to the user's
    /// wallet in the same entry, so a finished hold is always empty. A partial capture never
    /// releases anything: the rest stays reserved for later captures. To return everything
    /// without capturing, use [`JournalEntry::hold_release`].
    pub fn hold_capture(capture: HoldCapture) -> Result<Self, LedgerError> {
        let amount = require_positive(capture.amount)?;
        amount.same_currency(capture.remaining)?;
        let rest = capture.remaining.checked_sub(amount).map_err(|_| LedgerError::CaptureExceedsHold {
            capture: amount.amount(),
            remaining: capture.remaining.amount(),
        })?;
        let fee = capture.fee_rate.fee_on(amount);
        let to_merchant = amount.checked_sub(fee)?;
        let (from_hold, back_to_wallet) = match capture.kind {
            CaptureKind::Partial => (amount, None),
            CaptureKind::Final => (capture.remaining, Some(rest)),
        };
        let mut postings = vec![Posting::debit(AccountRef::Hold(capture.hold), from_hold)];
        // Zero legs are left out rather than posted: a 0 bp fee or a 100 % fee, or a final
        // capture of exactly what was left.
        if !to_merchant.is_zero() {
            postings.push(Posting::credit(AccountRef::MerchantPayable(capture.merchant), to_merchant));
        }
        if !fee.is_zero() {
            postings.push(Posting::credit(AccountRef::PlatformFees, fee));
        }
        if let Some(rest) = back_to_wallet.filter(|r| !r.is_zero()) {
            postings.push(Posting::credit(AccountRef::UserWallet(capture.user), rest));
        }
        JournalEntry::new(postings)
    }

    /// Returns `amount` from hold `hold` to `user`'s wallet (cancellation or expiry).
    pub fn hold_release(user: Uuid, hold: Uuid, amount: Money) -> Result<Self, LedgerError> {
        let amount = require_positive(amount)?;
        JournalEntry::new(vec![
            Posting::debit(AccountRef::Hold(hold), amount),
            Posting::credit(AccountRef::UserWallet(user), amount),
        ])
    }

    /// A payout the provider refused: the money comes back from withdrawal clearing.
    pub fn withdrawal_reversal(user: Uuid, amount: Money) -> Result<Self, LedgerError> {
        let amount = require_positive(amount)?;
        JournalEntry::new(vec![
            Posting::debit(AccountRef::WithdrawalClearing, amount),
            Posting::credit(AccountRef::UserWallet(user), amount),
        ])
    }

    /// One wallet paying several (settling up a group): one debit, one credit per payee.
    pub fn payout(from: Uuid, to: &[(Uuid, Money)]) -> Result<Self, LedgerError> {
        let first = to.first().ok_or(LedgerError::EmptyEntry)?.1;
        let mut total = Money::zero(first.currency());
        let mut postings = Vec::with_capacity(to.len() + 1);
        for (payee, amount) in to {
            let amount = require_positive(*amount)?;
            if *payee == from {
                return Err(LedgerError::SelfTransfer);
            }
            total = total.checked_add(amount)?;
            postings.push(Posting::credit(AccountRef::UserWallet(*payee), amount));
        }
        postings.insert(0, Posting::debit(AccountRef::UserWallet(from), total));
        JournalEntry::new(postings)
    }

    /// A donation from `user`'s wallet to a charity campaign.
    pub fn donation(user: Uuid, campaign: Uuid, amount: Money) -> Result<Self, LedgerError> {
        let amount = require_positive(amount)?;
        JournalEntry::new(vec![
            Posting::debit(AccountRef::UserWallet(user), amount),
            Posting::credit(AccountRef::CharityCampaign(campaign), amount),
        ])
    }
}

fn require_positive(amount: Money) -> Result<Money, LedgerError> {
    if amount.is_zero() {
        return Err(LedgerError::Money(MoneyError::NotPositive(amount.amount())));
    }
    Ok(amount)
}

/// Balances projected from journal entries, per account and currency.
///
/// Only the external clearing accounts may go negative: an entry that would overdraw a
/// wallet, hold, payable, fee or campaign account is refused and leaves the balances as
/// they were. Zero balances are not stored, so two projections of the same history compare
/// equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Balances {
    accounts: BTreeMap<(AccountRef, Currency), Decimal>,
}

impl Balances {
    /// No money anywhere.
    pub fn new() -> Self {
        Self::default()
    }

    /// The balance of `account` in `currency` (zero if never touched).
    pub fn balance(&self, account: AccountRef, currency: Currency) -> Decimal {
        self.accounts.get(&(account, currency)).copied().unwrap_or(Decimal::ZERO)
    }

    /// Every non-zero balance.
    pub fn iter(&self) -> impl Iterator<Item = (AccountRef, Currency, Decimal)> + '_ {
        self.accounts.iter().map(|((a, c), d)| (*a, *c, *d))
    }

    /// Money held inside the system in `currency`: every account except the clearing ones.
    pub fn internal_total(&self, currency: Currency) -> Decimal {
        self.iter().filter(|(a, c, _)| *c == currency && !a.is_external()).map(|(_, _, d)| d).sum()
    }

    /// Applies `entry` all or nothing.
    pub fn apply(&mut self, entry: &JournalEntry) -> Result<(), LedgerError> {
        // Work out every new balance first, so a refusal changes nothing.
        let mut updates = Vec::with_capacity(entry.postings.len());
        for p in &entry.postings {
            let available = self.balance(p.account, p.currency);
            let after = available + p.amount;
            if after < Decimal::ZERO && !p.account.is_external() {
                return Err(LedgerError::InsufficientFunds {
                    account: p.account,
                    currency: p.currency,
                    available,
                    required: -p.amount,
                });
            }
            updates.push(((p.account, p.currency), after));
        }
        // Entries never repeat an account in a currency, so updates do not interfere.
        for (key, after) in updates {
            if after.is_zero() {
                self.accounts.remove(&key);
            } else {
                self.accounts.insert(key, after);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(s: &str) -> Money {
        Money::parse_positive(s, Currency::CNY).unwrap()
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    const ALICE: Uuid = Uuid::from_u128(1);
    const BOB: Uuid = Uuid::from_u128(2);
    const HOLD: Uuid = Uuid::from_u128(10);
    const SHOP: Uuid = Uuid::from_u128(20);

    fn wallet(u: Uuid) -> AccountRef {
        AccountRef::UserWallet(u)
    }

    #[test]
    fn entries_must_balance_per_currency() {
        let p = |a, s: &str, c| Posting::new(a, dec(s), c).unwrap();
        assert!(
            JournalEntry::new(vec![p(wallet(ALICE), "-1.00", Currency::CNY), p(wallet(BOB), "0.99", Currency::CNY),])
                .is_err()
        );
        // Balanced in total but not per currency.
        assert!(matches!(
            JournalEntry::new(vec![p(wallet(ALICE), "-1.00", Currency::CNY), p(wallet(BOB), "1.00", Currency::USD),]),
            Err(LedgerError::UnbalancedEntry { .. })
        ));
        // Two currencies, each balanced.
        assert!(
            JournalEntry::new(vec![
                p(wallet(ALICE), "-1.00", Currency::CNY),
                p(wallet(BOB), "1.00", Currency::CNY),
                p(wallet(ALICE), "-1", Currency::JPY),
                p(wallet(BOB), "1", Currency::JPY),
            ])
            .is_ok()
        );
        assert_eq!(JournalEntry::new(vec![]), Err(LedgerError::EmptyEntry));
        assert!(matches!(
            JournalEntry::new(vec![p(wallet(ALICE), "-1.00", Currency::CNY), p(wallet(ALICE), "1.00", Currency::CNY),]),
            Err(LedgerError::DuplicatePosting(_))
        ));
    }

    #[test]
    fn postings_refuse_zero_and_over_precise_amounts() {
        assert!(matches!(Posting::new(wallet(ALICE), Decimal::ZERO, Currency::CNY), Err(LedgerError::ZeroPosting(_))));
        assert!(matches!(
            Posting::new(wallet(ALICE), dec("-0.001"), Currency::CNY),
            Err(LedgerError::Money(MoneyError::OverPrecise { .. }))
        ));
        assert_eq!(Posting::new(wallet(ALICE), dec("-1.5"), Currency::CNY).unwrap().amount().to_string(), "-1.50");
    }

    #[test]
    fn movements_refuse_zero_amounts_and_self_transfers() {
        let zero = Money::zero(Currency::CNY);
        assert!(matches!(JournalEntry::top_up(ALICE, zero), Err(LedgerError::Money(MoneyError::NotPositive(_)))));
        assert_eq!(JournalEntry::transfer(ALICE, ALICE, cny("1")), Err(LedgerError::SelfTransfer));
    }

    #[test]
    fn wallets_never_go_negative() {
        let mut b = Balances::new();
        b.apply(&JournalEntry::top_up(ALICE, cny("10.00")).unwrap()).unwrap();
        let before = b.clone();
        let err = b.apply(&JournalEntry::transfer(ALICE, BOB, cny("10.01")).unwrap()).unwrap_err();
        assert!(matches!(err, LedgerError::InsufficientFunds { .. }));
        assert_eq!(b, before);
        b.apply(&JournalEntry::transfer(ALICE, BOB, cny("10.00")).unwrap()).unwrap();
        assert_eq!(b.balance(wallet(ALICE), Currency::CNY), Decimal::ZERO);
        assert_eq!(b.balance(wallet(BOB), Currency::CNY), dec("10.00"));
        assert_eq!(b.balance(AccountRef::TopUpClearing, Currency::CNY), dec("-10.00"));
        assert_eq!(b.internal_total(Currency::CNY), dec("10.00"));
    }

    #[test]
    fn fee_is_rounded_half_up_to_the_minor_unit() {
        let rate = FeeRate::from_basis_points(60).unwrap(); // 0.6 %
        assert_eq!(rate.fee_on(cny("10.00")).amount(), dec("0.06"));
        // 0.6 % of 0.75 = 0.0045 -> 0.00; of 0.84 = 0.00504 -> 0.01
        assert_eq!(rate.fee_on(cny("0.75")).amount(), dec("0.00"));
        assert_eq!(rate.fee_on(cny("0.84")).amount(), dec("0.01"));
        let half = FeeRate::from_basis_points(50).unwrap();
        assert_eq!(half.fee_on(cny("1.00")).amount(), dec("0.01")); // 0.005 rounds up
        assert!(FeeRate::from_basis_points(10_001).is_err());
        let all = FeeRate::from_basis_points(10_000).unwrap();
        assert_eq!(all.fee_on(cny("3.33")), cny("3.33"));
    }

    #[test]
    fn partial_then_final_capture() {
        let mut b = Balances::new();
        b.apply(&JournalEntry::top_up(ALICE, cny("100.00")).unwrap()).unwrap();
        b.apply(&JournalEntry::hold_place(ALICE, HOLD, cny("80.00")).unwrap()).unwrap();
        assert_eq!(b.balance(wallet(ALICE), Currency::CNY), dec("20.00"));

        let rate = FeeRate::from_basis_points(100).unwrap(); // 1 %
        let capture = |amount, remaining, kind| HoldCapture {
            user: ALICE,
            hold: HOLD,
            merchant: SHOP,
            amount,
            remaining,
            fee_rate: rate,
            kind,
        };
        b.apply(&JournalEntry::hold_capture(capture(cny("30.00"), cny("80.00"), CaptureKind::Partial)).unwrap())
            .unwrap();
        assert_eq!(b.balance(AccountRef::Hold(HOLD), Currency::CNY), dec("50.00"));
        assert_eq!(b.balance(AccountRef::MerchantPayable(SHOP), Currency::CNY), dec("29.70"));
        assert_eq!(b.balance(AccountRef::PlatformFees, Currency::CNY), dec("0.30"));

        b.apply(&JournalEntry::hold_capture(capture(cny("20.00"), cny("50.00"), CaptureKind::Final)).unwrap()).unwrap();
        assert_eq!(b.balance(AccountRef::Hold(HOLD), Currency::CNY), Decimal::ZERO);
        assert_eq!(b.balance(AccountRef::MerchantPayable(SHOP), Currency::CNY), dec("49.50"));
        assert_eq!(b.balance(AccountRef::PlatformFees, Currency::CNY), dec("0.50"));
        assert_eq!(b.balance(wallet(ALICE), Currency::CNY), dec("50.00"));
        assert_eq!(b.internal_total(Currency::CNY), dec("100.00"));
    }

    #[test]
    fn capture_cannot_exceed_the_hold() {
        let c = HoldCapture {
            user: ALICE,
            hold: HOLD,
            merchant: SHOP,
            amount: cny("10.01"),
            remaining: cny("10.00"),
            fee_rate: FeeRate::ZERO,
            kind: CaptureKind::Final,
        };
        assert!(matches!(JournalEntry::hold_capture(c), Err(LedgerError::CaptureExceedsHold { .. })));
        // Even if the caller's idea of `remaining` is stale, the projection refuses to
        // overdraw the hold.
        let mut b = Balances::new();
        let stale = HoldCapture { amount: cny("5.00"), remaining: cny("10.00"), kind: CaptureKind::Partial, ..c };
        assert!(matches!(
            b.apply(&JournalEntry::hold_capture(stale).unwrap()),
            Err(LedgerError::InsufficientFunds { .. })
        ));
    }

    #[test]
    fn release_and_donation() {
        let mut b = Balances::new();
        let campaign = Uuid::from_u128(99);
        for e in [
            JournalEntry::top_up(ALICE, cny("10.00")),
            JournalEntry::hold_place(ALICE, HOLD, cny("4.00")),
            JournalEntry::hold_release(ALICE, HOLD, cny("4.00")),
            JournalEntry::donation(ALICE, campaign, cny("2.50")),
            JournalEntry::withdrawal(ALICE, cny("7.50")),
        ] {
            b.apply(&e.unwrap()).unwrap();
        }
        assert_eq!(b.balance(wallet(ALICE), Currency::CNY), Decimal::ZERO);
        assert_eq!(b.balance(AccountRef::CharityCampaign(campaign), Currency::CNY), dec("2.50"));
        assert_eq!(b.balance(AccountRef::WithdrawalClearing, Currency::CNY), dec("7.50"));
        assert_eq!(b.internal_total(Currency::CNY), dec("2.50"));
    }
}
