//! Read models of the group-buy service, kept inline with every append and rebuildable.
//!
//! Stock lives here too: `campaign_stock` rows (one per bucket) are created by
//! `CampaignLaunched`, decremented by `JoinRequested` and incremented by `JoinStockReturned`;
//! the CHECK constraints are the last line against overselling and per-user overbuying (the
//! join transaction locks its bucket row first, see `app::joins`). Watchers of live progress learn of
//! changes by polling (`app::progress`), not from notifications sent here: a `pg_notify` in
//! these transactions took a database-wide lock through each commit's WAL flush, which
//! capped every notifying transaction of the service together at ~2,200/s.

use futures::{FutureExt, future::BoxFuture};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use tuan_eventstore::{Aggregate, Projection, RecordedEvent, StoreError, decode_event, stored_uuid};
use uuid::Uuid;

use crate::domain::{
    campaign::{Campaign, CampaignEvent},
    join::{Join, JoinEvent},
    team::{Team, TeamEvent},
};

pub const STOCK_CHECK: &str = "campaign_stock_not_negative";
pub const LIMIT_CHECK: &str = "campaign_buyers_within_limit";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id      UUID PRIMARY KEY,
    merchant_id      UUID NOT NULL,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL,
    list_price       NUMERIC NOT NULL,
    group_price      NUMERIC NOT NULL,
    leader_discount  NUMERIC NOT NULL,
    currency         TEXT NOT NULL,
    stock            INT NOT NULL,
    per_user_limit   INT NOT NULL,
    starts_at        TIMESTAMPTZ NOT NULL,
    ends_at          TIMESTAMPTZ NOT NULL,
    mode             TEXT NOT NULL,
    team_size        INT NOT NULL,
    team_window_secs BIGINT NOT NULL,
    min_buyers       INT NOT NULL,
    status           TEXT NOT NULL,
    tipping          TEXT NOT NULL,
    version          BIGINT NOT NULL,
    launched_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS campaigns_active ON campaigns (campaign_id) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS campaigns_of_merchant ON campaigns (merchant_id, campaign_id);

CREATE TABLE IF NOT EXISTS campaign_stock (
    campaign_id UUID NOT NULL,
    bucket      INT NOT NULL,
    remaining   INT NOT NULL,
    -- Buyers whose hold is placed and who were not let go, counted in their unit's bucket:
    -- the saga steps of one campaign run side by side, and one counter on the campaign row
    -- made them queue on that row.
    confirmed   INT NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, bucket),
    CONSTRAINT campaign_stock_not_negative CHECK (remaining >= 0)
);
-- Schemas from before the confirmed count moved to the buckets: count it from the joins once.
ALTER TABLE campaign_stock ADD COLUMN IF NOT EXISTS confirmed INT NOT NULL DEFAULT 0;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
               AND table_name = 'campaigns' AND column_name = 'confirmed_buyers') THEN
        UPDATE campaign_stock s SET confirmed = j.n
        FROM (SELECT campaign_id, bucket, count(*)::int AS n FROM joins
              WHERE status IN ('confirmed', 'capturing', 'captured') GROUP BY campaign_id, bucket) j
        WHERE s.campaign_id = j.campaign_id AND s.bucket = j.bucket;
        ALTER TABLE campaigns DROP COLUMN confirmed_buyers;
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS campaign_buyers (
    campaign_id UUID NOT NULL,
    user_id     UUID NOT NULL,
    units       INT NOT NULL,
    max_units   INT NOT NULL,
    PRIMARY KEY (campaign_id, user_id),
    CONSTRAINT campaign_buyers_within_limit CHECK (units >= 0 AND units <= max_units)
);

