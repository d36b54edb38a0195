//! Live deal cards: what a shared campaign, team, bill or collection looks like now, kept from
//! the group-buy (`tuan.groupbuy.v1`) and payments (`tuan.payments.v1`) events by
//! `crate::consumers::CardsFeed` with the statements here, in `public` tables (a projection
//! rebuild must not drop them):
//!
//! - `card_campaigns`: title, prices, stock and status. Stock taken is counted from the
//!   `join` streams (`JoinRequested` takes a unit, `JoinStockReturned` gives it back), which
//!   may arrive before the campaign's own `CampaignLaunched` (other partition): they then
//!   leave a row without a status, shown only once the launch arrives.
//! - `card_joins`: one row per join, so a unit is counted (and returned) once per join.
//! - `card_teams`: size, members (the leader included) and status of a team.
//! - `card_bills`, `card_collections`: a recorded AA bill, and the collection of its parts.
//!
//! Every write is idempotent on its own, besides the consumer's processed-event record:
//! a row remembers the stream version of the last event applied to it, and an event whose
//! version is not newer changes nothing (so a repeat, even under a new event id, cannot count
//! a member twice). Events of one stream arrive in order (the topic is keyed by stream id).
//!
//! Reads join these tables to a page of items by primary key (see `queries::live_joins`), in
//! the list query itself. A card whose source has not arrived (or never will, e.g. a made-up
//! id) matches no row, and the API shows no live view for it.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tuan_messaging::{HandlerError, envelope::uuid_field};
use tuan_proto::{groupbuy::v1 as gb, payments::v1 as pay};
use uuid::Uuid;

use crate::domain::card::{CampaignStatus, CollectionStatus, TeamStatus};

