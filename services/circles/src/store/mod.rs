//! Persistence of the circles service: read models of its own events (inline, in `proj`),
//! tables fed by the consumers (`crate::consumers`) and the statements that feed them
//! (friendships, blocks and merchants from the users service; timelines and inboxes from its
//! own fan-out events; live deal cards from the group-buy and payments events, in `public`),
//! and queries over both.
//! Writes of facts go through the event store only.

pub mod cards;
pub mod feeds;
pub mod projection;
pub mod queries;

pub use projection::CirclesProjection;
