//! The invariants checked once the system is at rest, each with what it found.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::PgPool;

use super::{rebuild, workload::MoneyLog};
use crate::harness::{SERVICES, Stack};

/// One invariant and whether it held.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: &'static str,
    pub held: bool,
    /// Figures when it held; the violations when not.
    pub detail: String,
    /// Checked while sagas were still in flight (the system never came to rest): a failure
    /// says nothing about the invariant, only that the run could not judge it.
    pub in_flight: bool,
}

/// The invariants that only hold at rest (a saga in flight has a join and a hold in between).
pub const AT_REST_ONLY: [&str; 5] = [
    "no campaign sold more than its stock",
    "every unit sold has exactly one captured hold",
    "no hold open past its team's deadline",
    "every failed or expired team's holds released",
    "every join's outcome matches its hold's",
];

fn check(name: &'static str, violations: Vec<String>, figures: String) -> Check {
    if violations.is_empty() {
        Check { name, held: true, detail: figures, in_flight: false }
    } else {
        let shown: Vec<String> = violations.iter().take(10).cloned().collect();
        let more = if violations.len() > 10 { format!(" (and {} more)", violations.len() - 10) } else { String::new() };
        Check { name, held: false, detail: format!("{}{more}; {figures}", shown.join("; ")), in_flight: false }
    }
}

fn failed(name: &'static str, e: impl std::fmt::Display) -> Check {
    Check { name, held: false, detail: format!("could not be checked: {e}"), in_flight: false }
}

fn fen(f: i64) -> String {
    super::workload::yuan(f)
}

/// Every invariant, in order.
pub async fn check_all(stack: &Stack, money: &MoneyLog) -> Vec<Check> {
    let payments = &stack.db("payments").pool;
    let groupbuy = &stack.db("groupbuy").pool;
    let mut checks = vec![
        journal_balanced(payments).await.unwrap_or_else(|e| failed("every journal entry sums to zero", e)),
        balances_are_the_ledger(payments).await.unwrap_or_else(|e| failed("balances equal their postings", e)),
        money_conserved(payments, money).await.unwrap_or_else(|e| failed("money conserved to the fen", e)),
        commands_once(payments, money).await.unwrap_or_else(|e| failed("money commands took effect once", e)),
        no_oversell(groupbuy).await.unwrap_or_else(|e| failed("no campaign sold more than its stock", e)),
    ];
    match SagaView::load(groupbuy, payments).await {
        Ok(view) => {
            checks.push(view.sold_units_captured_once());
            checks.push(view.no_hold_past_deadline());
            checks.push(view.failed_teams_released());
            checks.push(view.joins_match_holds());
        }
        Err(e) => checks.push(failed("sagas", e)),
    }
    checks.push(applied_once(stack).await.unwrap_or_else(|e| failed("no event applied twice in effect", e)));
    checks.push(projections_rebuild(stack).await);
    checks
}

async fn journal_balanced(pool: &PgPool) -> anyhow::Result<Check> {
    let unbalanced: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT entry_id::text, currency, sum(amount)::text FROM proj.ledger_postings \
         GROUP BY entry_id, currency HAVING sum(amount) <> 0",
    )
    .fetch_all(pool)
    .await?;
    let totals: Vec<(String, String)> = sqlx::query_as(
        "SELECT currency, sum(balance)::text FROM proj.account_balances GROUP BY currency HAVING sum(balance) <> 0",
    )
    .fetch_all(pool)
    .await?;
    let (entries, postings): (i64, i64) =
        sqlx::query_as("SELECT count(DISTINCT entry_id), count(*) FROM proj.ledger_postings").fetch_one(pool).await?;
    let mut violations: Vec<String> = unbalanced.iter().map(|(e, c, s)| format!("entry {e} sums to {s} {c}")).collect();
    violations.extend(totals.iter().map(|(c, s)| format!("all accounts together hold {s} {c}, not 0")));
    Ok(check("every journal entry sums to zero", violations, format!("{entries} entries, {postings} postings")))
}

