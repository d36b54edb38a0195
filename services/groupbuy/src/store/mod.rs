//! Persistence of the group-buy service: its read models (projections of its own events),
//! the tables fed by other services or by time (merchants, deadlines), and the queries.
//! Writes to the read models go through the event store only.

pub mod external;
pub mod projection;
pub mod queries;

pub use projection::GroupBuyProjection;
