//! End-to-end tests: every service, the broker and Postgres as real processes, and the test
//! talking to the gateway only (as the mobile app would). One test binary; tests take turns,
//! each with a system of its own (see `harness`).

use tuan_e2e::{flows, harness};

mod demo;
mod events;
mod isolation;
mod journey;
mod observability;
mod resilience;
mod web;