async fn balances_are_the_ledger(pool: &PgPool) -> anyhow::Result<Check> {
    let differ: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT COALESCE(b.account, l.account), COALESCE(b.currency, l.currency), \
                COALESCE(b.balance, 0)::text, COALESCE(l.total, 0)::text \
         FROM proj.account_balances b \
         FULL JOIN (SELECT account, currency, sum(amount) AS total FROM proj.ledger_postings GROUP BY 1, 2) l \
           ON l.account = b.account AND l.currency = b.currency \
         WHERE COALESCE(b.balance, 0) <> COALESCE(l.total, 0)",
    )
    .fetch_all(pool)
    .await?;
    let negative: Vec<(String, String)> = sqlx::query_as(
        "SELECT account, balance::text FROM proj.account_balances \
         WHERE balance < 0 AND account NOT IN ('top-up-clearing', 'withdrawal-clearing')",
    )
    .fetch_all(pool)
    .await?;
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM proj.account_balances").fetch_one(pool).await?;
    let mut violations: Vec<String> =
        differ.iter().map(|(a, c, b, l)| format!("{a} shows {b} {c}, its postings sum to {l}")).collect();
    violations.extend(negative.iter().map(|(a, b)| format!("{a} is overdrawn: {b}")));
    Ok(check("balances equal their postings, none overdrawn", violations, format!("{accounts} accounts")))
}

/// Fen in one account (0 if it has none).
async fn balance(pool: &PgPool, account: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(sum(balance) * 100, 0)::bigint FROM proj.account_balances WHERE account = $1 AND currency = 'CNY'",
    )
    .bind(account)
    .fetch_one(pool)
    .await?)
}

/// (request id, user id, fen, status) of every provider request of a kind.
async fn requests(pool: &PgPool, kind: &str) -> anyhow::Result<BTreeMap<String, (String, i64, String)>> {
    let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT request_id::text, user_id::text, (amount * 100)::bigint, status FROM proj.provider_requests WHERE kind = $1",
    )
    .bind(kind)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(id, user, fen, status)| (id, (user, fen, status))).collect())
}

/// What clients were told came in (completed top-ups) and went out (withdrawals not failed)
/// equals what the accounts hold, to the fen.
async fn money_conserved(pool: &PgPool, money: &MoneyLog) -> anyhow::Result<Check> {
    let top_ups = requests(pool, "top_up").await?;
    let withdrawals = requests(pool, "withdrawal").await?;
    let status = |rows: &BTreeMap<String, (String, i64, String)>, id: &str| rows.get(id).map(|r| r.2.clone());
    let mut violations = Vec::new();
    let mut came_in = 0;
    for (id, (_, fen)) in &money.top_ups {
        match status(&top_ups, id).as_deref() {
            Some("completed") => came_in += fen,
            Some("failed") => {}
            other => violations.push(format!("top-up {id} is {other:?} at rest")),
        }
    }
    let mut went_out = 0;
    for (id, (_, fen)) in &money.withdrawals {
        match status(&withdrawals, id).as_deref() {
            Some("failed") => {}
            Some(_) => went_out += fen,
            None => violations.push(format!("withdrawal {id} is unknown to payments")),
        }
    }
    let held: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(balance) * 100, 0)::bigint FROM proj.account_balances \
         WHERE currency = 'CNY' AND account NOT IN ('top-up-clearing', 'withdrawal-clearing')",
    )
    .fetch_one(pool)
    .await?;
    let top_up_clearing = balance(pool, "top-up-clearing").await?;
    let withdrawal_clearing = balance(pool, "withdrawal-clearing").await?;
    if held != came_in - went_out {
        violations.push(format!(
            "accounts hold {} CNY; clients topped up {} and withdrew {} (difference {})",
            fen(held),
            fen(came_in),
            fen(went_out),
            fen(held - (came_in - went_out))
        ));
    }
    if -top_up_clearing != came_in {
        violations.push(format!("top-up clearing is {}, completed top-ups {}", fen(top_up_clearing), fen(came_in)));
    }
    if withdrawal_clearing != went_out {
        violations.push(format!("withdrawal clearing is {}, withdrawals {}", fen(withdrawal_clearing), fen(went_out)));
    }
    let figures = format!(
        "in {} (top-ups), out {} (withdrawals), held {} CNY in wallets, holds, merchants, fees and charity",
        fen(came_in),
        fen(went_out),
        fen(held)
    );
    Ok(check("money conserved to the fen", violations, figures))
}

