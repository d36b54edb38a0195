//! Properties of the payments domain that must hold for every input, not just the examples.

use std::collections::{BTreeMap, BTreeSet};

use payments::domain::{
    AccountRef, Balances, Bill, CaptureKind, Currency, EXACT_MAX_MEMBERS, FeeRate, HoldCapture, JournalEntry,
    LedgerError, Money, NetBalances, NetEffect, Participants, SettlementMethod, Split, SplitMethod, simplify,
    simplify_greedy,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use tuan_runtime::error::{Classify, ErrorKind};
use uuid::Uuid;

const USERS: u128 = 4;
const HOLDS: u128 = 3;

fn user(i: u128) -> Uuid {
    Uuid::from_u128(i + 1)
}

fn hold(i: u128) -> Uuid {
    Uuid::from_u128(1000 + i)
}

/// A hold always belongs to the same user, as it would in the service.
fn hold_owner(h: u128) -> Uuid {
    user(h % USERS)
}

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![Just(Currency::CNY), Just(Currency::JPY)]
}

/// A money command as a client might issue it; not every one is valid or affordable.
#[derive(Clone, Debug)]
enum Op {
    TopUp(u128, i64),
    Withdraw(u128, i64),
    Transfer(u128, u128, i64),
    HoldPlace(u128, i64),
    Capture { hold: u128, amount: i64, fee_bps: u32, last: bool },
    Release(u128),
    Donate(u128, i64),
}

fn op() -> impl Strategy<Value = Op> {
    let u = 0..USERS;
    let h = 0..HOLDS;
    let amt = 1i64..=20_000;
    prop_oneof![
        (u.clone(), amt.clone()).prop_map(|(u, a)| Op::TopUp(u, a)),
        (u.clone(), amt.clone()).prop_map(|(u, a)| Op::Withdraw(u, a)),
        (u.clone(), u.clone(), amt.clone()).prop_map(|(f, t, a)| Op::Transfer(f, t, a)),
        (h.clone(), amt.clone()).prop_map(|(h, a)| Op::HoldPlace(h, a)),
        (h.clone(), amt.clone(), 0u32..=10_000, any::<bool>()).prop_map(|(hold, amount, fee_bps, last)| Op::Capture {
            hold,
            amount,
            fee_bps,
            last
        }),
        h.prop_map(Op::Release),
        (u, amt).prop_map(|(u, a)| Op::Donate(u, a)),
    ]
}

/// Builds the entry for `op`; an error when the command itself is invalid (for example a
/// capture larger than the hold, or a transfer to oneself).
fn entry(op: &Op, c: Currency, balances: &Balances) -> Result<JournalEntry, LedgerError> {
    let m = |minor: i64| Money::from_minor_units(minor, c).unwrap();
    match *op {
        Op::TopUp(u, a) => JournalEntry::top_up(user(u), m(a)),
        Op::Withdraw(u, a) => JournalEntry::withdrawal(user(u), m(a)),
        Op::Transfer(f, t, a) => JournalEntry::transfer(user(f), user(t), m(a)),
        Op::HoldPlace(h, a) => JournalEntry::hold_place(hold_owner(h), hold(h), m(a)),
        Op::Capture { hold: h, amount, fee_bps, last } => {
            let remaining = Money::new(balances.balance(AccountRef::Hold(hold(h)), c), c).unwrap();
            JournalEntry::hold_capture(HoldCapture {
                user: hold_owner(h),
                hold: hold(h),
                merchant: Uuid::from_u128(2000),
                amount: m(amount),
                remaining,
                fee_rate: FeeRate::from_basis_points(fee_bps).unwrap(),
                kind: if last { CaptureKind::Final } else { CaptureKind::Partial },
            })
        }
        Op::Release(h) => {
            let remaining = balances.balance(AccountRef::Hold(hold(h)), c);
            JournalEntry::hold_release(hold_owner(h), hold(h), Money::new(remaining, c).unwrap())
        }
        Op::Donate(u, a) => JournalEntry::donation(user(u), Uuid::from_u128(3000), m(a)),
    }
}

