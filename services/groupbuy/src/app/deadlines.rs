//! Durable deadlines: team windows and campaign end times live in `public.deadlines`, written
//! in the transaction that set them. The scanner claims due rows with `FOR UPDATE SKIP LOCKED`
//! (replicas never take the same one), acts through the aggregates and deletes the row in the
//! same transaction, so a crash or restart loses none and repeats none.

use std::time::Duration;

use tuan_eventstore::{CommandError, EventMeta, StoreError};
use tuan_runtime::shutdown::Shutdown;
use uuid::Uuid;

use super::GroupBuyApp;
use crate::{
    domain::{GroupBuyError, campaign::CampaignStatus},
    store::{
        external::{self, DeadlineKind},
        queries,
    },
};

/// Works through due deadlines until shutdown.
pub struct DeadlineScanner {
    app: GroupBuyApp,
    interval: Duration,
}

impl DeadlineScanner {
    pub fn new(app: GroupBuyApp, interval: Duration) -> Self {
        Self { app, interval }
    }

    pub async fn run(self, mut shutdown: Shutdown) {
        let mut backoff = self.interval;
        while !shutdown.is_triggered() {
            match self.app.process_due_deadline().await {
                Ok(true) => {
                    backoff = self.interval;
                    continue;
                }
                Ok(false) => backoff = self.interval,
                Err(e) => {
                    tracing::warn!(error = %e, "processing a deadline failed; will retry");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait() => {}
            }
        }
    }
}

impl GroupBuyApp {
    /// Claims and processes one due deadline. Returns false when none is due.
    pub async fn process_due_deadline(&self) -> Result<bool, CommandError<GroupBuyError>> {
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let Some((kind, id)) = external::claim_due(&mut tx).await.map_err(StoreError::from)? else {
            return Ok(false);
        };
        let meta = EventMeta {
            correlation_id: format!("deadline:{}:{id}", kind.as_str()),
            causation_id: format!("deadline:{}:{id}", kind.as_str()),
            trace_context: tuan_runtime::telemetry::current_trace_context(),
        };
        match kind {
            DeadlineKind::Team => {
                let ended = self.campaign_of_team_ended(&mut tx, id).await?;
                self.expire_team_in(&mut tx, &meta, id, ended).await?;
            }
            DeadlineKind::CampaignEnd => self.end_in(&mut tx, &meta, id, None).await?,
        }
        external::clear_deadline(&mut tx, kind, id).await.map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        tracing::info!(kind = kind.as_str(), %id, "deadline processed");
        Ok(true)
    }

    async fn campaign_of_team_ended(
        &self,
        conn: &mut sqlx::PgConnection,
        team: Uuid,
    ) -> Result<bool, CommandError<GroupBuyError>> {
        let status = queries::campaign_status_of_team(conn, team).await.map_err(StoreError::from)?;
        Ok(status == Some(CampaignStatus::Ended))
    }
}
