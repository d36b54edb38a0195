//! One mapping from errors to gRPC status for every service.
//!
//! Domain errors say what kind of failure they are ([`Classify`]); this module alone turns
//! kinds into status codes. Internal details are logged, never sent to the client.

use std::time::Duration;

use tonic::{Code, Status, metadata::MetadataValue};
use tonic_types::{ErrorDetails, StatusExt};
use tuan_eventstore::{CommandError, StoreError, idempotency::IdempotencyError};

/// What went wrong, in the terms of the API contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    /// A concurrent change won; the client may retry.
    Conflict,
    /// A quota or limit was reached.
    LimitExceeded,
    PermissionDenied,
    Unauthenticated,
    /// A dependency is down; retry later.
    Unavailable,
    Internal,
}

/// Implemented by every domain error so it can be reported with the right status.
pub trait Classify: std::error::Error {
    fn kind(&self) -> ErrorKind;
    /// For a limit that frees up at a known time: how long until then.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// A lost race (a stream's version, a serialization failure) is worth running again.
impl tuan_eventstore::transaction::Conflict for ApiError {
    fn is_conflict(&self) -> bool {
        self.kind == ErrorKind::Conflict
    }
}

/// A refused amount or currency is always the caller's bad input.
impl Classify for tuan_kernel::MoneyError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
}

/// So is text out of its bounds.
impl Classify for tuan_kernel::TextError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
}

/// An error on its way to the client: a kind and a message safe to show.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// When to come back: sent as `retry-after-ms` metadata and a google.rpc.RetryInfo.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), retry_after: None }
    }
    /// The same error, telling the client how long to wait before trying again.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message)
    }
    /// Logs the cause and hides it from the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorKind::Internal, "internal error")
    }
}

impl<E: Classify> From<E> for ApiError {
    fn from(err: E) -> Self {
        match err.kind() {
            ErrorKind::Internal => ApiError::internal(&err),
            kind => {
                let api = ApiError::new(kind, err.to_string());
                match err.retry_after() {
                    Some(wait) => api.with_retry_after(wait),
                    None => api,
                }
            }
        }
    }
}

impl Classify for StoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Conflict { .. } => ErrorKind::Conflict,
            StoreError::UniqueViolation { .. } => ErrorKind::AlreadyExists,
            StoreError::Database(db) => db.kind(),
            StoreError::Decode(_) => ErrorKind::Internal,
            StoreError::Idempotency(e) => e.kind(),
        }
    }
}

impl Classify for IdempotencyError {
    fn kind(&self) -> ErrorKind {
        match self {
            IdempotencyError::Malformed => ErrorKind::InvalidArgument,
            IdempotencyError::Reused => ErrorKind::FailedPrecondition,
            IdempotencyError::Database(db) => db.kind(),
        }
    }
}

impl<E: Classify + 'static> Classify for CommandError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            CommandError::Domain(e) => e.kind(),
            CommandError::Store(e) => e.kind(),
        }
    }
}

impl Classify for sqlx::Error {
    fn kind(&self) -> ErrorKind {
        match self {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => ErrorKind::Unavailable,
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => ErrorKind::AlreadyExists,
            // Text Postgres cannot store (a NUL character): the input is wrong, and retrying it
            // can never succeed. As INTERNAL it was retried forever by a consumer, stopping its
            // partition; the edges refuse such text before it gets here.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22021") => ErrorKind::InvalidArgument,
            // A number the schema cannot hold (an amount past a NUMERIC column's precision):
            // the input is out of range, and retrying it can never succeed.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22003") => ErrorKind::InvalidArgument,
            _ => ErrorKind::Internal,
        }
    }
}

/// The longest message sent to a client, in characters. Messages quote the client's input,
/// and a status travels in the `grpc-message` header, which HTTP/2 peers cap (16 KiB by
/// default): echoing a huge field in full broke the response itself (the client saw an h2
/// protocol error as INTERNAL).
pub const MAX_MESSAGE_CHARS: usize = 300;

fn bounded(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}...", &message[..cut]),
        None => message,
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        let code = match err.kind {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            ErrorKind::Conflict => Code::Aborted,
            ErrorKind::LimitExceeded => Code::ResourceExhausted,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::Internal => Code::Internal,
        };
        let message = bounded(err.message);
        let Some(wait) = err.retry_after else {
            return Status::new(code, message);
        };
        // At least 1 ms: a client reading 0 would retry at once.
        let wait = wait.max(Duration::from_millis(1));
        let mut status = Status::with_error_details(code, message, ErrorDetails::with_retry_info(Some(wait)));
        if let Ok(value) = MetadataValue::try_from(wait.as_millis().to_string()) {
            status.metadata_mut().insert("retry-after-ms", value);
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_to_a_size_any_peer_accepts() {
        let huge = ApiError::invalid(format!("user_id must be a UUID, got {:?}", "字".repeat(5000)));
        let status = Status::from(huge);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message().chars().count(), MAX_MESSAGE_CHARS + 3);
        assert!(status.message().starts_with("user_id must be a UUID"));
        assert_eq!(Status::from(ApiError::invalid("short")).message(), "short");
    }

    #[test]
    fn a_limit_says_when_to_come_back() {
        let limit = ApiError::new(ErrorKind::LimitExceeded, "daily limit").with_retry_after(Duration::from_secs(90));
        let status = Status::from(limit);
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.metadata().get("retry-after-ms").unwrap(), "90000");
        assert_eq!(status.get_details_retry_info().unwrap().retry_delay, Some(Duration::from_secs(90)));
        assert!(Status::from(ApiError::invalid("no wait")).metadata().get("retry-after-ms").is_none());
    }
}
