//! Kafka consumers: the users service's events ([`UsersFeed`]: the social graph and each new
//! friendship's backfill), this service's own events ([`FanoutFeed`]: moments to timelines,
//! broadcasts to inboxes), and the group-buy and payments events behind the live deal cards
//! ([`CardsFeed`]). The tables they feed and the statements that feed them are in `store`
//! (`store::feeds`, `store::cards`).
//!
//! Each handler names the events it acts on in one `tuan_messaging::events!` list (what it
//! wants and what it dispatches on); `startup.rs` runs each with `Host::consume`.

mod cards;
mod fanout;
mod users;

pub use cards::CardsFeed;
pub use fanout::FanoutFeed;
pub use users::UsersFeed;
