//! Top-ups and withdrawals through the payment provider, transfers, wallets and statements.

use std::time::Duration;

use chrono::Utc;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use tuan_eventstore::EventMeta;
use tuan_messaging::social::{self, Relation};
use tuan_proto::payments::v1 as pb;
use tuan_runtime::{ApiError, ErrorKind, auth::Caller, shutdown::Shutdown};
use uuid::Uuid;

use super::{PaymentsApp, command_error};
use crate::{
    domain::{
        AccountRef, Currency, JournalEntry, Money, PaymentError,
        journal::{EntryKind, Memo, PostEntry},
        ledger::LedgerError,
        limits::{self, LimitedMove},
        provider::{ProviderCommand, TopUpEvent, WithdrawalEvent},
    },
    provider::{AppPayment, Confirmation, ProviderRequest, RequestKind, Submitted},
    store::{
        idempotency::IdempotencyKey,
        limits as store_limits, payer_actions,
        queries::{self, HoldRow, PostingRow, ProviderRequestRow},
    },
};

/// How many provider requests the dispatcher submits per round.
const DISPATCH_BATCH: i64 = 100;

pub fn request_view(row: &ProviderRequestRow) -> pb::ProviderRequest {
    let status = match row.status.as_str() {
        "pending" => pb::ProviderRequestStatus::Pending,
        "completed" => pb::ProviderRequestStatus::Completed,
        "failed" => pb::ProviderRequestStatus::Failed,
        _ => pb::ProviderRequestStatus::Unspecified,
    };
    pb::ProviderRequest {
        request_id: row.request_id.to_string(),
        kind: row.kind.clone(),
        user_id: row.user_id.to_string(),
        amount: row.amount.to_string(),
        currency: row.currency.clone(),
        status: status as i32,
        failure_reason: row.failure_reason.clone(),
        requested_at_micros: row.requested_at.timestamp_micros(),
        app_payment: None,
    }
}

fn pending_view(id: Uuid, kind: RequestKind, user: Uuid, amount: Money) -> pb::ProviderRequest {
    pb::ProviderRequest {
        request_id: id.to_string(),
        kind: kind.as_str().to_string(),
        user_id: user.to_string(),
        amount: amount.amount().to_string(),
        currency: amount.currency().code().to_string(),
        status: pb::ProviderRequestStatus::Pending as i32,
        failure_reason: String::new(),
        requested_at_micros: Utc::now().timestamp_micros(),
        app_payment: None,
    }
}

/// A wallet's balance and holds.
pub struct WalletView {
    pub balances: Vec<(String, Decimal, Decimal)>,
    pub open_holds: Vec<HoldRow>,
}

