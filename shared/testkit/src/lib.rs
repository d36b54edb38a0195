//! Test support shared by every service's tests.
//!
//! - [`TestDb`]: a fresh database per test, named by a random UUID, dropped afterwards.
//! - [`shared_broker`]: the broker every test may use (started if it is not running).
//! - [`OwnBroker`]: a private broker a test can kill and restart.
//!
//! Nothing here skips a test when something is missing: it fails saying what to start.

mod broker;
mod db;

pub use broker::{OwnBroker, shared_broker};
pub use db::TestDb;

/// A prefix that keeps one test's topics apart from every other test's.
pub fn unique_prefix() -> String {
    format!("t{}.", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Logs to stderr when `TEST_LOG` is set; otherwise tests stay quiet.
pub fn init_tracing() {
    use std::sync::Once;
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
    });
}
