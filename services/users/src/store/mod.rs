//! Persistence of the users service: its read models (projections of its own events) and
//! the queries over them. Writes go through the event store only.

pub mod projection;
pub mod queries;

pub use projection::UsersProjection;
