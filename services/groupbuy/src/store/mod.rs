//! Persistence of the group-buy service: its read models (projections of its own events),
//! the tables fed by other services or by time (merchants, deadlines), the queries, and the
//! row locks use cases take before they append. Writes to the read models go through the
//! event store only.

mod columns;
pub mod external;
pub mod locks;
pub mod projection;
pub mod queries;

pub use projection::GroupBuyProjection;