/// What an entry adds to the money held inside the system: only top-ups and withdrawals.
fn external_inflow(op: &Op, c: Currency) -> Decimal {
    let d = |a: i64| Decimal::new(a, c.minor_unit());
    match *op {
        Op::TopUp(_, a) => d(a),
        Op::Withdraw(_, a) => -d(a),
        _ => Decimal::ZERO,
    }
}

fn sum_per_currency(entry: &JournalEntry) -> BTreeMap<Currency, Decimal> {
    let mut sums = BTreeMap::new();
    for p in entry.postings() {
        *sums.entry(p.currency()).or_insert(Decimal::ZERO) += p.amount();
    }
    sums
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every entry sums to zero per currency, money only enters or leaves through top-ups
    /// and withdrawals, nothing but clearing accounts goes negative, and a refused entry
    /// changes nothing.
    #[test]
    fn ledger_conserves_money_and_never_overdraws(
        ops in prop::collection::vec((op(), currency()), 1..80)
    ) {
        let mut balances = Balances::new();
        for (op, c) in &ops {
            let entry = match entry(op, *c, &balances) {
                Ok(entry) => entry,
                // Refusing a command is fine; the movement helpers building an unbalanced
                // entry from valid inputs is a bug.
                Err(e) => {
                    prop_assert_ne!(e.kind(), ErrorKind::Internal, "{}", e);
                    continue;
                }
            };
            for (_, sum) in sum_per_currency(&entry) {
                prop_assert!(sum.is_zero());
            }
            prop_assert!(entry.postings().iter().all(|p| !p.amount().is_zero()));

            let before = balances.clone();
            let internal_before = balances.internal_total(*c);
            match balances.apply(&entry) {
                Ok(()) => prop_assert_eq!(
                    balances.internal_total(*c),
                    internal_before + external_inflow(op, *c)
                ),
                Err(_) => prop_assert_eq!(&balances, &before),
            }

            for cur in Currency::ALL {
                let total: Decimal = balances.iter().filter(|(_, c, _)| *c == cur).map(|(_, _, d)| d).sum();
                prop_assert!(total.is_zero(), "ledger out of balance in {}", cur);
            }
            for (account, _, amount) in balances.iter() {
                prop_assert!(account.is_external() || amount >= Decimal::ZERO,
                    "{} went negative: {}", account, amount);
            }
        }
    }

    /// Equal splits sum to the total, differ by at most one fen, and the larger parts come
    /// first.
    #[test]
    fn equal_split_is_exact_and_fair(total in 1i64..=100_000_000, n in 1u128..=50) {
        let total = Money::from_minor_units(total, Currency::CNY).unwrap();
        let people = Participants::new((1..=n).map(Uuid::from_u128).collect()).unwrap();
        let split = Split::new(total, &people, &SplitMethod::Equal).unwrap();
        let parts: Vec<i64> = split.parts().iter().map(|p| p.amount.minor_units()).collect();
        prop_assert_eq!(parts.iter().sum::<i64>(), total.minor_units());
        let (min, max) = (*parts.iter().min().unwrap(), *parts.iter().max().unwrap());
        prop_assert!(max - min <= 1);
        prop_assert!(parts.windows(2).all(|w| w[0] >= w[1]));
        let users: Vec<Uuid> = split.parts().iter().map(|p| p.user).collect();
        prop_assert_eq!(users.as_slice(), people.as_slice());
    }

    /// Shares splits sum to the total and each part is within one fen of its exact share.
    #[test]
    fn shares_split_is_exact(
        total in 1i64..=100_000_000,
        shares in prop::collection::vec(1u32..=1_000, 1..=50),
    ) {
        let n = shares.len() as u128;
        let money = Money::from_minor_units(total, Currency::CNY).unwrap();
        let people = Participants::new((1..=n).map(Uuid::from_u128).collect()).unwrap();
        let split = Split::new(money, &people, &SplitMethod::Shares(shares.clone())).unwrap();
        let parts: Vec<i64> = split.parts().iter().map(|p| p.amount.minor_units()).collect();
        prop_assert_eq!(parts.iter().sum::<i64>(), total);
        let weight: i128 = shares.iter().map(|s| i128::from(*s)).sum();
        for (part, share) in parts.iter().zip(&shares) {
            // |part - total * share / weight| < 1, scaled by weight to stay in integers.
            let diff = i128::from(*part) * weight - i128::from(total) * i128::from(*share);
            prop_assert!(diff.abs() < weight);
        }
    }

    /// Percent splits (basis points summing to 100 %) sum to the total.
    #[test]
    fn percent_split_is_exact(
        total in 1i64..=100_000_000,
        cuts in (1usize..=50).prop_flat_map(|n| prop::sample::subsequence((1..10_000i64).collect::<Vec<_>>(), n - 1)),
    ) {
        let mut bounds = vec![0];
        bounds.extend(cuts);
        bounds.push(10_000);
        let percents: Vec<Decimal> = bounds.windows(2).map(|w| Decimal::new(w[1] - w[0], 2)).collect();
        let n = percents.len() as u128;
        let money = Money::from_minor_units(total, Currency::CNY).unwrap();
        let people = Participants::new((1..=n).map(Uuid::from_u128).collect()).unwrap();
        let split = Split::new(money, &people, &SplitMethod::Percent(percents)).unwrap();
        let sum: i64 = split.parts().iter().map(|p| p.amount.minor_units()).sum();
        prop_assert_eq!(sum, total);
    }

    /// Whoever paid and however it is split, a bill's net effects sum to zero.
    #[test]
    fn bill_net_effects_sum_to_zero(
        total in 1i64..=100_000_000,
        n in 1u128..=50,
        payer_ids in prop::collection::btree_set(1u128..=60, 1..=5),
        seed in any::<u64>(),
    ) {
        let money = Money::from_minor_units(total, Currency::CNY).unwrap();
        // Divide the total among the payers at pseudo-random points, each paying > 0.
        let payer_ids: Vec<u128> = payer_ids.into_iter().collect();
        let count = payer_ids.len().min(total as usize);
        let mut cuts: BTreeSet<i64> = BTreeSet::new();
        let mut x = seed;
        while cuts.len() < count - 1 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            cuts.insert(1 + (x >> 11) as i64 % (total - 1).max(1));
        }
        let mut bounds = vec![0];
        bounds.extend(cuts);
        bounds.push(total);
        let payers: Vec<(Uuid, Money)> = payer_ids.iter().zip(bounds.windows(2))
            .map(|(id, w)| (Uuid::from_u128(*id), Money::from_minor_units(w[1] - w[0], Currency::CNY).unwrap()))
            .collect();
        let participants: Vec<Uuid> = (1..=n).map(Uuid::from_u128).collect();
        let bill = Bill::new(money, payers, participants, SplitMethod::Equal).unwrap();
        let sum: Decimal = bill.net_effects().iter().map(|e| e.amount).sum();
        prop_assert!(sum.is_zero());
    }

    /// Every plan, exact (up to 20 non-zero balances) or greedy (beyond), settles every
    /// balance exactly, with at most n - 1 transfers and never more than greedy's, each from
    /// someone who owed to someone who was owed.
    #[test]
    fn simplification_settles_everyone(
        ids in prop::collection::btree_set(any::<u128>(), 1..=30),
        amounts in prop::collection::vec(-1_000_000i64..=1_000_000, 30),
    ) {
        let ids: Vec<Uuid> = ids.into_iter().map(Uuid::from_u128).collect();
        let mut minor: Vec<i64> = amounts[..ids.len() - 1].to_vec();
        minor.push(-minor.iter().sum::<i64>());
        let c = Currency::CNY;
        let balances = NetBalances::new(c, ids.iter().zip(&minor)
            .map(|(u, m)| NetEffect { user: *u, amount: Decimal::new(*m, 2) })
            .collect()).unwrap();
        let plan = simplify(&balances);
        let greedy = simplify_greedy(&balances);
        let nonzero = minor.iter().filter(|m| **m != 0).count();
        let method = if nonzero <= EXACT_MAX_MEMBERS { SettlementMethod::Exact } else { SettlementMethod::Greedy };
        prop_assert_eq!(plan.method, method);
        prop_assert!(plan.transfers.len() <= greedy.len());
        prop_assert!(greedy.len() <= nonzero.saturating_sub(1));
        prop_assert!(plan.transfers.len() < ids.len().max(1));
        for transfers in [&plan.transfers, &greedy] {
            prop_assert!(settles(&balances, transfers));
            for t in transfers {
                prop_assert!(balances.of(t.from) < Decimal::ZERO);
                prop_assert!(balances.of(t.to) > Decimal::ZERO);
            }
        }
        // Deterministic: the same balances give the same transfers.
        prop_assert_eq!(simplify(&balances), plan);
    }

    /// On small groups whose balances split into zero-sum groups in many ways (small amounts
    /// repeat), the exact plan has as few transfers as a search of every way to settle.
    #[test]
    fn exact_plans_have_the_fewest_transfers(
        c in currency(),
        amounts in prop::collection::vec(prop_oneof![-30i64..=-1, 1i64..=30], 1..=7),
    ) {
        let mut minor = amounts;
        minor.push(-minor.iter().sum::<i64>());
        let balances = NetBalances::new(c, minor.iter().enumerate()
            .map(|(i, m)| NetEffect { user: Uuid::from_u128(i as u128 + 1), amount: Decimal::new(*m, c.minor_unit()) })
            .collect()).unwrap();
        let plan = simplify(&balances);
        prop_assert_eq!(plan.method, SettlementMethod::Exact);
        let mut open: Vec<i64> = minor.iter().copied().filter(|m| *m != 0).collect();
        prop_assert_eq!(plan.transfers.len(), fewest_transfers(&mut open));
        prop_assert!(plan.transfers.len() <= simplify_greedy(&balances).len());
        prop_assert!(settles(&balances, &plan.transfers));
        prop_assert!(plan.transfers.iter().all(|t| t.amount.currency() == c));
        prop_assert!(plan.transfers.is_sorted_by_key(|t| (t.from, t.to)));
    }
}

