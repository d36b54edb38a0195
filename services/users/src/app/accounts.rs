//! Sign-up, login, sessions and profiles.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tuan_eventstore::{Aggregate as _, CommandError, EventMeta, StoreError};
use tuan_runtime::{
    ApiError,
    auth::{Caller, ROLE_MERCHANT},
};
use uuid::Uuid;

use super::UsersApp;
use crate::{
    domain::{
        UserError,
        password::Password,
        phone::PhoneNumber,
        phone_code::{CodePurpose, PhoneCode},
        profile::{DisplayName, ProfilePatch, Region},
        session::{self, SessionCommand},
        user::UserCommand,
    },
    store::{
        login,
        queries::{self, UserRow},
    },
};

/// What a successful sign-up, login or refresh returns.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub user_id: Uuid,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
}

/// A refresh token is `<session id>.<secret>`: the session is found without a lookup table,
/// and only the token's hash is stored.
struct RefreshToken {
    session_id: Uuid,
    token: String,
}

impl RefreshToken {
    fn generate(session_id: Uuid) -> Self {
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        Self { session_id, token: format!("{session_id}.{}", hex::encode(secret)) }
    }

    fn parse(token: &str) -> Result<Self, ApiError> {
        let (id, secret) =
            token.split_once('.').ok_or_else(|| ApiError::unauthenticated("refresh token is malformed"))?;
        let session_id = Uuid::parse_str(id).map_err(|_| ApiError::unauthenticated("refresh token is malformed"))?;
        if secret.len() != 64 {
            return Err(ApiError::unauthenticated("refresh token is malformed"));
        }
        Ok(Self { session_id, token: token.to_string() })
    }

    fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.token.as_bytes()))
    }
}

fn roles_of(user: &UserRow) -> Vec<String> {
    let mut roles = user.roles.clone();
    if user.merchant_status == "verified" && !roles.iter().any(|r| r == ROLE_MERCHANT) {
        roles.push(ROLE_MERCHANT.to_string());
    }
    roles
}

impl UsersApp {
    /// Signs up the owner of `phone`, who proves it with the code sent to it
    /// ([`UsersApp::request_phone_code`]).
    pub async fn sign_up(
        &self,
        meta: &EventMeta,
        phone: &str,
        code: &str,
        password: String,
        display_name: &str,
        region: &str,
    ) -> Result<Tokens, ApiError> {
        let phone = PhoneNumber::parse(phone)?;
        let code = PhoneCode::parse(code)?;
        let display_name = DisplayName::parse(display_name)?;
        let region = Region::parse(region)?;
        let password = Password::parse(password)?;
        // The code first, so that whether the number is registered is told only to its owner
        // (and a guesser costs no password hash).
        let checked = self.check_code(CodePurpose::SignUp, &phone, &code).await?;
        // Fail fast (and skip the slow hash) for a known number; the unique index decides races.
        if queries::user_by_phone(&self.pool, phone.as_str()).await?.is_some() {
            return Err(UserError::PhoneTaken.into());
        }
        let password_hash = self.hashing.hash(password).await?;
        let user_id = Uuid::now_v7();
        let (session_id, now) = (Uuid::now_v7(), Utc::now());
        let refresh = RefreshToken::generate(session_id);

        let mut tx = self.pool.begin().await?;
        self.use_code(&mut tx, &checked).await?;
        let signed_up = self
            .users
            .run_in(
                &mut tx,
                user_id,
                meta,
                UserCommand::SignUp {
                    user_id,
                    phone: phone.clone(),
                    password_hash: password_hash.clone(),
                    display_name: display_name.clone(),
                    region: region.clone(),
                },
            )
            .await;
        let (user, _) = match signed_up {
            Err(CommandError::Store(StoreError::UniqueViolation { .. })) => return Err(UserError::PhoneTaken.into()),
            other => other?,
        };
        self.add_discovery_hashes(&mut tx, user_id, &phone).await?;
        let refresh_expires = self.start_session(&mut tx, meta, session_id, user_id, &refresh, now).await?;
        tx.commit().await?;
        let roles = user.roles.iter().cloned().collect();
        self.tokens(user_id, session_id, roles, refresh, refresh_expires, now)
    }

