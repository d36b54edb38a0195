//! Read models of the users service, kept inline with every append and rebuildable.

use chrono::{DateTime, Utc};
use futures::{FutureExt, future::BoxFuture};
use sqlx::PgConnection;
use tuan_eventstore::{Aggregate, Projection, RecordedEvent, StoreError, decode_event, stored_uuid};
use uuid::Uuid;

use crate::domain::{
    friendship::{Friendship, FriendshipEvent},
    merchant::{MerchantApplication, MerchantEvent},
    session::{Session, SessionEvent},
    user::{User, UserEvent},
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    user_id                UUID PRIMARY KEY,
    phone_e164             TEXT NOT NULL,
    password_hash          TEXT NOT NULL,
    display_name           TEXT NOT NULL,
    avatar_url             TEXT NOT NULL DEFAULT '',
    region                 TEXT NOT NULL DEFAULT '',
    marketplace_account_id TEXT NOT NULL DEFAULT '',
    roles                  TEXT[] NOT NULL DEFAULT '{}',
    merchant_status        TEXT NOT NULL DEFAULT 'none',
    created_at             TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_phone_unique UNIQUE (phone_e164)
);
-- Schemas from before discovery salts rotated keep the hash under the one fixed salt here;
-- discovery keeps per-period hashes now (store/discovery.rs). Checked first, so a start does
-- not take the table's exclusive lock for nothing.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
               AND table_name = 'users' AND column_name = 'phone_hash') THEN
        ALTER TABLE users DROP COLUMN phone_hash;
    END IF;
END $$;

-- One row per direction, so "my friends" is one index range.
CREATE TABLE IF NOT EXISTS friends (
    user_id   UUID NOT NULL,
    friend_id UUID NOT NULL,
    since     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);

CREATE TABLE IF NOT EXISTS friend_requests (
    from_id      UUID NOT NULL,
    to_id        UUID NOT NULL,
    message      TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (from_id, to_id)
);
CREATE INDEX IF NOT EXISTS friend_requests_to ON friend_requests (to_id);

CREATE TABLE IF NOT EXISTS blocks (
    blocker_id UUID NOT NULL,
    blocked_id UUID NOT NULL,
    since      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);

CREATE TABLE IF NOT EXISTS merchant_applications (
    user_id            UUID PRIMARY KEY,
    business_name      TEXT NOT NULL,
    license_number     TEXT NOT NULL,
    contact_phone_e164 TEXT NOT NULL,
    category           TEXT NOT NULL,
    status             TEXT NOT NULL,
    rejection_reason   TEXT NOT NULL DEFAULT '',
    applied_at         TIMESTAMPTZ NOT NULL,
    decided_at         TIMESTAMPTZ,
    decided_by         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS merchant_applications_status ON merchant_applications (status, applied_at);

-- Which sessions a user has, so all of them can be ended (log out everywhere, a password
-- change, a revoked role). The session itself is read from its stream.
CREATE TABLE IF NOT EXISTS sessions (
    session_id UUID PRIMARY KEY,
    user_id    UUID NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS sessions_live ON sessions (user_id) WHERE NOT ended;

-- The audit of role grants and revocations, keyed by the event's position in the store.
CREATE TABLE IF NOT EXISTS role_changes (
    position   BIGINT PRIMARY KEY,
    user_id    UUID NOT NULL,
    role       TEXT NOT NULL,
    change     TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);
"#;

/// Users, friends, requests, blocks and merchant applications.
pub struct UsersProjection;

impl Projection for UsersProjection {
    fn name(&self) -> &'static str {
        "users"
    }

    fn schema(&self) -> &'static str {
        SCHEMA
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let at = event.occurred_at;
            match event.stream_type.as_str() {
                User::STREAM_TYPE => apply_user(conn, decode_event(event)?, at, event.global_position).await,
                Friendship::STREAM_TYPE => apply_friendship(conn, decode_event(event)?, at).await,
                MerchantApplication::STREAM_TYPE => apply_merchant(conn, decode_event(event)?, at).await,
                Session::STREAM_TYPE => apply_session(conn, decode_event(event)?, at).await,
                _ => Ok(()),
            }
        }
        .boxed()
    }
}

