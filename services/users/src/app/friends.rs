//! Friendships and address-book discovery.

use tuan_eventstore::{Aggregate as _, EventMeta};
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::UsersApp;
use crate::{
    domain::{
        UserError,
        friendship::{FriendAction, FriendshipCommand, Relation, pair_id},
    },
    store::queries::{self, DiscoveredRow, FriendRow, RequestRow},
};

/// At most this many hashes per discovery call.
const MAX_DISCOVERY_HASHES: usize = 5_000;

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

    pub fn discovery_salt(&self) -> &str {
        &self.settings.discovery_salt
    }

    /// Which uploaded hashes belong to users (other than the caller), with how the caller
    /// relates to each. The hashes themselves are not kept.
    pub async fn discover(
        &self,
        caller: &Caller,
        hashes: Vec<String>,
    ) -> Result<Vec<(DiscoveredRow, Relation)>, ApiError> {
        if hashes.len() > MAX_DISCOVERY_HASHES {
            return Err(ApiError::invalid(format!("at most {MAX_DISCOVERY_HASHES} phone hashes per call")));
        }
        let mut hashes: Vec<String> = hashes.into_iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        if let Some(bad) = hashes.iter().find(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(ApiError::invalid(format!("phone hash {bad:?} is not a hex SHA-256 digest")));
        }
        hashes.sort();
        hashes.dedup();
        let found: Vec<DiscoveredRow> = queries::users_by_phone_hash(&self.pool, &hashes)
            .await?
            .into_iter()
            .filter(|row| row.profile.user_id != caller.user_id)
            .collect();
        let ids: Vec<Uuid> = found.iter().map(|r| r.profile.user_id).collect();
        let relations = queries::relations(&self.pool, caller.user_id, &ids).await?;
        Ok(found
            .into_iter()
            .map(|row| {
                let relation = relations
                    .iter()
                    .find(|(id, _)| *id == row.profile.user_id)
                    .map(|(_, kind)| match kind.as_str() {
                        "friends" => Relation::Friends,
                        "sent" => Relation::RequestSent,
                        "received" => Relation::RequestReceived,
                        _ => Relation::Blocked,
                    })
                    .unwrap_or(Relation::None);
                (row, relation)
            })
            .collect())
    }
}