    pub async fn login(&self, meta: &EventMeta, phone: &str, password: String) -> Result<Tokens, ApiError> {
        // Any malformed input is just "wrong credentials": no hint which part was wrong.
        let phone = PhoneNumber::parse(phone).map_err(|_| UserError::BadCredentials)?;
        // A locked number is refused before any hashing: guessing costs the guesser, not us.
        self.refuse_if_locked(phone.as_str()).await?;
        let user = queries::user_by_phone(&self.pool, phone.as_str()).await?;
        let ok = self.hashing.verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
        let user = match user {
            Some(user) if ok => user,
            _ => return Err(self.failed_login(phone.as_str()).await),
        };
        login::clear(&self.pool, phone.as_str()).await?;
        let (session_id, now) = (Uuid::now_v7(), Utc::now());
        let refresh = RefreshToken::generate(session_id);
        let mut tx = self.pool.begin().await?;
        let refresh_expires = self.start_session(&mut tx, meta, session_id, user.user_id, &refresh, now).await?;
        tx.commit().await?;
        self.tokens(user.user_id, session_id, roles_of(&user), refresh, refresh_expires, now)
    }

    async fn refuse_if_locked(&self, phone: &str) -> Result<(), ApiError> {
        let now = Utc::now();
        match login::locked_until(&self.pool, phone, now).await? {
            Some(until) => Err(UserError::LoginLocked((until - now).to_std().unwrap_or_default()).into()),
            None => Ok(()),
        }
    }

    /// Counts a failed login for `phone`, locking it once past the free attempts; returns the
    /// error to answer (wrong credentials, or what went wrong counting).
    async fn failed_login(&self, phone: &str) -> ApiError {
        let throttle = &self.settings.login;
        let now = Utc::now();
        let counted = async {
            let failures = login::record_failure(&self.pool, phone, now, throttle.forget_after).await?;
            if let Some(lock) = throttle.throttle.lock_after(failures) {
                login::lock(&self.pool, phone, now + lock).await?;
            }
            Ok::<_, sqlx::Error>(())
        };
        match counted.await {
            Ok(()) => UserError::BadCredentials.into(),
            Err(e) => e.into(),
        }
    }

