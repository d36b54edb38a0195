//! Use cases of the circles service: each loads what it needs, asks the domain, and stores the
//! resulting events. Errors leave here as [`ApiError`]s.
//!
//! - `circles`: creating circles, settings, membership operations, ownership, listings
//! - `posts`: posts and deal cards in circles, moments and the timeline
//! - `accounts`: public accounts, followers, broadcasts and the inbox
//! - `gate`: an in-process queue per circle in front of its row lock (bursts of joins)

mod accounts;
mod circles;
mod gate;
mod posts;

use sqlx::PgPool;
use tuan_eventstore::{EventStore, ProjectionSet, Repository};

use crate::domain::{
    account::{Follow, PublicAccount},
    circle::Circle,
    membership::Membership,
    plan::Plan,
    post::{Moment, Post},
};

pub use accounts::BroadcastReceipt;
pub use circles::{MemberOp, SettingChange};

/// Settings the use cases need.
#[derive(Clone, Debug)]
pub struct Settings {
    pub default_member_cap: u32,
    pub premium_member_cap: u32,
    pub broadcast_quota_per_month: u32,
}

/// The circles service's use cases.
#[derive(Clone)]
pub struct CirclesApp {
    pool: PgPool,
    circles: Repository<Circle>,
    memberships: Repository<Membership>,
    posts: Repository<Post>,
    moments: Repository<Moment>,
    plans: Repository<Plan>,
    accounts: Repository<PublicAccount>,
    follows: Repository<Follow>,
    gate: gate::CircleGate,
    settings: Settings,
}

impl CirclesApp {
    pub fn new(pool: PgPool, projections: ProjectionSet, settings: Settings) -> Self {
        let store = EventStore::new(pool.clone());
        Self {
            circles: Repository::new(store.clone(), projections.clone()),
            memberships: Repository::new(store.clone(), projections.clone()),
            posts: Repository::new(store.clone(), projections.clone()),
            moments: Repository::new(store.clone(), projections.clone()),
            plans: Repository::new(store.clone(), projections.clone()),
            accounts: Repository::new(store.clone(), projections.clone()),
            follows: Repository::new(store, projections),
            gate: gate::CircleGate::default(),
            pool,
            settings,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}
