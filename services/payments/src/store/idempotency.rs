//! Idempotency keys of money commands.
//!
//! The key row is inserted first in the command's transaction: a concurrent retry with the same
//! key waits on it, then sees the committed response. The response is stored before commit, so
//! a committed key always has one. A refused command rolls back its key too, so it may be
//! retried with the same key.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use tuan_runtime::ApiError;
use uuid::Uuid;

/// A parsed idempotency key and the hash of the request it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 64;

    /// `request` is the encoded request without its key; `operation` keeps keys of different
    /// calls apart.
    pub fn parse(key: &str, operation: &str, request: &[u8]) -> Result<Self, ApiError> {
        let key = key.trim();
        // No control characters: Postgres text cannot hold NUL, and a key with one failed as an
        // internal error after the command had been decided.
        if key.is_empty() || key.chars().count() > Self::MAX_LEN || key.chars().any(char::is_control) {
            return Err(ApiError::invalid(format!(
                "idempotency_key must have 1 to {} characters, none of them control characters",
                Self::MAX_LEN
            )));
        }
        let hash = Sha256::new().chain_update(operation.as_bytes()).chain_update([0]).chain_update(request).finalize();
        Ok(Self { key: key.to_string(), request_hash: hex::encode(hash) })
    }
}

/// What claiming a key found.
pub enum Claim {
    /// First use: run the command, then [`store`] its response.
    Fresh,
    /// Used before with the same request: this was the response.
    Replay(Vec<u8>),
}

pub async fn claim(conn: &mut PgConnection, caller: Uuid, key: &IdempotencyKey) -> Result<Claim, ApiError> {
    let inserted = sqlx::query(
        "INSERT INTO public.idempotency_keys (caller, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(caller)
    .bind(&key.key)
    .bind(&key.request_hash)
    .execute(&mut *conn)
    .await
    .map_err(ApiError::from)?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let (hash, response): (String, Option<Vec<u8>>) =
        sqlx::query_as("SELECT request_hash, response FROM public.idempotency_keys WHERE caller = $1 AND key = $2")
            .bind(caller)
            .bind(&key.key)
            .fetch_one(&mut *conn)
            .await
            .map_err(ApiError::from)?;
    if hash != key.request_hash {
        return Err(ApiError::new(
            tuan_runtime::ErrorKind::FailedPrecondition,
            "idempotency_key was already used for a different request",
        ));
    }
    response.map(Claim::Replay).ok_or_else(|| ApiError::internal("idempotency key committed without a response"))
}

pub async fn store(
    conn: &mut PgConnection,
    caller: Uuid,
    key: &IdempotencyKey,
    response: &[u8],
) -> Result<(), ApiError> {
    sqlx::query("UPDATE public.idempotency_keys SET response = $3 WHERE caller = $1 AND key = $2")
        .bind(caller)
        .bind(&key.key)
        .bind(response)
        .execute(conn)
        .await
        .map_err(ApiError::from)?;
    Ok(())
}