/// Every money command a client was told succeeded took effect once, and nothing else did:
/// provider requests and journal entries match the ids in the answers, and replays with the
/// same key answered as the first time.
async fn commands_once(pool: &PgPool, money: &MoneyLog) -> anyhow::Result<Check> {
    let mut violations: Vec<String> = money.replay_mismatches.clone();
    let compare = |what: &str, told: BTreeSet<String>, recorded: BTreeSet<String>, v: &mut Vec<String>| {
        for id in told.difference(&recorded) {
            v.push(format!("{what} {id} acknowledged but not recorded"));
        }
        for id in recorded.difference(&told) {
            v.push(format!("{what} {id} recorded but never acknowledged"));
        }
    };
    let top_ups = requests(pool, "top_up").await?;
    for (id, (user, fen_told)) in &money.top_ups {
        if let Some((u, f, _)) = top_ups.get(id)
            && (u != user || f != fen_told)
        {
            violations.push(format!("top-up {id}: told {user} {}, recorded {u} {}", fen(*fen_told), fen(*f)));
        }
    }
    compare("top-up", money.top_ups.keys().cloned().collect(), top_ups.keys().cloned().collect(), &mut violations);
    let withdrawals = requests(pool, "withdrawal").await?;
    compare(
        "withdrawal",
        money.withdrawals.keys().cloned().collect(),
        withdrawals.keys().cloned().collect(),
        &mut violations,
    );
    let entries = |kind: &'static str| async move {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT entry_id::text FROM proj.ledger_postings WHERE kind = $1")
                .bind(kind)
                .fetch_all(pool)
                .await?;
        anyhow::Ok(ids.into_iter().collect::<BTreeSet<String>>())
    };
    compare("transfer", money.transfers.clone(), entries("transfer").await?, &mut violations);
    compare(
        "collection payment",
        money.collection_payments.clone(),
        entries("collection_payment").await?,
        &mut violations,
    );
    let figures = format!(
        "{} top-ups, {} withdrawals, {} transfers, {} collection payments",
        money.top_ups.len(),
        money.withdrawals.len(),
        money.transfers.len(),
        money.collection_payments.len()
    );
    Ok(check("money commands took effect once", violations, figures))
}

async fn no_oversell(pool: &PgPool) -> anyhow::Result<Check> {
    let rows: Vec<(String, i32, i64, i64)> = sqlx::query_as(
        "SELECT c.campaign_id::text, c.stock, \
                (SELECT COALESCE(sum(remaining), 0) FROM proj.campaign_stock s WHERE s.campaign_id = c.campaign_id), \
                (SELECT count(*) FROM proj.joins j WHERE j.campaign_id = c.campaign_id AND j.status = 'captured') \
         FROM proj.campaigns c",
    )
    .fetch_all(pool)
    .await?;
    let mut violations = Vec::new();
    let (mut stock, mut sold, mut sold_out) = (0i64, 0i64, 0);
    for (campaign, s, remaining, captured) in &rows {
        let s = *s as i64;
        stock += s;
        sold += captured;
        if *captured >= s {
            sold_out += 1;
        }
        if *captured > s {
            violations.push(format!("campaign {campaign} sold {captured} of {s}"));
        }
        if s - remaining != *captured {
            violations.push(format!(
                "campaign {campaign}: {} units taken from stock at rest, {captured} sold",
                s - remaining
            ));
        }
    }
    let figures = format!("{} campaigns, {sold} of {stock} units sold, {sold_out} sold out", rows.len());
    Ok(check("no campaign sold more than its stock", violations, figures))
}

/// Joins (group buying) next to holds (payments): the two halves of every saga.
struct SagaView {
    /// join id -> (campaign, team, status, fen)
    joins: BTreeMap<String, (String, Option<String>, String, i64)>,
    /// hold id -> (status, fen, captured fen, team)
    holds: BTreeMap<String, (String, i64, i64, String)>,
    /// team id -> (status, expired at rest)
    teams: BTreeMap<String, (String, bool)>,
    /// tipping campaign id -> ended at rest
    tipping_ended: BTreeMap<String, bool>,
    /// hold id -> journal entries capturing it
    capture_entries: BTreeMap<String, i64>,
}

