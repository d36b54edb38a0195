//! Kafka consumers: the hold protocol from the group-buy service ([`groupbuy`]), and circle
//! membership from the circles service ([`circles`]). Friendships, blocks and merchant
//! verification from the users service are kept by `tuan_messaging::social::SocialGraph`.
//!
//! Each handler names the events it acts on in one `tuan_messaging::events!` list (what it
//! wants and what it dispatches on); `startup.rs` runs each with `Host::consume`.

pub mod circles;
pub mod groupbuy;

pub use circles::CirclesHandler;
pub use groupbuy::GroupBuyHandler;
