//! The runtime every tuan service shares, so that knowing one service means knowing all:
//! typed config ([`config`]), tracing and OpenTelemetry ([`telemetry`]), the gRPC server with
//! health and reflection ([`grpc`]), parsers of request fields ([`fields`]), JWT identity
//! ([`auth`]), one mapping from errors to gRPC status ([`error`]), Postgres pools ([`db`]) and
//! orderly shutdown ([`shutdown`]).

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod fields;
pub mod grpc;
pub mod metrics;
pub mod mode;
pub mod paging;
pub mod shutdown;
pub mod telemetry;

pub use error::{ApiError, ErrorKind};
