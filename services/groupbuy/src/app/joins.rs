//! Opening, joining and leaving teams, and committing to tipping campaigns.
//!
//! A join is ONE short transaction: read the campaign row (no lock), lock one stock bucket
//! (`FOR UPDATE SKIP LOCKED`, a random non-empty one), append the join with its hold request
//! (the projection takes the unit and counts it against the buyer's limit) and, in team mode,
//! the team's new member; commit. The bucket lock is the transaction's first write, so the
//! replay order of a rebuild (by transaction id) never takes a unit before it was returned.
//! Only joins of the same team serialise (on the team stream's version); the loser runs its
//! transaction again from the start (`retrying!`). The wait for an unlocked bucket is bounded
//! per join, not per run ([`STOCK_WAIT`]).
//!
//! Every join takes an idempotency key (`once!`): the transaction first claims it (an advisory
//! lock and a read, neither of which gives the transaction its id, so the bucket lock stays its
//! first write), and a key used before answers the join it made. The key is stored with the
//! join id ([`JoinId`]) just before the commit, so a refused join leaves no key and may be
//! retried with it.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tokio::time::Instant;
use tuan_eventstore::{Aggregate as _, EventMeta, idempotency::IdempotencyKey, transaction::Answer};
use tuan_kernel::recorded;
use tuan_messaging::social;
use tuan_runtime::{ApiError, ErrorKind, auth::Caller};
use uuid::Uuid;

