//! The users domain: pure rules, no I/O. Commands go in, events come out.

pub mod discovery;
mod error;
pub mod friendship;
pub mod login;
pub mod merchant;
pub mod password;
pub mod phone;
pub mod phone_code;
pub mod profile;
pub mod session;
pub mod user;

pub use error::UserError;

/// The protobuf event messages this domain emits (the published contract).
pub use tuan_proto::users::v1 as events;
