//! What the payer must do to complete a top-up with a provider that needs their approval
//! (WeChat Pay's signed APP payment parameters), kept until the app reads it. Operational
//! state in `public`, written by the dispatcher, not derived from events.

use sqlx::PgPool;
use uuid::Uuid;

use crate::provider::AppPayment;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS public.provider_app_payments (
    request_id  UUID PRIMARY KEY,
    app_payment JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
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
