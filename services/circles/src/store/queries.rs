//! Reads over the circles read models and the consumer-fed tables.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool, Row as _, postgres::PgRow};
use tuan_messaging::social;
use uuid::Uuid;

use crate::domain::membership::Relation;

/// Where a newest-first page of posts, moments or broadcasts continues: before this
/// `(created_at, id)`.
pub type ItemCursor = (DateTime<Utc>, Uuid);

#[derive(Clone, Debug, FromRow)]
pub struct CircleRow {
    pub circle_id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub kind: String,
    pub topic: String,
    pub approval_required: bool,
    pub dissolved: bool,
    pub members: i32,
    pub member_cap: i32,
    /// Named apart from a post's `created_at`, so a row can hold a circle and a post.
    #[sqlx(rename = "circle_created_at")]
    pub created_at: DateTime<Utc>,
    /// The caller's role ('' when not a member) and mute flag.
    pub my_role: String,
    pub muted: bool,
}

#[derive(Clone, Debug, FromRow)]
pub struct MembershipRow {
    pub circle_id: Uuid,
    pub user_id: Uuid,
    pub status: String,
    pub role: String,
    pub muted: bool,
    pub invited_by: Option<Uuid>,
    pub since: DateTime<Utc>,
}

/// A post, moment or broadcast: who, what, when.
#[derive(Clone, Debug, FromRow)]
pub struct ItemRow {
    pub id: Uuid,
    /// The circle (posts), the author (moments) or the account (broadcasts).
    pub parent_id: Uuid,
    pub author_id: Uuid,
    pub text: String,
    pub card_kind: Option<String>,
    pub card_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// The account's name, for inbox items; '' otherwise.
    pub source_name: String,
    /// What the card shows now; all None without a card or before its source arrived.
    #[sqlx(flatten)]
    pub live: CardLive,
}

/// What a card shows now, in one shape for every card kind (each uses the fields that apply
/// to it), from [`live_joins`]. `live_kind` is None when the card's source has not arrived.
#[derive(Clone, Debug, Default, FromRow)]
pub struct CardLive {
    pub live_kind: Option<String>,
    /// The campaign's (campaign and team cards) or the bill's title.
    pub live_title: Option<String>,
    pub live_campaign_id: Option<Uuid>,
    pub live_group_price: Option<String>,
    pub live_list_price: Option<String>,
    pub live_currency: Option<String>,
    pub live_stock_left: Option<i64>,
    pub live_status: Option<String>,
    pub live_team_size: Option<i64>,
    pub live_members: Option<i64>,
    pub live_expires_at: Option<DateTime<Utc>>,
    pub live_total: Option<String>,
    /// A bill's participants; a collection's participants asked to pay.
    pub live_participants: Option<i64>,
    pub live_paid_count: Option<i64>,
    pub live_bill_id: Option<Uuid>,
    pub live_updated_at: Option<DateTime<Utc>>,
}

/// The card tables joined to the item aliased `item` (with `card_kind`, `card_id`): one
/// primary-key lookup per table, each only for its kind of card (and the team's campaign for
/// a team card), so a page of items costs no query per item. Aliases: cc, ct, cb, ck.
fn live_joins(item: &str) -> String {
    format!(
        "LEFT JOIN public.card_teams ct ON {item}.card_kind = 'team' AND ct.team_id = {item}.card_id \
         LEFT JOIN public.card_campaigns cc ON cc.status IS NOT NULL AND cc.campaign_id = \
           CASE {item}.card_kind WHEN 'campaign' THEN {item}.card_id WHEN 'team' THEN ct.campaign_id END \
         LEFT JOIN public.card_bills cb ON {item}.card_kind = 'bill' AND cb.bill_id = {item}.card_id \
         LEFT JOIN public.card_collections ck ON {item}.card_kind = 'collection' AND ck.collection_id = {item}.card_id"
    )
}

/// The [`CardLive`] columns over [`live_joins`] (only the card's own tables match, so each
/// COALESCE picks its kind's value; a team card also matches its campaign, hence ct first).
fn live_columns(item: &str) -> String {
    format!(
        "CASE WHEN ct.team_id IS NOT NULL OR cb.bill_id IS NOT NULL OR ck.collection_id IS NOT NULL \
                OR ({item}.card_kind = 'campaign' AND cc.campaign_id IS NOT NULL) THEN {item}.card_kind END AS live_kind, \
         COALESCE(cc.title, cb.title) AS live_title, COALESCE(ct.campaign_id, cc.campaign_id) AS live_campaign_id, \
         cc.group_price AS live_group_price, cc.list_price AS live_list_price, \
         COALESCE(cc.currency, cb.currency, ck.currency) AS live_currency, \
         GREATEST(cc.stock - cc.units_taken, 0) AS live_stock_left, \
         COALESCE(ct.status, cc.status, ck.status) AS live_status, ct.team_size AS live_team_size, \
         ct.members AS live_members, ct.expires_at AS live_expires_at, cb.total AS live_total, \
         COALESCE(cb.participants, ck.participant_count) AS live_participants, ck.paid_count AS live_paid_count, \
         ck.bill_id AS live_bill_id, COALESCE(ct.updated_at, cc.updated_at, cb.updated_at, ck.updated_at) AS live_updated_at"
    )
}

