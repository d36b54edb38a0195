//! Opening, joining and leaving teams, and committing to tipping campaigns.
//!
//! A join is ONE short transaction: read the campaign row (no lock), lock one stock bucket
//! (`FOR UPDATE SKIP LOCKED`, a random non-empty one), append the join with its hold request
//! (the projection takes the unit and counts it against the buyer's limit) and, in team mode,
//! the team's new member; commit. The bucket lock is the transaction's first write, so the
//! replay order of a rebuild (by transaction id) never takes a unit before it was returned.
//! Only joins of the same team serialise (on the team stream's version); they are retried.
//!
//! Every join takes an idempotency key: the transaction first claims it (an advisory lock and
//! a read, neither of which gives the transaction its id, so the bucket lock stays its first
//! write), and a key used before answers the join it made. The key is stored with the join id
//! just before the commit, so a refused join leaves no key and may be retried with it.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row as _};
use tuan_eventstore::{
    Aggregate as _, EventMeta,
    idempotency::{self, Claim, IdempotencyKey},
};
use tuan_kernel::recorded;
use tuan_messaging::social;
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::{ATTEMPTS, GroupBuyApp, command_error, is_conflict};
use crate::{
    domain::{
        GroupBuyError,
        join::{JoinCommand, JoinRequest},
        team::{TeamCommand, TeamStatus},
    },
    store::{
        external::{self, DeadlineKind},
        queries::{self, CampaignRow, JoinRow, JoinTarget, MemberRow, TeamRow},
    },
};

/// A team with its active members.
#[derive(Clone, Debug)]
pub struct TeamView {
    pub team: TeamRow,
    pub members: Vec<MemberRow>,
}

/// What a screen of deal cards needs at once (see [`GroupBuyApp::open_teams`]).
#[derive(Clone, Debug, Default)]
pub struct OpenTeams {
    /// The teams asked for by id that exist, in request order.
    pub teams: Vec<TeamView>,
    /// The filling teams of each campaign, campaigns in order, each campaign's oldest first.
    pub open_teams: Vec<TeamView>,
    /// The campaigns asked for, then those of `teams`, that exist.
    pub campaigns: Vec<CampaignRow>,
}

/// A join, and its team in team mode.
#[derive(Clone, Debug)]
pub struct JoinView {
    pub join: JoinRow,
    pub team: Option<TeamView>,
}

/// How a buyer takes part.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    OpenTeam,
    JoinTeam,
    Tipping,
}

/// Refuses joins the campaign does not take now.
fn check_campaign(target: &JoinTarget, entry: Entry, now: DateTime<Utc>) -> Result<(), GroupBuyError> {
    match (entry, target.mode.as_str()) {
        (Entry::Tipping, "team") => return Err(GroupBuyError::WrongMode("team", "OpenTeam or JoinTeam")),
        (Entry::OpenTeam | Entry::JoinTeam, "tipping") => {
            return Err(GroupBuyError::WrongMode("tipping", "JoinCampaign"));
        }
        _ => {}
    }
    match target.status.as_str() {
        "active" => {}
        "paused" => return Err(GroupBuyError::CampaignNotActive("paused")),
        _ => return Err(GroupBuyError::CampaignEnded),
    }
    if target.tipping == "failed" || now >= target.ends_at {
        return Err(GroupBuyError::CampaignEnded);
    }
    if now < target.starts_at {
        return Err(GroupBuyError::CampaignNotStarted);
    }
    if target.units >= target.per_user_limit {
        return Err(GroupBuyError::PerUserLimit(target.per_user_limit as u32));
    }
    Ok(())
}

/// Locks one stock bucket with a unit left and returns it; `SoldOut` when none is left.
///
/// A random unlocked bucket, so buyers spread over the buckets instead of queueing on one row.
/// Reservers never block on a bucket row: a blocking `FOR UPDATE ... LIMIT 1` keeps the locks
/// of rows that fail its recheck (buckets emptied meanwhile) while it waits for the next one,
/// and two late buyers can then wait on each other. When every non-empty bucket is held by a
/// buyer in flight, poll briefly: each holder commits (or rolls back) within milliseconds.
async fn reserve_bucket(conn: &mut PgConnection, campaign: Uuid) -> Result<u32, ApiError> {
    const PICK: &str = "SELECT bucket FROM campaign_stock WHERE campaign_id = $1 AND remaining > 0 \
                        ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        if let Some(row) = sqlx::query(PICK).bind(campaign).fetch_optional(&mut *conn).await? {
            return Ok(row.get::<i32, _>(0) as u32);
        }
        if queries::stock_left(conn, campaign).await? == 0 {
            return Err(GroupBuyError::SoldOut.into());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::new(tuan_runtime::ErrorKind::Conflict, "stock is busy; try again"));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(20));
    }
}

