//! What a provider needs beyond the request itself, in `public`, not derived from events:
//! what the payer must do to complete a top-up with a provider that needs their approval
//! (WeChat Pay's signed APP payment parameters, written by the dispatcher until the app reads
//! them), and where a withdrawal is paid out to (written with the withdrawal, in its
//! transaction).

use sqlx::PgPool;
use uuid::Uuid;

use crate::provider::AppPayment;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS public.provider_app_payments (
    request_id  UUID PRIMARY KEY,
    app_payment JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.provider_payout_accounts (
    request_id    UUID PRIMARY KEY,
    wechat_openid TEXT NOT NULL
);
"#;

pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_eventstore::install_tables(pool, SCHEMA).await
}

pub async fn save(pool: &PgPool, request_id: Uuid, payment: &AppPayment) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.provider_app_payments (request_id, app_payment) VALUES ($1, $2) \
         ON CONFLICT (request_id) DO UPDATE SET app_payment = $2, updated_at = now()",
    )
    .bind(request_id)
    .bind(sqlx::types::Json(payment))
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn load(pool: &PgPool, request_id: Uuid) -> Result<Option<AppPayment>, sqlx::Error> {
    let row: Option<(sqlx::types::Json<AppPayment>,)> =
        sqlx::query_as("SELECT app_payment FROM public.provider_app_payments WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(payment,)| payment.0))
}

/// Where withdrawal `request_id` is paid out to, inside the withdrawal's transaction.
pub async fn save_payout_account(
    conn: &mut sqlx::PgConnection,
    request_id: Uuid,
    wechat_openid: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO public.provider_payout_accounts (request_id, wechat_openid) VALUES ($1, $2)")
        .bind(request_id)
        .bind(wechat_openid)
        .execute(conn)
        .await?;
    Ok(())
}
