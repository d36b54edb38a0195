//! Per-user daily limits on the money that enters, leaves or moves between wallets: a stolen
//! session or a compromised provider account can move at most one day's allowance.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{Money, error::PaymentError};

/// What a daily limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitedMove {
    TopUp,
    Withdrawal,
    Transfer,
}

impl LimitedMove {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitedMove::TopUp => "top_up",
            LimitedMove::Withdrawal => "withdrawal",
            LimitedMove::Transfer => "transfer",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            LimitedMove::TopUp => "top-up",
            LimitedMove::Withdrawal => "withdrawal",
            LimitedMove::Transfer => "transfer",
        }
    }
}

/// The most one user may move per calendar day (UTC) of each kind, in each currency's major
/// units (the same figure for every currency).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DailyLimits {
    top_up: Decimal,
    withdrawal: Decimal,
    transfer: Decimal,
}

impl DailyLimits {
    /// Parses the configured limits: positive decimals.
    pub fn parse(top_up: &str, withdrawal: &str, transfer: &str) -> Result<Self, PaymentError> {
        let one = |name: &str, text: &str| {
            text.trim().parse::<Decimal>().ok().filter(|d| *d > Decimal::ZERO).ok_or_else(|| {
                PaymentError::InvalidInput(format!("daily {name} limit must be a positive decimal, got {text:?}"))
            })
        };
        Ok(Self {
            top_up: one("top-up", top_up)?,
            withdrawal: one("withdrawal", withdrawal)?,
            transfer: one("transfer", transfer)?,
        })
    }

    pub fn limit(&self, kind: LimitedMove) -> Decimal {
        match kind {
            LimitedMove::TopUp => self.top_up,
            LimitedMove::Withdrawal => self.withdrawal,
            LimitedMove::Transfer => self.transfer,
        }
    }

    /// Refuses at once an amount that alone is past the day's limit (before anything is
    /// written: such an amount may not even fit the ledger's columns).
    pub fn admits(&self, kind: LimitedMove, amount: &Money) -> Result<(), DailyLimitExceeded> {
        if amount.amount() > self.limit(kind) {
            return Err(DailyLimitExceeded(self.refusal(kind, amount)));
        }
        Ok(())
    }

    /// Why `amount` was refused, for the client.
    pub fn refusal(&self, kind: LimitedMove, amount: &Money) -> String {
        format!(
            "daily {} limit of {} {} reached; try again tomorrow (UTC)",
            kind.describe(),
            self.limit(kind),
            amount.currency().code()
        )
    }
}

/// A move past a daily limit; the client may try again tomorrow (UTC).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DailyLimitExceeded(pub String);

impl tuan_runtime::error::Classify for DailyLimitExceeded {
    fn kind(&self) -> tuan_runtime::ErrorKind {
        tuan_runtime::ErrorKind::LimitExceeded
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        Some(day_of(Utc::now()).1)
    }
}

/// The calendar day (UTC) a move at `now` counts against, and how long until the next one.
pub fn day_of(now: DateTime<Utc>) -> (NaiveDate, std::time::Duration) {
    let day = now.date_naive();
    let next = day.succ_opt().unwrap_or(day).and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let wait = (next - now).max(Duration::zero()).to_std().unwrap_or_default();
    (day, wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    #[test]
    fn limits_are_positive_decimals() {
        let limits = DailyLimits::parse("50000", "20000.50", " 100 ").unwrap();
        assert_eq!(limits.limit(LimitedMove::Withdrawal), Decimal::new(2_000_050, 2));
        assert!(DailyLimits::parse("0", "1", "1").is_err());
        assert!(DailyLimits::parse("-5", "1", "1").is_err());
        assert!(DailyLimits::parse("lots", "1", "1").is_err());
        let money = Money::parse_positive("1.00", Currency::CNY).unwrap();
        assert_eq!(
            limits.refusal(LimitedMove::Transfer, &money),
            "daily transfer limit of 100 CNY reached; try again tomorrow (UTC)"
        );
    }

    #[test]
    fn a_day_ends_at_midnight_utc() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T23:59:30Z").unwrap().with_timezone(&Utc);
        let (day, wait) = day_of(now);
        assert_eq!(day, NaiveDate::from_ymd_opt(2026, 12, 3).unwrap());
        assert_eq!(wait, std::time::Duration::from_secs(30));
    }
}
