//! The group-buy domain: pure rules, no I/O. Commands go in, events come out.

pub mod campaign;
mod error;
pub mod join;
pub mod team;

pub use error::GroupBuyError;

/// The protobuf event messages this domain emits (the published contract).
pub use tuan_proto::groupbuy::v1 as events;
