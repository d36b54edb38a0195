//! The users service: accounts, sessions, friendships, address-book discovery and merchant
//! verification, event-sourced.
//!
//! `domain` is pure (commands -> events); `app` holds the use cases; `store` the read models;
//! `api` the gRPC surface; `sms` the SMS port and its adapters; `startup` wires them.

pub mod api;
pub mod app;
pub mod config;
pub mod domain;
pub mod sms;
pub mod startup;
pub mod store;

pub use startup::Application;
