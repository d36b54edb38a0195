//! Prices: a positive decimal amount in a currency, no finer than the currency's minor unit.
//!
//! A small copy of the payments service's rules (services/payments/src/domain/money.rs); both
//! belong in a shared crate (see the report).

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;

use super::error::{GroupBuyError, invalid};

/// The currencies a campaign may be priced in, with their minor unit.
const CURRENCIES: [(&str, u32); 5] = [("CNY", 2), ("USD", 2), ("EUR", 2), ("HKD", 2), ("JPY", 0)];

/// An ISO 4217 code we price in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    minor_unit: u32,
}

impl Currency {
    pub fn parse(code: &str) -> Result<Self, GroupBuyError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(code.trim()))
            .map(|&(code, minor_unit)| Self { code, minor_unit })
            .ok_or_else(|| invalid(format!("currency {code:?} is not supported (CNY, USD, EUR, HKD, JPY)")))
    }

    pub fn code(self) -> &'static str {
        self.code
    }
}

/// An amount of money in a currency, checked: not negative, scale within the minor unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    amount: Decimal,
    currency: Currency,
}

/// Far above any real price; keeps arithmetic far from overflow.
const MAX_AMOUNT: i64 = 100_000_000;

impl Price {
    /// Parses a decimal string such as `"33.30"` for `field`. Zero is allowed only if `allow_zero`.
    pub fn parse(field: &str, amount: &str, currency: Currency, allow_zero: bool) -> Result<Self, GroupBuyError> {
        let text = amount.trim();
        let value = Decimal::from_str(text)
            .ok()
            .filter(|_| !text.contains(['e', 'E']) && !text.starts_with('+'))
            .ok_or_else(|| invalid(format!("{field} must be a decimal amount like \"33.30\", got {amount:?}")))?;
        Self::new(field, value, currency, allow_zero)
    }

    pub fn new(field: &str, value: Decimal, currency: Currency, allow_zero: bool) -> Result<Self, GroupBuyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(invalid(format!("{field} must not be negative")));
        }
        if value.is_zero() && !allow_zero {
            return Err(invalid(format!("{field} must be positive")));
        }
        if value.normalize().scale() > currency.minor_unit {
            return Err(invalid(format!(
                "{field} has more than {} decimal places for {}",
                currency.minor_unit, currency.code
            )));
        }
        if value > Decimal::from(MAX_AMOUNT) {
            return Err(invalid(format!("{field} is too large")));
        }
        let mut amount = value.normalize();
        amount.rescale(currency.minor_unit);
        Ok(Self { amount, currency })
    }

    pub fn amount(self) -> Decimal {
        self.amount
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_zero(self) -> bool {
        self.amount.is_zero()
    }

    /// `self - other`, same currency; None if it would be negative.
    pub fn minus(self, other: Price) -> Option<Price> {
        let rest = self.amount - other.amount;
        (!rest.is_sign_negative() || rest.is_zero()).then_some(Price { amount: rest, currency: self.currency })
    }
}

impl fmt::Display for Price {
    /// The amount only, at the currency's scale (`"33.30"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny() -> Currency {
        Currency::parse("cny").unwrap()
    }

    #[test]
    fn parses_at_the_currency_scale() {
        assert_eq!(Price::parse("p", "33.3", cny(), false).unwrap().to_string(), "33.30");
        assert_eq!(Price::parse("p", "1.230", cny(), false).unwrap().to_string(), "1.23");
        assert_eq!(Price::parse("p", "100", Currency::parse("JPY").unwrap(), false).unwrap().to_string(), "100");
    }

    #[test]
    fn refuses_bad_amounts() {
        for bad in ["", "abc", "-1", "0", "1.234", "1e3", "+5", "1000000000"] {
            assert!(Price::parse("p", bad, cny(), false).is_err(), "{bad}");
        }
        assert!(Price::parse("p", "1.5", Currency::parse("JPY").unwrap(), false).is_err());
        assert!(Price::parse("p", "0", cny(), true).is_ok());
        assert!(Currency::parse("XYZ").is_err());
    }

    #[test]
    fn minus_never_goes_negative() {
        let a = Price::parse("a", "10", cny(), false).unwrap();
        let b = Price::parse("b", "3.5", cny(), false).unwrap();
        assert_eq!(a.minus(b).unwrap().to_string(), "6.50");
        assert!(b.minus(a).is_none());
    }
}
