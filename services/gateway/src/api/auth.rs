//! JWT verification as a tower layer in front of the gateway's service: a bad or missing
//! token is refused here, so it never reaches a backend. It also notes when the call arrived
//! and the client's `grpc-timeout`, for deadline propagation.

use std::{
    convert::Infallible,
    task::{Context, Poll},
    time::Instant,
};

use futures::future::{Either, Ready, ready};
use tonic::{Status, body::Body, server::NamedService};
use tower::{Layer, Service};
use tuan_runtime::auth::{Caller, TokenKeys};

use crate::{app::backends::Arrival, domain::deadline::parse_grpc_timeout};

/// The verified caller, in the request's extensions.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Caller);

/// Methods anyone may call without a token (they are how one gets a token).
const PUBLIC: [&str; 6] = ["RequestPhoneCode", "SignUp", "ResetPassword", "Login", "Refresh", "GetDiscoverySalt"];

#[derive(Clone)]
pub struct AuthLayer {
    keys: TokenKeys,
}

impl AuthLayer {
    pub fn new(keys: TokenKeys) -> Self {
        Self { keys }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth { inner, keys: self.keys.clone() }
    }
}

#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    keys: TokenKeys,
}

impl<S: NamedService> NamedService for Auth<S> {
    const NAME: &'static str = S::NAME;
}

fn method(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or_default()
}

impl<S> Auth<S> {
    fn check(&self, request: &http::Request<Body>) -> Result<Option<Caller>, Status> {
        let Some(value) = request.headers().get("authorization") else {
            return if PUBLIC.contains(&method(request.uri().path())) {
                Ok(None)
            } else {
                Err(Status::unauthenticated("missing bearer token"))
            };
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or_else(|| Status::unauthenticated("authorization must be 'Bearer <token>'"))?;
        self.keys.verify(token.trim()).map(Some).map_err(Status::from)
    }
}

impl<S> Service<http::Request<Body>> for Auth<S>
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
        let client_timeout =
            request.headers().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(parse_grpc_timeout);
        request.extensions_mut().insert(Arrival { at: Instant::now(), client_timeout });
        match self.check(&request) {
            Ok(caller) => {
                if let Some(caller) = caller {
                    request.extensions_mut().insert(Authenticated(caller));
                }
                Either::Right(self.inner.call(request))
            }
            Err(status) => Either::Left(ready(Ok(status.into_http()))),
        }
    }
}