CREATE TABLE IF NOT EXISTS teams (
    team_id     UUID PRIMARY KEY,
    campaign_id UUID NOT NULL,
    leader_id   UUID NOT NULL,
    status      TEXT NOT NULL,
    team_size   INT NOT NULL,
    members     INT NOT NULL,
    confirmed   INT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    opened_at   TIMESTAMPTZ NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS teams_of_campaign ON teams (campaign_id, team_id);
CREATE INDEX IF NOT EXISTS teams_filling ON teams (campaign_id, opened_at, team_id) WHERE status IN ('pending', 'open');

CREATE TABLE IF NOT EXISTS team_members (
    team_id   UUID NOT NULL,
    join_id   UUID NOT NULL,
    user_id   UUID NOT NULL,
    status    TEXT NOT NULL,
    position  BIGINT NOT NULL,
    joined_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (team_id, join_id)
);
CREATE INDEX IF NOT EXISTS team_members_of_user ON team_members (user_id, team_id);

CREATE TABLE IF NOT EXISTS joins (
    join_id     UUID PRIMARY KEY,
    campaign_id UUID NOT NULL,
    team_id     UUID,
    user_id     UUID NOT NULL,
    amount      NUMERIC NOT NULL,
    currency    TEXT NOT NULL,
    bucket      INT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS joins_of_campaign ON joins (campaign_id, status);
"#;

/// Campaigns, stock, buyers, teams, members and joins.
pub struct GroupBuyProjection;

impl Projection for GroupBuyProjection {
    fn name(&self) -> &'static str {
        "groupbuy"
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
            match event.stream_type.as_str() {
                Campaign::STREAM_TYPE => apply_campaign(conn, decode_event(event)?, event).await,
                Team::STREAM_TYPE => apply_team(conn, decode_event(event)?, event).await,
                Join::STREAM_TYPE => apply_join(conn, decode_event(event)?, event).await,
                _ => Ok(()),
            }
        }
        .boxed()
    }
}

fn decimal(s: &str) -> Result<Decimal, StoreError> {
    if s.is_empty() {
        return Ok(Decimal::ZERO);
    }
    s.parse().map_err(|e| StoreError::Decode(format!("bad amount {s:?}: {e}")))
}

fn micros(m: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(m).unwrap_or_default()
}

async fn apply_campaign(conn: &mut PgConnection, event: CampaignEvent, rec: &RecordedEvent) -> Result<(), StoreError> {
    let id = stored_uuid(&rec.stream_id)?;
    let version = rec.version as i64;
    let set = |column: &'static str| {
        move |value: &'static str| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE campaigns SET {column} = $2, version = $3 WHERE campaign_id = $1"
            )))
            .bind(id)
            .bind(value)
            .bind(version)
        }
    };
    match event {
        CampaignEvent::Launched(e) => {
            sqlx::query(
                "INSERT INTO campaigns (campaign_id, merchant_id, title, description, list_price, group_price, \
                 leader_discount, currency, stock, per_user_limit, starts_at, ends_at, mode, team_size, \
                 team_window_secs, min_buyers, status, tipping, version, launched_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'active', $17, $18, $19)",
            )
            .bind(id)
            .bind(stored_uuid(&e.merchant_id)?)
            .bind(&e.title)
            .bind(&e.description)
            .bind(decimal(&e.list_price)?)
            .bind(decimal(&e.group_price)?)
            .bind(decimal(&e.leader_discount)?)
            .bind(&e.currency)
            .bind(e.stock as i32)
            .bind(e.per_user_limit as i32)
            .bind(micros(e.starts_at_micros))
            .bind(micros(e.ends_at_micros))
            .bind(&e.mode)
            .bind(e.team_size as i32)
            .bind(e.team_window_secs as i64)
            .bind(e.min_buyers as i32)
            .bind(if e.mode == "tipping" { "pending" } else { "none" })
            .bind(version)
            .bind(rec.occurred_at)
            .execute(&mut *conn)
            .await?;
            // Bucket b starts with stock / n, plus one of the remainder for the first buckets.
            sqlx::query(
                "INSERT INTO campaign_stock (campaign_id, bucket, remaining) \
                 SELECT $1, b, $2 / $3 + CASE WHEN b < $2 % $3 THEN 1 ELSE 0 END FROM generate_series(0, $3 - 1) AS b",
            )
            .bind(id)
            .bind(e.stock as i32)
            .bind(e.buckets.max(1) as i32)
            .execute(&mut *conn)
            .await?;
        }
        CampaignEvent::Paused(_) => {
            set("status")("paused").execute(&mut *conn).await?;
        }
        CampaignEvent::Resumed(_) => {
            set("status")("active").execute(&mut *conn).await?;
        }
        CampaignEvent::Ended(_) => {
            set("status")("ended").execute(&mut *conn).await?;
        }
        CampaignEvent::Tipped(_) => {
            set("tipping")("tipped").execute(&mut *conn).await?;
        }
        CampaignEvent::TippingFailed(_) => {
            set("tipping")("failed").execute(&mut *conn).await?;
        }
    }
    Ok(())
}