/// The join `key` made before, if it did (see the module's documentation).
async fn earlier_join(conn: &mut PgConnection, user: Uuid, key: &IdempotencyKey) -> Result<Option<Uuid>, ApiError> {
    match idempotency::claim(conn, user, key).await? {
        Claim::Fresh => Ok(None),
        Claim::Replay(join_id) => Uuid::from_slice(&join_id).map(Some).map_err(ApiError::internal),
    }
}

impl GroupBuyApp {
    /// Team mode: the caller opens a team as its leader and pays first.
    pub async fn open_team(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        campaign_id: Uuid,
        key: &IdempotencyKey,
    ) -> Result<JoinView, ApiError> {
        let user = caller.user_id;
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        if let Some(join_id) = earlier_join(&mut tx, user, key).await? {
            tx.rollback().await.ok();
            return self.join_view(join_id).await;
        }
        let target = queries::join_target(&mut tx, campaign_id, user)
            .await?
            .ok_or(GroupBuyError::CampaignNotFound)
            .map_err(ApiError::from)?;
        check_campaign(&target, Entry::OpenTeam, now).map_err(ApiError::from)?;
        let bucket = reserve_bucket(&mut tx, campaign_id).await?;
        let (team_id, join_id) = (Uuid::now_v7(), Uuid::now_v7());
        let window_end = now + chrono::Duration::seconds(target.team_window_secs);
        let expires_at = window_end.min(target.ends_at);
        let leader_price = target.group_price - target.leader_discount;
        let request =
            self.join_request(join_id, campaign_id, Some(team_id), user, &target, leader_price, bucket, expires_at);
        let limit = target.per_user_limit as u32;
        self.joins
            .run_in(&mut tx, join_id, meta, JoinCommand::Request(request.clone()))
            .await
            .map_err(|e| command_error(e, limit))?;
        let open = TeamCommand::Open {
            team_id,
            campaign_id,
            leader_id: user,
            join_id,
            size: target.team_size as u32,
            expires_at_micros: expires_at.timestamp_micros(),
        };
        self.teams.run_in(&mut tx, team_id, meta, open).await.map_err(|e| command_error(e, limit))?;
        external::set_deadline(&mut tx, DeadlineKind::Team, team_id, expires_at).await?;
        idempotency::store(&mut tx, user, key, join_id.as_bytes()).await?;
        tx.commit().await?;
        self.join_view(join_id).await
    }

