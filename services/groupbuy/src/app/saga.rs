//! The join saga's steps on payments' answers, run by `consumers::SagaHandler` inside the
//! consumer's transaction (with the processed-event record), appending through
//! `Repository::run_in`, so every step happens exactly once in effect and goes out through the
//! outbox. Lock order everywhere: campaign row, join stream, stock bucket, team stream, which
//! keeps the saga, the scanner and the API from deadlocking each other.

use sqlx::PgConnection;
use tuan_eventstore::{Aggregate as _, CommandError, EventMeta, StoreError};
use uuid::Uuid;

use super::GroupBuyApp;
use crate::{
    domain::{
        GroupBuyError,
        campaign::{CampaignCommand, CampaignStatus, Tipping},
        join::{Join, JoinCommand, JoinEvent, JoinStatus},
        team::{TeamCommand, TeamStatus},
    },
    store::{
        external::{self, DeadlineKind},
        locks, queries,
    },
};

pub(crate) type Saga<T = ()> = Result<T, CommandError<GroupBuyError>>;

impl GroupBuyApp {
    /// Runs `command` on join `hold_id`. None when the hold is not one of ours.
    pub(crate) async fn on_join(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        hold_id: &str,
        command: JoinCommand,
    ) -> Saga<Option<(Join, Vec<JoinEvent>)>> {
        if Uuid::parse_str(hold_id).is_err() {
            return Ok(None);
        }
        match self.joins.run_in(conn, hold_id, meta, command).await {
            Ok(done) => Ok(Some(done)),
            Err(CommandError::Domain(GroupBuyError::JoinNotFound)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Locks the campaign row of join `hold_id` first (see the module's lock order) and
    /// returns (campaign id, status): shared once a tipping campaign's tipping is decided,
    /// exclusive otherwise (why: [`locks::campaign_of_join`]).
    async fn lock_campaign_of(&self, conn: &mut PgConnection, hold_id: &str) -> Saga<Option<(Uuid, CampaignStatus)>> {
        let Ok(join) = Uuid::parse_str(hold_id) else { return Ok(None) };
        Ok(locks::campaign_of_join(conn, join).await.map_err(StoreError::from)?)
    }

    /// payments placed the hold: confirm the member; a full team or a tipped campaign captures.
    pub(crate) async fn on_hold_placed(&self, conn: &mut PgConnection, meta: &EventMeta, hold_id: &str) -> Saga {
        let Some((campaign_id, status)) = self.lock_campaign_of(conn, hold_id).await? else { return Ok(()) };
        let Some((join, events)) = self.on_join(conn, meta, hold_id, JoinCommand::HoldPlaced).await? else {
            return Ok(());
        };
        if events.is_empty() {
            return Ok(()); // a duplicate, or the join was already let go
        }
        let join_id = join.join_id.unwrap_or_default();
        match join.team_id {
            Some(team_id) => {
                if status == CampaignStatus::Ended {
                    // The campaign ended while this hold was pending: the team is over.
                    self.expire_team_in(conn, meta, team_id, true).await?;
                    return self.release(conn, meta, join_id, "the campaign ended").await;
                }
                match self.teams.run_in(conn, team_id, meta, TeamCommand::Confirm { join_id }).await {
                    Ok((team, _)) if team.status == TeamStatus::Completed => {
                        for member in team.active_members() {
                            self.joins.run_in(conn, member.join_id, meta, JoinCommand::Capture).await?;
                        }
                        external::clear_deadline(conn, DeadlineKind::Team, team_id).await.map_err(StoreError::from)?;
                        Ok(())
                    }
                    Ok(_) => Ok(()),
                    // The team closed (or let this member go) meanwhile: give the money back.
                    Err(CommandError::Domain(e)) => {
                        self.release(conn, meta, join_id, &format!("team closed: {e}")).await
                    }
                    Err(e) => Err(e),
                }
            }
            None => self.on_tipping_confirmed(conn, meta, campaign_id, join_id).await,
        }
    }

    /// A tipping buyer's hold is placed. While tipping is undecided the campaign row is locked
    /// exclusively, so the count read here includes every confirmation committed before (they
    /// took the same lock), and the campaign's end waits for us.
    async fn on_tipping_confirmed(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        campaign_id: Uuid,
        join_id: Uuid,
    ) -> Saga {
        let campaign = queries::campaign(conn, campaign_id)
            .await
            .and_then(|c| c.ok_or(sqlx::Error::RowNotFound))
            .map_err(StoreError::from)?;
        let (status, confirmed, min_buyers) = (campaign.status, campaign.confirmed_buyers, campaign.min_buyers);
        match campaign.tipping {
            Tipping::Tipped => {
                self.joins.run_in(conn, join_id, meta, JoinCommand::Capture).await?;
            }
            Tipping::Failed => {
                self.release(conn, meta, join_id, "the campaign ended without reaching its minimum").await?
            }
            _ if status == CampaignStatus::Ended => self.release(conn, meta, join_id, "the campaign ended").await?,
            _ if confirmed >= min_buyers => {
                let confirmed_buyers = confirmed as u32;
                let (_, tipped) =
                    self.campaigns.run_in(conn, campaign_id, meta, CampaignCommand::Tip { confirmed_buyers }).await?;
                if !tipped.is_empty() {
                    let joins = queries::joins_in(conn, campaign_id, &[JoinStatus::Confirmed])
                        .await
                        .map_err(StoreError::from)?;
                    for join in joins {
                        self.joins.run_in(conn, join, meta, JoinCommand::Capture).await?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn release(&self, conn: &mut PgConnection, meta: &EventMeta, join_id: Uuid, reason: &str) -> Saga {
        let command = JoinCommand::Release { reason: reason.to_string() };
        self.joins.run_in(conn, join_id, meta, command).await?;
        Ok(())
    }

    /// payments refused the hold: the join fails, the unit returns, the member is dropped.
    pub(crate) async fn on_hold_rejected(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        hold_id: &str,
        reason: String,
    ) -> Saga {
        let reason = if reason.is_empty() { "payment refused".to_string() } else { reason };
        self.lock_campaign_of(conn, hold_id).await?;
        let Some((join, events)) =
            self.on_join(conn, meta, hold_id, JoinCommand::HoldRejected { reason: reason.clone() }).await?
        else {
            return Ok(());
        };
        if !events.is_empty() {
            self.drop_member(conn, meta, &join, &reason).await?;
        }
        Ok(())
    }

    /// payments released the hold (as asked, or by itself when it lapsed).
    pub(crate) async fn on_hold_released(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        hold_id: &str,
        reason: String,
    ) -> Saga {
        self.lock_campaign_of(conn, hold_id).await?;
        let Some((join, events)) =
            self.on_join(conn, meta, hold_id, JoinCommand::HoldReleased { reason: reason.clone() }).await?
        else {
            return Ok(());
        };
        if events.iter().any(|e| matches!(e, JoinEvent::StockReturned(_))) {
            self.drop_member(conn, meta, &join, &format!("hold released by payments: {reason}")).await?;
        }
        Ok(())
    }

    async fn drop_member(&self, conn: &mut PgConnection, meta: &EventMeta, join: &Join, reason: &str) -> Saga {
        let (Some(team_id), Some(join_id)) = (join.team_id, join.join_id) else { return Ok(()) };
        if matches!(join.status, JoinStatus::Failed | JoinStatus::Released) {
            let command = TeamCommand::Drop { join_id, reason: reason.to_string() };
            let (team, _) = self.teams.run_in(conn, team_id, meta, command).await?;
            if !team.status.is_live() {
                external::clear_deadline(conn, DeadlineKind::Team, team_id).await.map_err(StoreError::from)?;
            }
        }
        Ok(())
    }

    /// Expires a team whose window ran out (or, `force`, whose campaign ended) and releases
    /// every member's hold. Joins first, the team last (the lock order).
    pub(crate) async fn expire_team_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        team_id: Uuid,
        force: bool,
    ) -> Saga {
        let now = chrono::Utc::now().timestamp_micros();
        let (team, _) = self.teams.load(conn, &team_id.to_string()).await?;
        let expire = TeamCommand::Expire { now_micros: now, force };
        if team.handle(expire.clone()).map_err(CommandError::Domain)?.is_empty() {
            return Ok(());
        }
        for member in team.active_members() {
            self.release(conn, meta, member.join_id, "the team expired").await?;
        }
        self.teams.run_in(conn, team_id, meta, expire).await?;
        external::clear_deadline(conn, DeadlineKind::Team, team_id).await.map_err(StoreError::from)?;
        Ok(())
    }
}
