//! Reads over the group-buy read models. States come out as the domain's enums (see
//! `columns`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{FromRow, PgConnection, PgPool};
use tuan_host::admin::StuckQuery;
use uuid::Uuid;

use crate::domain::{
    campaign::{CampaignStatus, ModeKind, Tipping},
    join::JoinStatus,
    team::{MemberStatus, TeamStatus},
};

#[derive(Clone, Debug, FromRow)]
pub struct CampaignRow {
    pub campaign_id: Uuid,
    pub merchant_id: Uuid,
    pub title: String,
    pub description: String,
    pub list_price: Decimal,
    pub group_price: Decimal,
    pub leader_discount: Decimal,
    pub currency: String,
    pub stock: i32,
    pub per_user_limit: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub mode: ModeKind,
    pub team_size: i32,
    pub team_window_secs: i64,
    pub min_buyers: i32,
    pub status: CampaignStatus,
    pub tipping: Tipping,
    pub confirmed_buyers: i32,
    pub version: i64,
    pub stock_left: i64,
}

/// What campaign `c`'s stock buckets add up to, as `s.stock_left` and `s.confirmed_buyers`
/// (a macro so that `concat!` can build the statements that use it).
macro_rules! bucket_totals {
    () => {
        "CROSS JOIN LATERAL (SELECT COALESCE(sum(remaining), 0)::int8 AS stock_left, \
         COALESCE(sum(confirmed), 0)::int4 AS confirmed_buyers \
         FROM campaign_stock WHERE campaign_stock.campaign_id = c.campaign_id) s"
    };
}

/// A campaign with its bucket totals (`c` and `s`; add `WHERE`, `ORDER BY`).
const CAMPAIGN: &str = concat!("SELECT c.*, s.stock_left, s.confirmed_buyers FROM campaigns c ", bucket_totals!());

pub async fn campaign(conn: &mut PgConnection, id: Uuid) -> Result<Option<CampaignRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{CAMPAIGN} WHERE c.campaign_id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The campaigns `campaigns` names and those of the teams `teams` names, those that exist (in
/// no particular order). One primary-key lookup each: the teams' campaign ids are gathered
/// first (an InitPlan), so the campaigns are found by `= ANY` on their key.
pub async fn campaigns_with_teams(
    pool: &PgPool,
    campaigns: &[Uuid],
    teams: &[Uuid],
) -> Result<Vec<CampaignRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CAMPAIGN} WHERE c.campaign_id = ANY ($1::uuid[] || ARRAY(SELECT campaign_id FROM teams WHERE team_id = ANY ($2)))"
    )))
    .bind(campaigns)
    .bind(teams)
    .fetch_all(pool)
    .await
}

pub async fn active_campaigns(pool: &PgPool, after: Option<Uuid>, limit: i64) -> Result<Vec<CampaignRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CAMPAIGN} WHERE c.status = 'active' AND c.ends_at > now() AND c.campaign_id > $1 \
         ORDER BY c.campaign_id LIMIT $2"
    )))
    .bind(after.unwrap_or_default())
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// `merchant`'s campaigns in every status, newest first (ids are UUIDv7), after the cursor's.
pub async fn campaigns_of_merchant(
    pool: &PgPool,
    merchant: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CampaignRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CAMPAIGN} WHERE c.merchant_id = $1 AND c.campaign_id < $2 ORDER BY c.campaign_id DESC LIMIT $3"
    )))
    .bind(merchant)
    .bind(after.unwrap_or(Uuid::max()))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// What a join needs to know about its campaign, and how many units the buyer already holds.
#[derive(Clone, Debug, FromRow)]
pub struct JoinTarget {
    pub merchant_id: Uuid,
    pub group_price: Decimal,
    pub leader_discount: Decimal,
    pub currency: String,
    pub per_user_limit: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub mode: ModeKind,
    pub team_size: i32,
    pub team_window_secs: i64,
    pub status: CampaignStatus,
    pub tipping: Tipping,
    pub units: i32,
}

pub async fn join_target(
    conn: &mut PgConnection,
    campaign: Uuid,
    user: Uuid,
) -> Result<Option<JoinTarget>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.merchant_id, c.group_price, c.leader_discount, c.currency, c.per_user_limit, c.starts_at, c.ends_at, \
         c.mode, c.team_size, c.team_window_secs, c.status, c.tipping, COALESCE(b.units, 0) AS units \
         FROM campaigns c LEFT JOIN campaign_buyers b ON b.campaign_id = c.campaign_id AND b.user_id = $2 \
         WHERE c.campaign_id = $1",
    )
    .bind(campaign)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// The status of the campaign of `team`; None when there is no such team.
