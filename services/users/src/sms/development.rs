//! The development sender: sends nothing; writes each SMS to the users database
//! (`public.dev_sms`) and to the log, where `make run`, the tests and `tuanctl sms` read the
//! codes. Refused at start-up outside `TUAN_ENVIRONMENT=development` (`UsersConfig::check`).

use futures::{FutureExt, future::BoxFuture};
use sqlx::PgPool;

use super::{SendError, SmsSender};
use crate::domain::{phone::PhoneNumber, phone_code::SmsText};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS public.dev_sms (
    id         BIGSERIAL PRIMARY KEY,
    phone_e164 TEXT NOT NULL,
    body       TEXT NOT NULL,
    code       TEXT,
    sent_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dev_sms_by_phone ON public.dev_sms (phone_e164, id);
"#;

pub struct DevelopmentSender {
    pool: PgPool,
}

impl DevelopmentSender {
    pub async fn new(pool: PgPool) -> Result<Self, sqlx::Error> {
        tuan_eventstore::install_tables(&pool, SCHEMA).await?;
        Ok(Self { pool })
    }
}

impl SmsSender for DevelopmentSender {
    fn send<'a>(
        &'a self,
        to: &'a PhoneNumber,
        text: &'a SmsText,
        body: &'a str,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        async move {
            let code = match text {
                SmsText::Code { code, .. } => Some(code.as_str()),
                _ => None,
            };
            sqlx::query("INSERT INTO public.dev_sms (phone_e164, body, code) VALUES ($1, $2, $3)")
                .bind(to.as_str())
                .bind(body)
                .bind(code)
                .execute(&self.pool)
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?;
            tracing::info!(to = to.as_str(), body, "development SMS (not sent; read it with `tuanctl sms`)");
            Ok(())
        }
        .boxed()
    }
}
