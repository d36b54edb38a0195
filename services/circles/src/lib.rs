//! The circles service: circles (groups and clusters) with roles and a member cap, posts with
//! deal cards, moments fanned out to friends' timelines, and public accounts whose broadcasts
//! are fanned out to followers' inboxes under a monthly quota. Event-sourced.
//!
//! `domain` is pure (commands -> events); `app` holds the use cases; `store` the read models
//! and the tables fed by other services' events and by the fan-out; `consumers` the Kafka
//! consumers that feed them (users events, the fan-out, live deal cards); `api` the gRPC
//! surface; `startup` wires them.

pub mod api;
pub mod app;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod startup;
pub mod store;

pub use startup::Application;