impl SagaView {
    async fn load(groupbuy: &PgPool, payments: &PgPool) -> anyhow::Result<Self> {
        let joins: Vec<(String, String, Option<String>, String, i64)> = sqlx::query_as(
            "SELECT join_id::text, campaign_id::text, team_id::text, status, (amount * 100)::bigint FROM proj.joins",
        )
        .fetch_all(groupbuy)
        .await?;
        let holds: Vec<(String, String, i64, i64, String)> = sqlx::query_as(
            "SELECT hold_id::text, status, (amount * 100)::bigint, (captured * 100)::bigint, team_id FROM proj.holds",
        )
        .fetch_all(payments)
        .await?;
        let teams: Vec<(String, String, bool)> =
            sqlx::query_as("SELECT team_id::text, status, expires_at <= now() FROM proj.teams")
                .fetch_all(groupbuy)
                .await?;
        let tipping: Vec<(String, bool)> =
            sqlx::query_as("SELECT campaign_id::text, ends_at <= now() FROM proj.campaigns WHERE mode = 'tipping'")
                .fetch_all(groupbuy)
                .await?;
        let captures: Vec<(String, i64)> = sqlx::query_as(
            "SELECT reference_id, count(DISTINCT entry_id) FROM proj.ledger_postings WHERE kind = 'hold_capture' GROUP BY 1",
        )
        .fetch_all(payments)
        .await?;
        Ok(Self {
            joins: joins.into_iter().map(|(j, c, t, s, f)| (j, (c, t, s, f))).collect(),
            holds: holds.into_iter().map(|(h, s, a, c, t)| (h, (s, a, c, t))).collect(),
            teams: teams.into_iter().map(|(t, s, e)| (t, (s, e))).collect(),
            tipping_ended: tipping.into_iter().collect(),
            capture_entries: captures.into_iter().collect(),
        })
    }

    fn sold_units_captured_once(&self) -> Check {
        let mut violations = Vec::new();
        let mut sold = 0;
        for (join, (_, _, status, fen_due)) in &self.joins {
            if status != "captured" {
                continue;
            }
            sold += 1;
            match self.holds.get(join) {
                Some((s, _, captured, _)) if s == "captured" && captured == fen_due => {}
                other => violations.push(format!("unit of join {join} sold; its hold is {other:?}")),
            }
            let entries = self.capture_entries.get(join).copied().unwrap_or(0);
            if entries != 1 {
                violations.push(format!("join {join}: {entries} capture entries in the journal"));
            }
        }
        let captured_holds = self.holds.values().filter(|h| h.0 == "captured").count();
        for (hold, (status, ..)) in &self.holds {
            if status == "captured" && self.joins.get(hold).is_none_or(|j| j.2 != "captured") {
                violations.push(format!("hold {hold} captured for a unit not sold: {:?}", self.joins.get(hold)));
            }
        }
        check(
            "every unit sold has exactly one captured hold",
            violations,
            format!("{sold} units sold, {captured_holds} holds captured"),
        )
    }

    fn no_hold_past_deadline(&self) -> Check {
        let mut violations = Vec::new();
        let mut open = 0;
        for (hold, (status, ..)) in &self.holds {
            if status != "placed" {
                continue;
            }
            open += 1;
            let past = match self.joins.get(hold) {
                Some((campaign, Some(team), ..)) => {
                    let _ = campaign;
                    self.teams.get(team).is_none_or(|t| t.1)
                }
                Some((campaign, None, ..)) => self.tipping_ended.get(campaign).copied().unwrap_or(true),
                None => true,
            };
            if past {
                violations.push(format!("hold {hold} still placed past its team's or campaign's deadline"));
            }
        }
        let live_past: Vec<String> = self
            .teams
            .iter()
            .filter(|(_, (s, expired))| (s == "open" || s == "pending") && *expired)
            .map(|(t, (s, _))| format!("team {t} still {s} past its window"))
            .collect();
        violations.extend(live_past);
        check("no hold open past its team's deadline", violations, format!("{open} holds open at rest"))
    }

    fn failed_teams_released(&self) -> Check {
        let mut violations = Vec::new();
        let mut teams = 0;
        let mut released = 0;
        for (team, (status, _)) in &self.teams {
            if status != "failed" && status != "expired" {
                continue;
            }
            teams += 1;
            for (join, (_, t, ..)) in &self.joins {
                if t.as_deref() != Some(team.as_str()) {
                    continue;
                }
                match self.holds.get(join).map(|h| h.0.as_str()) {
                    Some("released" | "expired" | "rejected") => released += 1,
                    other => violations.push(format!("{status} team {team}: hold of join {join} is {other:?}")),
                }
            }
        }
        check(
            "every failed or expired team's holds released",
            violations,
            format!("{teams} teams failed or expired, {released} of their holds released or refused"),
        )
    }

