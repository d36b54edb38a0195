//! AA bill splitting: who owes what of a bill, to the minor unit.
//!
//! Parts always sum to the total exactly. Amounts are worked in integer minor units; what
//! cannot be divided evenly is handed out one minor unit at a time by largest remainder, ties
//! going to the participant listed first, so the same bill always splits the same way.

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use tuan_kernel::{Currency, Money, MoneyError};

/// How many people one bill may be split among. A dinner table or a trip fits comfortably;
/// anything larger is more likely a mistake or abuse than a bill.
pub const MAX_PARTICIPANTS: usize = 100;

/// Why a bill's payers or split were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// An amount was refused.
    #[error(transparent)]
    Money(#[from] MoneyError),
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
}

/// The users a bill is split among: 1 to [`MAX_PARTICIPANTS`], no one twice, in the order
/// given (the order decides who gets remainder minor units).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Uuid>", into = "Vec<Uuid>")]
pub struct Participants(Vec<Uuid>);

impl Participants {
    /// Checks count and uniqueness.
    pub fn new(users: Vec<Uuid>) -> Result<Self, SplitError> {
        if users.is_empty() {
            return Err(SplitError::NoParticipants);
        }
        if users.len() > MAX_PARTICIPANTS {
            return Err(SplitError::TooManyParticipants { count: users.len(), max: MAX_PARTICIPANTS });
        }
        let mut seen = HashSet::with_capacity(users.len());
        if let Some(dup) = users.iter().find(|u| !seen.insert(**u)) {
            return Err(SplitError::DuplicateParticipant(*dup));
        }
        Ok(Participants(users))
    }

    /// The users, in order.
    pub fn as_slice(&self) -> &[Uuid] {
        &self.0
    }

    /// How many participants there are (at least one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a `Participants` holds at least one user.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<Uuid>> for Participants {
    type Error = SplitError;
    fn try_from(users: Vec<Uuid>) -> Result<Self, Self::Error> {
        Participants::new(users)
    }
}

impl From<Participants> for Vec<Uuid> {
    fn from(p: Participants) -> Self {
        p.0
    }
}

/// How a bill is divided. Vectors are in participant order, one value per participant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SplitMethod {
    /// Everyone pays the same; parts differ by at most one minor unit.
    Equal,
    /// Each participant's part is given; each must be positive and together they must be
    /// the total exactly.
    Exact(Vec<Money>),
    /// Each participant pays a percentage: each greater than zero, at most two decimal places
    /// (basis points), summing to exactly 100.
    Percent(Vec<Decimal>),
    /// Each participant pays in proportion to a whole number of shares, each at least one.
    Shares(Vec<u32>),
}

/// One participant's part of a bill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitPart {
    pub user: Uuid,
    pub amount: Money,
}

/// A bill total divided among participants; the parts sum to the total exactly.
///
/// A part may be zero when a `Percent` or `Shares` split of a small total rounds it away
/// (1 fen among three people); refusing those would make small bills unsplittable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Split {
    total: Money,
    parts: Vec<SplitPart>,
}

impl Split {
    /// Splits a positive `total` among `participants` by `method`.
    pub fn new(total: Money, participants: &Participants, method: &SplitMethod) -> Result<Self, SplitError> {
        if total.is_zero() {
            return Err(SplitError::Money(MoneyError::NotPositive(total.amount())));
        }
        let n = participants.len();
        let currency = total.currency();
        let minor: Vec<i64> = match method {
            SplitMethod::Equal => largest_remainder(total.minor_units(), &vec![1; n]),
            SplitMethod::Shares(shares) => {
                check_len(n, shares.len())?;
                if let Some(index) = shares.iter().position(|s| *s == 0) {
                    return Err(SplitError::ZeroShares { index });
                }
                let weights: Vec<u64> = shares.iter().map(|s| u64::from(*s)).collect();
                largest_remainder(total.minor_units(), &weights)
            }
            SplitMethod::Percent(percents) => {
                check_len(n, percents.len())?;
                let weights = percent_basis_points(percents)?;
                largest_remainder(total.minor_units(), &weights)
            }
            SplitMethod::Exact(parts) => {
                check_len(n, parts.len())?;
                exact_parts(total, parts)?
            }
        };
        let parts = participants
            .as_slice()
            .iter()
            .zip(minor)
            .map(|(user, m)| Ok(SplitPart { user: *user, amount: Money::from_minor_units(m, currency)? }))
            .collect::<Result<_, SplitError>>()?;
        Ok(Split { total, parts })
    }

