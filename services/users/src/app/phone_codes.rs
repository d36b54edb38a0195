//! Codes that prove a phone number: asking for one, and spending one to sign up or to reset a
//! forgotten password (`domain::phone_code`).

use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use sqlx::PgConnection;
use tuan_runtime::ApiError;

use super::UsersApp;
use crate::{
    domain::{
        UserError,
        phone::PhoneNumber,
        phone_code::{CodeHasher, CodePolicy, CodePurpose, PhoneCode, SmsText, StoredCode, text_for},
    },
    sms::{Sms, SmsOutbox},
    store::{phone_codes, queries},
};

/// What the code use cases need: how codes are hashed and handed out, and where SMS go.
#[derive(Clone)]
pub struct PhoneCodes {
    pub hasher: CodeHasher,
    pub policy: CodePolicy,
    pub outbox: SmsOutbox,
}

/// The answer to a code request, the same whoever the number belongs to.
#[derive(Clone, Copy, Debug)]
pub struct CodeRequested {
    pub expires_in: Duration,
    pub resend_after: Duration,
}

/// A code that was right when checked; [`UsersApp::use_code`] spends it.
pub(super) struct CheckedCode {
    purpose: CodePurpose,
    phone: PhoneNumber,
    hash: Vec<u8>,
}

impl UsersApp {
    /// Sends `phone` a code for `purpose` (or, when the number is registered for a sign-up or
    /// unknown for a reset, an SMS saying so), within the limits per number and per `client`.
    pub async fn request_phone_code(
        &self,
        phone: &str,
        purpose: CodePurpose,
        client: &str,
    ) -> Result<CodeRequested, ApiError> {
        let phone = PhoneNumber::parse(phone)?;
        let codes = &self.codes;
        // A place in the SMS queue first: a full queue makes no code that could never arrive.
        let place = codes.outbox.reserve().ok_or(UserError::SmsBusy)?;
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        phone_codes::lock_phone(&mut tx, phone.as_str()).await?;
        let history = phone_codes::history(&mut tx, phone.as_str(), purpose, client, now).await?;
        codes.policy.may_send(&history, now).map_err(UserError::CodeLimited)?;
        let registered = queries::user_by_phone(&self.pool, phone.as_str()).await?.is_some();
        let text = text_for(purpose, registered, || PhoneCode::from_number(rand::thread_rng().gen_range(0..1_000_000)));
        if let SmsText::Code { code, .. } = &text {
            let stored = StoredCode::issue(codes.hasher.hash(purpose, &phone, code), &codes.policy, now);
            phone_codes::store_code(&mut tx, phone.as_str(), purpose, &stored).await?;
        }
        phone_codes::record_send(&mut tx, phone.as_str(), purpose, client, now).await?;
        tx.commit().await?;
        place.send(Sms { to: phone, text });
        Ok(CodeRequested { expires_in: codes.policy.ttl, resend_after: codes.policy.resend_after })
    }

    /// Spends one try of the live code for `phone` and `purpose` and checks `code` against it.
    /// Wrong, expired, used up or never sent: one answer, which tells nothing of the number.
    pub(super) async fn check_code(
        &self,
        purpose: CodePurpose,
        phone: &PhoneNumber,
        code: &PhoneCode,
    ) -> Result<CheckedCode, ApiError> {
        let hash = phone_codes::spend_attempt(&self.pool, phone.as_str(), purpose, Utc::now())
            .await?
            .ok_or(UserError::WrongCode)?;
        if !self.codes.hasher.matches(purpose, phone, code, &hash) {
            return Err(UserError::WrongCode.into());
        }
        Ok(CheckedCode { purpose, phone: phone.clone(), hash })
    }

    /// Uses the checked code up inside `conn`'s transaction (given back if it rolls back);
    /// refused if another request used it first.
    pub(super) async fn use_code(&self, conn: &mut PgConnection, checked: &CheckedCode) -> Result<(), ApiError> {
        if !phone_codes::consume(conn, checked.phone.as_str(), checked.purpose, &checked.hash).await? {
            return Err(UserError::WrongCode.into());
        }
        Ok(())
    }
}