    /// Team mode: join an open team by its id (the share link).
    pub async fn join_team(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        team_id: Uuid,
        key: &IdempotencyKey,
    ) -> Result<JoinView, ApiError> {
        let user = caller.user_id;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = Utc::now();
            let join_id = Uuid::now_v7();
            let mut tx = self.pool.begin().await?;
            if let Some(join_id) = earlier_join(&mut tx, user, key).await? {
                tx.rollback().await.ok();
                return self.join_view(join_id).await;
            }
            let (team, _) = self.teams.load(&mut tx, &team_id.to_string()).await.map_err(ApiError::from)?;
            if team.status == TeamStatus::None {
                return Err(GroupBuyError::TeamNotFound.into());
            }
            let blocked_by_leader = match team.leader_id {
                Some(leader) => social::has_blocked(&mut *tx, leader, user).await?,
                None => false,
            };
            let command =
                TeamCommand::Join { join_id, user_id: user, now_micros: now.timestamp_micros(), blocked_by_leader };
            // Decide on the team first, so a full or closed team costs no stock lock.
            team.handle(command.clone()).map_err(ApiError::from)?;
            let campaign_id = team.campaign_id.unwrap_or_default();
            let target = queries::join_target(&mut tx, campaign_id, user)
                .await?
                .ok_or(GroupBuyError::CampaignNotFound)
                .map_err(ApiError::from)?;
            check_campaign(&target, Entry::JoinTeam, now).map_err(ApiError::from)?;
            let bucket = reserve_bucket(&mut tx, campaign_id).await?;
            let expires_at = DateTime::from_timestamp_micros(team.expires_at_micros).unwrap_or(target.ends_at);
            let request = self.join_request(
                join_id,
                campaign_id,
                Some(team_id),
                user,
                &target,
                target.group_price,
                bucket,
                expires_at,
            );
            let limit = target.per_user_limit as u32;
            self.joins
                .run_in(&mut tx, join_id, meta, JoinCommand::Request(request.clone()))
                .await
                .map_err(|e| command_error(e, limit))?;
            match self.teams.run_in(&mut tx, team_id, meta, command).await {
                Ok(_) => {}
                Err(e) if is_conflict(&e) && attempt < ATTEMPTS => {
                    tx.rollback().await.ok();
                    continue;
                }
                Err(e) => return Err(command_error(e, limit)),
            }
            idempotency::store(&mut tx, user, key, join_id.as_bytes()).await?;
            tx.commit().await?;
            return self.join_view(join_id).await;
        }
    }

    /// Tipping mode: commit to one unit.
    pub async fn join_campaign(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        campaign_id: Uuid,
        key: &IdempotencyKey,
    ) -> Result<JoinView, ApiError> {
        let user = caller.user_id;
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        if let Some(join_id) = earlier_join(&mut tx, user, key).await? {
            tx.rollback().await.ok();
            return self.join_view(join_id).await;
        }
        let target = queries::join_target(&mut tx, campaign_id, user)
            .await?
            .ok_or(GroupBuyError::CampaignNotFound)
            .map_err(ApiError::from)?;
        check_campaign(&target, Entry::Tipping, now).map_err(ApiError::from)?;
        let bucket = reserve_bucket(&mut tx, campaign_id).await?;
        let join_id = Uuid::now_v7();
        let request =
            self.join_request(join_id, campaign_id, None, user, &target, target.group_price, bucket, target.ends_at);
        let limit = target.per_user_limit as u32;
        self.joins
            .run_in(&mut tx, join_id, meta, JoinCommand::Request(request.clone()))
            .await
            .map_err(|e| command_error(e, limit))?;
        idempotency::store(&mut tx, user, key, join_id.as_bytes()).await?;
        tx.commit().await?;
        self.join_view(join_id).await
    }

    /// Leaves a team before it completes: the hold is released and the unit returns. A leaving
    /// leader passes leadership to the next member; the last one out fails the team.
    pub async fn leave_team(&self, meta: &EventMeta, caller: &Caller, team_id: Uuid) -> Result<TeamView, ApiError> {
        let user = caller.user_id;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.pool.begin().await?;
            let (team, _) = self.teams.load(&mut tx, &team_id.to_string()).await.map_err(ApiError::from)?;
            if team.status == TeamStatus::None {
                return Err(GroupBuyError::TeamNotFound.into());
            }
            team.handle(TeamCommand::Leave { user_id: user }).map_err(ApiError::from)?;
            let Some(member) = team.active_members().find(|m| m.user_id == user).cloned() else {
                return Err(GroupBuyError::NotMember.into());
            };
            // The join (and its stock bucket) first, the team last: the same lock order as joins.
            let release = JoinCommand::Release { reason: "left the team".into() };
            self.joins.run_in(&mut tx, member.join_id, meta, release).await.map_err(ApiError::from)?;
            match self.teams.run_in(&mut tx, team_id, meta, TeamCommand::Leave { user_id: user }).await {
                Ok((state, _)) => {
                    if !state.status.is_live() {
                        external::clear_deadline(&mut tx, DeadlineKind::Team, team_id).await?;
                    }
                }
                Err(e) if is_conflict(&e) && attempt < ATTEMPTS => {
                    tx.rollback().await.ok();
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            tx.commit().await?;
            return self.team_view(team_id).await;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn join_request(
        &self,
        join_id: Uuid,
        campaign_id: Uuid,
        team_id: Option<Uuid>,
        user_id: Uuid,
        target: &JoinTarget,
        amount: rust_decimal::Decimal,
        bucket: u32,
        decided_by: DateTime<Utc>,
    ) -> JoinRequest {
        let grace = chrono::Duration::from_std(self.settings.hold_grace).unwrap_or_default();
        JoinRequest {
            join_id,
            campaign_id,
            team_id,
            user_id,
            merchant_id: target.merchant_id,
            price: recorded::amount("price", amount, recorded::currency("currency", &target.currency)),
            bucket,
            hold_expires_at_micros: (decided_by + grace).timestamp_micros(),
        }
    }

    pub async fn team_view(&self, team_id: Uuid) -> Result<TeamView, ApiError> {
        let team =
            queries::team(&self.pool, team_id).await?.ok_or(GroupBuyError::TeamNotFound).map_err(ApiError::from)?;
        let members = queries::members(&self.pool, &[team_id]).await?;
        Ok(TeamView { team, members })
    }

    async fn team_views(&self, teams: Vec<TeamRow>) -> Result<Vec<TeamView>, ApiError> {
        let ids: Vec<Uuid> = teams.iter().map(|t| t.team_id).collect();
        let mut members = queries::members(&self.pool, &ids).await?;
        Ok(teams
            .into_iter()
            .map(|team| {
                let (mine, rest): (Vec<_>, Vec<_>) = members.drain(..).partition(|m| m.team_id == team.team_id);
                members = rest;
                TeamView { team, members: mine }
            })
            .collect())
    }

    pub async fn my_teams(&self, caller: &Caller, after: Option<Uuid>, limit: i64) -> Result<Vec<TeamView>, ApiError> {
        let teams = queries::teams_of_user(&self.pool, caller.user_id, after, limit).await?;
        self.team_views(teams).await
    }

    pub async fn campaign_teams(
        &self,
        campaign: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<TeamView>, ApiError> {
        let teams = queries::teams_of_campaign(&self.pool, campaign, after, limit).await?;
        self.team_views(teams).await
    }

    /// Teams by id (any status), the filling teams (at most `per_campaign` each) of
    /// `campaign_ids` and of those teams' campaigns, and the campaigns: two queries at once
    /// whatever the number of ids (the teams with their members; the campaigns). The ids hold
    /// no duplicates. Open to every signed-in user, as each single read is.
    pub async fn open_teams(
        &self,
        campaign_ids: &[Uuid],
        team_ids: &[Uuid],
        per_campaign: i64,
    ) -> Result<OpenTeams, ApiError> {
        if campaign_ids.is_empty() && team_ids.is_empty() {
            return Ok(OpenTeams::default());
        }
        let (rows, mut campaigns) = futures::try_join!(
            queries::open_teams(&self.pool, campaign_ids, team_ids, per_campaign),
            queries::campaigns_with_teams(&self.pool, campaign_ids, team_ids),
        )?;
        let mut found = OpenTeams::default();
        // A team's rows (one per member) come together, and a team asked for by id that is
        // also filling comes twice: once in each part.
        for row in rows {
            let part = if row.by_id { &mut found.teams } else { &mut found.open_teams };
            let member = row.member();
            match part.last_mut() {
                Some(last) if last.team.team_id == row.team.team_id => last.members.extend(member),
                _ => part.push(TeamView { team: row.team, members: member.into_iter().collect() }),
            }
        }
        // The campaigns asked for, then those of the teams, in the order of their first team.
        let order: Vec<Uuid> =
            campaign_ids.iter().copied().chain(found.teams.iter().map(|t| t.team.campaign_id)).collect();
        campaigns.sort_by_key(|c| order.iter().position(|id| *id == c.campaign_id));
        found.campaigns = campaigns;
        Ok(found)
    }

    async fn join_view(&self, join_id: Uuid) -> Result<JoinView, ApiError> {
        let join =
            queries::join(&self.pool, join_id).await?.ok_or(GroupBuyError::JoinNotFound).map_err(ApiError::from)?;
        let team = match join.team_id {
            Some(team) => Some(self.team_view(team).await?),
            None => None,
        };
        Ok(JoinView { join, team })
    }

    /// The caller's own join, or any join of the caller's campaign.
    pub async fn get_join(&self, caller: &Caller, join_id: Uuid) -> Result<JoinRow, ApiError> {
        let join =
            queries::join(&self.pool, join_id).await?.ok_or(GroupBuyError::JoinNotFound).map_err(ApiError::from)?;
        if join.user_id != caller.user_id {
            let campaign = self.campaign(join.campaign_id).await?;
            if campaign.merchant_id != caller.user_id {
                return Err(GroupBuyError::JoinNotFound.into());
            }
        }
        Ok(join)
    }
}