    /// The bill total.
    pub fn total(&self) -> Money {
        self.total
    }

    /// One part per participant, in participant order.
    pub fn parts(&self) -> &[SplitPart] {
        &self.parts
    }

    /// What `user` owes, if they take part.
    pub fn part_of(&self, user: Uuid) -> Option<Money> {
        self.parts.iter().find(|p| p.user == user).map(|p| p.amount)
    }
}

fn check_len(expected: usize, found: usize) -> Result<(), SplitError> {
    if expected != found {
        return Err(SplitError::LengthMismatch { expected, found });
    }
    Ok(())
}

/// Percentages as whole basis points (hundredths of a percent), summing to 10 000.
fn percent_basis_points(percents: &[Decimal]) -> Result<Vec<u64>, SplitError> {
    let hundred = Decimal::ONE_HUNDRED;
    let mut sum = Decimal::ZERO;
    let mut weights = Vec::with_capacity(percents.len());
    for p in percents {
        let normalized = p.normalize();
        if *p <= Decimal::ZERO || normalized.scale() > 2 || *p > hundred {
            return Err(SplitError::InvalidPercent(*p));
        }
        sum += *p;
        // 0 < p <= 100 with at most two places, so this is an integer in 1..=10_000.
        let bp = normalized.mantissa() * 10i128.pow(2 - normalized.scale());
        weights.push(bp as u64);
    }
    if sum != hundred {
        return Err(SplitError::PercentNotHundred(sum));
    }
    Ok(weights)
}

fn exact_parts(total: Money, parts: &[Money]) -> Result<Vec<i64>, SplitError> {
    let mut sum: i128 = 0;
    for part in parts {
        total.same_currency(*part)?;
        // A participant who owes nothing should not be listed; zero here is a mistake.
        if part.is_zero() {
            return Err(SplitError::Money(MoneyError::NotPositive(part.amount())));
        }
        sum += i128::from(part.minor_units());
    }
    if sum != i128::from(total.minor_units()) {
        let scale = total.currency().minor_unit();
        return Err(SplitError::ExactSumMismatch {
            sum: Decimal::from_i128_with_scale(sum, scale),
            total: total.amount(),
        });
    }
    Ok(parts.iter().map(Money::minor_units).collect())
}

/// Divides `total` minor units in proportion to `weights` (all positive), handing the
/// leftover units to the largest fractional remainders, ties to the earlier position.
///
/// Works in i128: `total * weight` is at most about 9.2e18 * 4.3e9, far inside i128.
pub(crate) fn largest_remainder(total: i64, weights: &[u64]) -> Vec<i64> {
    let weight_sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    debug_assert!(weight_sum > 0);
    let total = i128::from(total);
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = total * i128::from(*w);
        parts.push(exact / weight_sum);
        remainders.push((exact % weight_sum, i));
    }
    let leftover = total - parts.iter().sum::<i128>();
    // Largest remainder first; equal remainders keep participant order.
    remainders.sort_by(|(ra, ia), (rb, ib)| rb.cmp(ra).then(ia.cmp(ib)));
    // leftover < number of participants, because each floor lost less than one unit.
    for (_, i) in remainders.iter().take(leftover as usize) {
        parts[*i] += 1;
    }
    // Each part is at most `total`, which came from an i64.
    parts.into_iter().map(|p| p as i64).collect()
}

/// A user's net effect from a bill or a group: positive means others owe them (they paid
/// more than their part), negative means they owe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetEffect {
    pub user: Uuid,
    pub amount: Decimal,
}

/// A bill: what each payer paid, how it is split, and the resulting net effect per user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bill {
    payers: Vec<(Uuid, Money)>,
    split: Split,
    net: Vec<NetEffect>,
}

