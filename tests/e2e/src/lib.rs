//! End-to-end support for tuan: [`harness`] runs every service (and, if asked, a broker of its
//! own) as real processes; [`flows`] are the steps the end-to-end tests share, all through the
//! gateway; [`chaos`] is the reliability harness (seeded workload, injected faults,
//! invariants). The end-to-end tests are `tests/e2e/main.rs`.

pub mod chaos;
pub mod flows;
pub mod harness;
