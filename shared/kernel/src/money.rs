//! Currencies and non-negative amounts of money.
//!
//! A [`Money`] is proof that its amount was checked: never negative, no finer than the
//! currency's minor unit, and representable as 64-bit minor units. Signed values (ledger
//! postings, net balances) are plain [`Decimal`]s next to a [`Currency`].

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Why an amount or a currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The currency code is not one we hold money in.
    #[error("unknown currency {0:?} (CNY, USD, EUR, JPY, HKD)")]
    UnknownCurrency(String),
    /// The text is not a plain decimal number (digits, optionally a point and more digits).
    #[error("malformed amount {0:?}")]
    MalformedAmount(String),
    /// The amount must be greater than zero here.
    #[error("amount must be greater than zero, got {0}")]
    NotPositive(Decimal),
    /// Money is never negative; signed values live only in ledger postings and net balances.
    #[error("amount must not be negative, got {0}")]
    Negative(Decimal),
    /// More decimal places than the currency's minor unit (for example 0.001 CNY).
    #[error("amount {amount} is more precise than {currency} allows ({max_scale} decimal places)")]
    OverPrecise { amount: Decimal, currency: Currency, max_scale: u32 },
    /// The amount does not fit in 64-bit minor units.
    #[error("amount is too large")]
    AmountTooLarge,
    /// Two amounts in different currencies met; we never convert implicitly.
    #[error("currency mismatch: expected {expected}, got {found}")]
    CurrencyMismatch { expected: Currency, found: Currency },
}

/// A currency we hold money in, by ISO 4217 code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Currency {
    /// Chinese yuan; minor unit fen (2 places).
    CNY,
    /// US dollar; cents (2 places).
    USD,
    /// Euro; cents (2 places).
    EUR,
    /// Japanese yen; no minor unit.
    JPY,
    /// Hong Kong dollar; cents (2 places).
    HKD,
}

impl Currency {
    /// Every supported currency.
    pub const ALL: [Currency; 5] = [Currency::CNY, Currency::USD, Currency::EUR, Currency::JPY, Currency::HKD];

    /// The ISO 4217 code, for example `"CNY"`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::CNY => "CNY",
            Currency::USD => "USD",
            Currency::EUR => "EUR",
            Currency::JPY => "JPY",
            Currency::HKD => "HKD",
        }
    }

    /// How many decimal places the smallest unit has (2 for CNY fen, 0 for JPY).
    pub fn minor_unit(self) -> u32 {
        match self {
            Currency::JPY => 0,
            Currency::CNY | Currency::USD | Currency::EUR | Currency::HKD => 2,
        }
    }

    /// Parses an ISO 4217 code. Case is ignored (clients send `"cny"` too) but nothing else
    /// is: no whitespace, no symbols.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(code))
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.code().to_owned()
    }
}

/// A non-negative amount in one currency, exact to the currency's minor unit.
///
/// The amount is always stored at exactly the currency's scale (`33.30`, not `33.3`), so it
/// prints the way the API sends it and converts to minor units without rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawMoney", into = "RawMoney")]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

/// The unchecked wire form of [`Money`]; deserialising goes through the same checks as
/// parsing so a stored event cannot smuggle in an invalid amount.
#[derive(Serialize, Deserialize)]
struct RawMoney {
    amount: Decimal,
    currency: Currency,
}

impl TryFrom<RawMoney> for Money {
    type Error = MoneyError;
    fn try_from(raw: RawMoney) -> Result<Self, Self::Error> {
        Money::new(raw.amount, raw.currency)
    }
}

impl From<Money> for RawMoney {
    fn from(m: Money) -> Self {
        RawMoney { amount: m.amount, currency: m.currency }
    }
}