async fn apply_team(conn: &mut PgConnection, event: TeamEvent, rec: &RecordedEvent) -> Result<(), StoreError> {
    let id = stored_uuid(&rec.stream_id)?;
    let version = rec.version as i64;
    let at = rec.occurred_at;
    let status = |value: &'static str, reason: String| {
        sqlx::query("UPDATE teams SET status = $2, reason = $3, version = $4 WHERE team_id = $1")
            .bind(id)
            .bind(value)
            .bind(reason)
            .bind(version)
    };
    match event {
        TeamEvent::Opened(e) => {
            sqlx::query(
                "INSERT INTO teams (team_id, campaign_id, leader_id, status, team_size, members, confirmed, expires_at, opened_at, version) \
                 VALUES ($1, $2, $3, 'pending', $4, 1, 0, $5, $6, $7)",
            )
            .bind(id)
            .bind(stored_uuid(&e.campaign_id)?)
            .bind(stored_uuid(&e.leader_id)?)
            .bind(e.team_size as i32)
            .bind(micros(e.expires_at_micros))
            .bind(at)
            .bind(version)
            .execute(&mut *conn)
            .await?;
            insert_member(conn, id, &e.join_id, &e.leader_id, version, at).await?;
        }
        TeamEvent::MemberJoined(e) => {
            insert_member(conn, id, &e.join_id, &e.user_id, version, at).await?;
            sqlx::query("UPDATE teams SET members = members + 1, version = $2 WHERE team_id = $1")
                .bind(id)
                .bind(version)
                .execute(&mut *conn)
                .await?;
        }
        TeamEvent::MemberConfirmed(e) => {
            sqlx::query("UPDATE team_members SET status = 'confirmed' WHERE team_id = $1 AND join_id = $2")
                .bind(id)
                .bind(stored_uuid(&e.join_id)?)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "UPDATE teams SET confirmed = confirmed + 1, version = $3, \
                 status = CASE WHEN status = 'pending' AND leader_id = $2 THEN 'open' ELSE status END \
                 WHERE team_id = $1",
            )
            .bind(id)
            .bind(stored_uuid(&e.user_id)?)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        TeamEvent::MemberLeft(pb_left) => remove_member(conn, id, &pb_left.join_id, "left", version).await?,
        TeamEvent::MemberDropped(e) => remove_member(conn, id, &e.join_id, "dropped", version).await?,
        TeamEvent::LeaderChanged(e) => {
            sqlx::query("UPDATE teams SET leader_id = $2, version = $3 WHERE team_id = $1")
                .bind(id)
                .bind(stored_uuid(&e.leader_id)?)
                .bind(version)
                .execute(&mut *conn)
                .await?;
        }
        TeamEvent::Completed(_) => {
            status("completed", String::new()).execute(&mut *conn).await?;
        }
        TeamEvent::Expired(_) => {
            status("expired", "the team window ran out".into()).execute(&mut *conn).await?;
        }
        TeamEvent::Failed(e) => {
            status("failed", e.reason).execute(&mut *conn).await?;
        }
    }
    Ok(())
}

