//! The group-buy service: campaigns of verified merchants, teams and tipping, a join saga with
//! the payments service over Kafka, durable deadlines and live progress, event-sourced.
//!
//! `domain` is pure (commands -> events); `app` holds the use cases, the saga's steps, the
//! deadline scanner and the progress fan-out; `consumers` the Kafka handler that runs the saga;
//! `store` the read models; `api` the gRPC surface; `startup` wires them.

pub mod api;
pub mod app;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod startup;
pub mod store;

pub use startup::Application;
