//! A service under test, in the spirit of zero-to-production's `spawn_app`: its settings for
//! a fresh database and the broker ([`config_for`], [`fresh`]), its server on a free port until
//! the test stops it ([`Server`]), the users it is called by ([`User`], [`authed`]), and the
//! events other services would publish to it ([`envelope`]).
//!
//! What differs between services (their config type, `Application`, client and the consumers
//! to wait for) stays in each service's `tests/common/mod.rs`, handed in as closures.

use std::{
    fmt::Debug,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use chrono::Utc;
use prost::{Message, Name};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{Request, transport::Channel};
use tuan_proto::events::v1::EventEnvelope;
use tuan_runtime::{
    auth::ROLE_OPERATOR,
    config::{AuthConfig, CommonConfig, Environment},
};
use uuid::Uuid;

use crate::TestDb;

/// A service's config `C` (its defaults) for a test on `db` and `brokers`: development, a free
/// gRPC port, a topic prefix no other test shares, two partitions per topic. `common` picks
/// the settings every service has out of `C` (`|c: &mut UsersConfig| &mut c.common`).
pub fn config_for<C: Default>(db: &TestDb, brokers: &str, common: impl FnOnce(&mut C) -> &mut CommonConfig) -> C {
    let mut config = C::default();
    let settings = common(&mut config);
    settings.environment = Environment::Development;
    settings.grpc_addr = "127.0.0.1:0".parse().unwrap();
    settings.database.url = db.url.clone().into();
    settings.kafka.brokers = brokers.to_string();
    settings.kafka.topic_prefix = crate::unique_prefix();
    settings.kafka.partitions = 2;
    config
}

/// What a service under test starts from: tracing as `TEST_LOG` asks, a fresh database, and
/// `config_for` it on the shared broker, changed by `tune`.
pub async fn fresh<C>(config_for: impl FnOnce(&TestDb, &str) -> C, tune: impl FnOnce(&mut C)) -> (TestDb, C) {
    crate::init_tracing();
    let db = TestDb::new().await;
    let mut config = config_for(&db, &crate::shared_broker());
    tune(&mut config);
    (db, config)
}

/// A port nobody listens on now (for a service's metrics or notification endpoint).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// A service's server, running on a task of its own until [`Server::stop`] (or the end of the
/// test: dropping it stops the server too).
pub struct Server<E> {
    /// Where it serves gRPC, on 127.0.0.1.
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), E>>>,
}

/// Resolves when the test stops the server: what a service's `run_until_stopped` waits for.
pub struct Stop(oneshot::Receiver<()>);

impl Future for Stop {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

impl<E: Debug + Send + 'static> Server<E> {
    /// Runs what `run_until_stopped` answers (the service's `Application::run_until_stopped`
    /// given the [`Stop`]) on its own task; the application serves on `port`.
    pub fn spawn<F>(port: u16, run_until_stopped: impl FnOnce(Stop) -> F) -> Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run_until_stopped(Stop(stopped)));
        Self { port, stop: Some(stop), task: Some(task) }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A connection to the server, for a client or raw calls.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url()).expect("server url").connect().await.expect("connect")
    }

    /// Stops the server and waits for it to drain; it must have run without an error.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
    }

    /// Kills the server as a crash would: every task it runs is dropped mid-flight.
    pub async fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// A user of a test: an id and a valid access token, made with the service's own auth
/// settings, so no users service need run.
#[derive(Clone, Debug)]
pub struct User {
    pub id: Uuid,
    pub token: String,
}

impl User {
    /// A new user, signed in with `roles`.
    pub fn with_roles(auth: &AuthConfig, roles: &[&str]) -> Self {
        let id = Uuid::now_v7();
        Self { id, token: crate::rpc::token(auth, id, roles) }
    }

    /// A new user without any role.
    pub fn new(auth: &AuthConfig) -> Self {
        Self::with_roles(auth, &[])
    }

    /// A new operator.
    pub fn operator(auth: &AuthConfig) -> Self {
        Self::with_roles(auth, &[ROLE_OPERATOR])
    }
}

/// A request carrying `token` as its bearer token.
pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// How long a RESOURCE_EXHAUSTED answer says to wait (`retry-after-ms`).
pub fn retry_after(status: &tonic::Status) -> Duration {
    let ms = status.metadata().get("retry-after-ms").expect("retry-after-ms").to_str().unwrap();
    Duration::from_millis(ms.parse().unwrap())
}

/// `event` as version `version` of stream `stream_type`/`stream_id` of service `source`, as
/// its outbox relay would publish it: a fresh event id and correlation id, occurring now.
pub fn envelope<M: Message + Name>(
    source: &str,
    stream_type: &str,
    stream_id: &str,
    version: u64,
    event: &M,
) -> EventEnvelope {
    EventEnvelope {
        event_id: Uuid::now_v7().to_string(),
        stream_type: stream_type.into(),
        stream_id: stream_id.into(),
        version,
        event_type: M::full_name(),
        schema_version: 1,
        occurred_at_micros: Utc::now().timestamp_micros(),
        correlation_id: Uuid::now_v7().to_string(),
        payload: event.encode_to_vec(),
        source: source.into(),
        ..Default::default()
    }
}
