//! Use cases of the group-buy service: each loads what it needs, asks the domain, and stores
//! the resulting events (with the deadlines and notifications they imply) in one transaction.
//! Errors leave here as [`ApiError`]s.
//!
//! - `campaigns`: launching, pausing, resuming and ending campaigns; listings and figures
//! - `joins`: opening, joining and leaving teams, tipping joins, and the buyer's views of them
//! - `saga`: the join saga's steps on payments' answers (run by `consumers::SagaHandler`)
//! - `deadlines`: teams and campaigns whose time ran out
//! - `progress`: the live streams of a team's or campaign's progress
//! - `gauges`: the saga gauges sampled for metrics

mod campaigns;
mod deadlines;
pub mod gauges;
mod joins;
pub mod progress;
mod saga;

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tuan_eventstore::{CommandError, EventStore, ProjectionSet, Repository, StoreError};
use tuan_runtime::{ApiError, shutdown::Shutdown};

use crate::{
    domain::{GroupBuyError, campaign::Campaign, join::Join, team::Team},
    store::projection::{LIMIT_CHECK, STOCK_CHECK},
};

pub use campaigns::JoinHistory;
pub use deadlines::DeadlineScanner;
pub use joins::{JoinView, OpenTeams, TeamView};
pub use progress::ProgressHub;

/// Settings the use cases need.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Payments may release a hold by itself this long after our own deadline for it, in case
    /// we never decide (we always do; this is the safety net).
    pub hold_grace: Duration,
    /// How often watchers get a "time left" update when nothing else changed.
    pub progress_tick: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self { hold_grace: Duration::from_secs(3600), progress_tick: Duration::from_secs(1) }
    }
}

/// The group-buy service's use cases.
#[derive(Clone)]
pub struct GroupBuyApp {
    pool: PgPool,
    store: EventStore,
    campaigns: Repository<Campaign>,
    teams: Repository<Team>,
    joins: Repository<Join>,
    settings: Settings,
    hub: Arc<ProgressHub>,
    shutdown: Shutdown,
}

impl GroupBuyApp {
    pub fn new(
        pool: PgPool,
        projections: ProjectionSet,
        settings: Settings,
        hub: Arc<ProgressHub>,
        shutdown: Shutdown,
    ) -> Self {
        let store = EventStore::new(pool.clone());
        Self {
            campaigns: Repository::new(store.clone(), projections.clone()),
            teams: Repository::new(store.clone(), projections.clone()),
            joins: Repository::new(store.clone(), projections),
            store,
            pool,
            settings,
            hub,
            shutdown,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A command error as the client should see it. The stock and per-user CHECK constraints of
/// the projections are the last guard against a race; they read as the rule they protect.
fn command_error(err: CommandError<GroupBuyError>, per_user_limit: u32) -> ApiError {
    if let CommandError::Store(StoreError::Database(sqlx::Error::Database(db))) = &err
        && db.code().as_deref() == Some("23514")
    {
        match db.constraint() {
            Some(STOCK_CHECK) => return GroupBuyError::SoldOut.into(),
            Some(LIMIT_CHECK) => return GroupBuyError::PerUserLimit(per_user_limit).into(),
            _ => {}
        }
    }
    ApiError::from(err)
}
