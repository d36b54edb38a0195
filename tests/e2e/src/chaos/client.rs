//! Calls through the gateway as a patient mobile client makes them: each with a deadline,
//! retried while the system is down, frozen or busy (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED,
//! a rate limit with retry-after), always with the same request, so a money command keeps its
//! idempotency key. An expired token is renewed by logging in again.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tonic::{
    Code, Request, Status,
    transport::{Channel, Endpoint},
};
use tuan_proto::{gateway::v1::mobile_gateway_client::MobileGatewayClient, users::v1 as users};

use crate::{flows::PASSWORD, harness::Gateway};

/// Each attempt's deadline (the gateway's own command budget is 10 s).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a call is retried before the client gives up on it (and the run reports it).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(150);

/// A user of the workload and their current access token.
#[derive(Debug)]
pub struct Person {
    pub id: String,
    pub phone: String,
    token: RwLock<String>,
}

impl Person {
    pub fn new(id: String, phone: String, token: String) -> Self {
        Self { id, phone, token: RwLock::new(token) }
    }

    pub fn token(&self) -> String {
        self.token.read().expect("token").clone()
    }

    pub fn set_token(&self, token: String) {
        *self.token.write().expect("token") = token;
    }
}

/// What the calls met on the way.
#[derive(Default)]
pub struct CallStats {
    pub calls: AtomicU64,
    pub retries: AtomicU64,
    /// INTERNAL answers: a service failing where it should refuse or succeed.
    pub internal: Mutex<Vec<String>>,
    /// Calls given up after [`GIVE_UP_AFTER`]: the system did not come back.
    pub unresolved: Mutex<Vec<String>>,
    /// Retried answers by code.
    pub transient: Mutex<BTreeMap<String, u64>>,
    pub relogins: AtomicU64,
}

/// A request with the caller's token and the per-attempt deadline.
pub fn req<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("token"));
    request.set_timeout(CALL_TIMEOUT);
    request
}

/// A request without a token, with the per-attempt deadline.
pub fn anon<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request
}

/// The closure [`Client::call_as`] takes for gateway method `$method` with request `$request`
/// (evaluated again for every attempt).
macro_rules! rpc {
    ($method:ident, $request:expr) => {
        |mut gw: $crate::harness::Gateway, token: String| {
            let request = $crate::chaos::client::req(&token, $request);
            async move { gw.$method(request).await }
        }
    };
}
pub(crate) use rpc;

/// The closure [`Client::call`] takes for an unauthenticated gateway method.
macro_rules! anon_rpc {
    ($method:ident, $request:expr) => {
        |mut gw: $crate::harness::Gateway| {
            let request = $crate::chaos::client::anon($request);
            async move { gw.$method(request).await }
        }
    };
}
pub(crate) use anon_rpc;

/// Whether another attempt of the same request may succeed.
fn transient(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted | Code::Unknown => true,
        // The gateway's rate limit says when to come back; a domain limit (per-user) does not.
        Code::ResourceExhausted => status.metadata().get("retry-after-ms").is_some(),
        // A connection cut mid-call (a process killed) surfaces as INTERNAL from h2; a service's
        // own "internal error" is counted (see `CallStats::internal`) and retried too: every
        // request here may be sent again.
        Code::Internal => true,
        _ => false,
    }
}

fn is_transport_internal(status: &Status) -> bool {
    let m = status.message().to_ascii_lowercase();
    ["h2", "transport", "connection", "broken pipe", "stream", "reset", "body"].iter().any(|w| m.contains(w))
}

#[derive(Clone)]
pub struct Client {
    gw: Gateway,
    pub stats: std::sync::Arc<CallStats>,
}

impl Client {
    /// A client of the gateway at `url`; it reconnects by itself after the gateway restarts.
    pub fn new(url: &str) -> Self {
        let channel: Channel = Endpoint::from_shared(url.to_string())
            .expect("gateway url")
            .connect_timeout(Duration::from_secs(1))
            .connect_lazy();
        Self { gw: MobileGatewayClient::new(channel), stats: Default::default() }
    }

    /// Sends the request `f` builds until it gets an answer that is not transient, or gives up.
    pub async fn call<T, F, Fut>(&self, what: &str, mut f: F) -> Result<T, Status>
    where
        F: FnMut(Gateway) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let start = Instant::now();
        let mut pause = Duration::from_millis(100);
        let mut internal = 0;
        loop {
            self.stats.calls.fetch_add(1, Ordering::Relaxed);
            match f(self.gw.clone()).await {
                Ok(reply) => return Ok(reply.into_inner()),
                Err(status) if transient(&status) => {
                    if status.code() == Code::Internal && !is_transport_internal(&status) {
                        let mut seen = self.stats.internal.lock().expect("stats");
                        if seen.len() < 50 {
                            seen.push(format!("{what}: {}", status.message()));
                        }
                        internal += 1;
                        if internal >= 3 {
                            return Err(status);
                        }
                    }
                    *self.stats.transient.lock().expect("stats").entry(format!("{:?}", status.code())).or_default() +=
                        1;
                    if start.elapsed() > GIVE_UP_AFTER {
                        self.stats.unresolved.lock().expect("stats").push(format!("{what}: {status:?}"));
                        return Err(status);
                    }
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(status) => return Err(status),
            }
        }
    }

    /// [`Client::call`] as `who`: `f` gets the current token. An UNAUTHENTICATED answer (the
    /// token expired) logs `who` in again and sends the request once more.
    pub async fn call_as<T, F, Fut>(&self, who: &Person, what: &str, mut f: F) -> Result<T, Status>
    where
        F: FnMut(Gateway, String) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let mut renewed = false;
        loop {
            let token = who.token();
            match self.call(what, |gw| f(gw, token.clone())).await {
                Err(status) if status.code() == Code::Unauthenticated && !renewed => {
                    renewed = true;
                    self.relogin(who).await?;
                }
                other => return other,
            }
        }
    }

    /// Logs `who` in again: a fresh token (with roles granted since).
    pub async fn relogin(&self, who: &Person) -> Result<(), Status> {
        self.stats.relogins.fetch_add(1, Ordering::Relaxed);
        let login = users::LoginRequest { phone: who.phone.clone(), password: PASSWORD.into() };
        let tokens = self.call("login", anon_rpc!(login, login.clone())).await?;
        who.set_token(tokens.access_token);
        Ok(())
    }
}
