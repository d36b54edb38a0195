//! Waiting for the system to come to rest after the workload: every team window and tipping
//! end the workload created has passed, and then, for several polls in a row, no outbox holds
//! a row, every consumer's lag is 0, no join, hold or provider request is unsettled, no
//! deadline is overdue, and no database gained an event.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::harness::{SERVICES, Stack};

/// Polls in a row that must find everything settled.
const SETTLED_POLLS: u32 = 3;
const POLL: Duration = Duration::from_millis(1_500);

pub struct Quiescence {
    pub reached: bool,
    pub waited: Duration,
    /// What was still moving at the last poll (empty when reached).
    pub unsettled: Vec<String>,
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(pool).await.unwrap_or(-1)
}

/// What is not settled now, and each database's last event position.
async fn poll(stack: &Stack) -> (Vec<String>, Vec<i64>) {
    let mut unsettled = Vec::new();
    let mut positions = Vec::new();
    for service in SERVICES {
        let pool = &stack.db(service).pool;
        let outbox = count(pool, "SELECT count(*) FROM public.outbox").await;
        if outbox != 0 {
            unsettled.push(format!("{service}: {outbox} outbox rows"));
        }
        positions.push(count(pool, "SELECT COALESCE(max(global_position), 0) FROM public.events").await);
        match stack.try_scrape_metrics(service).await {
            Ok(text) => {
                let lagging: Vec<&str> =
                    text.lines().filter(|l| l.starts_with("tuan_consumer_lag{") && !l.ends_with(" 0")).collect();
                if !lagging.is_empty() {
                    unsettled.push(format!("{service}: consumer lag {}", lagging.join("; ")));
                }
            }
            Err(e) => unsettled.push(format!("{service}: metrics unreadable: {e}")),
        }
    }
    let groupbuy = &stack.db("groupbuy").pool;
    let joins =
        count(groupbuy, "SELECT count(*) FROM proj.joins WHERE status NOT IN ('captured', 'released', 'failed')").await;
    if joins != 0 {
        unsettled.push(format!("groupbuy: {joins} joins not settled"));
    }
    let overdue = count(groupbuy, "SELECT count(*) FROM public.deadlines WHERE due_at <= now()").await;
    if overdue != 0 {
        unsettled.push(format!("groupbuy: {overdue} deadlines overdue"));
    }
    let live =
        count(groupbuy, "SELECT count(*) FROM proj.teams WHERE status IN ('pending', 'open') AND expires_at <= now()")
            .await;
    if live != 0 {
        unsettled.push(format!("groupbuy: {live} teams live past their window"));
    }
    let payments = &stack.db("payments").pool;
    let holds = count(payments, "SELECT count(*) FROM proj.holds WHERE status = 'placed'").await;
    if holds != 0 {
        unsettled.push(format!("payments: {holds} holds open"));
    }
    let requests = count(payments, "SELECT count(*) FROM proj.provider_requests WHERE status = 'pending'").await;
    if requests != 0 {
        unsettled.push(format!("payments: {requests} provider requests pending"));
    }
    (unsettled, positions)
}

/// Waits for rest, at most `timeout` after the last deadline; `heal` runs at every poll (the
/// harness restarts a broker that crashed on its own).
pub async fn wait(
    stack: &mut Stack,
    latest_deadline: Option<DateTime<Utc>>,
    timeout: Duration,
    mut heal: impl FnMut(&mut Stack),
) -> Quiescence {
    let start = Instant::now();
    if let Some(deadline) = latest_deadline {
        let left = (deadline - Utc::now()).to_std().unwrap_or_default();
        eprintln!("chaos: waiting {:.0}s for the last team window or tipping end", left.as_secs_f64());
        let until = Instant::now() + left + Duration::from_secs(1);
        while Instant::now() < until {
            heal(stack);
            tokio::time::sleep(POLL.min(until.saturating_duration_since(Instant::now()))).await;
        }
    }
    let after_deadlines = Instant::now();
    let mut settled = 0;
    let mut last_positions = Vec::new();
    loop {
        heal(stack);
        let (mut unsettled, positions) = poll(stack).await;
        if positions != last_positions {
            if !last_positions.is_empty() {
                unsettled.push("events still being appended".into());
            }
            last_positions = positions;
        }
        settled = if unsettled.is_empty() { settled + 1 } else { 0 };
        if settled >= SETTLED_POLLS {
            return Quiescence { reached: true, waited: start.elapsed(), unsettled };
        }
        if after_deadlines.elapsed() > timeout {
            return Quiescence { reached: false, waited: start.elapsed(), unsettled };
        }
        tokio::time::sleep(POLL).await;
    }
}