    /// Starts a session at `now`; returns when its refresh token expires (the sliding expiry,
    /// never past the absolute end).
    async fn start_session(
        &self,
        conn: &mut sqlx::PgConnection,
        meta: &EventMeta,
        session_id: Uuid,
        user_id: Uuid,
        refresh: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, ApiError> {
        let hash = refresh.hash();
        let absolute = now + self.settings.session_max_lifetime;
        let expires = (now + self.settings.refresh_ttl).min(absolute);
        self.sessions
            .run_in(
                conn,
                session_id,
                meta,
                SessionCommand::Start {
                    session_id,
                    user_id,
                    refresh_token_hash: hash.clone(),
                    expires_at_micros: expires.timestamp_micros(),
                    absolute_expires_at_micros: absolute.timestamp_micros(),
                },
            )
            .await?;
        Ok(expires)
    }

    /// Ends every live session of `user_id` but `keep`, inside `conn`'s transaction. Returns
    /// how many ended.
    pub(super) async fn end_sessions(
        &self,
        conn: &mut sqlx::PgConnection,
        meta: &EventMeta,
        user_id: Uuid,
        keep: Option<Uuid>,
        reason: &'static str,
    ) -> Result<i32, ApiError> {
        let live = queries::live_sessions(&mut *conn, user_id).await?;
        let mut ended = 0;
        for session_id in live.into_iter().filter(|s| Some(*s) != keep) {
            let (_, events) =
                self.sessions.run_in(&mut *conn, session_id, meta, SessionCommand::Revoke { reason }).await?;
            ended += i32::from(!events.is_empty());
        }
        Ok(ended)
    }

    /// Ends every session of the caller but the current one.
    pub async fn logout_everywhere(&self, meta: &EventMeta, caller: &Caller) -> Result<i32, ApiError> {
        let mut tx = self.pool.begin().await?;
        let ended =
            self.end_sessions(&mut tx, meta, caller.user_id, Some(caller.session_id), "logout_everywhere").await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Checks the old password, stores the new one and ends every other session.
    pub async fn change_password(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        old: String,
        new: String,
    ) -> Result<i32, ApiError> {
        let user = queries::user_by_id(&self.pool, caller.user_id).await?.ok_or(UserError::UserNotFound)?;
        // Guessing the old password with a stolen access token is throttled like a login.
        self.refuse_if_locked(&user.phone_e164).await?;
        if !self.hashing.verify(old, Some(user.password_hash)).await? {
            self.failed_login(&user.phone_e164).await;
            return Err(UserError::WrongPassword.into());
        }
        let password_hash = self.hashing.hash(Password::parse(new)?).await?;
        let mut tx = self.pool.begin().await?;
        self.users
            .run_in(&mut tx, caller.user_id, meta, UserCommand::ChangePassword { password_hash: password_hash.clone() })
            .await?;
        let ended =
            self.end_sessions(&mut tx, meta, caller.user_id, Some(caller.session_id), "password_changed").await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Sets a new password for the owner of `phone`, who proves it with a reset code; ends
    /// every session and starts a new one (a reset is also how a locked-out owner gets back in).
    pub async fn reset_password(
        &self,
        meta: &EventMeta,
        phone: &str,
        code: &str,
        new_password: String,
    ) -> Result<Tokens, ApiError> {
        let phone = PhoneNumber::parse(phone)?;
        let code = PhoneCode::parse(code)?;
        let password = Password::parse(new_password)?;
        let checked = self.check_code(CodePurpose::ResetPassword, &phone, &code).await?;
        // No reset code is ever sent for an unknown number; one deleted since answers the same.
        let user = queries::user_by_phone(&self.pool, phone.as_str()).await?.ok_or(UserError::WrongCode)?;
        let password_hash = self.hashing.hash(password).await?;
        let (session_id, now) = (Uuid::now_v7(), Utc::now());
        let refresh = RefreshToken::generate(session_id);
        let mut tx = self.pool.begin().await?;
        self.use_code(&mut tx, &checked).await?;
        self.users
            .run_in(&mut tx, user.user_id, meta, UserCommand::ChangePassword { password_hash: password_hash.clone() })
            .await?;
        self.end_sessions(&mut tx, meta, user.user_id, None, "password_reset").await?;
        let refresh_expires = self.start_session(&mut tx, meta, session_id, user.user_id, &refresh, now).await?;
        tx.commit().await?;
        // The owner is back in: the failed logins of whoever guessed are forgotten.
        login::clear(&self.pool, phone.as_str()).await?;
        self.tokens(user.user_id, session_id, roles_of(&user), refresh, refresh_expires, now)
    }

    fn tokens(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        roles: Vec<String>,
        refresh: RefreshToken,
        refresh_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Tokens, ApiError> {
        let caller = Caller { user_id, session_id, roles };
        let ttl = chrono::Duration::from_std(self.settings.access_ttl).map_err(ApiError::internal)?;
        let (access_token, access_expires_at) = self.keys.issue(&caller, now, ttl)?;
        Ok(Tokens { user_id, access_token, access_expires_at, refresh_token: refresh.token, refresh_expires_at })
    }

    /// Trades a refresh token for new tokens; the old refresh token stops working, and
    /// presenting it again ends the session.
    pub async fn refresh(&self, meta: &EventMeta, token: &str) -> Result<Tokens, ApiError> {
        let presented = RefreshToken::parse(token)?;
        let now = Utc::now();
        let next = RefreshToken::generate(presented.session_id);
        let expires = now + self.settings.refresh_ttl;
        let (session, _) = self
            .sessions
            .execute(&presented.session_id.to_string(), meta, |s| {
                s.handle(SessionCommand::Refresh {
                    presented_hash: presented.hash(),
                    new_hash: next.hash(),
                    new_expires_at_micros: expires.timestamp_micros(),
                    now_micros: now.timestamp_micros(),
                })
            })
            .await?;
        if session.ended {
            tracing::warn!(session_id = %presented.session_id, reason = session::REUSED, "session ended");
            return Err(UserError::SessionInvalid.into());
        }
        let user_id = session.user_id.ok_or(UserError::SessionInvalid)?;
        let user = queries::user_by_id(&self.pool, user_id).await?.ok_or(UserError::SessionInvalid)?;
        let expires = session.expires_at().unwrap_or(expires);
        self.tokens(user_id, presented.session_id, roles_of(&user), next, expires, now)
    }

    /// Ends the session of `token`. Access tokens already issued expire on their own (short TTL).
    pub async fn logout(&self, meta: &EventMeta, token: &str) -> Result<(), ApiError> {
        let presented = RefreshToken::parse(token)?;
        self.sessions
            .execute(&presented.session_id.to_string(), meta, |s| {
                s.handle(SessionCommand::End { presented_hash: presented.hash() })
            })
            .await?;
        Ok(())
    }

    pub async fn me(&self, caller: &Caller) -> Result<UserRow, ApiError> {
        Ok(queries::user_by_id(&self.pool, caller.user_id).await?.ok_or(UserError::UserNotFound)?)
    }

    pub async fn update_profile(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        patch: ProfilePatch,
    ) -> Result<UserRow, ApiError> {
        self.users
            .execute(&caller.user_id.to_string(), meta, |u| u.handle(UserCommand::UpdateProfile(patch.clone())))
            .await?;
        self.me(caller).await
    }

    pub async fn profiles(&self, ids: &[Uuid]) -> Result<Vec<queries::ProfileRow>, ApiError> {
        if ids.len() > 500 {
            return Err(ApiError::invalid("at most 500 user ids per call"));
        }
        Ok(queries::profiles(&self.pool, ids).await?)
    }
}
