//! Friendships.

use tuan_eventstore::{Aggregate as _, EventMeta};
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::UsersApp;
use crate::{
    domain::{
        UserError,
        friendship::{FriendAction, FriendshipCommand, Relation, pair_id},
    },
    store::queries::{self, FriendRow, RequestRow},
};

impl UsersApp {
    /// Does `action` towards `other` as `caller`, and returns how the caller now sees them.
    pub async fn befriend(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        other: Uuid,
        action: FriendAction,
    ) -> Result<Relation, ApiError> {
        if other != caller.user_id && !queries::user_exists(&self.pool, other).await? {
            return Err(UserError::UserNotFound.into());
        }
        let command = FriendshipCommand { actor: caller.user_id, other, action };
        let (state, _) =
            self.friendships.execute(&pair_id(caller.user_id, other), meta, |f| f.handle(command.clone())).await?;
        Ok(state.relation_for(caller.user_id))
    }

    pub async fn friends(&self, caller: &Caller, after: Option<Uuid>, limit: i64) -> Result<Vec<FriendRow>, ApiError> {
        Ok(queries::friends(&self.pool, caller.user_id, after, limit).await?)
    }

    pub async fn friend_requests(&self, caller: &Caller, incoming: bool) -> Result<Vec<RequestRow>, ApiError> {
        Ok(queries::friend_requests(&self.pool, caller.user_id, incoming).await?)
    }
}