async fn insert_member(
    conn: &mut PgConnection,
    team: Uuid,
    join_id: &str,
    user_id: &str,
    position: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO team_members (team_id, join_id, user_id, status, position, joined_at) VALUES ($1, $2, $3, 'pending', $4, $5)",
    )
    .bind(team)
    .bind(stored_uuid(join_id)?)
    .bind(stored_uuid(user_id)?)
    .bind(position)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn remove_member(
    conn: &mut PgConnection,
    team: Uuid,
    join_id: &str,
    status: &str,
    version: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "WITH old AS (SELECT status FROM team_members WHERE team_id = $1 AND join_id = $2), \
         upd AS (UPDATE team_members SET status = $3 WHERE team_id = $1 AND join_id = $2) \
         UPDATE teams SET members = members - 1, version = $4, \
         confirmed = confirmed - CASE WHEN (SELECT status FROM old) = 'confirmed' THEN 1 ELSE 0 END \
         WHERE team_id = $1",
    )
    .bind(team)
    .bind(stored_uuid(join_id)?)
    .bind(status)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn apply_join(conn: &mut PgConnection, event: JoinEvent, rec: &RecordedEvent) -> Result<(), StoreError> {
    let id = stored_uuid(&rec.stream_id)?;
    let at = rec.occurred_at;
    let status = |value: &'static str| {
        sqlx::query("UPDATE joins SET status = $2, updated_at = $3 WHERE join_id = $1").bind(id).bind(value).bind(at)
    };
    match event {
        JoinEvent::Requested(e) => {
            let campaign = stored_uuid(&e.campaign_id)?;
            let team = if e.team_id.is_empty() { None } else { Some(stored_uuid(&e.team_id)?) };
            // One round trip: take the unit from its bucket, count it against the buyer's
            // limit, record the join.
            sqlx::query(
                "WITH unit AS (UPDATE campaign_stock SET remaining = remaining - 1 \
                               WHERE campaign_id = $2 AND bucket = $7 RETURNING 1), \
                 buyer AS (INSERT INTO campaign_buyers (campaign_id, user_id, units, max_units) \
                           SELECT $2, $4, 1, per_user_limit FROM campaigns WHERE campaign_id = $2 \
                           ON CONFLICT (campaign_id, user_id) DO UPDATE SET units = campaign_buyers.units + 1 RETURNING 1) \
                 INSERT INTO joins (join_id, campaign_id, team_id, user_id, amount, currency, bucket, status, created_at, updated_at) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8 \
                 FROM (SELECT count(*) FROM unit) u, (SELECT count(*) FROM buyer) b",
            )
            .bind(id)
            .bind(campaign)
            .bind(team)
            .bind(stored_uuid(&e.user_id)?)
            .bind(decimal(&e.amount)?)
            .bind(&e.currency)
            .bind(e.bucket as i32)
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
        JoinEvent::HoldRequested(_) => {}
        JoinEvent::Confirmed(e) => {
            status("confirmed").fetch_optional(&mut *conn).await?;
            sqlx::query(
                "UPDATE campaign_stock s SET confirmed = s.confirmed + 1 FROM joins j \
                 WHERE j.join_id = $1 AND s.campaign_id = $2 AND s.bucket = j.bucket",
            )
            .bind(id)
            .bind(stored_uuid(&e.campaign_id)?)
            .execute(&mut *conn)
            .await?;
        }
        JoinEvent::CaptureRequested(_) => {
            status("capturing").fetch_optional(&mut *conn).await?;
        }
        JoinEvent::ReleaseRequested(e) => {
            uncount_confirmed(conn, id).await?;
            sqlx::query("UPDATE joins SET status = 'releasing', reason = $2, updated_at = $3 WHERE join_id = $1")
                .bind(id)
                .bind(&e.reason)
                .bind(at)
                .execute(&mut *conn)
                .await?;
        }
        JoinEvent::StockReturned(e) => {
            let campaign = stored_uuid(&e.campaign_id)?;
            sqlx::query(
                "WITH unit AS (UPDATE campaign_stock SET remaining = remaining + 1 WHERE campaign_id = $1 AND bucket = $3) \
                 UPDATE campaign_buyers SET units = units - 1 WHERE campaign_id = $1 AND user_id = $2",
            )
            .bind(campaign)
            .bind(stored_uuid(&e.user_id)?)
            .bind(e.bucket as i32)
            .execute(&mut *conn)
            .await?;
        }
        JoinEvent::Captured(_) => {
            status("captured").fetch_optional(&mut *conn).await?;
        }
        JoinEvent::Released(e) => {
            uncount_confirmed(conn, id).await?;
            sqlx::query(
                "UPDATE joins SET status = 'released', reason = CASE WHEN reason = '' THEN $2 ELSE reason END, \
                 updated_at = $3 WHERE join_id = $1",
            )
            .bind(id)
            .bind(&e.reason)
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
        JoinEvent::Failed(e) => {
            sqlx::query("UPDATE joins SET status = 'failed', reason = $2, updated_at = $3 WHERE join_id = $1")
                .bind(id)
                .bind(&e.reason)
                .bind(at)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// A confirmed buyer who is let go no longer counts towards the campaign's minimum.
async fn uncount_confirmed(conn: &mut PgConnection, join: Uuid) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE campaign_stock s SET confirmed = s.confirmed - 1 FROM joins j \
         WHERE j.join_id = $1 AND j.status = 'confirmed' AND s.campaign_id = j.campaign_id AND s.bucket = j.bucket",
    )
    .bind(join)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