pub async fn campaign_status_of_team(
    conn: &mut PgConnection,
    team: Uuid,
) -> Result<Option<CampaignStatus>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.status FROM campaigns c JOIN teams t ON t.campaign_id = c.campaign_id WHERE t.team_id = $1",
    )
    .bind(team)
    .fetch_optional(conn)
    .await
}

pub async fn stock_left(conn: &mut PgConnection, campaign: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(sum(remaining), 0)::int8 FROM campaign_stock WHERE campaign_id = $1")
        .bind(campaign)
        .fetch_one(conn)
        .await
}

#[derive(Clone, Debug, FromRow)]
pub struct TeamRow {
    pub team_id: Uuid,
    pub campaign_id: Uuid,
    pub leader_id: Uuid,
    pub status: TeamStatus,
    pub team_size: i32,
    pub members: i32,
    pub confirmed: i32,
    pub expires_at: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
    pub reason: String,
    pub version: i64,
}

#[derive(Clone, Debug, FromRow)]
pub struct MemberRow {
    pub team_id: Uuid,
    pub join_id: Uuid,
    pub user_id: Uuid,
    pub status: MemberStatus,
    pub joined_at: DateTime<Utc>,
}

pub async fn team(pool: &PgPool, id: Uuid) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM teams WHERE team_id = $1").bind(id).fetch_optional(pool).await
}

/// Active members (pending or confirmed) of `teams`, in joining order.
pub async fn members(pool: &PgPool, teams: &[Uuid]) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT team_id, join_id, user_id, status, joined_at FROM team_members \
         WHERE team_id = ANY($1) AND status IN ('pending', 'confirmed') ORDER BY team_id, position",
    )
    .bind(teams)
    .fetch_all(pool)
    .await
}