impl Money {
    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Money { amount: Decimal::new(0, currency.minor_unit()), currency }
    }

    /// Checks a decimal: not negative, no finer than the minor unit, fits in `i64` minor units.
    ///
    /// Trailing zeros do not count as precision: `1.230` CNY is accepted as `1.23` because it
    /// names the same value (NUMERIC columns and other systems pad like that), while `1.235`
    /// CNY is refused as over-precise rather than silently rounded.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative(amount));
        }
        let normalized = amount.normalize();
        if normalized.scale() > currency.minor_unit() {
            return Err(MoneyError::OverPrecise { amount, currency, max_scale: currency.minor_unit() });
        }
        let factor = 10i128.pow(currency.minor_unit() - normalized.scale());
        let minor = normalized
            .mantissa()
            .checked_mul(factor)
            .and_then(|m| i64::try_from(m).ok())
            .ok_or(MoneyError::AmountTooLarge)?;
        Money::from_minor_units(minor, currency)
    }

    /// Like [`Money::new`], and the amount must be greater than zero.
    pub fn positive(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let money = Money::new(amount, currency)?;
        if money.is_zero() {
            return Err(MoneyError::NotPositive(amount));
        }
        Ok(money)
    }

    /// Parses user input such as `"33.34"`: a plain decimal (digits, optionally a point and
    /// at least one digit), strictly positive, within the currency's precision.
    ///
    /// Signs other than a leading `-` (reported as not positive), exponents, underscores,
    /// whitespace and thousands separators are refused: the wire format is one spelling.
    pub fn parse_positive(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let amount = plain_decimal(text)?;
        if amount.is_sign_negative() || amount.is_zero() {
            return Err(MoneyError::NotPositive(amount));
        }
        Money::positive(amount, currency)
    }

    /// Like [`Money::parse_positive`], and zero is allowed (a discount of nothing).
    pub fn parse(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        Money::new(plain_decimal(text)?, currency)
    }

    /// From an integer count of minor units (fen for CNY, yen for JPY).
    pub fn from_minor_units(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative(Decimal::new(minor, currency.minor_unit())));
        }
        Ok(Money { amount: Decimal::new(minor, currency.minor_unit()), currency })
    }

    /// The amount, at exactly the currency's scale.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount in minor units; exact because the scale is fixed at construction.
    pub fn minor_units(&self) -> i64 {
        // Construction guarantees scale == minor unit and that the mantissa fits in i64.
        self.amount.mantissa() as i64
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// The sum, refusing different currencies and overflow.
    pub fn checked_add(&self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor_units().checked_add(other.minor_units()).ok_or(MoneyError::AmountTooLarge)?;
        Money::from_minor_units(minor, self.currency)
    }

    /// The difference, refusing different currencies and a negative result.
    pub fn checked_sub(&self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        // Both are non-negative i64 values, so the difference cannot overflow.
        Money::from_minor_units(self.minor_units() - other.minor_units(), self.currency)
    }

    /// Errors unless `other` is in the same currency.
    pub fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch { expected: self.currency, found: other.currency });
        }
        Ok(())
    }
}