    /// Each join's outcome agrees with its hold's: a unit sold was paid for, a unit given back
    /// was not, and no hold is missing.
    fn joins_match_holds(&self) -> Check {
        let mut pairs: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut violations = Vec::new();
        for (join, (_, _, status, _)) in &self.joins {
            let hold = self.holds.get(join).map(|h| h.0.clone()).unwrap_or_else(|| "missing".into());
            let fine = matches!(
                (status.as_str(), hold.as_str()),
                ("captured", "captured") | ("released", "released" | "expired") | ("failed", "rejected")
            );
            if !fine {
                violations.push(format!("join {join} is {status}, its hold {hold}"));
            }
            *pairs.entry((status.clone(), hold)).or_default() += 1;
        }
        for hold in self.holds.keys() {
            if !self.joins.contains_key(hold) {
                violations.push(format!("hold {hold} has no join"));
            }
        }
        let figures: Vec<String> = pairs.iter().map(|((j, h), n)| format!("{n} {j}/{h}")).collect();
        check("every join's outcome matches its hold's", violations, format!("join/hold: {}", figures.join(", ")))
    }
}

/// No event was applied twice in effect: per hold, top-up and join at most one event of each
/// kind and one journal entry of each kind; every journal entry from one event; no dead letters.
async fn applied_once(stack: &Stack) -> anyhow::Result<Check> {
    let payments = &stack.db("payments").pool;
    let groupbuy = &stack.db("groupbuy").pool;
    let mut violations = Vec::new();
    let repeated = "SELECT stream_type || ' ' || stream_id || ': ' || event_type || ' x' || count(*) FROM public.events \
                    WHERE stream_type = ANY($1) GROUP BY stream_type, stream_id, event_type HAVING count(*) > 1";
    let streams: [(&PgPool, &[&str]); 2] = [(payments, &["hold", "top_up", "withdrawal"]), (groupbuy, &["join"])];
    for (pool, types) in streams {
        let types: Vec<String> = types.iter().map(|t| t.to_string()).collect();
        let rows: Vec<String> = sqlx::query_scalar(repeated).bind(&types).fetch_all(pool).await?;
        violations.extend(rows);
    }
    let entries: Vec<String> = sqlx::query_scalar(
        "SELECT reference_id || ': ' || kind || ' x' || count(DISTINCT entry_id) FROM proj.ledger_postings \
         WHERE kind IN ('hold_place', 'hold_capture', 'hold_release', 'top_up', 'withdrawal', 'withdrawal_reversal') \
         GROUP BY reference_id, kind HAVING count(DISTINCT entry_id) > 1",
    )
    .fetch_all(payments)
    .await?;
    violations.extend(entries);
    let split: Vec<String> = sqlx::query_scalar(
        "SELECT entry_id::text FROM proj.ledger_postings GROUP BY entry_id HAVING count(DISTINCT position) > 1",
    )
    .fetch_all(payments)
    .await?;
    violations.extend(split.into_iter().map(|e| format!("journal entry {e} posted by several events")));
    let mut processed = 0;
    for service in SERVICES {
        let pool = &stack.db(service).pool;
        let dead: Vec<(String, String)> =
            sqlx::query_as("SELECT consumer, reason FROM public.dead_letters ORDER BY id LIMIT 5")
                .fetch_all(pool)
                .await?;
        violations.extend(dead.into_iter().map(|(c, r)| format!("{service}: dead letter of {c}: {r}")));
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM public.processed_events").fetch_one(pool).await?;
        processed += n;
    }
    Ok(check(
        "no event applied twice in effect",
        violations,
        format!("{processed} consumed events recorded once each, no dead letters"),
    ))
}

async fn projections_rebuild(stack: &Stack) -> Check {
    let mut violations = Vec::new();
    let mut figures = Vec::new();
    for service in SERVICES {
        match rebuild::compare(service, &stack.db(service).pool).await {
            Ok((events, tables, differences)) => {
                figures.push(format!("{service}: {events} events, {tables} tables"));
                violations.extend(differences);
            }
            Err(e) => violations.push(format!("{service}: rebuild failed: {e}")),
        }
    }
    check("every projection equals a rebuild from its events", violations, figures.join("; "))
}
