//! The group-buy domain: pure rules, no I/O. Commands go in, events come out.

mod names;

pub mod campaign;
pub mod entry;
mod error;
pub mod join;
pub mod team;

pub use error::GroupBuyError;
pub use names::UnknownName;

/// The protobuf event messages this domain emits (the published contract).
pub use tuan_proto::groupbuy::v1 as events;
