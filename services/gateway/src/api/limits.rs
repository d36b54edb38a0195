//! Per-client-IP and per-user rate limits (GCRA, the `governor` crate) as a tower layer.
//! Past a limit: RESOURCE_EXHAUSTED with `retry-after-ms` metadata and a google.rpc.RetryInfo.
//!
//! The client's address is the TCP peer's, unless the peer is one of the configured trusted
//! proxies (the ingress in front of the gateway): then it is the one the proxies recorded in
//! `X-Forwarded-For`. Anyone else's header is ignored, so a client cannot pick its own budget.

use std::{
    convert::Infallible,
    net::IpAddr,
    num::NonZeroU32,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::future::{Either, Ready, ready};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use ipnet::IpNet;
use tonic::{Status, body::Body, server::NamedService, transport::server::TcpConnectInfo};
use tower::{Layer, Service};
use tuan_runtime::{ApiError, ErrorKind};
use uuid::Uuid;

use super::auth::Authenticated;
use crate::app::backends::ClientIp;

/// A sustained rate and a burst.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    fn quota(self) -> Quota {
        let per_second = NonZeroU32::new(self.per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(self.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Quota::per_second(per_second).allow_burst(burst)
    }
}

/// Works out a request's client address from its TCP peer and, behind trusted proxies, their
/// `X-Forwarded-For`.
#[derive(Clone, Debug, Default)]
pub struct ClientAddress {
    trusted: Arc<Vec<IpNet>>,
}

impl ClientAddress {
    /// `trusted`: the proxies' addresses or networks (`10.0.0.0/8`, `192.168.1.7`).
    pub fn new(trusted: &[String]) -> anyhow::Result<Self> {
        let trusted = trusted
            .iter()
            .map(|t| {
                let t = t.trim();
                t.parse::<IpNet>()
                    .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| anyhow::anyhow!("TUAN_GATEWAY__TRUSTED_PROXIES: {t:?} is not an address or a network"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { trusted: Arc::new(trusted) })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client: the peer, or behind trusted proxies the last address in `forwarded_for`
    /// that is not one of them (each proxy appends the address it received the request from,
    /// so only entries right of the first untrusted one were written by our proxies).
    pub fn of(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        let (true, Some(header)) = (self.trusts(peer), forwarded_for) else { return Some(peer) };
        let mut client = peer;
        for hop in header.rsplit(',') {
            let hop = hop.trim();
            let Some(ip) =
                hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
            else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// The keyed limiters, shared by every connection.
#[derive(Clone)]
pub struct Limits {
    by_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    by_user: Arc<DefaultKeyedRateLimiter<Uuid>>,
    clock: DefaultClock,
}

impl Limits {
    pub fn new(per_ip: Rate, per_user: Rate) -> Self {
        Self {
            by_ip: Arc::new(RateLimiter::keyed(per_ip.quota())),
            by_user: Arc::new(RateLimiter::keyed(per_user.quota())),
            clock: DefaultClock::default(),
        }
    }

    /// Checks (and counts) one request; `Err(wait)` when over a limit.
    pub fn check(&self, ip: Option<IpAddr>, user: Option<Uuid>) -> Result<(), Duration> {
        if let Some(ip) = ip {
            self.by_ip.check_key(&ip).map_err(|n| n.wait_time_from(self.clock.now()))?;
        }
        if let Some(user) = user {
            self.by_user.check_key(&user).map_err(|n| n.wait_time_from(self.clock.now()))?;
        }
        Ok(())
    }

    /// Forgets keys that are back to a full burst (call now and then so memory stays flat).
    pub fn forget_idle(&self) {
        self.by_ip.retain_recent();
        self.by_user.retain_recent();
        self.by_ip.shrink_to_fit();
        self.by_user.shrink_to_fit();
    }
}

/// RESOURCE_EXHAUSTED saying when to come back (`tuan_runtime::error` adds the metadata and
/// the RetryInfo, as for every limit a service reports).
pub fn exhausted(wait: Duration) -> Status {
    // At least 1 ms: a client reading 0 would retry at once.
    let wait = wait.max(Duration::from_millis(1));
    ApiError::new(ErrorKind::LimitExceeded, format!("rate limit exceeded; retry in {} ms", wait.as_millis()))
        .with_retry_after(wait)
        .into()
}

#[derive(Clone)]
pub struct RateLimitLayer {
    limits: Limits,
    client: ClientAddress,
}

impl RateLimitLayer {
    pub fn new(limits: Limits, client: ClientAddress) -> Self {
        Self { limits, client }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit { inner, limits: self.limits.clone(), client: self.client.clone() }
    }
}

#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    limits: Limits,
    client: ClientAddress,
}

impl<S: NamedService> NamedService for RateLimit<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for RateLimit<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Either<Ready<Result<http::Response<Body>, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let peer = request.extensions().get::<TcpConnectInfo>().and_then(|i| i.remote_addr()).map(|a| a.ip());
        let forwarded_for = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let ip = self.client.of(peer, forwarded_for);
        if let Some(ip) = ip {
            request.extensions_mut().insert(ClientIp(ip));
        }
        let user = request.extensions().get::<Authenticated>().map(|a| a.0.user_id);
        match self.limits.check(ip, user) {
            Ok(()) => Either::Right(self.inner.call(request)),
            Err(wait) => Either::Left(ready(Ok(exhausted(wait).into_http()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    #[test]
    fn a_burst_above_the_limit_is_refused_per_user_and_others_are_unaffected() {
        let limits = Limits::new(Rate { per_second: 1000, burst: 1000 }, Rate { per_second: 1, burst: 3 });
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        assert!((0..3).all(|_| limits.check(ip, Some(a)).is_ok()));
        let wait = limits.check(ip, Some(a)).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limits.check(ip, Some(b)).is_ok(), "another user has their own budget");
    }

    #[test]
    fn the_ip_limit_covers_anonymous_calls() {
        let limits = Limits::new(Rate { per_second: 1, burst: 2 }, Rate { per_second: 100, burst: 100 });
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(limits.check(ip, None).is_ok() && limits.check(ip, None).is_ok());
        assert!(limits.check(ip, None).is_err());
        assert!(limits.check(Some(IpAddr::from([10, 0, 0, 2])), None).is_ok());
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let direct = ClientAddress::new(&[]).unwrap();
        assert_eq!(direct.of(ip("203.0.113.9"), Some("198.51.100.1")), ip("203.0.113.9"), "a client's own header");
        let behind = ClientAddress::new(&["10.0.0.0/8".into(), "192.168.1.7".into()]).unwrap();
        assert_eq!(behind.of(ip("203.0.113.9"), Some("198.51.100.1")), ip("203.0.113.9"), "not from our proxy");
        assert_eq!(behind.of(ip("10.1.2.3"), Some("198.51.100.1")), ip("198.51.100.1"));
        assert_eq!(behind.of(ip("10.1.2.3"), None), ip("10.1.2.3"));
        // A client sends its own header; the proxies append: only the right part is theirs.
        assert_eq!(behind.of(ip("10.1.2.3"), Some("6.6.6.6, 198.51.100.1, 192.168.1.7")), ip("198.51.100.1"));
        assert_eq!(behind.of(ip("10.1.2.3"), Some("198.51.100.1:4711")), ip("198.51.100.1"));
        assert_eq!(behind.of(ip("10.1.2.3"), Some("junk, 10.0.0.2")), ip("10.0.0.2"), "junk ends the walk");
        assert!(ClientAddress::new(&["10.0.0.0/33".into()]).is_err());
    }

    #[test]
    fn exhausted_carries_retry_after_and_retry_info() {
        let status = exhausted(Duration::from_millis(250));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.metadata().get("retry-after-ms").unwrap(), "250");
        let info = status.get_details_retry_info().expect("retry info");
        assert_eq!(info.retry_delay, Some(Duration::from_millis(250)));
    }
}
