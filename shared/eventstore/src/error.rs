use thiserror::Error;

/// Failures of the event store itself (not of business rules).
#[derive(Debug, Error)]
pub enum StoreError {
    /// Another writer appended to the stream first. Reload and retry the command.
    #[error("stream {stream} was changed concurrently (expected version {expected})")]
    Conflict { stream: String, expected: u64 },
    /// A unique constraint of a projection was violated (e.g. a phone number already taken).
    #[error("unique constraint {constraint} violated")]
    UniqueViolation { constraint: String },
    #[error("stored event could not be decoded: {0}")]
    Decode(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An idempotency key was malformed or reused (see [`crate::idempotency`]).
    #[error(transparent)]
    Idempotency(#[from] crate::idempotency::IdempotencyError),
}

impl StoreError {
    /// Postgres unique violations become [`StoreError::UniqueViolation`] so callers can tell
    /// "already exists" from a broken database.
    pub fn from_sqlx(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.code().as_deref() == Some("23505")
        {
            return StoreError::UniqueViolation { constraint: db.constraint().unwrap_or_default().to_string() };
        }
        StoreError::Database(err)
    }
}
