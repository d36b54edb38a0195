//! `tuanctl sms <phone>`: on a local run, the last SMS the users service's development sender
//! wrote for a number (`public.dev_sms` in the users database), so a person trying the app can
//! read their sign-up or reset code. Outside development the users service refuses that sender,
//! so there is nothing to read.

use anyhow::{Context as _, bail};
use serde_json::json;

pub async fn last(database_url: &str, phone: &str, code_only: bool, as_json: bool) -> anyhow::Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await
        .with_context(|| format!("connecting to the users database {database_url}"))?;
    let phone: String = phone.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    let row: Option<(String, Option<String>, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT body, code, sent_at FROM public.dev_sms WHERE phone_e164 = $1 ORDER BY id DESC LIMIT 1")
            .bind(&phone)
            .fetch_optional(&pool)
            .await
            .context("reading public.dev_sms: is this the users database of a run with the development SMS sender?")?;
    let Some((body, code, sent_at)) = row else { bail!("no SMS to {phone} yet: ask for a code first") };
    match (code_only, as_json, code) {
        (true, _, Some(code)) => println!("{code}"),
        (true, _, None) => bail!("the last SMS to {phone} carries no code: {body}"),
        (false, true, code) => println!("{}", json!({"phone": phone, "body": body, "code": code, "sent_at": sent_at})),
        (false, false, _) => println!("{} to {phone}: {body}", sent_at.format("%H:%M:%S")),
    }
    Ok(())
}
