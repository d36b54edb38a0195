//! The mobile gateway: one call per screen (Home, CampaignDetail, Wallet) built from the
//! backends' query calls, and every user or merchant command passed through, behind JWT
//! verification, per-user and per-IP rate limits, deadlines and per-backend circuit breakers.
//! It keeps no business state.
//!
//! `domain` is pure (breaker, deadlines, screen assembly); `app` calls the backends and builds
//! screens; `api` is the gRPC surface and its tower layers; `startup` wires them.

pub mod api;
pub mod app;
pub mod config;
pub mod domain;
pub mod startup;

pub use startup::Application;
