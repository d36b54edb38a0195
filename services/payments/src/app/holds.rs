//! Holds: placed, captured, released through group-buy events (see `consumers`) or by operators,
//! and expired by a background scanner.

use std::time::Duration;

use chrono::Utc;
use sqlx::{Connection as _, PgConnection};
use tuan_eventstore::EventMeta;
use tuan_proto::payments::v1 as pb;
use tuan_runtime::{ApiError, auth::Caller, shutdown::Shutdown};
use uuid::Uuid;

use super::{PaymentsApp, command_error, is_insufficient};
use crate::{
    domain::{
        Money, PaymentError,
        hold::{self, Hold, HoldCommand, HoldError, HoldEvent, HoldRequest, HoldStatus},
        journal::PostEntry,
    },
    store::{
        idempotency::IdempotencyKey,
        queries::{self, HoldRow},
    },
};

/// The reason a hold request is rejected when the wallet lacks the money.
pub const INSUFFICIENT_FUNDS: &str = "insufficient funds";
const EXPIRY_BATCH: i64 = 50;

fn status(s: HoldStatus) -> pb::HoldStatus {
    match s {
        HoldStatus::New => pb::HoldStatus::Unspecified,
        HoldStatus::Placed => pb::HoldStatus::Placed,
        HoldStatus::Captured => pb::HoldStatus::Captured,
        HoldStatus::Released => pb::HoldStatus::Released,
        HoldStatus::Expired => pb::HoldStatus::Expired,
        HoldStatus::Rejected => pb::HoldStatus::Rejected,
    }
}

pub fn hold_view(h: &Hold) -> pb::Hold {
    pb::Hold {
        hold_id: h.hold_id.to_string(),
        user_id: h.user.to_string(),
        merchant_id: h.merchant.to_string(),
        amount: h.amount_money().amount().to_string(),
        currency: h.amount_money().currency().code().to_string(),
        captured: h.captured_money().amount().to_string(),
        remaining: h.remaining_money().amount().to_string(),
        status: status(h.status) as i32,
        campaign_id: h.campaign_id.clone(),
        team_id: h.team_id.clone(),
        expires_at_micros: h.expires_at_micros,
        rejection_reason: h.rejection_reason.clone(),
    }
}

pub fn hold_row_view(h: &HoldRow) -> pb::Hold {
    let status = match h.status.as_str() {
        "placed" => pb::HoldStatus::Placed,
        "captured" => pb::HoldStatus::Captured,
        "released" => pb::HoldStatus::Released,
        "expired" => pb::HoldStatus::Expired,
        "rejected" => pb::HoldStatus::Rejected,
        _ => pb::HoldStatus::Unspecified,
    };
    pb::Hold {
        hold_id: h.hold_id.to_string(),
        user_id: h.user_id.to_string(),
        merchant_id: h.merchant_id.to_string(),
        amount: h.amount.to_string(),
        currency: h.currency.clone(),
        captured: h.captured.to_string(),
        remaining: h.remaining.to_string(),
        status: status as i32,
        campaign_id: h.campaign_id.clone(),
        team_id: h.team_id.clone(),
        expires_at_micros: h.expires_at.map(|t| t.timestamp_micros()).unwrap_or_default(),
        rejection_reason: h.rejection_reason.clone(),
    }
}

/// What to do when the wallet cannot cover a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenShort {
    /// Refuse the command (nothing recorded): the operator API.
    Refuse,
    /// Record a `HoldRejected` so the requester learns why: the group-buy protocol.
    Reject,
}

impl PaymentsApp {
    /// The expiry of a request that named none (0).
    pub fn hold_expiry(&self, requested_micros: i64) -> i64 {
        if requested_micros > 0 {
            requested_micros
        } else {
            (Utc::now() + self.settings.default_hold_ttl).timestamp_micros()
        }
    }

