//! Use cases of the users service: each loads what it needs, asks the domain, and stores the
//! resulting events. Errors leave here as [`ApiError`]s.
//!
//! - `accounts`: sign-up, login, refresh, logout (everywhere), password change and reset, profiles
//! - `phone_codes`: the SMS codes that prove a phone number
//! - `friends`: friend requests, friendships, blocks
//! - `discovery`: address-book discovery and its rotating salts
//! - `merchants`: merchant applications and the operator's decision
//! - `roles`: granting and revoking roles, the first operator
//! - `hashing`: the bounded password hashing the others share

mod accounts;
mod discovery;
mod friends;
mod hashing;
mod merchants;
mod phone_codes;
pub mod roles;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use sqlx::PgPool;
use tuan_eventstore::{EventStore, ProjectionSet, Repository};
use tuan_runtime::auth::TokenKeys;

use crate::domain::{
    discovery::SaltSchedule, friendship::Friendship, login::LoginThrottle, merchant::MerchantApplication,
    session::Session, user::User,
};

pub use accounts::Tokens;
pub use hashing::HashingBound;
pub use phone_codes::{CodeRequested, PhoneCodes};

/// What time discovery goes by (salt periods, daily allowances): `Utc::now` in the service;
/// tests move it to cross days and periods. Sessions and tokens keep the system clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Settings the use cases need.
#[derive(Clone, Debug)]
pub struct Settings {
    pub access_ttl: Duration,
    /// The sliding lifetime of a session: each refresh extends it by this much...
    pub refresh_ttl: Duration,
    /// ...never past this long after login.
    pub session_max_lifetime: Duration,
    pub discovery: DiscoverySettings,
    pub login: LoginSettings,
    /// How many password hashes run at once, and how long a login waits for a turn.
    pub hashing_concurrency: usize,
    pub hashing_wait: Duration,
}

/// The per-account login throttle.
#[derive(Clone, Debug)]
pub struct LoginSettings {
    pub throttle: LoginThrottle,
    /// A failure count whose last failure is older than this starts again.
    pub forget_after: Duration,
}

/// Address-book discovery: the rotating salts and the limits per call and per day.
#[derive(Clone, Debug)]
pub struct DiscoverySettings {
    pub salts: SaltSchedule,
    pub max_per_request: usize,
    pub daily_limit: u32,
}

/// The users service's use cases.
#[derive(Clone)]
pub struct UsersApp {
    pool: PgPool,
    users: Repository<User>,
    sessions: Repository<Session>,
    friendships: Repository<Friendship>,
    merchants: Repository<MerchantApplication>,
    keys: TokenKeys,
    hashing: HashingBound,
    codes: PhoneCodes,
    settings: Settings,
    clock: Clock,
}

impl UsersApp {
    pub fn new(
        pool: PgPool,
        projections: ProjectionSet,
        keys: TokenKeys,
        settings: Settings,
        codes: PhoneCodes,
        clock: Clock,
    ) -> Self {
        let store = EventStore::new(pool.clone());
        Self {
            users: Repository::new(store.clone(), projections.clone()),
            sessions: Repository::new(store.clone(), projections.clone()),
            friendships: Repository::new(store.clone(), projections.clone()),
            merchants: Repository::new(store, projections),
            pool,
            keys,
            hashing: HashingBound::new(settings.hashing_concurrency, settings.hashing_wait),
            codes,
            settings,
            clock,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