/// Whether `transfers` bring every balance to zero, each a positive amount between two users.
fn settles(balances: &NetBalances, transfers: &[payments::domain::Transfer]) -> bool {
    // The balances come in minor units: their mantissa at the currency's scale.
    let mut open: BTreeMap<Uuid, i64> = balances.iter().map(|n| (n.user, n.amount.mantissa() as i64)).collect();
    assert!(balances.iter().all(|n| n.amount.scale() == balances.currency().minor_unit()));
    for t in transfers {
        if t.amount.minor_units() <= 0 || t.from == t.to || t.amount.currency() != balances.currency() {
            return false;
        }
        let (Some(from), Some(to)) = (open.get(&t.from).copied(), open.get(&t.to).copied()) else { return false };
        open.insert(t.from, from + t.amount.minor_units());
        open.insert(t.to, to - t.amount.minor_units());
    }
    open.values().all(|m| *m == 0)
}

/// The fewest transfers that settle `open` (non-zero balances), by brute force: the first
/// open balance is paid in full to (or by) each member of the other sign in turn, who takes
/// it over. That finds the minimum: every plan's transfers link its members into connected
/// parts that each sum to zero, a part of s members needs at least s - 1 transfers, and
/// moving the first balance to another member of its part, then the next, and so on, settles
/// each part in exactly s - 1.
fn fewest_transfers(open: &mut [i64]) -> usize {
    let Some(first) = open.iter().position(|m| *m != 0) else { return 0 };
    let moved = open[first];
    open[first] = 0;
    let mut fewest = usize::MAX;
    for other in first + 1..open.len() {
        if open[other].signum() == -moved.signum() {
            open[other] += moved;
            fewest = fewest.min(1 + fewest_transfers(open));
            open[other] -= moved;
        }
    }
    open[first] = moved;
    fewest
}