    /// Places a hold in the caller's transaction. A hold id already processed changes nothing.
    pub async fn place_hold_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        request: HoldRequest,
        when_short: WhenShort,
    ) -> Result<Hold, ApiError> {
        queries::lock_hold(conn, request.hold_id).await?;
        let id = request.hold_id.to_string();
        if when_short == WhenShort::Refuse {
            return self.place(conn, meta, &request).await;
        }
        // Try inside a savepoint: if the wallet is short the balance constraint aborts it, and
        // the rejection is recorded instead.
        let mut attempt = conn.begin().await.map_err(ApiError::from)?;
        match self.place(&mut attempt, meta, &request).await {
            Ok(hold) => {
                attempt.commit().await.map_err(ApiError::from)?;
                Ok(hold)
            }
            Err(e) if is_insufficient(&e) => {
                attempt.rollback().await.map_err(ApiError::from)?;
                let command = HoldCommand::Reject { request: request.clone(), reason: INSUFFICIENT_FUNDS.to_string() };
                let (state, _) = self.holds.run_in(conn, &id, meta, command).await.map_err(command_error)?;
                Ok(state)
            }
            Err(e) => Err(e),
        }
    }

    /// Records that a hold request could not be honoured (nothing is reserved).
    pub async fn reject_hold_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        request: HoldRequest,
        reason: String,
    ) -> Result<Hold, ApiError> {
        queries::lock_hold(conn, request.hold_id).await?;
        let command = HoldCommand::Reject { request: request.clone(), reason };
        let (state, _) = self.holds.run_in(conn, request.hold_id, meta, command).await.map_err(command_error)?;
        Ok(state)
    }

    async fn place(&self, conn: &mut PgConnection, meta: &EventMeta, request: &HoldRequest) -> Result<Hold, ApiError> {
        let command = HoldCommand::Place(request.clone());
        let (state, recorded) = self.holds.run_in(conn, request.hold_id, meta, command).await.map_err(command_error)?;
        self.post_hold_entries(conn, meta, request.hold_id, &recorded, Some(request.user)).await?;
        Ok(state)
    }

    /// Captures (part of) a hold in the caller's transaction.
    pub async fn capture_hold_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        hold_id: Uuid,
        amount: Option<Money>,
        final_capture: bool,
        merchant: Option<Uuid>,
    ) -> Result<Hold, ApiError> {
        let command = HoldCommand::Capture { amount, final_capture, merchant, fee_rate: self.settings.fee_rate };
        self.hold_command(conn, meta, hold_id, command).await
    }

    /// Releases a hold in the caller's transaction; releasing a released hold changes nothing.
    pub async fn release_hold_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        hold_id: Uuid,
        reason: String,
    ) -> Result<Hold, ApiError> {
        self.hold_command(conn, meta, hold_id, HoldCommand::Release { reason }).await
    }

    async fn hold_command(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        hold_id: Uuid,
        command: HoldCommand,
    ) -> Result<Hold, ApiError> {
        queries::lock_hold(conn, hold_id).await?;
        let (state, recorded) = self.holds.run_in(conn, hold_id, meta, command).await.map_err(command_error)?;
        self.post_hold_entries(conn, meta, hold_id, &recorded, None).await?;
        Ok(state)
    }

    /// Posts the journal entry each hold event of `hold_id` stands for.
    async fn post_hold_entries(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        hold_id: Uuid,
        events: &[HoldEvent],
        initiator: Option<Uuid>,
    ) -> Result<(), ApiError> {
        for event in events {
            if let Some((kind, entry)) = hold::journal_entry(event).map_err(ApiError::from)? {
                let mut post = PostEntry::new(kind, entry).reference(hold_id);
                if let Some(user) = initiator {
                    post = post.initiator(user);
                }
                self.post(conn, meta, post).await?;
            }
        }
        Ok(())
    }

    /// Operator API: places a hold, refusing (changing nothing) if the wallet is short.
    pub async fn place_hold(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        request: HoldRequest,
        key: &IdempotencyKey,
    ) -> Result<pb::Hold, ApiError> {
        caller.require_operator()?;
        tuan_eventstore::once!(&self.pool, caller.user_id, key, |conn| async {
            Ok(hold_view(&self.place_hold_in(conn, meta, request.clone(), WhenShort::Refuse).await?))
        })
    }

    pub async fn capture_hold(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        hold_id: Uuid,
        amount: Option<Money>,
        final_capture: bool,
        key: &IdempotencyKey,
    ) -> Result<pb::Hold, ApiError> {
        caller.require_operator()?;
        tuan_eventstore::once!(&self.pool, caller.user_id, key, |conn| async {
            Ok(hold_view(&self.capture_hold_in(conn, meta, hold_id, amount, final_capture, None).await?))
        })
    }

    pub async fn release_hold(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        hold_id: Uuid,
        reason: String,
        key: &IdempotencyKey,
    ) -> Result<pb::Hold, ApiError> {
        caller.require_operator()?;
        tuan_eventstore::once!(&self.pool, caller.user_id, key, |conn| async {
            Ok(hold_view(&self.release_hold_in(conn, meta, hold_id, reason.clone()).await?))
        })
    }

    /// The hold's owner or an operator.
    pub async fn hold(&self, caller: &Caller, hold_id: Uuid) -> Result<HoldRow, ApiError> {
        let row = queries::hold(&self.pool, hold_id).await?.ok_or(PaymentError::Hold(HoldError::NotFound))?;
        if row.user_id != caller.user_id && !caller.has_role(tuan_runtime::auth::ROLE_OPERATOR) {
            return Err(PaymentError::Forbidden("this is another user's hold".into()).into());
        }
        Ok(row)
    }

    /// Releases holds past their deadline, a batch per transaction, until none is due.
    pub async fn expire_due_holds(&self) -> Result<usize, ApiError> {
        let meta = EventMeta {
            correlation_id: Uuid::now_v7().to_string(),
            causation_id: "hold-expiry".into(),
            trace_context: tuan_runtime::telemetry::current_trace_context(),
        };
        let mut expired = 0;
        loop {
            let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
            let due = queries::claim_expired_holds(&mut tx, EXPIRY_BATCH).await?;
            let now = Utc::now().timestamp_micros();
            for hold_id in &due {
                let command = HoldCommand::Expire { now_micros: now };
                self.hold_command(&mut tx, &meta, *hold_id, command).await?;
            }
            tx.commit().await.map_err(ApiError::from)?;
            expired += due.len();
            if (due.len() as i64) < EXPIRY_BATCH {
                return Ok(expired);
            }
        }
    }

    /// The expiry scanner: every `interval` until shutdown.
    pub async fn run_expiry(self, interval: Duration, mut shutdown: Shutdown) {
        loop {
            match self.expire_due_holds().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "released expired holds"),
                Err(e) => tracing::warn!(error = %e, "expiring holds failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}
