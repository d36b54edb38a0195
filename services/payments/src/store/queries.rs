//! Reads over the read models.

use chrono::{DateTime, Utc};
use prost::Message as _;
use rust_decimal::Decimal;
use sqlx::{FromRow, PgConnection, PgPool};
use tuan_host::admin::StuckQuery;
use uuid::Uuid;

use crate::domain::events as pb;

/// Sagas the admin API reports when they have not moved for a while (see `tuan_host::admin`):
/// holds placed and past their expiry (the expiry scan should have released them), and top-ups
/// or withdrawals still waiting on the provider.
pub const STUCK_SAGAS: [StuckQuery; 2] = [
    StuckQuery {
        kind: "hold",
        sql: "SELECT h.hold_id::text AS id, h.status AS state, \
              EXTRACT(EPOCH FROM now() - h.expires_at)::float8 AS age_seconds, \
              (SELECT e.event_type FROM public.events e WHERE e.stream_type = 'hold' \
               AND e.stream_id = h.hold_id::text ORDER BY e.version DESC LIMIT 1) AS last_step, \
              'payer ' || h.user_id || ', ' || h.remaining || ' ' || h.currency || ' held, campaign ' \
              || h.campaign_id || ', expired ' || h.expires_at AS detail \
              FROM holds h WHERE h.status = 'placed' \
              AND h.expires_at < now() - make_interval(secs => $1) ORDER BY h.expires_at LIMIT $2",
    },
    StuckQuery {
        kind: "provider_request",
        sql: "SELECT r.request_id::text AS id, r.status AS state, \
              EXTRACT(EPOCH FROM now() - r.requested_at)::float8 AS age_seconds, \
              (SELECT e.event_type FROM public.events e WHERE e.stream_type = r.kind \
               AND e.stream_id = r.request_id::text ORDER BY e.version DESC LIMIT 1) AS last_step, \
              r.kind || ' of ' || r.amount || ' ' || r.currency || ' for ' || r.user_id || ', ' || r.attempts \
              || ' attempts' AS detail \
              FROM provider_requests r WHERE r.status = 'pending' \
              AND r.requested_at < now() - make_interval(secs => $1) ORDER BY r.requested_at LIMIT $2",
    },
];

#[derive(Clone, Debug, FromRow)]
pub struct HoldRow {
    pub hold_id: Uuid,
    pub user_id: Uuid,
    pub merchant_id: Uuid,
    pub currency: String,
    pub amount: Decimal,
    pub captured: Decimal,
    pub remaining: Decimal,
    pub status: String,
    pub campaign_id: String,
    pub team_id: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub rejection_reason: String,
}

const HOLD_COLUMNS: &str = "hold_id, user_id, merchant_id, currency, amount, captured, remaining, status, campaign_id, team_id, expires_at, rejection_reason";

pub async fn hold(pool: &PgPool, hold_id: Uuid) -> Result<Option<HoldRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {HOLD_COLUMNS} FROM holds WHERE hold_id = $1")))
        .bind(hold_id)
        .fetch_optional(pool)
        .await
}

pub async fn open_holds(pool: &PgPool, user: Uuid) -> Result<Vec<HoldRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {HOLD_COLUMNS} FROM holds WHERE user_id = $1 AND status = 'placed' ORDER BY expires_at, hold_id"
    )))
    .bind(user)
    .fetch_all(pool)
    .await
}

/// Locks the hold's row (if it exists) so commands on one hold run one at a time.
pub async fn lock_hold(conn: &mut PgConnection, hold_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM holds WHERE hold_id = $1 FOR UPDATE").bind(hold_id).fetch_optional(conn).await?;
    Ok(())
}

/// Up to `limit` holds past their deadline, locked for the caller's transaction; holds another
/// replica is expiring are skipped.
pub async fn claim_expired_holds(conn: &mut PgConnection, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT hold_id FROM holds WHERE status = 'placed' AND expires_at <= now() \
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Balances of `account` per currency.
pub async fn balances(pool: &PgPool, account: &str) -> Result<Vec<(String, Decimal)>, sqlx::Error> {
    sqlx::query_as("SELECT currency, balance FROM account_balances WHERE account = $1 ORDER BY currency")
        .bind(account)
        .fetch_all(pool)
        .await
}

pub async fn balance(pool: &PgPool, account: &str, currency: &str) -> Result<Decimal, sqlx::Error> {
    let found: Option<Decimal> =
        sqlx::query_scalar("SELECT balance FROM account_balances WHERE account = $1 AND currency = $2")
            .bind(account)
            .bind(currency)
            .fetch_optional(pool)
            .await?;
    Ok(found.unwrap_or_default())
}

#[derive(Clone, Debug, FromRow)]
pub struct PostingRow {
    pub position: i64,
    pub idx: i32,
    pub entry_id: Uuid,
    pub kind: String,
    pub currency: String,
    pub amount: Decimal,
    pub memo: String,
    pub reference_id: String,
    pub counterparty: Option<Uuid>,
    pub posted_at: DateTime<Utc>,
}

/// Postings of `account`, newest first, after the cursor `(position, idx)`.
pub async fn statement(
    pool: &PgPool,
    account: &str,
    currency: Option<&str>,
    after: Option<(i64, i32)>,
    limit: i64,
) -> Result<Vec<PostingRow>, sqlx::Error> {
    let (pos, idx) = after.unwrap_or((i64::MAX, i32::MAX));
    sqlx::query_as(
        "SELECT position, idx, entry_id, kind, currency, amount, memo, reference_id, counterparty, posted_at \
         FROM ledger_postings WHERE account = $1 AND ($2::text IS NULL OR currency = $2) AND (position, idx) < ($3, $4) \
         ORDER BY position DESC, idx DESC LIMIT $5",
    )
    .bind(account)
    .bind(currency)
    .bind(pos)
    .bind(idx)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Clone, Debug, FromRow)]
