//! Reading facts back from an aggregate's own recorded events (and from the projection rows
//! written from them).
//!
//! `apply` rebuilds typed state from events that `handle` wrote from values it had already
//! parsed, so a recorded id or amount that does not parse is not bad input but a corrupt store
//! (or a bug that wrote it). Guessing a default would be worse than stopping: a nil user id or a
//! zero amount would move money for nobody or hide a debt. So these fail loudly, naming the
//! field, and there is one copy of them.
//!
//! Input from outside (requests, other services' events) is parsed with errors, never with
//! these.

use std::str::FromStr;

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::{Currency, Money};

#[track_caller]
fn corrupt(field: &str, text: &str, what: &str) -> ! {
    panic!("a recorded event's {field} is not {what}: {text:?} (events are written from parsed values)")
}

/// A required id.
#[track_caller]
pub fn uuid(field: &str, text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap_or_else(|_| corrupt(field, text, "a UUID"))
}

/// An id that events leave empty when there is none (a join without a team).
#[track_caller]
pub fn optional_uuid(field: &str, text: &str) -> Option<Uuid> {
    (!text.is_empty()).then(|| uuid(field, text))
}

/// A currency code.
#[track_caller]
pub fn currency(field: &str, code: &str) -> Currency {
    Currency::parse(code).unwrap_or_else(|_| corrupt(field, code, "a currency"))
}

/// An amount in `currency`, as `handle` wrote it (`Money::amount().to_string()`).
#[track_caller]
pub fn money(field: &str, amount: &str, currency: Currency) -> Money {
    Decimal::from_str(amount)
        .ok()
        .and_then(|d| Money::new(d, currency).ok())
        .unwrap_or_else(|| corrupt(field, amount, "an amount of money"))
}

/// An amount already read as a decimal (a `NUMERIC` column of a projection), in `currency`.
#[track_caller]
pub fn amount(field: &str, amount: Decimal, currency: Currency) -> Money {
    Money::new(amount, currency).unwrap_or_else(|_| corrupt(field, &amount.to_string(), "an amount of money"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_was_written() {
        let id = Uuid::now_v7();
        assert_eq!(uuid("user_id", &id.to_string()), id);
        assert_eq!(optional_uuid("team_id", ""), None);
        assert_eq!(money("amount", "9.90", Currency::CNY).minor_units(), 990);
        assert_eq!(currency("currency", "JPY"), Currency::JPY);
    }

    #[test]
    #[should_panic(expected = "user_id is not a UUID")]
    fn a_corrupt_id_stops_rather_than_becoming_nil() {
        uuid("user_id", "nope");
    }

    #[test]
    #[should_panic(expected = "amount is not an amount of money")]
    fn a_corrupt_amount_stops_rather_than_becoming_zero() {
        money("amount", "-1", Currency::CNY);
    }
}
