//! The event store every tuan service keeps in its own Postgres database.
//!
//! - [`EventStore::append`] writes events with an expected version; a concurrent
//!   writer at the same version loses with [`StoreError::Conflict`]. The same
//!   transaction writes an outbox row per event, which the messaging crate's relay
//!   publishes to Kafka: nothing is "saved, then sent".
//! - [`Repository`] runs a command against an [`Aggregate`]: load, decide, append,
//!   update inline projections, all in one transaction, retried on conflict.
//! - [`Projection`]s are rebuilt from the store into a fresh schema and swapped in.
//! - [`idempotency`]: keys that make a retried command take effect once.
//! - [`transaction`]: one transaction over several aggregates, run again when it lost a race
//!   ([`retrying!`]), and once per idempotency key ([`once!`]).
//! - [`testing`]: given / when / then for aggregates' unit tests.

mod aggregate;
mod error;
pub mod idempotency;
mod projection;
mod repository;
mod schema;
mod store;
pub mod testing;
pub mod transaction;

pub use aggregate::{Aggregate, DecodeError, EventPayload};
pub use error::StoreError;
pub use projection::{
    PROJECTION_SCHEMA, Projection, ProjectionSet, rebuild_projections, rebuild_projections_with_progress,
};
pub use repository::{CommandError, Repository};
pub use schema::{install_schema, install_tables};
pub use store::{
    EventMeta, EventStore, NewEvent, RecordedEvent, ReplayCursor, Snapshot, StreamRef, Version, decode_event,
    stored_uuid,
};

#[doc(hidden)]
pub mod __private {
    pub use prost;
    pub use sqlx::PgConnection;
}