/// What one card shows now, if its source has arrived.
pub async fn card_live(pool: &PgPool, kind: &str, id: Uuid) -> Result<CardLive, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM (VALUES ($1::text, $2::uuid)) AS x (card_kind, card_id) {}",
        live_columns("x"),
        live_joins("x")
    )))
    .bind(kind)
    .bind(id)
    .fetch_one(pool)
    .await
}

#[derive(Clone, Debug, FromRow)]
pub struct AccountRow {
    pub account_id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub description: String,
    pub followers: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Membership and settings changes: one at a time per circle.
    Exclusive,
    /// Posting: many at once, but not while membership changes.
    Shared,
}

/// Locks the circle's row for the caller's transaction and returns its member count, or
/// None if there is no such circle. Every command on a circle calls this first, so commands
/// on one circle serialise here instead of racing on their streams (no conflicts, no retries:
/// 600 concurrent joins each get a definitive answer).
pub async fn lock_circle(conn: &mut PgConnection, circle: Uuid, lock: Lock) -> Result<Option<u32>, sqlx::Error> {
    let sql = match lock {
        Lock::Exclusive => "SELECT members FROM circles WHERE circle_id = $1 FOR UPDATE",
        Lock::Shared => "SELECT members FROM circles WHERE circle_id = $1 FOR SHARE",
    };
    let members: Option<i32> = sqlx::query_scalar(sql).bind(circle).fetch_optional(conn).await?;
    Ok(members.map(|m| m.max(0) as u32))
}

/// How `actor` relates to `other` (the shared social graph): blocks first, then friendship.
pub async fn relation(conn: &mut PgConnection, actor: Uuid, other: Uuid) -> Result<Relation, sqlx::Error> {
    Ok(match social::relation(&mut *conn, actor, other).await? {
        social::Relation::BlockedBy => Relation::BlockedYou,
        social::Relation::Blocking => Relation::YouBlocked,
        social::Relation::Friends => Relation::Friends,
        social::Relation::Strangers => Relation::NotFriends,
    })
}

pub use social::has_blocked as is_blocked;

pub async fn is_premium(conn: &mut PgConnection, user: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM premium_users WHERE user_id = $1)")
        .bind(user)
        .fetch_one(conn)
        .await
}

pub use social::is_verified_merchant as is_merchant;

const CIRCLE: &str = "c.circle_id, c.owner_id, c.name, c.kind, c.topic, c.approval_required, c.dissolved, c.members, \
                      c.member_cap, c.created_at AS circle_created_at, COALESCE(m.role, '') AS my_role, \
                      COALESCE(m.muted, false) AS muted";

pub async fn circle(pool: &PgPool, circle: Uuid, viewer: Uuid) -> Result<Option<CircleRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CIRCLE} FROM circles c \
         LEFT JOIN memberships m ON m.circle_id = c.circle_id AND m.user_id = $2 AND m.status = 'member' \
         WHERE c.circle_id = $1"
    )))
    .bind(circle)
    .bind(viewer)
    .fetch_optional(pool)
    .await
}

/// The circles `$1` is a member of (not dissolved), by circle id, after the circle `$2`, at most
/// `$3`, each with its place (`ord`, from 1). One range of `memberships_by_user`.
fn my_circles_sql() -> String {
    format!(
        "SELECT {CIRCLE}, row_number() OVER (ORDER BY m.circle_id) AS ord \
         FROM memberships m JOIN circles c ON c.circle_id = m.circle_id \
         WHERE m.user_id = $1 AND m.status = 'member' AND NOT c.dissolved \
           AND ($2::uuid IS NULL OR m.circle_id > $2) \
         ORDER BY m.circle_id LIMIT $3"
    )
}

/// The circles `user` is a member of (not dissolved), by circle id.
pub async fn my_circles(
    pool: &PgPool,
    user: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CircleRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(my_circles_sql())).bind(user).bind(after).bind(limit).fetch_all(pool).await
}

/// A circle of [`my_circles_with_posts`] and one of its posts: a circle has a row per post,
/// newest first, or one row with no post.
#[derive(Clone, Debug)]
pub struct CirclePostRow {
    pub circle: CircleRow,
    pub post: Option<ItemRow>,
}

impl<'r> FromRow<'r, PgRow> for CirclePostRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let post = match row.try_get::<Option<Uuid>, _>("id")? {
            Some(_) => Some(ItemRow::from_row(row)?),
            None => None,
        };
        Ok(Self { circle: CircleRow::from_row(row)?, post })
    }
}

