//! Reads over the users read models.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

#[derive(Clone, Debug, FromRow)]
pub struct UserRow {
    pub user_id: Uuid,
    pub phone_e164: String,
    pub password_hash: String,
    pub display_name: String,
    pub avatar_url: String,
    pub region: String,
    pub marketplace_account_id: String,
    pub roles: Vec<String>,
    pub merchant_status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, FromRow)]
pub struct ProfileRow {
    pub user_id: Uuid,
    pub display_name: String,
    pub avatar_url: String,
    pub region: String,
    pub merchant_status: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct FriendRow {
    #[sqlx(flatten)]
    pub profile: ProfileRow,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Debug, FromRow)]
pub struct RequestRow {
    pub from_id: Uuid,
    pub to_id: Uuid,
    pub message: String,
    pub requested_at: DateTime<Utc>,
}

#[derive(Clone, Debug, FromRow)]
pub struct DiscoveredRow {
    pub phone_hash: String,
    #[sqlx(flatten)]
    pub profile: ProfileRow,
}

#[derive(Clone, Debug, FromRow)]
pub struct ApplicationRow {
    pub user_id: Uuid,
    pub business_name: String,
    pub license_number: String,
    pub contact_phone_e164: String,
    pub category: String,
    pub status: String,
    pub rejection_reason: String,
    pub applied_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: String,
}

pub(crate) const PROFILE: &str = "u.user_id, u.display_name, u.avatar_url, u.region, u.merchant_status";

pub async fn user_by_phone(pool: &PgPool, phone: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM users WHERE phone_e164 = $1").bind(phone).fetch_optional(pool).await
}

pub async fn user_by_id(pool: &PgPool, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM users WHERE user_id = $1").bind(id).fetch_optional(pool).await
}

pub async fn user_exists(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1)").bind(id).fetch_one(pool).await
}

pub async fn profiles(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<ProfileRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PROFILE} FROM users u WHERE u.user_id = ANY($1) ORDER BY u.user_id"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// Friends ordered by id, after the cursor id.
pub async fn friends(
    pool: &PgPool,
    user: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<FriendRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PROFILE}, f.since FROM friends f JOIN users u ON u.user_id = f.friend_id \
         WHERE f.user_id = $1 AND ($2::uuid IS NULL OR f.friend_id > $2) ORDER BY f.friend_id LIMIT $3"
    )))
    .bind(user)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn friend_requests(pool: &PgPool, user: Uuid, incoming: bool) -> Result<Vec<RequestRow>, sqlx::Error> {
    let column = if incoming { "to_id" } else { "from_id" };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT from_id, to_id, message, requested_at FROM friend_requests WHERE {column} = $1 \
         ORDER BY requested_at DESC LIMIT 500"
    )))
    .bind(user)
    .fetch_all(pool)
    .await
}

/// Which of `others` are friends of `user`, and which have blocked or been blocked by them.
/// Each row is (other user, one of `friends`, `sent`, `received`, `blocked`).
pub async fn relations(pool: &PgPool, user: Uuid, others: &[Uuid]) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT friend_id, 'friends' FROM friends WHERE user_id = $1 AND friend_id = ANY($2) \
         UNION ALL SELECT to_id, 'sent' FROM friend_requests WHERE from_id = $1 AND to_id = ANY($2) \
         UNION ALL SELECT from_id, 'received' FROM friend_requests WHERE to_id = $1 AND from_id = ANY($2) \
         UNION ALL SELECT blocked_id, 'blocked' FROM blocks WHERE blocker_id = $1 AND blocked_id = ANY($2)",
    )
    .bind(user)
    .bind(others)
    .fetch_all(pool)
    .await
}

pub async fn application(pool: &PgPool, user: Uuid) -> Result<Option<ApplicationRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM merchant_applications WHERE user_id = $1").bind(user).fetch_optional(pool).await
}

/// Applications in `status` (any when `None`), oldest first, after the cursor user id.
pub async fn applications(
    pool: &PgPool,
    status: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ApplicationRow>, sqlx::Error> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as(
        "SELECT * FROM merchant_applications WHERE ($1::text IS NULL OR status = $1) \
         AND ($2::timestamptz IS NULL OR (applied_at, user_id) > ($2, $3)) \
         ORDER BY applied_at, user_id LIMIT $4",
    )
    .bind(status)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The sessions of `user` that have not ended.
pub async fn live_sessions(conn: &mut sqlx::PgConnection, user: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT session_id FROM sessions WHERE user_id = $1 AND NOT ended ORDER BY session_id")
        .bind(user)
        .fetch_all(conn)
        .await
}

#[derive(Clone, Debug, FromRow)]
pub struct RoleChangeRow {
    pub position: i64,
    pub user_id: Uuid,
    pub role: String,
    pub change: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

/// Role grants and revocations, newest first, before the cursor position.
pub async fn role_changes(pool: &PgPool, before: Option<i64>, limit: i64) -> Result<Vec<RoleChangeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM role_changes WHERE ($1::bigint IS NULL OR position < $1) ORDER BY position DESC LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}
