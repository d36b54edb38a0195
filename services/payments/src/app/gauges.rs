//! Money in flight and saga health for Prometheus, sampled from the read models.
//!
//! - `tuan_holds_open{currency}` / `tuan_holds_open_amount{currency}`: holds placed and not yet
//!   captured or released, and the money they keep from being spent (a float: for dashboards
//!   only; the ledger stays exact).
//! - saga `hold`: a placed hold is legitimately open until its expiry, so its age is how far
//!   past expiry the most overdue one is (the expiry scan should have released it).
//! - saga `provider_request`: a top-up or withdrawal waits on the payment provider; its age is
//!   how long the oldest pending one has waited.

use sqlx::PgPool;

use crate::store::queries;

const HOLD_STATES: &[&str] = &["placed", "captured", "released", "expired", "rejected"];
const PROVIDER_REQUEST_STATES: &[&str] = &["pending", "completed", "failed"];

pub async fn sample(pool: PgPool) -> anyhow::Result<()> {
    let holds = queries::hold_status_counts(&pool).await?;
    tuan_runtime::metrics::report_saga("hold", HOLD_STATES, &holds, queries::most_overdue_hold_secs(&pool).await?);
    let requests = queries::provider_request_status_counts(&pool).await?;
    let waited = queries::oldest_pending_provider_request_secs(&pool).await?;
    tuan_runtime::metrics::report_saga("provider_request", PROVIDER_REQUEST_STATES, &requests, waited);

    for (currency, count, amount) in queries::open_holds_by_currency(&pool).await? {
        metrics::gauge!("tuan_holds_open", "currency" => currency.clone()).set(count as f64);
        metrics::gauge!("tuan_holds_open_amount", "currency" => currency).set(amount);
    }
    Ok(())
}