async fn apply_session(conn: &mut PgConnection, event: SessionEvent, at: DateTime<Utc>) -> Result<(), StoreError> {
    match event {
        SessionEvent::Started(e) => {
            sqlx::query("INSERT INTO sessions (session_id, user_id, started_at) VALUES ($1, $2, $3)")
                .bind(stored_uuid(&e.session_id)?)
                .bind(stored_uuid(&e.user_id)?)
                .bind(at)
                .execute(conn)
                .await?;
        }
        SessionEvent::Refreshed(_) => {}
        SessionEvent::Ended(e) => {
            sqlx::query("UPDATE sessions SET ended = TRUE WHERE session_id = $1")
                .bind(stored_uuid(&e.session_id)?)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

async fn role_change(
    conn: &mut PgConnection,
    position: i64,
    user_id: &str,
    role: &str,
    change: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO role_changes (position, user_id, role, change, changed_by, changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(position)
    .bind(stored_uuid(user_id)?)
    .bind(role)
    .bind(change)
    .bind(by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn apply_user(
    conn: &mut PgConnection,
    event: UserEvent,
    at: DateTime<Utc>,
    position: i64,
) -> Result<(), StoreError> {
    match event {
        UserEvent::SignedUp(e) => {
            sqlx::query(
                "INSERT INTO users (user_id, phone_e164, password_hash, display_name, region, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(stored_uuid(&e.user_id)?)
            .bind(&e.phone_e164)
            .bind(&e.password_hash)
            .bind(&e.display_name)
            .bind(&e.region)
            .bind(at)
            .execute(conn)
            .await?;
        }
        UserEvent::ProfileUpdated(e) => {
            sqlx::query(
                "UPDATE users SET display_name = $2, avatar_url = $3, region = $4, marketplace_account_id = $5 \
                 WHERE user_id = $1",
            )
            .bind(stored_uuid(&e.user_id)?)
            .bind(&e.display_name)
            .bind(&e.avatar_url)
            .bind(&e.region)
            .bind(&e.marketplace_account_id)
            .execute(conn)
            .await?;
        }
        UserEvent::RoleGranted(e) => {
            sqlx::query(
                "UPDATE users SET roles = array_append(roles, $2) WHERE user_id = $1 AND NOT ($2 = ANY(roles))",
            )
            .bind(stored_uuid(&e.user_id)?)
            .bind(&e.role)
            .execute(&mut *conn)
            .await?;
            role_change(conn, position, &e.user_id, &e.role, "granted", &e.granted_by, at).await?;
        }
        UserEvent::RoleRevoked(e) => {
            sqlx::query("UPDATE users SET roles = array_remove(roles, $2) WHERE user_id = $1")
                .bind(stored_uuid(&e.user_id)?)
                .bind(&e.role)
                .execute(&mut *conn)
                .await?;
            role_change(conn, position, &e.user_id, &e.role, "revoked", &e.revoked_by, at).await?;
        }
        UserEvent::PasswordChanged(e) => {
            sqlx::query("UPDATE users SET password_hash = $2 WHERE user_id = $1")
                .bind(stored_uuid(&e.user_id)?)
                .bind(&e.password_hash)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

async fn apply_friendship(
    conn: &mut PgConnection,
    event: FriendshipEvent,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    match event {
        FriendshipEvent::Requested(e) => {
            sqlx::query("INSERT INTO friend_requests (from_id, to_id, message, requested_at) VALUES ($1, $2, $3, $4)")
                .bind(stored_uuid(&e.from_user_id)?)
                .bind(stored_uuid(&e.to_user_id)?)
                .bind(&e.message)
                .bind(at)
                .execute(conn)
                .await?;
        }
        FriendshipEvent::Accepted(e) => {
            let (a, b) = (stored_uuid(&e.from_user_id)?, stored_uuid(&e.to_user_id)?);
            delete_requests(conn, a, b).await?;
            sqlx::query("INSERT INTO friends (user_id, friend_id, since) VALUES ($1, $2, $3), ($2, $1, $3)")
                .bind(a)
                .bind(b)
                .bind(at)
                .execute(conn)
                .await?;
        }
        FriendshipEvent::Declined(e) => {
            delete_requests(conn, stored_uuid(&e.from_user_id)?, stored_uuid(&e.to_user_id)?).await?
        }
        FriendshipEvent::Cancelled(e) => {
            delete_requests(conn, stored_uuid(&e.from_user_id)?, stored_uuid(&e.to_user_id)?).await?
        }
        FriendshipEvent::Removed(e) => {
            delete_friends(conn, stored_uuid(&e.by_user_id)?, stored_uuid(&e.other_user_id)?).await?
        }
        FriendshipEvent::Blocked(e) => {
            let (blocker, blocked) = (stored_uuid(&e.blocker_id)?, stored_uuid(&e.blocked_id)?);
            delete_requests(conn, blocker, blocked).await?;
            delete_friends(conn, blocker, blocked).await?;
            sqlx::query("INSERT INTO blocks (blocker_id, blocked_id, since) VALUES ($1, $2, $3)")
                .bind(blocker)
                .bind(blocked)
                .bind(at)
                .execute(conn)
                .await?;
        }
        FriendshipEvent::Unblocked(e) => {
            sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
                .bind(stored_uuid(&e.blocker_id)?)
                .bind(stored_uuid(&e.blocked_id)?)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

async fn delete_requests(conn: &mut PgConnection, a: Uuid, b: Uuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM friend_requests WHERE (from_id, to_id) IN (($1, $2), ($2, $1))")
        .bind(a)
        .bind(b)
        .execute(conn)
        .await?;
    Ok(())
}

async fn delete_friends(conn: &mut PgConnection, a: Uuid, b: Uuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM friends WHERE (user_id, friend_id) IN (($1, $2), ($2, $1))")
        .bind(a)
        .bind(b)
        .execute(conn)
        .await?;
    Ok(())
}

async fn apply_merchant(conn: &mut PgConnection, event: MerchantEvent, at: DateTime<Utc>) -> Result<(), StoreError> {
    let (user_id, status) = match &event {
        MerchantEvent::Applied(e) => {
            let user_id = stored_uuid(&e.user_id)?;
            sqlx::query(
                "INSERT INTO merchant_applications \
                   (user_id, business_name, license_number, contact_phone_e164, category, status, applied_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6) \
                 ON CONFLICT (user_id) DO UPDATE SET business_name = $2, license_number = $3, \
                   contact_phone_e164 = $4, category = $5, status = 'pending', rejection_reason = '', \
                   applied_at = $6, decided_at = NULL, decided_by = ''",
            )
            .bind(user_id)
            .bind(&e.business_name)
            .bind(&e.license_number)
            .bind(&e.contact_phone_e164)
            .bind(&e.category)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            (user_id, "pending")
        }
        MerchantEvent::Verified(e) => {
            let user_id = stored_uuid(&e.user_id)?;
            decide(conn, user_id, "verified", "", &e.operator_id, at).await?;
            (user_id, "verified")
        }
        MerchantEvent::Rejected(e) => {
            let user_id = stored_uuid(&e.user_id)?;
            decide(conn, user_id, "rejected", &e.reason, &e.operator_id, at).await?;
            (user_id, "rejected")
        }
    };
    sqlx::query("UPDATE users SET merchant_status = $2 WHERE user_id = $1")
        .bind(user_id)
        .bind(status)
        .execute(conn)
        .await?;
    Ok(())
}

async fn decide(
    conn: &mut PgConnection,
    user_id: Uuid,
    status: &str,
    reason: &str,
    operator: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE merchant_applications SET status = $2, rejection_reason = $3, decided_by = $4, decided_at = $5 \
         WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(status)
    .bind(reason)
    .bind(operator)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