pub struct ProviderRequestRow {
    pub request_id: Uuid,
    pub kind: String,
    pub user_id: Uuid,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub failure_reason: String,
    pub requested_at: DateTime<Utc>,
}

const REQUEST_COLUMNS: &str = "request_id, kind, user_id, amount, currency, status, failure_reason, requested_at";

pub async fn provider_request<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<ProviderRequestRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REQUEST_COLUMNS} FROM provider_requests WHERE request_id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A request due for (re)submission, with where a withdrawal pays out to (if it said).
#[derive(Clone, Debug, FromRow)]
pub struct DueRequest {
    #[sqlx(flatten)]
    pub request: ProviderRequestRow,
    pub payout_openid: Option<String>,
}

/// Pending requests due for (re)submission; each is pushed back by `lease_secs` so other
/// replicas leave it alone meanwhile.
pub async fn claim_due_requests(pool: &PgPool, lease_secs: i64, limit: i64) -> Result<Vec<DueRequest>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH claimed AS (UPDATE provider_requests \
           SET next_attempt_at = now() + make_interval(secs => $1), attempts = attempts + 1 \
           WHERE request_id IN (SELECT request_id FROM provider_requests WHERE status = 'pending' \
                                AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
           RETURNING {REQUEST_COLUMNS}) \
         SELECT claimed.*, a.wechat_openid AS payout_openid FROM claimed \
         LEFT JOIN public.provider_payout_accounts a USING (request_id)"
    )))
    .bind(lease_secs as f64)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A bill as recorded, with when.
pub async fn bill(pool: &PgPool, bill_id: Uuid) -> Result<Option<(pb::BillRecorded, DateTime<Utc>)>, sqlx::Error> {
    let row: Option<(Vec<u8>, DateTime<Utc>)> =
        sqlx::query_as("SELECT recorded, created_at FROM bills WHERE bill_id = $1")
            .bind(bill_id)
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(bytes, at)| pb::BillRecorded::decode(bytes.as_slice()).ok().map(|b| (b, at))))
}

/// Bills `user` takes part in, newest first, after the cursor `(created_at, bill_id)`.
pub async fn bills_of(
    pool: &PgPool,
    user: Uuid,
    circle: Option<Uuid>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<(pb::BillRecorded, DateTime<Utc>)>, sqlx::Error> {
    let rows: Vec<(Vec<u8>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT b.recorded, b.created_at FROM bill_members m JOIN bills b USING (bill_id) \
         WHERE m.user_id = $1 AND ($2::uuid IS NULL OR m.circle_id = $2) \
           AND ($3::timestamptz IS NULL OR (m.created_at, m.bill_id) < ($3, $4)) \
         ORDER BY m.created_at DESC, m.bill_id DESC LIMIT $5",
    )
    .bind(user)
    .bind(circle)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1).unwrap_or_default())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(bytes, at)| pb::BillRecorded::decode(bytes.as_slice()).ok().map(|b| (b, at)))
        .collect())
}

/// An open collection, with its bill as recorded (the BillRecorded event, for the title).
#[derive(Clone, Debug, FromRow)]
pub struct CollectionRow {
    pub collection_id: Uuid,
    pub organiser_id: Uuid,
    pub currency: String,
    pub circle_id: Option<Uuid>,
    pub closed: bool,
    pub opened_at: DateTime<Utc>,
    pub recorded: Option<Vec<u8>>,
}

/// One participant's line of a collection, in minor units.
#[derive(Clone, Debug, FromRow)]
pub struct CollectionEntryRow {
    pub collection_id: Uuid,
    pub user_id: Uuid,
    pub amount_minor: i64,
    pub paid: bool,
    pub reminders: i32,
}