impl Bill {
    /// Records a bill paid by one or more `payers` (each positive, together exactly `total`)
    /// and split among `participants` by `method`.
    ///
    /// A payer need not be a participant (someone can pay for a meal they did not eat).
    pub fn new(
        total: Money,
        payers: Vec<(Uuid, Money)>,
        participants: Vec<Uuid>,
        method: SplitMethod,
    ) -> Result<Self, SplitError> {
        let participants = Participants::new(participants)?;
        let split = Split::new(total, &participants, &method)?;
        if payers.is_empty() {
            return Err(SplitError::NoPayers);
        }
        let mut seen = HashSet::with_capacity(payers.len());
        let mut paid: i128 = 0;
        for (payer, amount) in &payers {
            if !seen.insert(*payer) {
                return Err(SplitError::DuplicatePayer(*payer));
            }
            total.same_currency(*amount)?;
            if amount.is_zero() {
                return Err(SplitError::Money(MoneyError::NotPositive(amount.amount())));
            }
            paid += i128::from(amount.minor_units());
        }
        let currency = total.currency();
        if paid != i128::from(total.minor_units()) {
            return Err(SplitError::PaidSumMismatch {
                paid: Decimal::from_i128_with_scale(paid, currency.minor_unit()),
                total: total.amount(),
            });
        }
        let net = net_effects(&payers, split.parts(), currency);
        Ok(Bill { payers, split, net })
    }

    /// The bill total.
    pub fn total(&self) -> Money {
        self.split.total()
    }

    /// The bill's currency.
    pub fn currency(&self) -> Currency {
        self.split.total().currency()
    }

    /// Who paid how much, as given.
    pub fn payers(&self) -> &[(Uuid, Money)] {
        &self.payers
    }

    /// Who owes which part.
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// Paid minus owed per user: participants in order, then payers who are not
    /// participants in payer order. Sums to zero.
    pub fn net_effects(&self) -> &[NetEffect] {
        &self.net
    }
}

