//! The circles domain: pure rules, no I/O. Commands go in, events come out.
//!
//! Facts the rules need from elsewhere (member count under the circle lock, friendship and
//! block projections, merchant verification, the calendar month) travel in the commands, so
//! every decision is testable without a database.

pub mod account;
pub mod card;
pub mod circle;
mod error;
pub mod membership;
pub mod plan;
pub mod post;
pub mod text;

pub use error::CircleError;

/// The protobuf event messages this domain emits (the published contract).
pub use tuan_proto::circles::v1 as events;