const CARD_SCHEMA: &str = r#"
-- status is NULL until CampaignLaunched arrives (joins may be counted before it).
CREATE TABLE IF NOT EXISTS public.card_campaigns (
    campaign_id UUID PRIMARY KEY,
    title       TEXT,
    list_price  TEXT,
    group_price TEXT,
    currency    TEXT,
    stock       BIGINT NOT NULL DEFAULT 0,
    units_taken BIGINT NOT NULL DEFAULT 0,
    status      TEXT,
    version     BIGINT NOT NULL DEFAULT 0,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS public.card_joins (
    join_id     UUID PRIMARY KEY,
    campaign_id UUID NOT NULL,
    returned    BOOLEAN NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS public.card_teams (
    team_id     UUID PRIMARY KEY,
    campaign_id UUID NOT NULL,
    leader_id   UUID NOT NULL,
    team_size   BIGINT NOT NULL,
    members     BIGINT NOT NULL,
    status      TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS public.card_bills (
    bill_id      UUID PRIMARY KEY,
    title        TEXT NOT NULL,
    total        TEXT NOT NULL,
    currency     TEXT NOT NULL,
    participants BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS public.card_collections (
    collection_id     UUID PRIMARY KEY,
    bill_id           UUID NOT NULL,
    currency          TEXT NOT NULL,
    participant_count BIGINT NOT NULL,
    paid_count        BIGINT NOT NULL DEFAULT 0,
    status            TEXT NOT NULL,
    version           BIGINT NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
"#;

/// Creates the card tables if missing (idempotent; serialised across replicas).
pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_eventstore::install_tables(pool, CARD_SCHEMA).await
}

/// Where an event stands in its stream, and when it happened.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub version: i64,
    pub at: DateTime<Utc>,
}

/// A launched campaign's card (the row may exist already, from its joins).
pub async fn launch_campaign(
    conn: &mut PgConnection,
    e: &gb::CampaignLaunched,
    step: Step,
) -> Result<(), HandlerError> {
    sqlx::query(
        "INSERT INTO public.card_campaigns \
           (campaign_id, title, list_price, group_price, currency, stock, status, version, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (campaign_id) DO UPDATE SET title = EXCLUDED.title, list_price = EXCLUDED.list_price, \
           group_price = EXCLUDED.group_price, currency = EXCLUDED.currency, stock = EXCLUDED.stock, \
           status = EXCLUDED.status, version = EXCLUDED.version, \
           updated_at = GREATEST(card_campaigns.updated_at, EXCLUDED.updated_at) \
         WHERE card_campaigns.version < EXCLUDED.version",
    )
    .bind(uuid_field("campaign_id", &e.campaign_id)?)
    .bind(&e.title)
    .bind(&e.list_price)
    .bind(&e.group_price)
    .bind(&e.currency)
    .bind(i64::from(e.stock))
    .bind(CampaignStatus::Active.as_str())
    .bind(step.version)
    .bind(step.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A campaign paused, resumed, ended, tipped or failed to tip.
pub async fn set_campaign_status(
    conn: &mut PgConnection,
    campaign_id: &str,
    status: CampaignStatus,
    step: Step,
) -> Result<(), HandlerError> {
    advance(conn, Card::Campaign, campaign_id, &format!("status = '{}'", status.as_str()), None, step).await
}

/// A unit taken by a join.
pub async fn take_unit(conn: &mut PgConnection, e: &gb::JoinRequested, step: Step) -> Result<(), HandlerError> {
    // The unit counts once per join; the campaign row may not exist yet (other stream).
    sqlx::query(
        "WITH taken AS ( \
           INSERT INTO public.card_joins (join_id, campaign_id) VALUES ($1, $2) \
           ON CONFLICT DO NOTHING RETURNING campaign_id) \
         INSERT INTO public.card_campaigns (campaign_id, units_taken, updated_at) \
         SELECT campaign_id, 1, $3 FROM taken \
         ON CONFLICT (campaign_id) DO UPDATE SET units_taken = card_campaigns.units_taken + 1, \
           updated_at = GREATEST(card_campaigns.updated_at, EXCLUDED.updated_at)",
    )
    .bind(uuid_field("join_id", &e.join_id)?)
    .bind(uuid_field("campaign_id", &e.campaign_id)?)
    .bind(step.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A join's unit given back.
pub async fn return_unit(conn: &mut PgConnection, e: &gb::JoinStockReturned, step: Step) -> Result<(), HandlerError> {
    sqlx::query(
        "WITH back AS ( \
           UPDATE public.card_joins SET returned = true WHERE join_id = $1 AND NOT returned \
           RETURNING campaign_id) \
         UPDATE public.card_campaigns c SET units_taken = GREATEST(c.units_taken - 1, 0), \
           updated_at = GREATEST(c.updated_at, $2) \
         FROM back WHERE c.campaign_id = back.campaign_id",
    )
    .bind(uuid_field("join_id", &e.join_id)?)
    .bind(step.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A team opened by its leader.
pub async fn open_team(conn: &mut PgConnection, e: &gb::TeamOpened, step: Step) -> Result<(), HandlerError> {
    let expires_at = DateTime::from_timestamp_micros(e.expires_at_micros)
        .ok_or_else(|| HandlerError::Permanent(format!("bad expires_at_micros {}", e.expires_at_micros)))?;
    sqlx::query(
        "INSERT INTO public.card_teams \
           (team_id, campaign_id, leader_id, team_size, members, status, expires_at, version, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(uuid_field("team_id", &e.team_id)?)
    .bind(uuid_field("campaign_id", &e.campaign_id)?)
    .bind(uuid_field("leader_id", &e.leader_id)?)
    .bind(i64::from(e.team_size))
    .bind(TeamStatus::Pending.as_str())
    .bind(expires_at)
    .bind(step.version)
    .bind(step.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A member joined the team.
pub async fn add_team_member(conn: &mut PgConnection, team_id: &str, step: Step) -> Result<(), HandlerError> {
    advance(conn, Card::Team, team_id, "members = members + 1", None, step).await
}

/// A member left the team or was dropped from it.
pub async fn remove_team_member(conn: &mut PgConnection, team_id: &str, step: Step) -> Result<(), HandlerError> {
    advance(conn, Card::Team, team_id, "members = GREATEST(members - 1, 0)", None, step).await
}

/// A member's hold was placed.
pub async fn confirm_team_member(
    conn: &mut PgConnection,
    e: &gb::TeamMemberConfirmed,
    step: Step,
) -> Result<(), HandlerError> {
    // The leader's hold makes the team joinable.
    let set = format!(
        "status = CASE WHEN status = '{}' AND leader_id = $4 THEN '{}' ELSE status END",
        TeamStatus::Pending.as_str(),
        TeamStatus::Open.as_str()
    );
    advance(conn, Card::Team, &e.team_id, &set, Some(uuid_field("user_id", &e.user_id)?), step).await?;
    Ok(())
}

/// The team has a new leader.
pub async fn change_team_leader(
    conn: &mut PgConnection,
    e: &gb::TeamLeaderChanged,
    step: Step,
) -> Result<(), HandlerError> {
    advance(conn, Card::Team, &e.team_id, "leader_id = $4", Some(uuid_field("leader_id", &e.leader_id)?), step).await?;
    Ok(())
}

/// A team completed, expired or failed.
pub async fn set_team_status(
    conn: &mut PgConnection,
    team_id: &str,
    status: TeamStatus,
    step: Step,
) -> Result<(), HandlerError> {
    advance(conn, Card::Team, team_id, &format!("status = '{}'", status.as_str()), None, step).await
}

/// A recorded AA bill.
pub async fn record_bill(conn: &mut PgConnection, e: &pay::BillRecorded, step: Step) -> Result<(), HandlerError> {
    let mut people: Vec<&str> = e.parts.iter().map(|p| p.user_id.as_str()).collect();
    people.sort_unstable();
    people.dedup();
    sqlx::query(
        "INSERT INTO public.card_bills (bill_id, title, total, currency, participants, version, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(uuid_field("bill_id", &e.bill_id)?)
    .bind(&e.title)
    .bind(&e.total)
    .bind(&e.currency)
    .bind(people.len() as i64)
    .bind(step.version)
    .bind(step.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A bill's collection opened.
pub async fn open_collection(
    conn: &mut PgConnection,
    e: &pay::CollectionOpened,
    step: Step,
) -> Result<(), HandlerError> {
    sqlx::query(
        "INSERT INTO public.card_collections \
           (collection_id, bill_id, currency, participant_count, status, version, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(uuid_field("collection_id", &e.collection_id)?)
    .bind(uuid_field("bill_id", &e.bill_id)?)
    .bind(&e.currency)
    .bind(e.requested.len() as i64)
    .bind(CollectionStatus::Open.as_str())
    .bind(step.version)
    .bind(step.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A participant paid their part (payments accepts one payment per participant).
pub async fn count_collection_payment(
    conn: &mut PgConnection,
    collection_id: &str,
    step: Step,
) -> Result<(), HandlerError> {
    advance(conn, Card::Collection, collection_id, "paid_count = paid_count + 1", None, step).await
}

/// A collection closed.
pub async fn close_collection(conn: &mut PgConnection, collection_id: &str, step: Step) -> Result<(), HandlerError> {
    let set = format!("status = '{}'", CollectionStatus::Closed.as_str());
    advance(conn, Card::Collection, collection_id, &set, None, step).await
}

/// The card tables whose rows follow one stream each.
#[derive(Clone, Copy)]
enum Card {
    Campaign,
    Team,
    Collection,
}

impl Card {
    fn table_and_key(self) -> (&'static str, &'static str) {
        match self {
            Self::Campaign => ("public.card_campaigns", "campaign_id"),
            Self::Team => ("public.card_teams", "team_id"),
            Self::Collection => ("public.card_collections", "collection_id"),
        }
    }
}

/// Applies `set` (an SQL assignment list from this module, which may use `$4` = `arg`) to the
/// card's row if the event is newer than the last one applied to it. Nothing happens for a
/// row that does not exist (its opening event must come first in the same stream).
async fn advance(
    conn: &mut PgConnection,
    card: Card,
    id: &str,
    set: &str,
    arg: Option<Uuid>,
    step: Step,
) -> Result<(), HandlerError> {
    let (table, key) = card.table_and_key();
    let sql = format!(
        "UPDATE {table} SET {set}, version = $2, updated_at = GREATEST(updated_at, $3) \
         WHERE {key} = $1 AND version < $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(uuid_field(key, id)?)
        .bind(step.version)
        .bind(step.at)
        .bind(arg)
        .execute(conn)
        .await?
        .rows_affected();
    if rows == 0 {
        tracing::debug!(table, %id, version = step.version, "card event skipped (already applied or no row)");
    }
    Ok(())
}