fn net_effects(payers: &[(Uuid, Money)], parts: &[SplitPart], currency: Currency) -> Vec<NetEffect> {
    let mut users: Vec<Uuid> = parts.iter().map(|p| p.user).collect();
    for (payer, _) in payers {
        if !users.contains(payer) {
            users.push(*payer);
        }
    }
    users
        .into_iter()
        .map(|user| {
            let paid: i64 = payers.iter().filter(|(p, _)| *p == user).map(|(_, m)| m.minor_units()).sum();
            let owed: i64 = parts.iter().filter(|p| p.user == user).map(|p| p.amount.minor_units()).sum();
            // Both are at most the total (an i64), so the difference fits.
            NetEffect { user, amount: Decimal::new(paid - owed, currency.minor_unit()) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(s: &str) -> Money {
        Money::parse_positive(s, Currency::CNY).unwrap()
    }

    fn users(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    fn amounts(split: &Split) -> Vec<String> {
        split.parts().iter().map(|p| p.amount.amount().to_string()).collect()
    }

    fn split(total: &str, n: u128, method: SplitMethod) -> Result<Split, SplitError> {
        Split::new(cny(total), &Participants::new(users(n))?, &method)
    }

    #[test]
    fn equal_split_gives_the_extra_fen_to_the_first_participant() {
        let s = split("100.00", 3, SplitMethod::Equal).unwrap();
        assert_eq!(amounts(&s), ["33.34", "33.33", "33.33"]);
    }

    #[test]
    fn equal_split_of_one_fen_leaves_zero_parts() {
        let s = split("0.01", 3, SplitMethod::Equal).unwrap();
        assert_eq!(amounts(&s), ["0.01", "0.00", "0.00"]);
    }

    #[test]
    fn shares_split_by_largest_remainder() {
        // 10.00 in 1:2 -> 3.333.. and 6.666..; the larger remainder (the second) gets the fen.
        let s = split("10.00", 2, SplitMethod::Shares(vec![1, 2])).unwrap();
        assert_eq!(amounts(&s), ["3.33", "6.67"]);
    }

    #[test]
    fn percent_split() {
        let p = |s: &str| Decimal::from_str_exact(s).unwrap();
        let s = split("99.99", 3, SplitMethod::Percent(vec![p("33.33"), p("33.33"), p("33.34")])).unwrap();
        // 33.326667, 33.326667, 33.336666 -> floors 33.32, 33.32, 33.33; 2 fen go to the
        // two largest remainders (the first two, 0.6667 each).
        assert_eq!(amounts(&s), ["33.33", "33.33", "33.33"]);
        assert!(matches!(
            split("10.00", 2, SplitMethod::Percent(vec![p("50"), p("49.99")])),
            Err(SplitError::PercentNotHundred(_))
        ));
        assert!(matches!(
            split("10.00", 2, SplitMethod::Percent(vec![p("50.001"), p("49.999")])),
            Err(SplitError::InvalidPercent(_))
        ));
        assert!(matches!(
            split("10.00", 2, SplitMethod::Percent(vec![p("100"), p("0")])),
            Err(SplitError::InvalidPercent(_))
        ));
        assert!(matches!(
            split("10.00", 2, SplitMethod::Percent(vec![p("150"), p("-50")])),
            Err(SplitError::InvalidPercent(_))
        ));
    }

    #[test]
    fn exact_split_must_sum_to_the_total() {
        let s = split("10.00", 2, SplitMethod::Exact(vec![cny("2.50"), cny("7.50")])).unwrap();
        assert_eq!(amounts(&s), ["2.50", "7.50"]);
        assert!(matches!(
            split("10.00", 2, SplitMethod::Exact(vec![cny("2.50"), cny("7.49")])),
            Err(SplitError::ExactSumMismatch { .. })
        ));
        let usd = Money::parse_positive("7.50", Currency::USD).unwrap();
        assert!(matches!(
            split("10.00", 2, SplitMethod::Exact(vec![cny("2.50"), usd])),
            Err(SplitError::Money(MoneyError::CurrencyMismatch { .. }))
        ));
        assert!(matches!(
            split("10.00", 2, SplitMethod::Exact(vec![cny("10.00"), Money::zero(Currency::CNY)])),
            Err(SplitError::Money(MoneyError::NotPositive(_)))
        ));
    }

    #[test]
    fn bad_participants_and_methods_are_refused() {
        assert!(matches!(Participants::new(vec![]), Err(SplitError::NoParticipants)));
        assert!(matches!(Participants::new(users(101)), Err(SplitError::TooManyParticipants { .. })));
        assert!(Participants::new(users(100)).is_ok());
        let dup = Uuid::from_u128(7);
        assert_eq!(Participants::new(vec![dup, Uuid::from_u128(8), dup]), Err(SplitError::DuplicateParticipant(dup)));
        assert!(matches!(
            split("10.00", 3, SplitMethod::Shares(vec![1, 2])),
            Err(SplitError::LengthMismatch { expected: 3, found: 2 })
        ));
        assert_eq!(
            split("10.00", 2, SplitMethod::Shares(vec![1, 0])).unwrap_err(),
            SplitError::ZeroShares { index: 1 }
        );
        let p = Participants::new(users(2)).unwrap();
        assert!(matches!(
            Split::new(Money::zero(Currency::CNY), &p, &SplitMethod::Equal),
            Err(SplitError::Money(MoneyError::NotPositive(_)))
        ));
    }

    #[test]
    fn bill_with_several_payers_nets_to_zero() {
        let [a, b, c] = [1, 2, 3].map(Uuid::from_u128);
        let d = Uuid::from_u128(4); // pays but does not eat
        let bill =
            Bill::new(cny("100.00"), vec![(a, cny("60.00")), (d, cny("40.00"))], vec![a, b, c], SplitMethod::Equal)
                .unwrap();
        let net: Vec<(Uuid, String)> = bill.net_effects().iter().map(|n| (n.user, n.amount.to_string())).collect();
        assert_eq!(
            net,
            [(a, "26.66".to_owned()), (b, "-33.33".to_owned()), (c, "-33.33".to_owned()), (d, "40.00".to_owned()),]
        );
        let sum: Decimal = bill.net_effects().iter().map(|n| n.amount).sum();
        assert!(sum.is_zero());
    }

    #[test]
    fn bill_payers_are_checked() {
        let [a, b] = [1, 2].map(Uuid::from_u128);
        let bill = |payers| Bill::new(cny("10.00"), payers, vec![a, b], SplitMethod::Equal);
        assert!(matches!(bill(vec![]), Err(SplitError::NoPayers)));
        assert!(matches!(bill(vec![(a, cny("9.99"))]), Err(SplitError::PaidSumMismatch { .. })));
        assert!(matches!(bill(vec![(a, cny("5.00")), (a, cny("5.00"))]), Err(SplitError::DuplicatePayer(_))));
        assert!(matches!(
            bill(vec![(a, cny("10.00")), (b, Money::zero(Currency::CNY))]),
            Err(SplitError::Money(MoneyError::NotPositive(_)))
        ));
    }
}
