//! Use cases of the payments service. Each runs in one database transaction: it checks what it
//! needs, asks the domain, appends the resulting events (journal entries among them) and lets the
//! inline projections apply them. Errors leave here as [`ApiError`]s.
//!
//! - `wallet`: top-ups, withdrawals and their provider requests, transfers, wallets, statements
//! - `holds`: holds placed, captured, released and expired for group buying
//! - `bills`: AA bills, collections, group balances and settle-up
//! - `charity`: charity campaigns and donations
//! - `gauges`: the saga gauges sampled for metrics
//!
//! Money commands are idempotent by (caller, key): the key row, the events and the stored
//! response commit together. Their use cases therefore build the wire response (protobuf) in the
//! same transaction, and a replay returns exactly those bytes.

pub mod bills;
pub mod charity;
pub mod gauges;
pub mod holds;
pub mod wallet;

use std::{sync::Arc, time::Duration};

use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tuan_eventstore::{CommandError, EventMeta, EventStore, ProjectionSet, Repository, StoreError};
use tuan_runtime::{ApiError, ErrorKind};

use crate::{
    domain::{
        FeeRate, PaymentError,
        bill::{AaBill, Collection},
        charity::CharityCampaign,
        hold::Hold,
        journal::{Journal, PostEntry},
        provider::{TopUp, Withdrawal},
    },
    provider::PaymentProvider,
    store::projection::NO_OVERDRAFT,
};

pub use bills::Group;

/// Settings the use cases need.
#[derive(Clone, Debug)]
pub struct Settings {
    pub fee_rate: FeeRate,
    pub default_hold_ttl: Duration,
    /// How long a submitted provider request may stay unconfirmed before it is resubmitted.
    pub resubmit_after: Duration,
    pub daily_limits: crate::domain::limits::DailyLimits,
}

/// The payments service's use cases.
#[derive(Clone)]
pub struct PaymentsApp {
    pool: PgPool,
    journal: Repository<Journal>,
    holds: Repository<Hold>,
    bills: Repository<AaBill>,
    collections: Repository<Collection>,
    campaigns: Repository<CharityCampaign>,
    top_ups: Repository<TopUp>,
    withdrawals: Repository<Withdrawal>,
    provider: Arc<dyn PaymentProvider>,
    /// Wakes the provider dispatcher when a request was recorded.
    dispatch: Arc<Notify>,
    settings: Settings,
}

impl PaymentsApp {
    pub fn new(
        pool: PgPool,
        projections: ProjectionSet,
        provider: Arc<dyn PaymentProvider>,
        settings: Settings,
    ) -> Self {
        let store = EventStore::new(pool.clone());
        Self {
            journal: Repository::new(store.clone(), projections.clone()),
            holds: Repository::new(store.clone(), projections.clone()),
            bills: Repository::new(store.clone(), projections.clone()),
            collections: Repository::new(store.clone(), projections.clone()),
            campaigns: Repository::new(store.clone(), projections.clone()),
            top_ups: Repository::new(store.clone(), projections.clone()),
            withdrawals: Repository::new(store, projections),
            provider,
            dispatch: Arc::new(Notify::new()),
            pool,
            settings,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Appends one journal entry; its postings update the balances in this transaction.
    async fn post(&self, conn: &mut PgConnection, meta: &EventMeta, entry: PostEntry) -> Result<(), ApiError> {
        self.journal
            .execute_in(conn, &entry.stream_id(), meta, |j| {
                use tuan_eventstore::Aggregate as _;
                j.handle(entry.clone())
            })
            .await
            .map_err(command_error)?;
        Ok(())
    }
}

/// A command failure as the client sees it: the ledger's balance constraint means the money is
/// not there.
pub(crate) fn command_error(e: CommandError<PaymentError>) -> ApiError {
    if let CommandError::Store(StoreError::Database(sqlx::Error::Database(db))) = &e
        && (db.code().as_deref() == Some("23514") || db.constraint() == Some(NO_OVERDRAFT))
    {
        return PaymentError::WalletInsufficient.into();
    }
    e.into()
}

pub(crate) fn is_insufficient(e: &ApiError) -> bool {
    e.kind == ErrorKind::FailedPrecondition && e.message == PaymentError::WalletInsufficient.to_string()
}