pub async fn teams_of_user(
    pool: &PgPool,
    user: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<TeamRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.* FROM teams t WHERE t.team_id IN (SELECT team_id FROM team_members WHERE user_id = $1) \
         AND t.team_id < $2 ORDER BY t.team_id DESC LIMIT $3",
    )
    .bind(user)
    .bind(after.unwrap_or(Uuid::max()))
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn teams_of_campaign(
    pool: &PgPool,
    campaign: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<TeamRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM teams WHERE campaign_id = $1 AND team_id > $2 ORDER BY team_id LIMIT $3")
        .bind(campaign)
        .bind(after.unwrap_or_default())
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// One team of [`open_teams`] with one of its active members (pending or confirmed): a team
/// has a row per member, in joining order, or one row with no member.
#[derive(Clone, Debug, FromRow)]
pub struct OpenTeamRow {
    /// Asked for by id (else a filling team of a campaign).
    pub by_id: bool,
    #[sqlx(flatten)]
    pub team: TeamRow,
    pub join_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub member_status: Option<MemberStatus>,
    pub joined_at: Option<DateTime<Utc>>,
}

impl OpenTeamRow {
    /// The member on this row, if the team has any.
    pub fn member(&self) -> Option<MemberRow> {
        Some(MemberRow {
            team_id: self.team.team_id,
            join_id: self.join_id?,
            user_id: self.user_id?,
            status: self.member_status?,
            joined_at: self.joined_at?,
        })
    }
}

/// In one statement: the teams `teams` names that exist (any status), in the order asked;
/// then the filling (pending or open) teams, at most `per_campaign` of each, of `campaigns`
/// and then of the asked teams' campaigns (in the order of the first team of each), each
/// campaign's oldest first; every team with its active members in joining order. `teams` and
/// `campaigns` hold no duplicates. One primary-key lookup per asked team, one `teams_filling`
/// range per campaign and one `team_members` range per team.
pub async fn open_teams(
    pool: &PgPool,
    campaigns: &[Uuid],
    teams: &[Uuid],
    per_campaign: i64,
) -> Result<Vec<OpenTeamRow>, sqlx::Error> {
    sqlx::query_as(
        "WITH asked AS ( \
             SELECT t.*, a.ord FROM unnest($2::uuid[]) WITH ORDINALITY AS a (id, ord) JOIN teams t ON t.team_id = a.id \
         ), campaign_ids AS ( \
             SELECT id, ord FROM unnest($1::uuid[]) WITH ORDINALITY AS c (id, ord) \
             UNION ALL \
             SELECT campaign_id, cardinality($1::uuid[]) + min(ord) FROM asked \
             WHERE campaign_id <> ALL ($1::uuid[]) GROUP BY campaign_id \
         ), found AS ( \
             SELECT true AS by_id, * FROM asked \
             UNION ALL \
             SELECT false, t.*, c.ord FROM campaign_ids c \
             CROSS JOIN LATERAL (SELECT * FROM teams WHERE campaign_id = c.id AND status IN ('pending', 'open') \
                                 ORDER BY opened_at, team_id LIMIT $3) t \
         ) \
         SELECT f.*, m.join_id, m.user_id, m.status AS member_status, m.joined_at FROM found f \
         LEFT JOIN team_members m ON m.team_id = f.team_id AND m.status IN ('pending', 'confirmed') \
         ORDER BY f.by_id DESC, f.ord, f.opened_at, f.team_id, m.position",
    )
    .bind(campaigns)
    .bind(teams)
    .bind(per_campaign)
    .fetch_all(pool)
    .await
}

/// Live teams of a campaign (to expire them when it ends).
pub async fn live_teams(conn: &mut PgConnection, campaign: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT team_id FROM teams WHERE campaign_id = $1 AND status IN ('pending', 'open')")
        .bind(campaign)
        .fetch_all(conn)
        .await
}

#[derive(Clone, Debug, FromRow)]
pub struct JoinRow {
    pub join_id: Uuid,
    pub campaign_id: Uuid,
    pub team_id: Option<Uuid>,
    pub user_id: Uuid,
    pub amount: Decimal,
    pub currency: String,
    pub status: JoinStatus,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

pub async fn join(pool: &PgPool, id: Uuid) -> Result<Option<JoinRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT join_id, campaign_id, team_id, user_id, amount, currency, status, reason, created_at FROM joins WHERE join_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Joins of a campaign in the given states.
pub async fn joins_in(
    conn: &mut PgConnection,
    campaign: Uuid,
    states: &[JoinStatus],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let states: Vec<&str> = states.iter().map(|s| s.name()).collect();
    sqlx::query_scalar("SELECT join_id FROM joins WHERE campaign_id = $1 AND status = ANY($2) ORDER BY join_id")
        .bind(campaign)
        .bind(states)
        .fetch_all(conn)
        .await
}

#[derive(Clone, Debug, FromRow)]
pub struct StatsRow {
    pub teams_opened: i64,
    pub teams_completed: i64,
    pub teams_failed: i64,
    pub buyers: i64,
    pub units_sold: i64,
    pub units_pending: i64,
    pub revenue: Decimal,
}

pub async fn stats(pool: &PgPool, campaign: Uuid) -> Result<StatsRow, sqlx::Error> {
    sqlx::query_as(
        "SELECT \
           (SELECT count(*) FROM teams WHERE campaign_id = $1) AS teams_opened, \
           (SELECT count(*) FROM teams WHERE campaign_id = $1 AND status = 'completed') AS teams_completed, \
           (SELECT count(*) FROM teams WHERE campaign_id = $1 AND status IN ('expired', 'failed')) AS teams_failed, \
           count(DISTINCT user_id) FILTER (WHERE status = 'captured') AS buyers, \
           count(*) FILTER (WHERE status = 'captured') AS units_sold, \
           count(*) FILTER (WHERE status IN ('pending', 'confirmed', 'capturing')) AS units_pending, \
           COALESCE(sum(amount) FILTER (WHERE status = 'captured'), 0) AS revenue \
         FROM joins WHERE campaign_id = $1",
    )
    .bind(campaign)
    .fetch_one(pool)
    .await
}

/// How many joins (every one that took a unit; refused holds left out) were made in each
/// `bucket_micros` wide bucket from `from`, as (bucket index, joins), the empty ones left out.
pub async fn join_history(
    pool: &PgPool,
    campaign: Uuid,
    from: DateTime<Utc>,
    bucket_micros: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT floor(extract(epoch FROM created_at - $2) * 1000000 / $3)::int8 AS bucket, count(*) \
         FROM joins WHERE campaign_id = $1 AND status <> 'failed' GROUP BY 1 ORDER BY 1",
    )
    .bind(campaign)
    .bind(from)
    .bind(bucket_micros as f64)
    .fetch_all(pool)
    .await
}

/// Campaign-level progress for watchers.
#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct CampaignProgressRow {
    pub status: CampaignStatus,
    pub tipping: Tipping,
    pub confirmed_buyers: i32,
    pub min_buyers: i32,
    pub ends_at: DateTime<Utc>,
    pub version: i64,
    pub stock_left: i64,
    pub teams_open: i64,
}

