//! Premium plans, public accounts, follows, broadcasts and inboxes.

use chrono::{DateTime, Datelike, Utc};
use tuan_eventstore::{Aggregate as _, CommandError, EventMeta, StoreError};
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::CirclesApp;
use crate::{
    domain::{
        CircleError,
        account::{AccountCommand, FollowAction, FollowCommand, Month, follow_id},
        plan::SetPremium,
        text::{AccountName, Content, Description},
    },
    store::queries::{self, AccountRow, ItemRow},
};

/// What a broadcast returns: its id and where the month's quota stands.
#[derive(Clone, Debug)]
pub struct BroadcastReceipt {
    pub broadcast_id: Uuid,
    pub account_id: Uuid,
    pub sent_this_month: u32,
    pub quota: u32,
}

fn month_of(now: DateTime<Utc>) -> Month {
    Month::of(now.year(), now.month())
}

impl CirclesApp {
    /// Grants or revokes the premium plan (raises the cap an owner may set). Operators only.
    pub async fn set_premium(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        user_id: Uuid,
        premium: bool,
    ) -> Result<bool, ApiError> {
        caller.require_operator()?;
        let by = caller.user_id;
        let (plan, _) =
            self.plans.execute(&user_id.to_string(), meta, |p| p.handle(SetPremium { user_id, premium, by })).await?;
        Ok(plan.premium)
    }

    pub async fn open_account(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        name: AccountName,
        description: Description,
    ) -> Result<AccountRow, ApiError> {
        let owner = caller.user_id;
        let owner_is_merchant = queries::is_merchant(&self.pool, owner).await?;
        if owner_is_merchant && queries::account_of_owner(&self.pool, owner).await?.is_some() {
            return Err(CircleError::AccountExists.into());
        }
        let account_id = Uuid::now_v7();
        let command = AccountCommand::Open { account_id, owner, name, description, owner_is_merchant };
        match self.accounts.execute(&account_id.to_string(), meta, |a| a.handle(command.clone())).await {
            // Two concurrent openings by one merchant: the unique owner index decides.
            Err(CommandError::Store(StoreError::UniqueViolation { .. })) => {
                return Err(CircleError::AccountExists.into());
            }
            other => other?,
        };
        self.account(account_id).await
    }

    pub async fn account(&self, account_id: Uuid) -> Result<AccountRow, ApiError> {
        Ok(queries::account(&self.pool, account_id).await?.ok_or(CircleError::AccountNotFound)?)
    }

    /// The public account `caller` runs (`NOT_FOUND` while it has none).
    pub async fn own_account(&self, caller: &Caller) -> Result<AccountRow, ApiError> {
        let account_id =
            queries::account_of_owner(&self.pool, caller.user_id).await?.ok_or(CircleError::AccountNotFound)?;
        self.account(account_id).await
    }

    /// Broadcasts the account sent this calendar month.
    pub async fn broadcasts_this_month(&self, account_id: Uuid) -> Result<u32, ApiError> {
        let month = month_of(Utc::now());
        Ok(queries::broadcasts_in_month(&self.pool, account_id, month.as_str()).await? as u32)
    }

    pub async fn follow(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        account_id: Uuid,
        action: FollowAction,
    ) -> Result<(bool, bool), ApiError> {
        let account_exists = queries::account(&self.pool, account_id).await?.is_some();
        let command = FollowCommand { account_id, user_id: caller.user_id, account_exists, action };
        let (state, _) =
            self.follows.execute(&follow_id(account_id, caller.user_id), meta, |f| f.handle(command.clone())).await?;
        Ok((state.following, state.muted))
    }

    /// Appends one `BroadcastSent` if the month's quota allows; the fan-out consumer delivers
    /// it to every non-muted follower's inbox. Concurrent broadcasts serialise on the
    /// account's stream, so the quota holds exactly.
    pub async fn broadcast(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        account_id: Uuid,
        content: Content,
    ) -> Result<BroadcastReceipt, ApiError> {
        let month = month_of(Utc::now());
        let quota = self.settings.broadcast_quota_per_month;
        let command = AccountCommand::Broadcast {
            actor: caller.user_id,
            broadcast_id: Uuid::now_v7(),
            content,
            month: month.clone(),
            quota,
        };
        let (state, _) = self.accounts.execute(&account_id.to_string(), meta, |a| a.handle(command.clone())).await?;
        let AccountCommand::Broadcast { broadcast_id, .. } = command else { unreachable!("built above") };
        Ok(BroadcastReceipt { broadcast_id, account_id, sent_this_month: state.sent_in(&month), quota })
    }

    pub async fn inbox(
        &self,
        caller: &Caller,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<ItemRow>, ApiError> {
        Ok(queries::inbox(&self.pool, caller.user_id, before, limit).await?)
    }
}
