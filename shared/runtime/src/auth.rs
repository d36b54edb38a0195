//! Identity from verified access tokens (HS256 JWTs), never from request fields.
//!
//! The users service issues tokens; every service verifies them with the shared key.
//! [`AuthInterceptor`] checks the `authorization` metadata of each request and handlers
//! ask [`caller`] who is calling.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tonic::{Request, Status, service::Interceptor};
use uuid::Uuid;

use crate::{config::AuthConfig, error::ApiError};

/// The operator role: may verify merchants and run back-office actions.
pub const ROLE_OPERATOR: &str = "operator";
/// Given to verified merchants.
pub const ROLE_MERCHANT: &str = "merchant";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    #[serde(default)]
    roles: Vec<String>,
    iss: String,
    iat: i64,
    exp: i64,
}

/// Who is calling, as proven by a verified access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub roles: Vec<String>,
}

impl Caller {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Refuses unless the caller is an operator.
    pub fn require_operator(&self) -> Result<(), ApiError> {
        if self.has_role(ROLE_OPERATOR) {
            Ok(())
        } else {
            Err(ApiError::permission_denied("only an operator may do this"))
        }
    }
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
}

impl TokenKeys {
    pub fn new(config: &AuthConfig) -> Self {
        let secret = config.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.issuer.clone(),
        }
    }

    /// A signed access token valid for `ttl` from `now`, and its expiry.
    pub fn issue(
        &self,
        caller: &Caller,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let expires = now + ttl;
        let claims = Claims {
            sub: caller.user_id.to_string(),
            sid: caller.session_id.to_string(),
            roles: caller.roles.clone(),
            iss: self.issuer.clone(),
            iat: now.timestamp(),
            exp: expires.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)?;
        Ok((token, expires))
    }

    /// The caller named by a valid token; expired, forged or malformed tokens are refused.
    pub fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        use jsonwebtoken::errors::ErrorKind as J;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            ApiError::unauthenticated(match e.kind() {
                J::ExpiredSignature => "access token expired",
                J::InvalidSignature => "access token signature is invalid",
                _ => "access token is malformed",
            })
        })?;
        let parse = |s: &str| Uuid::parse_str(s).map_err(|_| ApiError::unauthenticated("access token is malformed"));
        Ok(Caller { user_id: parse(&data.claims.sub)?, session_id: parse(&data.claims.sid)?, roles: data.claims.roles })
    }
}

/// What the interceptor found in the request, kept in its extensions.
#[derive(Clone)]
struct Authentication(Result<Caller, ApiError>);

/// Verifies the bearer token of every request that has one. Requests without a token pass,
/// so public calls (sign-up, login) work; [`caller`] refuses them where identity is needed.
#[derive(Clone)]
pub struct AuthInterceptor {
    keys: TokenKeys,
}

impl AuthInterceptor {
    pub fn new(keys: TokenKeys) -> Self {
        Self { keys }
    }
}

impl Interceptor for AuthInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let Some(value) = request.metadata().get("authorization") else {
            return Ok(request);
        };
        let result = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or_else(|| ApiError::unauthenticated("authorization must be 'Bearer <token>'"))
            .and_then(|token| self.keys.verify(token.trim()));
        request.extensions_mut().insert(Authentication(result));
        Ok(request)
    }
}

/// The verified caller of `request`, or `UNAUTHENTICATED`.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, ApiError> {
    match request.extensions().get::<Authentication>() {
        Some(Authentication(result)) => result.clone(),
        None => Err(ApiError::unauthenticated("missing bearer token")),
    }
}
