//! Address-book discovery: the current salt, matching uploaded hashes within the caller's
//! allowance, and keeping every user's hash under the kept periods' salts.

use sqlx::PgConnection;
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::UsersApp;
use crate::{
    domain::{
        discovery::{DiscoveryError, Salt, allowance_day, parse_hashes, phone_hash},
        friendship::Relation,
        phone::PhoneNumber,
    },
    store::{
        discovery as store,
        queries::{self, DiscoveredRow},
    },
};

/// Users hashed per transaction when a period is filled.
const FILL_BATCH: i64 = 2_000;

impl UsersApp {
    /// The salt clients hash with now.
    pub fn discovery_salt(&self) -> Salt {
        self.settings.discovery.salts.current((self.clock)())
    }

    /// Which uploaded hashes (made with salt `salt_id`) belong to users other than the caller,
    /// with how the caller relates to each. The distinct hashes count against the caller's
    /// daily allowance, charged before anything is looked up; the hashes themselves are not kept.
    pub async fn discover(
        &self,
        caller: &Caller,
        salt_id: i64,
        hashes: Vec<String>,
    ) -> Result<Vec<(DiscoveredRow, Relation)>, ApiError> {
        let settings = &self.settings.discovery;
        let now = (self.clock)();
        let hashes = parse_hashes(hashes, settings.max_per_request)?;
        let salt = settings.salts.accept(salt_id, now)?;
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let (day, retry_after) = allowance_day(now);
        let limit = settings.daily_limit;
        let numbers = i32::try_from(hashes.len()).unwrap_or(i32::MAX);
        let limit_sql = i32::try_from(limit).unwrap_or(i32::MAX);
        if !store::charge(&self.pool, caller.user_id, day, numbers, limit_sql).await? {
            return Err(DiscoveryError::DailyLimit { limit, retry_after }.into());
        }
        let found: Vec<DiscoveredRow> = store::users_by_hash(&self.pool, salt.id, &hashes)
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

    /// Stores a new user's hash under every registered period's salt, in the sign-up's
    /// transaction (so a period being filled meanwhile misses nobody).
    pub(super) async fn add_discovery_hashes(
        &self,
        conn: &mut PgConnection,
        user: Uuid,
        phone: &PhoneNumber,
    ) -> Result<(), sqlx::Error> {
        let salts = &self.settings.discovery.salts;
        let hashes: Vec<(i64, String)> = store::periods_for_sign_up(&mut *conn)
            .await?
            .into_iter()
            .map(|period| (period, phone_hash(&salts.salt(period).salt, phone.as_str())))
            .collect();
        store::add_hashes(conn, user, &hashes).await
    }

    /// Registers the previous, current and next periods, fills those not yet filled with every
    /// user's hash, and forgets older periods and past days' allowances. The service runs it
    /// now and then (see `startup`); replicas doing it at once share the work.
    pub async fn rotate_discovery(&self) -> Result<(), sqlx::Error> {
        let salts = &self.settings.discovery.salts;
        let now = (self.clock)();
        let kept = salts.kept_periods(now);
        store::register_periods(&self.pool, &kept).await?;
        for period in store::unfilled_periods(&self.pool).await? {
            let salt = salts.salt(period).salt;
            while !store::fill_batch(&self.pool, period, FILL_BATCH, |phone| phone_hash(&salt, phone)).await? {}
        }
        let yesterday = allowance_day(now).0.pred_opt().unwrap_or(allowance_day(now).0);
        store::retire(&self.pool, kept[0], yesterday).await
    }

    /// Registers the kept periods only (fast): done before the service serves, so sign-ups from
    /// the first one on add their own hashes.
    pub async fn register_discovery_periods(&self) -> Result<(), sqlx::Error> {
        store::register_periods(&self.pool, &self.settings.discovery.salts.kept_periods((self.clock)())).await
    }
}
