//! Test support shared by every service's tests.
//!
//! - [`TestDb`]: a fresh database per test, named by a random UUID, dropped afterwards;
//!   [`event_count`] and [`request_event_count`] read its event store.
//! - [`service`]: a service under test: [`config_for`] a test, [`fresh`] database and config,
//!   its [`Server`] on a free port until stopped, [`User`]s with tokens, [`authed`] requests
//!   and [`envelope`]s of other services' events.
//! - [`shared_broker`]: the broker every test may use (started if it is not running).
//! - [`OwnBroker`]: a private broker a test can kill and restart.
//! - [`otlp::TraceCollector`]: an OTLP trace receiver, to assert on the spans services export.
//! - [`authz::MATRIX`]: who may call each RPC, and the walkers that prove it against a
//!   service; [`rpc`]: any RPC called by path with raw bytes, bad credentials, and
//!   [`rpc::assert_refused_cleanly`]; [`fuzz`]: random requests to every RPC of a service,
//!   built from the descriptors.
//! - [`sms`]: the codes the users service's development sender wrote, as tests sign up.
//!
//! Nothing here skips a test when something is missing: it fails saying what to start.

pub mod authz;
mod broker;
mod db;
pub mod fuzz;
pub mod otlp;
pub mod rpc;
pub mod service;
pub mod sms;

pub use broker::{OwnBroker, shared_broker};
pub use db::{TestDb, event_count, request_event_count};
pub use service::{Server, Stop, User, authed, config_for, envelope, free_port, fresh, retry_after};

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

/// What the Prometheus endpoint on 127.0.0.1:`port` shows now (the raw HTTP response).
pub async fn scrape_metrics(port: u16) -> String {
    try_scrape_metrics(port).await.unwrap_or_else(|e| panic!("no metrics read from port {port}: {e}"))
}

/// [`scrape_metrics`], or why it could not be read (a service that is down or restarting).
pub async fn try_scrape_metrics(port: u16) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text)
}

/// Runs `call` (a gRPC call's future), expects it refused with `code`, and checks that the
/// refusal changed nothing: `$app.event_count()` (or the `snapshot:` given, an expression
/// evaluated before and after, e.g. an `async` block over several reads) is the same after.
/// Answers the status.
#[macro_export]
macro_rules! refused {
    (snapshot: $snapshot:expr, $code:expr, $call:expr) => {{
        let before = $snapshot.await;
        let status = $call.await.expect_err("should be refused");
        assert_eq!(status.code(), $code, "{}", status.message());
        assert_eq!($snapshot.await, before, "a refused call must change nothing: {}", status.message());
        status
    }};
    ($app:expr, $code:expr, $call:expr) => {
        $crate::refused!(snapshot: $app.event_count(), $code, $call)
    };
}