use super::{GroupBuyApp, command_error};
use crate::{
    domain::{
        GroupBuyError,
        entry::{CampaignFacts, Entry},
        join::{JoinCommand, JoinRequest},
        team::{TeamCommand, TeamStatus},
    },
    store::{
        external::{self, DeadlineKind},
        locks::{self, Reserved, STOCK_WAIT},
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

/// Campaign `campaign_id` as `user` would join it, if it takes a join by `entry` at `now`.
async fn join_target(
    conn: &mut PgConnection,
    campaign_id: Uuid,
    user: Uuid,
    entry: Entry,
    now: DateTime<Utc>,
) -> Result<JoinTarget, ApiError> {
    let target = queries::join_target(conn, campaign_id, user).await?.ok_or(GroupBuyError::CampaignNotFound)?;
    let facts = CampaignFacts {
        mode: target.mode,
        status: target.status,
        tipping: target.tipping,
        starts_at_micros: target.starts_at.timestamp_micros(),
        ends_at_micros: target.ends_at.timestamp_micros(),
        per_user_limit: target.per_user_limit as u32,
        units: target.units as u32,
    };
    facts.admit(entry, now.timestamp_micros())?;
    Ok(target)
}

/// Locks a stock bucket of `campaign` with a unit left and returns it; `SoldOut` when none is
/// left, and `ABORTED` when every such bucket stayed locked by other buyers until `until`.
async fn take_unit(conn: &mut PgConnection, campaign: Uuid, until: Instant) -> Result<u32, ApiError> {
    match locks::reserve_bucket(conn, campaign, until).await? {
        Reserved::Bucket(bucket) => Ok(bucket),
        Reserved::SoldOut => Err(GroupBuyError::SoldOut.into()),
        Reserved::Busy => Err(ApiError::new(ErrorKind::Conflict, "stock is busy; try again")),
    }
}

/// What a join's idempotency key keeps: the join's id (its 16 bytes), not the reply, which is
/// read again so a retry sees the join as it is now.
struct JoinId(Uuid);

impl Answer for JoinId {
    fn to_bytes(&self) -> Vec<u8> {
        self.0.as_bytes().to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        Uuid::from_slice(bytes).map(JoinId).map_err(|e| e.to_string())
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
        let stock_wait = Instant::now() + STOCK_WAIT;
        let JoinId(join_id) = tuan_eventstore::once!(&self.pool, user, key, |conn| async {
            let now = Utc::now();
            let target = join_target(conn, campaign_id, user, Entry::OpenTeam, now).await?;
            let bucket = take_unit(conn, campaign_id, stock_wait).await?;
            let (team_id, join_id) = (Uuid::now_v7(), Uuid::now_v7());
            let window_end = now + chrono::Duration::seconds(target.team_window_secs);
            let expires_at = window_end.min(target.ends_at);
            let leader_price = target.group_price - target.leader_discount;
            let request =
                self.join_request(join_id, campaign_id, Some(team_id), user, &target, leader_price, bucket, expires_at);
            let limit = target.per_user_limit as u32;
            self.joins
                .run_in(conn, join_id, meta, JoinCommand::Request(request))
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
            self.teams.run_in(conn, team_id, meta, open).await.map_err(|e| command_error(e, limit))?;
            external::set_deadline(conn, DeadlineKind::Team, team_id, expires_at).await?;
            Ok::<_, ApiError>(JoinId(join_id))
        })?;
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
        let stock_wait = Instant::now() + STOCK_WAIT;
        let JoinId(join_id) = tuan_eventstore::once!(&self.pool, user, key, |conn| async {
            let now = Utc::now();
            let join_id = Uuid::now_v7();
            let (team, _) = self.teams.load(conn, &team_id.to_string()).await?;
            if team.status == TeamStatus::None {
                return Err(GroupBuyError::TeamNotFound.into());
            }
            let blocked_by_leader = match team.leader_id {
                Some(leader) => social::has_blocked(&mut *conn, leader, user).await?,
                None => false,
            };
            let command =
                TeamCommand::Join { join_id, user_id: user, now_micros: now.timestamp_micros(), blocked_by_leader };
            // Decide on the team first, so a full or closed team costs no stock lock.
            team.handle(command.clone())?;
            let campaign_id = team.campaign_id.unwrap_or_default();
            let target = join_target(conn, campaign_id, user, Entry::JoinTeam, now).await?;
            let bucket = take_unit(conn, campaign_id, stock_wait).await?;
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
                .run_in(conn, join_id, meta, JoinCommand::Request(request))
                .await
                .map_err(|e| command_error(e, limit))?;
            // Another join of this team committed first: a conflict, so this runs again.
            self.teams.run_in(conn, team_id, meta, command).await.map_err(|e| command_error(e, limit))?;
            Ok::<_, ApiError>(JoinId(join_id))
        })?;
        self.join_view(join_id).await
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
        let stock_wait = Instant::now() + STOCK_WAIT;
        let JoinId(join_id) = tuan_eventstore::once!(&self.pool, user, key, |conn| async {
            let now = Utc::now();
            let target = join_target(conn, campaign_id, user, Entry::Tipping, now).await?;
            let bucket = take_unit(conn, campaign_id, stock_wait).await?;
            let join_id = Uuid::now_v7();
            let request = self.join_request(
                join_id,
                campaign_id,
                None,
                user,
                &target,
                target.group_price,
                bucket,
                target.ends_at,
            );
            let limit = target.per_user_limit as u32;
            self.joins
                .run_in(conn, join_id, meta, JoinCommand::Request(request))
                .await
                .map_err(|e| command_error(e, limit))?;
            Ok::<_, ApiError>(JoinId(join_id))
        })?;
        self.join_view(join_id).await
    }

    /// Leaves a team before it completes: the hold is released and the unit returns. A leaving
    /// leader passes leadership to the next member; the last one out fails the team.
    pub async fn leave_team(&self, meta: &EventMeta, caller: &Caller, team_id: Uuid) -> Result<TeamView, ApiError> {
        let user = caller.user_id;
        tuan_eventstore::retrying!(&self.pool, |conn| async {
            let (team, _) = self.teams.load(conn, &team_id.to_string()).await?;
            if team.status == TeamStatus::None {
                return Err(GroupBuyError::TeamNotFound.into());
            }
            team.handle(TeamCommand::Leave { user_id: user })?;
            let Some(member) = team.active_members().find(|m| m.user_id == user).cloned() else {
                return Err(GroupBuyError::NotMember.into());
            };
            // The join (and its stock bucket) first, the team last: the same lock order as joins.
            let release = JoinCommand::Release { reason: "left the team".into() };
            self.joins.run_in(conn, member.join_id, meta, release).await?;
            let (state, _) = self.teams.run_in(conn, team_id, meta, TeamCommand::Leave { user_id: user }).await?;
            if !state.status.is_live() {
                external::clear_deadline(conn, DeadlineKind::Team, team_id).await?;
            }
            Ok::<_, ApiError>(())
        })?;
        self.team_view(team_id).await
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