impl PaymentsApp {
    /// Records a top-up request; the wallet is credited when the provider confirms.
    pub async fn top_up(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<pb::ProviderRequest, ApiError> {
        let user = caller.user_id;
        self.settings.daily_limits.admits(LimitedMove::TopUp, &amount)?;
        let response =
            tuan_eventstore::once!(&self.pool, user, key, |conn| self.request_top_up(conn, meta, user, amount))?;
        self.dispatch.notify_one();
        Ok(response)
    }

    async fn request_top_up(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        user: Uuid,
        amount: Money,
    ) -> Result<pb::ProviderRequest, ApiError> {
        let id = Uuid::now_v7();
        self.top_ups
            .run_in(conn, id, meta, ProviderCommand::Request { id, user, amount })
            .await
            .map_err(command_error)?;
        self.charge_daily(conn, user, LimitedMove::TopUp, &amount).await?;
        Ok(pending_view(id, RequestKind::TopUp, user, amount))
    }

    /// Takes the money out of the wallet now and asks the provider to pay it out.
    pub async fn withdraw(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        amount: Money,
        payout_openid: Option<&str>,
        key: &IdempotencyKey,
    ) -> Result<pb::ProviderRequest, ApiError> {
        let user = caller.user_id;
        self.settings.daily_limits.admits(LimitedMove::Withdrawal, &amount)?;
        let response = tuan_eventstore::once!(&self.pool, user, key, |conn| self.request_withdrawal(
            conn,
            meta,
            user,
            amount,
            payout_openid
        ))?;
        self.dispatch.notify_one();
        Ok(response)
    }

    async fn request_withdrawal(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        user: Uuid,
        amount: Money,
        payout_openid: Option<&str>,
    ) -> Result<pb::ProviderRequest, ApiError> {
        let id = Uuid::now_v7();
        if let Some(openid) = payout_openid {
            payer_actions::save_payout_account(conn, id, openid).await?;
        }
        self.withdrawals
            .run_in(conn, id, meta, ProviderCommand::Request { id, user, amount })
            .await
            .map_err(command_error)?;
        let entry = JournalEntry::withdrawal(user, amount).map_err(ApiError::from)?;
        self.post(conn, meta, PostEntry::new(EntryKind::Withdrawal, entry).initiator(user).reference(id)).await?;
        self.charge_daily(conn, user, LimitedMove::Withdrawal, &amount).await?;
        Ok(pending_view(id, RequestKind::Withdrawal, user, amount))
    }

    /// What the payer must do to complete top-up `id` in the provider's app, once the provider
    /// has an order for it (None with a provider that needs no approval).
    pub async fn app_payment(&self, id: Uuid) -> Result<Option<AppPayment>, ApiError> {
        Ok(payer_actions::load(&self.pool, id).await?)
    }

    /// A top-up or withdrawal of the caller's.
    pub async fn provider_request(
        &self,
        caller: &Caller,
        id: Uuid,
        kind: RequestKind,
    ) -> Result<ProviderRequestRow, ApiError> {
        let row = queries::provider_request(&self.pool, id).await?.filter(|r| r.kind == kind.as_str()).ok_or(
            PaymentError::NotFound(match kind {
                RequestKind::TopUp => "top-up",
                RequestKind::Withdrawal => "withdrawal",
            }),
        )?;
        if row.user_id != caller.user_id && !caller.has_role(tuan_runtime::auth::ROLE_OPERATOR) {
            return Err(PaymentError::Forbidden("this is another user's request".into()).into());
        }
        Ok(row)
    }

    /// Applies the provider's answer: credits a completed top-up, returns a failed withdrawal.
    pub async fn confirm(&self, confirmation: &Confirmation) -> Result<(), ApiError> {
        let meta = EventMeta {
            correlation_id: confirmation.id.to_string(),
            causation_id: format!("provider:{}", confirmation.id),
            trace_context: tuan_runtime::telemetry::current_trace_context(),
        };
        tuan_eventstore::retrying!(&self.pool, |conn| self.confirm_in(conn, &meta, confirmation))
    }

    async fn confirm_in(&self, conn: &mut PgConnection, meta: &EventMeta, c: &Confirmation) -> Result<(), ApiError> {
        let command = ProviderCommand::Confirm(c.outcome.clone());
        let id = c.id.to_string();
        // A provider that says how much moved must agree with what was asked: a paid order of
        // another amount is not credited (it waits for an operator; the provider keeps
        // notifying, and the mismatch is logged each time).
        if let Some(paid) = c.amount {
            let asked = queries::provider_request(&mut *conn, c.id).await?;
            if let Some(asked) = asked.filter(|r| r.amount != paid.amount() || r.currency != paid.currency().code()) {
                tracing::error!(request = %c.id, asked = %asked.amount, %paid, "provider amount differs from the request");
                return Err(ApiError::new(
                    ErrorKind::FailedPrecondition,
                    "the provider's amount differs from the request's",
                ));
            }
        }
        match c.kind {
            RequestKind::TopUp => {
                let (state, recorded) = self.top_ups.run_in(conn, &id, meta, command).await.map_err(command_error)?;
                for event in &recorded {
                    if let TopUpEvent::Completed(_) = event {
                        let amount = state.0.amount.ok_or_else(|| ApiError::internal("top-up without an amount"))?;
                        let entry = JournalEntry::top_up(state.0.user, amount).map_err(ApiError::from)?;
                        self.post(conn, meta, PostEntry::new(EntryKind::TopUp, entry).reference(c.id)).await?;
                    }
                }
            }
            RequestKind::Withdrawal => {
                let (state, recorded) =
                    self.withdrawals.run_in(conn, &id, meta, command).await.map_err(command_error)?;
                for event in &recorded {
                    if let WithdrawalEvent::Failed(_) = event {
                        let amount =
                            state.0.amount.ok_or_else(|| ApiError::internal("withdrawal without an amount"))?;
                        let entry = JournalEntry::withdrawal_reversal(state.0.user, amount).map_err(ApiError::from)?;
                        self.post(conn, meta, PostEntry::new(EntryKind::WithdrawalReversal, entry).reference(c.id))
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Submits pending provider requests whenever one is recorded (and resubmits those left
    /// unconfirmed past their lease), until shutdown.
    pub async fn run_dispatcher(self, mut shutdown: Shutdown) {
        let lease = self.settings.resubmit_after.as_secs().max(1) as i64;
        loop {
            match queries::claim_due_requests(&self.pool, lease, DISPATCH_BATCH).await {
                Ok(due) => {
                    for queries::DueRequest { request: row, payout_openid } in due {
                        let (Some(kind), Ok(currency)) =
                            (RequestKind::parse(&row.kind), Currency::parse(&row.currency))
                        else {
                            continue;
                        };
                        let Ok(amount) = Money::new(row.amount, currency) else {
                            continue;
                        };
                        let request =
                            ProviderRequest { id: row.request_id, kind, user: row.user_id, amount, payout_openid };
                        match self.provider.submit(request).await {
                            Ok(Submitted::Accepted) => {}
                            // The app reads it with GetTopUp and pays in the provider's app.
                            Ok(Submitted::AwaitingPayer(payment)) => {
                                if let Err(e) = payer_actions::save(&self.pool, row.request_id, &payment).await {
                                    tracing::warn!(error = %e, request = %row.request_id, "keeping the payment parameters failed");
                                }
                            }
                            // Stays pending; resubmitted when the lease runs out.
                            Err(e) => {
                                tracing::warn!(error = %e, request = %row.request_id, "submitting to the provider failed")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming provider requests failed"),
            }
            tokio::select! {
                _ = self.dispatch.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// Applies provider confirmations as they arrive, until shutdown. A confirmation that cannot
    /// be applied now is dropped: the request stays pending and is resubmitted after its lease,
    /// and the provider answers again.
    pub async fn run_confirmations(
        self,
        mut confirmations: tokio::sync::mpsc::UnboundedReceiver<Confirmation>,
        mut shutdown: Shutdown,
    ) {
        loop {
            let confirmation = tokio::select! {
                c = confirmations.recv() => match c { Some(c) => c, None => return },
                _ = shutdown.wait() => return,
            };
            if let Err(e) = self.confirm(&confirmation).await {
                tracing::warn!(error = %e, request = %confirmation.id, "applying a provider confirmation failed");
            }
        }
    }

    /// Wallet to wallet, between friends.
    pub async fn transfer(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        to: Uuid,
        amount: Money,
        memo: Memo,
        key: &IdempotencyKey,
    ) -> Result<pb::TransferReceipt, ApiError> {
        let from = caller.user_id;
        if from == to {
            return Err(PaymentError::from(LedgerError::SelfTransfer).into());
        }
        self.settings.daily_limits.admits(LimitedMove::Transfer, &amount)?;
        tuan_eventstore::once!(&self.pool, from, key, |conn| self.transfer_in(
            conn,
            meta,
            from,
            to,
            amount,
            memo.clone()
        ))
    }

    async fn transfer_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        from: Uuid,
        to: Uuid,
        amount: Money,
        memo: Memo,
    ) -> Result<pb::TransferReceipt, ApiError> {
        require_friend(conn, from, to).await?;
        let entry = JournalEntry::transfer(from, to, amount).map_err(ApiError::from)?;
        let post = PostEntry::new(EntryKind::Transfer, entry).initiator(from).between(from, to).memo(memo.clone());
        let entry_id = post.entry_id;
        self.post(conn, meta, post).await?;
        self.charge_daily(conn, from, LimitedMove::Transfer, &amount).await?;
        Ok(pb::TransferReceipt {
            entry_id: entry_id.to_string(),
            from_user_id: from.to_string(),
            to_user_id: to.to_string(),
            amount: amount.amount().to_string(),
            currency: amount.currency().code().to_string(),
            memo: memo.as_str().to_string(),
            posted_at_micros: Utc::now().timestamp_micros(),
        })
    }

    /// Counts `amount` against `user`'s daily limit of `kind`, or refuses it with
    /// `RESOURCE_EXHAUSTED` and a retry-after until midnight UTC. Called after the command's
    /// own writes (its first write must stay first: the ledger replays by transaction id), in
    /// its transaction, so a refusal rolls everything back and a replayed key counts nothing.
    async fn charge_daily(
        &self,
        conn: &mut PgConnection,
        user: Uuid,
        kind: LimitedMove,
        amount: &Money,
    ) -> Result<(), ApiError> {
        let limits = &self.settings.daily_limits;
        let (day, _) = limits::day_of(Utc::now());
        let currency = amount.currency().code();
        if store_limits::charge(conn, user, day, kind.as_str(), currency, amount.amount(), limits.limit(kind)).await? {
            return Ok(());
        }
        Err(limits::DailyLimitExceeded(limits.refusal(kind, amount)).into())
    }

    /// `user`'s balances (available and held, per currency) and open holds: the caller's own,
    /// or, for an operator, anyone's. Another user's wallet is refused before anything is read,
    /// whether or not that user exists.
    pub async fn wallet(&self, caller: &Caller, user: Uuid) -> Result<WalletView, ApiError> {
        if user != caller.user_id && !caller.has_role(tuan_runtime::auth::ROLE_OPERATOR) {
            return Err(PaymentError::Forbidden("only an operator may read another user's wallet".into()).into());
        }
        let account = AccountRef::UserWallet(user).to_string();
        let available = queries::balances(&self.pool, &account).await?;
        let open_holds = queries::open_holds(&self.pool, user).await?;
        let mut balances: Vec<(String, Decimal, Decimal)> =
            available.into_iter().map(|(c, d)| (c, d, Decimal::ZERO)).collect();
        for h in &open_holds {
            match balances.iter_mut().find(|(c, _, _)| *c == h.currency) {
                Some(line) => line.2 += h.remaining,
                None => balances.push((h.currency.clone(), Decimal::ZERO, h.remaining)),
            }
        }
        balances.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(WalletView { balances, open_holds })
    }

    /// The caller's wallet postings, newest first.
    pub async fn statement(
        &self,
        caller: &Caller,
        currency: Option<Currency>,
        after: Option<(i64, i32)>,
        limit: i64,
    ) -> Result<Vec<PostingRow>, ApiError> {
        let account = AccountRef::UserWallet(caller.user_id).to_string();
        Ok(queries::statement(&self.pool, &account, currency.map(|c| c.code()), after, limit).await?)
    }
}

/// Refuses unless `other` is `user`'s friend and neither blocked the other.
pub(crate) async fn require_friend(conn: &mut PgConnection, user: Uuid, other: Uuid) -> Result<(), ApiError> {
    match social::relation(&mut *conn, user, other).await? {
        Relation::Friends => Ok(()),
        Relation::Blocking | Relation::BlockedBy => Err(PaymentError::Forbidden(format!(
            "you cannot pay or split with user {other}: one of you blocked the other"
        ))
        .into()),
        Relation::Strangers => Err(PaymentError::StateConflict(format!("user {other} is not your friend")).into()),
    }
}
