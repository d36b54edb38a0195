//! Group balances ("who owes whom in a circle") and debt simplification for settling up.
//!
//! Balances are kept per currency and never converted: a group with CNY and JPY bills
//! settles each currency on its own.

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::error::PaymentError;
use super::money::{Currency, Money};
use super::split::{Bill, NetEffect};

/// Net balances of a group in one currency: positive means the user is owed, negative means
/// the user owes. They sum to zero, each user appears once, amounts are within the minor
/// unit; users with zero are dropped because they have nothing to settle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetBalances {
    currency: Currency,
    /// Sorted by user id, non-zero, in minor units.
    minor: BTreeMap<Uuid, i64>,
}

impl NetBalances {
    /// Checks the balances; see the type's documentation.
    pub fn new(currency: Currency, balances: Vec<NetEffect>) -> Result<Self, PaymentError> {
        let mut seen = HashSet::with_capacity(balances.len());
        let mut minor = BTreeMap::new();
        let mut sum: i128 = 0;
        for NetEffect { user, amount } in balances {
            if !seen.insert(user) {
                return Err(PaymentError::DuplicateUser(user));
            }
            let units = Money::new(amount.abs(), currency)?.minor_units();
            let units = if amount.is_sign_negative() { -units } else { units };
            sum += i128::from(units);
            if units != 0 {
                minor.insert(user, units);
            }
        }
        if sum != 0 {
            return Err(PaymentError::NetBalancesNotZero {
                currency,
                sum: Decimal::from_i128_with_scale(sum, currency.minor_unit()),
            });
        }
        Ok(NetBalances { currency, minor })
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Every non-zero balance, by user id.
    pub fn iter(&self) -> impl Iterator<Item = NetEffect> + '_ {
        self.minor
            .iter()
            .map(|(user, m)| NetEffect { user: *user, amount: Decimal::new(*m, self.currency.minor_unit()) })
    }

    /// The balance of `user` (zero if they have none).
    pub fn of(&self, user: Uuid) -> Decimal {
        Decimal::new(self.minor.get(&user).copied().unwrap_or(0), self.currency.minor_unit())
    }

    /// Whether everyone is settled.
    pub fn is_settled(&self) -> bool {
        self.minor.is_empty()
    }
}

/// A payment that settles (part of) a debt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Transfer {
    pub from: Uuid,
    pub to: Uuid,
    pub amount: Money,
}

/// The transfers that settle every balance: at most one fewer than the number of users with
/// a non-zero balance.
///
/// Greedy: repeatedly the largest debtor pays the largest creditor as much as settles one of
/// them, ties going to the smaller user id, so the result is deterministic. Each transfer
/// settles at least one user and the last one settles two, hence at most n - 1 transfers.
/// (The true minimum is NP-hard in general; this is the usual good-enough answer.)
pub fn simplify(balances: &NetBalances) -> Vec<Transfer> {
    let mut open = balances.minor.clone();
    let mut transfers = Vec::new();
    loop {
        // max_by_key returns the last maximum; iterating in reverse user order makes that the
        // smallest user id among equals.
        let creditor = open.iter().rev().filter(|(_, m)| **m > 0).max_by_key(|(_, m)| **m).map(|(u, m)| (*u, *m));
        let debtor = open.iter().rev().filter(|(_, m)| **m < 0).max_by_key(|(_, m)| -**m).map(|(u, m)| (*u, -*m));
        let (Some((to, owed)), Some((from, owes))) = (creditor, debtor) else {
            break;
        };
        let units = owed.min(owes);
        settle(&mut open, to, -units);
        settle(&mut open, from, units);
        transfers.push(Transfer {
            from,
            to,
            // units is a positive i64: the smaller of two balances.
            amount: Money::from_minor_units(units, balances.currency)
                .expect("a transfer of a positive balance is valid money"),
        });
    }
    transfers
}

fn settle(open: &mut BTreeMap<Uuid, i64>, user: Uuid, delta: i64) {
    let left = open[&user] + delta;
    if left == 0 {
        open.remove(&user);
    } else {
        open.insert(user, left);
    }
}

/// The running net balances of a circle, per currency, from bills and settle-up payments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupBalances {
    minor: BTreeMap<Currency, BTreeMap<Uuid, i64>>,
}

impl GroupBalances {
    /// Nobody owes anybody.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a bill's net effects in its currency.
    pub fn record_bill(&mut self, bill: &Bill) -> Result<(), PaymentError> {
        let currency = bill.currency();
        let deltas: Vec<(Uuid, i64)> = bill
            .net_effects()
            .iter()
            .map(|n| {
                let units = Money::new(n.amount.abs(), currency)?.minor_units();
                Ok((n.user, if n.amount.is_sign_negative() { -units } else { units }))
            })
            .collect::<Result<_, PaymentError>>()?;
        self.add(currency, &deltas)
    }

