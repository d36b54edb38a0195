//! Idempotency keys: a command a phone retries (the same key, the same request) takes effect
//! once and answers what it answered the first time; the same key with another request is
//! refused.
//!
//! Keys are scoped to the caller and kept with the hash of the request (its operation name and
//! encoded body without the key) and the response, in `public.idempotency_keys` of the
//! service's own database, written in the command's own transaction:
//!
//! 1. [`claim`] first takes a transaction-scoped advisory lock on (caller, key), so retries of
//!    one command run one after the other, then reads the key. A committed key is a replay.
//!    The lock writes no row, so it does not give the transaction its id: commands whose
//!    first write must come first (group buying's stock bucket, see the event store's replay
//!    order) keep that order.
//! 2. The command runs; [`store`] records key, hash and response before the commit. A refused
//!    command rolls back and leaves no key, so it may be retried with the same key.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use thiserror::Error;
use uuid::Uuid;

/// Why a key cannot be used.
#[derive(Debug, Error)]
pub enum IdempotencyError {
    #[error("idempotency_key must have 1 to {max} characters, none of them control characters", max = IdempotencyKey::MAX_LEN)]
    Malformed,
    #[error("idempotency_key was already used for a different request")]
    Reused,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A parsed idempotency key and the hash of the request it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    key: String,
    request_hash: String,
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 64;

    /// `request` is the encoded request without its key; `operation` keeps keys of different
    /// calls apart.
    pub fn parse(key: &str, operation: &str, request: &[u8]) -> Result<Self, IdempotencyError> {
        // Bounded text: a control character (NUL above all) once failed as an internal error
        // after the command had been decided.
        let bounds = tuan_kernel::text::Bounds::line(1, Self::MAX_LEN);
        let key = tuan_kernel::bounded("idempotency_key", key, bounds).map_err(|_| IdempotencyError::Malformed)?;
        let hash = Sha256::new().chain_update(operation.as_bytes()).chain_update([0]).chain_update(request).finalize();
        Ok(Self { key, request_hash: hex::encode(hash) })
    }

    /// The key of a protobuf `request`, hashed with `clear` applied (it empties the key field,
    /// so the hash covers what the request asks, not the key itself).
    pub fn of<M: prost::Message + Clone>(
        operation: &str,
        request: &M,
        key: &str,
        clear: impl FnOnce(&mut M),
    ) -> Result<Self, IdempotencyError> {
        let mut without = request.clone();
        clear(&mut without);
        Self::parse(key, operation, &without.encode_to_vec())
    }

    /// The key as the client sent it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.key
    }
}

/// What claiming a key found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use: run the command, then [`store`] its response.
    Fresh,
    /// Used before with the same request: this was the response.
    Replay(Vec<u8>),
}

/// Serialises the retries of one key in the caller's transaction and says whether the key was
/// used before (see the module's documentation).
pub async fn claim(conn: &mut PgConnection, caller: Uuid, key: &IdempotencyKey) -> Result<Claim, IdempotencyError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':' || $2, 7202612030))")
        .bind(caller)
        .bind(&key.key)
        .execute(&mut *conn)
        .await?;
    let found: Option<(String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT request_hash, response FROM public.idempotency_keys WHERE caller = $1 AND key = $2")
            .bind(caller)
            .bind(&key.key)
            .fetch_optional(&mut *conn)
            .await?;
    match found {
        None => Ok(Claim::Fresh),
        Some((hash, _)) if hash != key.request_hash => Err(IdempotencyError::Reused),
        Some((_, response)) => Ok(Claim::Replay(response.unwrap_or_default())),
    }
}

/// Records the key with the command's response, in the command's transaction.
pub async fn store(
    conn: &mut PgConnection,
    caller: Uuid,
    key: &IdempotencyKey,
    response: &[u8],
) -> Result<(), IdempotencyError> {
    sqlx::query("INSERT INTO public.idempotency_keys (caller, key, request_hash, response) VALUES ($1, $2, $3, $4)")
        .bind(caller)
        .bind(&key.key)
        .bind(&key.request_hash)
        .bind(response)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_and_hash_the_operation_and_request() {
        assert!(matches!(IdempotencyKey::parse("", "Op", b""), Err(IdempotencyError::Malformed)));
        assert!(matches!(IdempotencyKey::parse("  ", "Op", b""), Err(IdempotencyError::Malformed)));
        assert!(matches!(IdempotencyKey::parse("a\0b", "Op", b""), Err(IdempotencyError::Malformed)));
        let long = "k".repeat(IdempotencyKey::MAX_LEN + 1);
        assert!(matches!(IdempotencyKey::parse(&long, "Op", b""), Err(IdempotencyError::Malformed)));
        let max = "k".repeat(IdempotencyKey::MAX_LEN);
        assert!(IdempotencyKey::parse(&max, "Op", b"").is_ok());

        let a = IdempotencyKey::parse(" key ", "JoinCampaign", b"1").unwrap();
        assert_eq!(a.as_str(), "key");
        assert_eq!(a, IdempotencyKey::parse("key", "JoinCampaign", b"1").unwrap());
        assert_ne!(a, IdempotencyKey::parse("key", "OpenTeam", b"1").unwrap());
        assert_ne!(a, IdempotencyKey::parse("key", "JoinCampaign", b"2").unwrap());
    }
}
