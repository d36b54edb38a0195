//! Value types every service speaks, parsed once at the edge so the type is the proof.
//!
//! - [`money`]: [`Currency`] and non-negative [`Money`], exact to the currency's minor unit;
//! - [`text`]: [`bounded`] text and the [`text_type!`] newtypes built on it;
//! - [`recorded`]: reading those back from an aggregate's own events, loudly if corrupt.
//!
//! The crate is pure (no I/O, no gRPC, no service types): a service wraps [`MoneyError`] and
//! [`TextError`] in its own domain error, which says which status they map to.

pub mod money;
pub mod recorded;
pub mod text;

pub use money::{Currency, Money, MoneyError};
pub use text::{TextError, bounded};