    /// Records that `from` paid `to` directly to settle up: `from` owes that much less.
    pub fn record_payment(&mut self, from: Uuid, to: Uuid, amount: Money) -> Result<(), PaymentError> {
        if from == to {
            return Err(PaymentError::SelfTransfer);
        }
        if amount.is_zero() {
            return Err(PaymentError::NotPositive(amount.amount()));
        }
        let units = amount.minor_units();
        self.add(amount.currency(), &[(from, units), (to, -units)])
    }

    /// All or nothing, refusing overflow.
    fn add(&mut self, currency: Currency, deltas: &[(Uuid, i64)]) -> Result<(), PaymentError> {
        let book = self.minor.entry(currency).or_default();
        let mut updated = Vec::with_capacity(deltas.len());
        for (user, delta) in deltas {
            let now = book.get(user).copied().unwrap_or(0);
            let next = now.checked_add(*delta).ok_or(PaymentError::AmountTooLarge)?;
            updated.push((*user, next));
        }
        for (user, next) in updated {
            if next == 0 {
                book.remove(&user);
            } else {
                book.insert(user, next);
            }
        }
        if book.is_empty() {
            self.minor.remove(&currency);
        }
        Ok(())
    }

    /// Currencies in which someone still owes something.
    pub fn currencies(&self) -> impl Iterator<Item = Currency> + '_ {
        self.minor.keys().copied()
    }

    /// The net balances in `currency` (settled if there are none).
    pub fn net(&self, currency: Currency) -> NetBalances {
        NetBalances {
            currency,
            // Every recorded change sums to zero, so the book does too.
            minor: self.minor.get(&currency).cloned().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::split::SplitMethod;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn cny(s: &str) -> Money {
        Money::parse_positive(s, Currency::CNY).unwrap()
    }

    fn net(pairs: &[(u128, &str)]) -> Result<NetBalances, PaymentError> {
        NetBalances::new(
            Currency::CNY,
            pairs.iter().map(|(u, a)| NetEffect { user: Uuid::from_u128(*u), amount: dec(a) }).collect(),
        )
    }

    #[test]
    fn net_balances_must_sum_to_zero_without_duplicates() {
        assert!(matches!(net(&[(1, "10.00"), (2, "-9.99")]), Err(PaymentError::NetBalancesNotZero { .. })));
        assert!(matches!(net(&[(1, "10.00"), (1, "-10.00")]), Err(PaymentError::DuplicateUser(_))));
        assert!(matches!(net(&[(1, "0.001"), (2, "-0.001")]), Err(PaymentError::OverPrecise { .. })));
        assert!(net(&[]).unwrap().is_settled());
    }

    #[test]
    fn greedy_pairs_largest_debtor_with_largest_creditor() {
        let balances = net(&[(1, "50.00"), (2, "-30.00"), (3, "-20.00"), (4, "0")]).unwrap();
        let t = simplify(&balances);
        let u = Uuid::from_u128;
        assert_eq!(
            t,
            [
                Transfer { from: u(2), to: u(1), amount: cny("30.00") },
                Transfer { from: u(3), to: u(1), amount: cny("20.00") },
            ]
        );
    }

    #[test]
    fn ties_go_to_the_smaller_user_id() {
        let balances = net(&[(4, "10.00"), (3, "10.00"), (2, "-10.00"), (1, "-10.00")]).unwrap();
        let t = simplify(&balances);
        let u = Uuid::from_u128;
        assert_eq!(t[0].from, u(1));
        assert_eq!(t[0].to, u(3));
        assert_eq!(t[1].from, u(2));
        assert_eq!(t[1].to, u(4));
    }

    #[test]
    fn group_balances_accumulate_bills_and_settle_up() {
        let [a, b, c] = [1, 2, 3].map(Uuid::from_u128);
        let mut group = GroupBalances::new();
        let dinner = Bill::new(cny("90.00"), vec![(a, cny("90.00"))], vec![a, b, c], SplitMethod::Equal).unwrap();
        let taxi = Bill::new(cny("30.00"), vec![(b, cny("30.00"))], vec![a, b, c], SplitMethod::Equal).unwrap();
        group.record_bill(&dinner).unwrap();
        group.record_bill(&taxi).unwrap();
        let n = group.net(Currency::CNY);
        assert_eq!(n.of(a), dec("50.00"));
        assert_eq!(n.of(b), dec("-10.00"));
        assert_eq!(n.of(c), dec("-40.00"));
        for t in simplify(&n) {
            group.record_payment(t.from, t.to, t.amount).unwrap();
        }
        assert!(group.net(Currency::CNY).is_settled());
        assert_eq!(group.currencies().count(), 0);
    }
}
