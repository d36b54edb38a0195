//! Persistence of the users service: its read models (projections of its own events) and
//! the queries over them, written through the event store only; and discovery's tables
//! (derived from the read models and the discovery secret, see [`discovery`]).

pub mod discovery;
pub mod projection;
pub mod queries;

pub use projection::UsersProjection;
