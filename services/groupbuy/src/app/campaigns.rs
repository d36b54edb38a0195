//! Launching and running campaigns.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tuan_eventstore::{Aggregate as _, CommandError, EventMeta};
use tuan_messaging::social;
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::GroupBuyApp;
use crate::{
    domain::{
        GroupBuyError,
        campaign::{CampaignCommand, CampaignSpec, Tipping, history_bucket_micros},
        join::{JoinCommand, JoinStatus},
    },
    store::{
        external::{self, DeadlineKind},
        queries::{self, CampaignRow, StatsRow},
    },
};

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// A campaign's joins per time bucket, from its start (see `CampaignStats` in the proto).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinHistory {
    pub started_at: DateTime<Utc>,
    pub bucket_micros: i64,
    pub joins: Vec<u32>,
}

impl GroupBuyApp {
    /// Verified merchants only; the end time becomes a durable deadline in the same transaction.
    pub async fn launch(&self, meta: &EventMeta, caller: &Caller, spec: CampaignSpec) -> Result<CampaignRow, ApiError> {
        let merchant = caller.user_id;
        if !social::is_verified_merchant(&self.pool, merchant).await? {
            return Err(GroupBuyError::NotVerifiedMerchant.into());
        }
        let campaign_id = Uuid::now_v7();
        let mut tx = self.pool.begin().await?;
        self.campaigns
            .run_in(
                &mut tx,
                campaign_id,
                meta,
                CampaignCommand::Launch { campaign_id, merchant_id: merchant, spec: Box::new(spec.clone()) },
            )
            .await?;
        external::set_deadline(&mut tx, DeadlineKind::CampaignEnd, campaign_id, at(spec.ends_at_micros)).await?;
        tx.commit().await?;
        self.campaign(campaign_id).await
    }

    pub async fn pause(&self, meta: &EventMeta, caller: &Caller, id: Uuid) -> Result<CampaignRow, ApiError> {
        let by = caller.user_id;
        self.campaigns.execute(&id.to_string(), meta, |c| c.handle(CampaignCommand::Pause { by })).await?;
        self.campaign(id).await
    }

    pub async fn resume(&self, meta: &EventMeta, caller: &Caller, id: Uuid) -> Result<CampaignRow, ApiError> {
        let by = caller.user_id;
        self.campaigns.execute(&id.to_string(), meta, |c| c.handle(CampaignCommand::Resume { by })).await?;
        self.campaign(id).await
    }

    /// Ends a campaign early, with the same consequences as reaching its end time.
    pub async fn end(&self, meta: &EventMeta, caller: &Caller, id: Uuid) -> Result<CampaignRow, ApiError> {
        tuan_eventstore::retrying!(&self.pool, |conn| self.end_in(conn, meta, id, Some(caller.user_id)))?;
        self.campaign(id).await
    }

    /// Ends campaign `id` inside the caller's transaction (`by` None: its end time passed).
    ///
    /// The campaign row is locked by the append (its projection update) before the joins are
    /// read, so a confirmation committing meanwhile is either seen here or sees the end.
    pub(crate) async fn end_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        id: Uuid,
        by: Option<Uuid>,
    ) -> Result<(), CommandError<GroupBuyError>> {
        let (state, events) = self.campaigns.run_in(conn, id, meta, CampaignCommand::End { by }).await?;
        if events.is_empty() {
            return Ok(());
        }
        if state.tipping == Tipping::Failed {
            let joins = queries::joins_in(conn, id, &[JoinStatus::Pending, JoinStatus::Confirmed])
                .await
                .map_err(tuan_eventstore::StoreError::from)?;
            for join in joins {
                let reason = "the campaign ended without reaching its minimum".to_string();
                self.joins.run_in(conn, join, meta, JoinCommand::Release { reason: reason.clone() }).await?;
            }
        }
        let teams = queries::live_teams(conn, id).await.map_err(tuan_eventstore::StoreError::from)?;
        external::due_now(conn, DeadlineKind::Team, &teams).await.map_err(tuan_eventstore::StoreError::from)?;
        external::clear_deadline(conn, DeadlineKind::CampaignEnd, id)
            .await
            .map_err(tuan_eventstore::StoreError::from)?;
        Ok(())
    }

    pub async fn campaign(&self, id: Uuid) -> Result<CampaignRow, ApiError> {
        let mut conn = self.pool.acquire().await?;
        queries::campaign(&mut conn, id).await?.ok_or_else(|| GroupBuyError::CampaignNotFound.into())
    }

    pub async fn active_campaigns(&self, after: Option<Uuid>, limit: i64) -> Result<Vec<CampaignRow>, ApiError> {
        Ok(queries::active_campaigns(&self.pool, after, limit).await?)
    }

    /// The caller's own campaigns (as their merchant), every status, newest first.
    pub async fn my_campaigns(
        &self,
        caller: &Caller,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<CampaignRow>, ApiError> {
        Ok(queries::campaigns_of_merchant(&self.pool, caller.user_id, after, limit).await?)
    }

    /// The owning merchant only: the figures, and the joins over the campaign's life.
    pub async fn stats(&self, caller: &Caller, id: Uuid) -> Result<(CampaignRow, StatsRow, JoinHistory), ApiError> {
        let campaign = self.campaign(id).await?;
        if campaign.merchant_id != caller.user_id {
            return Err(GroupBuyError::NotOwner.into());
        }
        let bucket = history_bucket_micros(campaign.starts_at.timestamp_micros(), campaign.ends_at.timestamp_micros());
        let (stats, counts) = futures::try_join!(
            queries::stats(&self.pool, id),
            queries::join_history(&self.pool, id, campaign.starts_at, bucket),
        )?;
        // Dense from the start to now (or the end): a chart draws every bucket, empty or not.
        let until = Utc::now().min(campaign.ends_at);
        let buckets = ((until - campaign.starts_at).num_microseconds().unwrap_or(0).max(0) / bucket + 1) as usize;
        let mut joins = vec![0u32; buckets];
        for (index, count) in counts {
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| joins.get_mut(i.min(buckets - 1))) {
                *slot += count as u32;
            }
        }
        let history = JoinHistory { started_at: campaign.starts_at, bucket_micros: bucket, joins };
        Ok((campaign, stats, history))
    }
}
