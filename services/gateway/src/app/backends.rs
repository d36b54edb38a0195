//! Calls to the four backends: the caller's metadata forwarded, a deadline on every call,
//! one retry for reads, and a circuit breaker per backend.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tonic::{
    Code, Request, Response, Status,
    metadata::{MetadataMap, MetadataValue},
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};

use crate::domain::{
    breaker::{BreakerSettings, CircuitBreaker},
    deadline::{call_budget, request_budget},
};

/// The client interceptor that adds the current trace context to every backend call.
pub type TraceFn = fn(Request<()>) -> Result<Request<()>, Status>;
/// A channel whose calls carry the trace context.
pub type Traced = InterceptedService<Channel, TraceFn>;

/// A lazily connected channel: the gateway starts (and answers with partial screens) while a
/// backend is down, and reconnects when it is back.
pub fn channel(url: &str, connect_timeout: Duration) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| anyhow::anyhow!("backend url {url:?}: {e}"))?
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}

pub fn traced(channel: Channel) -> Traced {
    InterceptedService::new(channel, tuan_runtime::grpc::propagate_trace as TraceFn)
}

/// Reads are retried once (they change nothing); commands never are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Command,
}

/// When the client's call arrived and the timeout it asked for; put into the request's
/// extensions by the auth layer, before decoding.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    pub at: Instant,
    pub client_timeout: Option<Duration>,
}

/// The client a call comes from (the peer, or behind trusted proxies the address they name);
/// put into the request's extensions by the rate limiter, passed to backends in
/// [`tuan_runtime::grpc::CLIENT_ADDRESS`] for their per-client limits.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub std::net::IpAddr);

/// What every backend call made for one client request shares: the forwarded metadata and
/// the request's deadline.
#[derive(Clone, Debug)]
pub struct CallContext {
    forwarded: MetadataMap,
    deadline: Instant,
    /// The client's own deadline, if it set one (streams live until then, or until it leaves).
    client_deadline: Option<Instant>,
}

/// Time kept back to answer the client before its own deadline passes.
const ANSWER_MARGIN: Duration = Duration::from_millis(50);
/// Metadata passed on to backends.
const FORWARDED: [&str; 2] = ["authorization", "x-correlation-id"];

impl CallContext {
    /// The context of `request`, whose whole handling may take at most `cap` (less if the
    /// client's deadline is nearer).
    pub fn of<T>(request: &Request<T>, cap: Duration) -> Self {
        let arrival = request.extensions().get::<Arrival>().copied().unwrap_or_else(|| Arrival {
            at: Instant::now(),
            client_timeout: request
                .metadata()
                .get("grpc-timeout")
                .and_then(|v| v.to_str().ok())
                .and_then(crate::domain::deadline::parse_grpc_timeout),
        });
        let mut forwarded = MetadataMap::new();
        for key in FORWARDED {
            if let Some(value) = request.metadata().get(key) {
                forwarded.insert(key, value.clone());
            }
        }
        // Only the gateway says who the client is: a client's own CLIENT_ADDRESS is never forwarded.
        if let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>()
            && let Ok(value) = MetadataValue::try_from(ip.to_string())
        {
            forwarded.insert(tuan_runtime::grpc::CLIENT_ADDRESS, value);
        }
        if !forwarded.contains_key("x-correlation-id")
            && let Ok(id) = MetadataValue::try_from(uuid::Uuid::now_v7().to_string())
        {
            forwarded.insert("x-correlation-id", id);
        }
        Self {
            forwarded,
            deadline: arrival.at + request_budget(arrival.client_timeout, cap, ANSWER_MARGIN),
            client_deadline: arrival.client_timeout.map(|t| arrival.at + t),
        }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn request<T>(&self, message: T, timeout: Duration) -> Request<T> {
        let mut request = Request::new(message);
        *request.metadata_mut() = self.forwarded.clone();
        request.set_timeout(timeout);
        request
    }
}

/// One backend: its client and its circuit breaker.
#[derive(Clone)]
pub struct Backend<C> {
    pub name: &'static str,
    client: C,
    breaker: Arc<Mutex<CircuitBreaker>>,
}

/// Failures that say the backend is unwell (not that the request was wrong).
fn is_backend_failure(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Internal)
}

fn is_retryable(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Unknown)
}

impl<C: Clone> Backend<C> {
    pub fn new(name: &'static str, client: C, settings: BreakerSettings) -> Self {
        Self { name, client, breaker: Arc::new(Mutex::new(CircuitBreaker::new(settings))) }
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        self.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn report(&self, result: Result<(), &Status>) {
        match result {
            Err(status) if is_backend_failure(status) => self.breaker().on_failure(Instant::now()),
            _ => self.breaker().on_success(),
        }
    }

    /// Calls the backend with `f` (e.g. `|mut c, r| async move { c.get_team(r).await }`),
    /// within `budget` and the request's deadline; reads get one retry on transport errors.
    pub async fn call<Req, Resp, F, Fut>(
        &self,
        ctx: &CallContext,
        kind: Kind,
        budget: Duration,
        message: Req,
        f: F,
    ) -> Result<Response<Resp>, Status>
    where
        Req: Clone,
        F: Fn(C, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let attempts = if kind == Kind::Read { 2 } else { 1 };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = ctx.remaining();
            if remaining.is_zero() {
                return Err(Status::deadline_exceeded(format!("no time left to call {}", self.name)));
            }
            if !self.breaker().admit(Instant::now()) {
                return Err(Status::unavailable(format!("{} is unavailable (circuit open)", self.name)));
            }
            let timeout = call_budget(remaining, budget);
            let call = f(self.client.clone(), ctx.request(message.clone(), timeout));
            let result = match tokio::time::timeout(timeout, call).await {
                Ok(result) => result,
                Err(_) => Err(Status::deadline_exceeded(format!("{} did not answer within {timeout:?}", self.name))),
            };
            self.report(result.as_ref().map(drop));
            match result {
                Err(status) if attempt < attempts && is_retryable(&status) => {
                    tracing::debug!(backend = self.name, error = %status, "retrying a read");
                    tokio::time::sleep(Duration::from_millis(25).min(ctx.remaining())).await;
                }
                Err(status) => {
                    if is_backend_failure(&status) {
                        tracing::warn!(backend = self.name, code = ?status.code(), error = %status.message(), "backend call failed");
                    }
                    return Err(status);
                }
                ok => return ok,
            }
        }
    }

    /// Opens a server stream: the opening gets `budget`; the stream then lives as long as
    /// the client's deadline allows (or until the client leaves, which drops it here too).
    pub async fn open_stream<Req, Resp, F, Fut>(
        &self,
        ctx: &CallContext,
        budget: Duration,
        message: Req,
        f: F,
    ) -> Result<Response<Resp>, Status>
    where
        F: FnOnce(C, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        if !self.breaker().admit(Instant::now()) {
            return Err(Status::unavailable(format!("{} is unavailable (circuit open)", self.name)));
        }
        let mut request = Request::new(message);
        *request.metadata_mut() = ctx.forwarded.clone();
        if let Some(deadline) = ctx.client_deadline {
            request.set_timeout(deadline.saturating_duration_since(Instant::now()));
        }
        let result = match tokio::time::timeout(budget, f(self.client.clone(), request)).await {
            Ok(result) => result,
            Err(_) => {
                Err(Status::deadline_exceeded(format!("{} did not open the stream within {budget:?}", self.name)))
            }
        };
        self.report(result.as_ref().map(drop));
        result
    }
}
