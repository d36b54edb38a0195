//! The SMS the users service's development sender wrote to its database (`public.dev_sms`):
//! how a test reads the code a sign-up or a password reset needs, as a person reads their phone.

use std::time::Duration;

use sqlx::PgPool;

/// One SMS as the development sender kept it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DevSms {
    pub id: i64,
    pub body: String,
    /// The code it carries; none for an SMS that says the number is (or is not) registered.
    pub code: Option<String>,
}

/// The id of the last SMS to `phone` (E.164), 0 if none.
pub async fn last_id(users_db: &PgPool, phone: &str) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM public.dev_sms WHERE phone_e164 = $1")
        .bind(phone)
        .fetch_one(users_db)
        .await
        .expect("read public.dev_sms: is the users service running with TUAN_USERS__SMS__SENDER=development?")
}

/// The first SMS to `phone` after the one numbered `after`, waiting for it (sending is
/// asynchronous) up to 10 s.
pub async fn next(users_db: &PgPool, phone: &str, after: i64) -> DevSms {
    try_next(users_db, phone, after, Duration::from_secs(10)).await.unwrap_or_else(|| {
        panic!(
            "no SMS to {phone} within 10 s of asking for a code (the users service's development sender writes them)"
        )
    })
}

/// [`next`], waiting up to `patience`; None if none came (a users service killed between
/// storing a code and sending its SMS loses the SMS, as a gateway outage would).
pub async fn try_next(users_db: &PgPool, phone: &str, after: i64, patience: Duration) -> Option<DevSms> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let sms: Option<DevSms> = sqlx::query_as(
            "SELECT id, body, code FROM public.dev_sms WHERE phone_e164 = $1 AND id > $2 ORDER BY id LIMIT 1",
        )
        .bind(phone)
        .bind(after)
        .fetch_optional(users_db)
        .await
        .expect("read public.dev_sms");
        if sms.is_some() || tokio::time::Instant::now() >= deadline {
            return sms;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `request` (a RequestPhoneCode call for `phone`) and returns the code of the SMS it sent.
pub async fn code_for<T, E: std::fmt::Debug>(
    users_db: &PgPool,
    phone: &str,
    request: impl Future<Output = Result<T, E>>,
) -> String {
    let before = last_id(users_db, phone).await;
    request.await.expect("RequestPhoneCode");
    let sms = next(users_db, phone, before).await;
    sms.code.unwrap_or_else(|| panic!("the SMS to {phone} carries no code: {:?}", sms.body))
}