/// [`my_circles`], and the newest posts (at most `per_circle` each) of the first `with_posts`
/// of those circles, in one statement: circles in order, each one's posts newest first. One
/// `posts_newest` range per circle with posts.
pub async fn my_circles_with_posts(
    pool: &PgPool,
    user: Uuid,
    after: Option<Uuid>,
    limit: i64,
    with_posts: i64,
    per_circle: i64,
) -> Result<Vec<CirclePostRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH mine AS ({}) \
         SELECT mine.*, p.post_id AS id, p.circle_id AS parent_id, p.author_id, p.text, p.card_kind, p.card_id, \
                p.created_at, '' AS source_name, {} \
         FROM mine LEFT JOIN LATERAL (SELECT * FROM posts WHERE circle_id = mine.circle_id AND mine.ord <= $4 \
                                        AND mine.my_role <> '' \
                                      ORDER BY created_at DESC, post_id DESC LIMIT $5) p ON true {} \
         ORDER BY mine.ord, p.created_at DESC, p.post_id DESC",
        my_circles_sql(),
        live_columns("p"),
        live_joins("p")
    )))
    .bind(user)
    .bind(after)
    .bind(limit)
    .bind(with_posts)
    .bind(per_circle)
    .fetch_all(pool)
    .await
}

pub async fn membership(pool: &PgPool, circle: Uuid, user: Uuid) -> Result<Option<MembershipRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM memberships WHERE circle_id = $1 AND user_id = $2")
        .bind(circle)
        .bind(user)
        .fetch_optional(pool)
        .await
}

/// People of `circle` in `status`, by user id.
pub async fn members(
    pool: &PgPool,
    circle: Uuid,
    status: &str,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<MembershipRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM memberships WHERE circle_id = $1 AND status = $2 AND ($3::uuid IS NULL OR user_id > $3) \
         ORDER BY user_id LIMIT $4",
    )
    .bind(circle)
    .bind(status)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Posts of a circle, newest first, before the cursor.
pub async fn posts(
    pool: &PgPool,
    circle: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    let (at, id) = before.unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.post_id AS id, p.circle_id AS parent_id, p.author_id, p.text, p.card_kind, p.card_id, p.created_at, \
                '' AS source_name, {} \
         FROM posts p {} \
         WHERE p.circle_id = $1 AND ($2::timestamptz IS NULL OR (p.created_at, p.post_id) < ($2, $3)) \
         ORDER BY p.created_at DESC, p.post_id DESC LIMIT $4",
        live_columns("p"),
        live_joins("p")
    )))
    .bind(circle)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A user's timeline, newest first: one range of the timeline's primary key, each row joined
/// to its moment. Moments of people no longer friends are left out.
pub async fn timeline(
    pool: &PgPool,
    user: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    let (at, id) = before.unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT mo.moment_id AS id, mo.author_id AS parent_id, mo.author_id, mo.text, mo.card_kind, mo.card_id, \
                t.created_at, '' AS source_name, {} \
         FROM public.timeline t JOIN moments mo ON mo.moment_id = t.moment_id {} \
         WHERE t.owner_id = $1 AND ($2::timestamptz IS NULL OR (t.created_at, t.moment_id) < ($2, $3)) \
           AND (t.author_id = $1 OR EXISTS (SELECT 1 FROM public.friends f WHERE f.user_id = $1 AND f.friend_id = t.author_id)) \
         ORDER BY t.created_at DESC, t.moment_id DESC LIMIT $4",
        live_columns("mo"),
        live_joins("mo")
    )))
    .bind(user)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A user's inbox of broadcasts, newest first.
pub async fn inbox(
    pool: &PgPool,
    user: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    let (at, id) = before.unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT b.broadcast_id AS id, b.account_id AS parent_id, a.owner_id AS author_id, b.text, b.card_kind, b.card_id, \
                i.created_at, a.name AS source_name, {} \
         FROM public.inbox i JOIN broadcasts b ON b.broadcast_id = i.broadcast_id \
         JOIN public_accounts a ON a.account_id = b.account_id {} \
         WHERE i.owner_id = $1 AND ($2::timestamptz IS NULL OR (i.created_at, i.broadcast_id) < ($2, $3)) \
         ORDER BY i.created_at DESC, i.broadcast_id DESC LIMIT $4",
        live_columns("b"),
        live_joins("b")
    )))
    .bind(user)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn account(pool: &PgPool, account: Uuid) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as("SELECT account_id, owner_id, name, description, followers, created_at FROM public_accounts WHERE account_id = $1")
        .bind(account)
        .fetch_optional(pool)
        .await
}

pub async fn account_of_owner(pool: &PgPool, owner: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT account_id FROM public_accounts WHERE owner_id = $1")
        .bind(owner)
        .fetch_optional(pool)
        .await
}

pub async fn broadcasts_in_month(pool: &PgPool, account: Uuid, month: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM broadcasts WHERE account_id = $1 AND month = $2")
        .bind(account)
        .bind(month)
        .fetch_one(pool)
        .await
}