/// The one spelling of an amount on the wire: digits, optionally a point and more digits, and
/// at most a leading `-` (which the caller refuses as not positive or negative).
fn plain_decimal(text: &str) -> Result<Decimal, MoneyError> {
    let malformed = || MoneyError::MalformedAmount(text.to_owned());
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return Err(malformed());
    }
    Decimal::from_str_exact(text).map_err(|_| malformed())
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn currencies_parse_from_iso_codes() {
        assert_eq!(Currency::parse("CNY").unwrap(), Currency::CNY);
        assert_eq!("jpy".parse::<Currency>().unwrap(), Currency::JPY);
        assert_eq!(Currency::HKD.minor_unit(), 2);
        assert_eq!(Currency::JPY.minor_unit(), 0);
        assert!(matches!(Currency::parse("RMB"), Err(MoneyError::UnknownCurrency(_))));
        assert!(Currency::parse(" CNY").is_err());
    }

    #[test]
    fn parse_positive_accepts_amounts_within_the_minor_unit() {
        let m = Money::parse_positive("33.3", Currency::CNY).unwrap();
        assert_eq!(m.amount().to_string(), "33.30");
        assert_eq!(m.minor_units(), 3330);
        assert_eq!(m.to_string(), "33.30 CNY");
        assert_eq!(Money::parse_positive("1500", Currency::JPY).unwrap().minor_units(), 1500);
        // Trailing zeros name the same value.
        assert_eq!(Money::parse_positive("1.230", Currency::CNY).unwrap().minor_units(), 123);
    }

    #[test]
    fn parse_positive_refuses_over_precise_amounts() {
        assert!(matches!(
            Money::parse_positive("1.234", Currency::CNY),
            Err(MoneyError::OverPrecise { max_scale: 2, .. })
        ));
        assert!(matches!(
            Money::parse_positive("1.5", Currency::JPY),
            Err(MoneyError::OverPrecise { max_scale: 0, .. })
        ));
    }

    #[test]
    fn parse_positive_refuses_zero_negative_and_malformed_text() {
        for zero in ["0", "0.00", "-0"] {
            assert!(matches!(Money::parse_positive(zero, Currency::CNY), Err(MoneyError::NotPositive(_))));
        }
        assert!(matches!(Money::parse_positive("-1.00", Currency::CNY), Err(MoneyError::NotPositive(_))));
        for bad in ["", ".5", "5.", "1e3", "1_000", "+1", " 1", "1,00", "abc", "1.2.3", "NaN"] {
            assert!(
                matches!(Money::parse_positive(bad, Currency::CNY), Err(MoneyError::MalformedAmount(_))),
                "{bad:?} should be malformed"
            );
        }
    }

    #[test]
    fn parse_allows_zero_and_nothing_else_that_parse_positive_refuses() {
        assert!(Money::parse("0", Currency::CNY).unwrap().is_zero());
        assert_eq!(Money::parse("1.5", Currency::CNY).unwrap().minor_units(), 150);
        assert!(matches!(Money::parse("-1", Currency::CNY), Err(MoneyError::Negative(_))));
        for bad in ["", "+1", " 1", "1e3"] {
            assert!(matches!(Money::parse(bad, Currency::CNY), Err(MoneyError::MalformedAmount(_))), "{bad:?}");
        }
    }

    #[test]
    fn amounts_too_large_for_minor_units_are_refused() {
        assert!(matches!(
            Money::parse_positive("100000000000000000000", Currency::CNY),
            Err(MoneyError::AmountTooLarge)
        ));
        assert!(Money::from_minor_units(i64::MAX, Currency::CNY).is_ok());
    }

    #[test]
    fn minor_units_round_trip() {
        let m = Money::from_minor_units(3334, Currency::CNY).unwrap();
        assert_eq!(m.amount(), dec("33.34"));
        assert_eq!(Money::new(m.amount(), Currency::CNY).unwrap(), m);
        assert!(Money::from_minor_units(-1, Currency::CNY).is_err());
    }

    #[test]
    fn zero_is_at_the_currency_scale() {
        assert_eq!(Money::zero(Currency::CNY).amount().to_string(), "0.00");
        assert!(Money::zero(Currency::JPY).is_zero());
        assert!(Money::positive(Decimal::ZERO, Currency::CNY).is_err());
        assert!(Money::new(dec("-0.01"), Currency::CNY).is_err());
    }

    #[test]
    fn arithmetic_refuses_currency_mismatch_and_negative_results() {
        let a = Money::parse_positive("10.00", Currency::CNY).unwrap();
        let b = Money::parse_positive("3.50", Currency::CNY).unwrap();
        let usd = Money::parse_positive("1", Currency::USD).unwrap();
        assert_eq!(a.checked_add(b).unwrap().amount(), dec("13.50"));
        assert_eq!(a.checked_sub(b).unwrap().amount(), dec("6.50"));
        assert!(matches!(a.checked_add(usd), Err(MoneyError::CurrencyMismatch { .. })));
        assert!(matches!(b.checked_sub(a), Err(MoneyError::Negative(_))));
        let max = Money::from_minor_units(i64::MAX, Currency::CNY).unwrap();
        assert!(matches!(max.checked_add(b), Err(MoneyError::AmountTooLarge)));
    }

    #[test]
    fn serde_round_trips_and_rechecks_on_the_way_in() {
        let m = Money::parse_positive("33.34", Currency::CNY).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"33.34","currency":"CNY"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        for bad in [
            r#"{"amount":"0.001","currency":"CNY"}"#,
            r#"{"amount":"-1","currency":"CNY"}"#,
            r#"{"amount":"1","currency":"XXX"}"#,
        ] {
            assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad}");
        }
    }
}