/// Open collections `user` organises or is asked to pay in, newest first, before the cursor
/// `(opened_at, collection_id)`.
pub async fn open_collections_of(
    pool: &PgPool,
    user: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<CollectionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.collection_id, c.organiser_id, c.currency, c.circle_id, c.closed, c.opened_at, b.recorded \
         FROM collections c LEFT JOIN bills b ON b.bill_id = c.collection_id \
         WHERE NOT c.closed AND c.collection_id IN ( \
                 SELECT collection_id FROM collections WHERE organiser_id = $1 AND NOT closed \
                 UNION SELECT collection_id FROM collection_entries WHERE user_id = $1) \
           AND ($2::timestamptz IS NULL OR (c.opened_at, c.collection_id) < ($2, $3)) \
         ORDER BY c.opened_at DESC, c.collection_id DESC LIMIT $4",
    )
    .bind(user)
    .bind(before.map(|b| b.0))
    .bind(before.map(|b| b.1).unwrap_or_default())
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The lines of `collections`, each collection's in participant order.
pub async fn collection_entries(pool: &PgPool, collections: &[Uuid]) -> Result<Vec<CollectionEntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT collection_id, user_id, amount_minor, paid, reminders FROM collection_entries \
         WHERE collection_id = ANY($1) ORDER BY collection_id, position",
    )
    .bind(collections)
    .fetch_all(pool)
    .await
}

/// Non-zero net balances of a group: (currency, user, net).
pub async fn group_net(conn: &mut PgConnection, group: &str) -> Result<Vec<(String, Uuid, Decimal)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT currency, user_id, net FROM group_net WHERE group_key = $1 AND net <> 0 ORDER BY currency, user_id",
    )
    .bind(group)
    .fetch_all(conn)
    .await
}

/// What `b` owes `a` per currency (negative: `a` owes `b`).
pub async fn pair_balance(conn: &mut PgConnection, a: Uuid, b: Uuid) -> Result<Vec<(String, Decimal)>, sqlx::Error> {
    let (lo, hi, sign) = if a < b { (a, b, Decimal::ONE) } else { (b, a, Decimal::NEGATIVE_ONE) };
    let rows: Vec<(String, Decimal)> = sqlx::query_as(
        "SELECT currency, amount FROM pair_balances WHERE user_a = $1 AND user_b = $2 AND amount <> 0 ORDER BY currency",
    )
    .bind(lo)
    .bind(hi)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(c, d)| (c, d * sign)).collect())
}

/// Serialises settle-ups of one group so two cannot pay the same debt twice.
pub async fn lock_group(conn: &mut PgConnection, group: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7202611255))").bind(group).execute(conn).await?;
    Ok(())
}

#[derive(Clone, Debug, FromRow)]
pub struct CampaignRow {
    pub campaign_id: Uuid,
    pub organiser_id: Uuid,
    pub title: String,
    pub description: String,
    pub currency: String,
    pub goal: String,
    pub raised: Decimal,
    pub donor_count: i64,
    pub donation_count: i64,
    pub created_at: DateTime<Utc>,
}

pub async fn campaign(conn: &mut PgConnection, id: Uuid) -> Result<Option<CampaignRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT campaign_id, organiser_id, title, description, currency, goal, raised, donor_count, donation_count, created_at \
         FROM charity_campaigns WHERE campaign_id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Holds per status, and the provider requests (top-ups, withdrawals) per status.
pub async fn hold_status_counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*) FROM holds GROUP BY status").fetch_all(pool).await
}

pub async fn provider_request_status_counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*) FROM provider_requests GROUP BY status").fetch_all(pool).await
}

/// Per currency ever held: open holds and the money they keep from being spent (0 when none
/// is open, so the figure drops back instead of keeping its last value).
pub async fn open_holds_by_currency(pool: &PgPool) -> Result<Vec<(String, i64, f64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT currency, count(*) FILTER (WHERE status = 'placed'), \
                COALESCE(sum(remaining) FILTER (WHERE status = 'placed'), 0)::float8 \
         FROM holds GROUP BY currency",
    )
    .fetch_all(pool)
    .await
}

/// Seconds the most overdue open hold is past its expiry (the expiry scan should have released
/// it); 0 when none is.
pub async fn most_overdue_hold_secs(pool: &PgPool) -> Result<f64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(expires_at))::float8, 0) FROM holds \
         WHERE status = 'placed' AND expires_at < now()",
    )
    .fetch_one(pool)
    .await
}

/// Seconds the oldest provider request has waited for the provider; 0 when none waits.
pub async fn oldest_pending_provider_request_secs(pool: &PgPool) -> Result<f64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(requested_at))::float8, 0) FROM provider_requests \
         WHERE status = 'pending'",
    )
    .fetch_one(pool)
    .await
}