/// The projection version of each of `teams` that exists: it moves with every team event.
pub async fn team_versions(pool: &PgPool, teams: &[Uuid]) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT team_id, version FROM teams WHERE team_id = ANY($1)").bind(teams).fetch_all(pool).await
}

pub async fn campaign_progress(pool: &PgPool, campaign: Uuid) -> Result<Option<CampaignProgressRow>, sqlx::Error> {
    sqlx::query_as(
        concat!(
            "SELECT c.status, c.tipping, s.confirmed_buyers, c.min_buyers, c.ends_at, c.version, s.stock_left, \
             (SELECT count(*) FROM teams t WHERE t.campaign_id = c.campaign_id AND t.status IN ('pending', 'open')) AS teams_open \
             FROM campaigns c ",
            bucket_totals!(),
            " WHERE c.campaign_id = $1"
        ),
    )
    .bind(campaign)
    .fetch_optional(pool)
    .await
}

/// How many rows of `table` (`joins` or `teams`) are in each status.
pub async fn status_counts(pool: &PgPool, table: SagaTable) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let sql = match table {
        SagaTable::Joins => "SELECT status, count(*) FROM joins GROUP BY status",
        SagaTable::Teams => "SELECT status, count(*) FROM teams GROUP BY status",
    };
    sqlx::query_as(sql).fetch_all(pool).await
}

/// The tables whose rows are sagas.
#[derive(Clone, Copy, Debug)]
pub enum SagaTable {
    Joins,
    Teams,
}

/// Seconds the oldest join has waited for the payments service (a hold to be placed,
/// captured or released); 0 when none waits.
pub async fn oldest_waiting_join_secs(pool: &PgPool) -> Result<f64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(updated_at))::float8, 0) FROM joins \
         WHERE status IN ('pending', 'capturing', 'releasing')",
    )
    .fetch_one(pool)
    .await
}

/// Seconds the most overdue unfinished team is past its deadline (the deadline scanner should
/// have failed it); 0 when none is overdue.
pub async fn most_overdue_team_secs(pool: &PgPool) -> Result<f64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(expires_at))::float8, 0) FROM teams \
         WHERE status IN ('pending', 'open') AND expires_at < now()",
    )
    .fetch_one(pool)
    .await
}

/// Sagas the admin API reports when they have not moved for a while (see `tuan_host::admin`):
/// joins waiting on payments, and unfinished teams past their deadline.
pub const STUCK_SAGAS: [StuckQuery; 2] = [
    StuckQuery {
        kind: "join",
        sql: "SELECT j.join_id::text AS id, j.status AS state, \
              EXTRACT(EPOCH FROM now() - j.updated_at)::float8 AS age_seconds, \
              (SELECT e.event_type FROM public.events e WHERE e.stream_type = 'join' \
               AND e.stream_id = j.join_id::text ORDER BY e.version DESC LIMIT 1) AS last_step, \
              'campaign ' || j.campaign_id || ', buyer ' || j.user_id || ', ' || j.amount || ' ' || j.currency AS detail \
              FROM joins j WHERE j.status IN ('pending', 'capturing', 'releasing') \
              AND j.updated_at < now() - make_interval(secs => $1) ORDER BY j.updated_at LIMIT $2",
    },
    StuckQuery {
        kind: "team",
        sql: "SELECT t.team_id::text AS id, t.status AS state, \
              EXTRACT(EPOCH FROM now() - t.expires_at)::float8 AS age_seconds, \
              (SELECT e.event_type FROM public.events e WHERE e.stream_type = 'team' \
               AND e.stream_id = t.team_id::text ORDER BY e.version DESC LIMIT 1) AS last_step, \
              'campaign ' || t.campaign_id || ', ' || t.members || '/' || t.team_size || ' members, overdue since ' \
              || t.expires_at AS detail \
              FROM teams t WHERE t.status IN ('pending', 'open') \
              AND t.expires_at < now() - make_interval(secs => $1) ORDER BY t.expires_at LIMIT $2",
    },
];
