//! The payments service: wallets on a double-entry ledger, holds for group buying, AA bills and
//! collections, group balances with settle-up, and charity campaigns, event-sourced.
//!
//! `domain` is pure (commands -> events, journal entries); `app` holds the use cases; `store` the
//! read models (balances are projections of the journal); `api` the gRPC surface; `provider` the
//! payment-provider port and its simulated adapter; `consumers` the Kafka consumers;
//! `startup` wires them.

pub mod api;
pub mod app;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod provider;
pub mod startup;
pub mod store;
pub mod wechat;

pub use startup::Application;
