//! Use cases of the users service: each loads what it needs, asks the domain, and stores the
//! resulting events. Errors leave here as [`ApiError`]s.

mod accounts;
mod friends;
mod merchants;

use std::time::Duration;

use sqlx::PgPool;
use tuan_eventstore::{EventStore, ProjectionSet, Repository};
use tuan_runtime::auth::TokenKeys;

use crate::domain::{friendship::Friendship, merchant::MerchantApplication, session::Session, user::User};

pub use accounts::Tokens;

/// Settings the use cases need.
#[derive(Clone, Debug)]
pub struct Settings {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Published to clients; they hash address-book numbers with it.
    pub discovery_salt: String,
    /// Numbers that become operators when they sign up or log in.
    pub operator_phones: Vec<String>,
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
    settings: Settings,
}

impl UsersApp {
    pub fn new(pool: PgPool, projections: ProjectionSet, keys: TokenKeys, settings: Settings) -> Self {
        let store = EventStore::new(pool.clone());
        Self {
            users: Repository::new(store.clone(), projections.clone()),
            sessions: Repository::new(store.clone(), projections.clone()),
            friendships: Repository::new(store.clone(), projections.clone()),
            merchants: Repository::new(store, projections),
            pool,
            keys,
            settings,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
