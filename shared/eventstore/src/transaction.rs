//! One transaction for a command that spans several aggregates (or a command and its
//! idempotency key), run again from the start when it lost a race.
//!
//! Appends check the stream's version, so of two transactions deciding on the same stream one
//! loses with [`StoreError::Conflict`] after the other committed; deciding again on the new
//! state is then the right answer, not an error for the client. Anything else is returned as
//! it came.
//!
//! [`retrying!`] and [`once!`] are what commands use; the functions here are their parts.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    error::StoreError,
    idempotency::{self, Claim, IdempotencyError, IdempotencyKey},
    repository::CommandError,
};

/// How often a transaction is run before its conflict is returned (the API says `ABORTED`).
pub const ATTEMPTS: usize = 5;

/// Whether an error says another transaction won a race, so running again may succeed.
pub trait Conflict {
    fn is_conflict(&self) -> bool;
}

impl Conflict for StoreError {
    fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

impl<E: std::error::Error + 'static> Conflict for CommandError<E> {
    fn is_conflict(&self) -> bool {
        matches!(self, CommandError::Store(e) if e.is_conflict())
    }
}

/// Begins a transaction of [`retrying!`].
pub async fn begin(pool: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
    Ok(pool.begin().await?)
}

/// What [`retrying!`] does after a run.
pub enum Settled<R> {
    /// Committed (or failed for good): this is the answer.
    Done(R),
    /// Lost a race and rolled back: run again.
    Again,
}

/// Commits `tx` after a successful run, rolls it back after a failed one, and says whether to
/// run again: only after a conflict, and fewer than [`ATTEMPTS`] times.
pub async fn settle<T, E>(
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    result: Result<T, E>,
    attempt: usize,
) -> Settled<Result<T, E>>
where
    E: Conflict + From<StoreError>,
{
    match result {
        Ok(value) => Settled::Done(tx.commit().await.map(|()| value).map_err(|e| E::from(StoreError::from_sqlx(e)))),
        Err(e) if e.is_conflict() && attempt < ATTEMPTS => {
            tx.rollback().await.ok();
            tracing::debug!(attempt, "transaction lost a race; running it again");
            Settled::Again
        }
        Err(e) => Settled::Done(Err(e)),
    }
}

/// What a command answers, as an idempotency key keeps it for replays: protobuf responses as
/// they are encoded; a command may keep less (group buying keeps the join's id and reads the
/// join again) with a type of its own.
pub trait Answer: Sized {
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: &[u8]) -> Result<Self, String>;
}

impl<M: prost::Message + Default> Answer for M {
    fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        M::decode(bytes).map_err(|e| e.to_string())
    }
}

/// The stored answer of a key used before, or None for a first use (see [`once!`]).
pub async fn replay<T: Answer>(
    conn: &mut PgConnection,
    caller: Uuid,
    key: &IdempotencyKey,
) -> Result<Option<T>, StoreError> {
    match idempotency::claim(conn, caller, key).await? {
        Claim::Fresh => Ok(None),
        Claim::Replay(bytes) => T::from_bytes(&bytes).map(Some).map_err(StoreError::Decode),
    }
}

/// Stores the answer of a first use (see [`once!`]).
pub async fn remember<T: Answer>(
    conn: &mut PgConnection,
    caller: Uuid,
    key: &IdempotencyKey,
    answer: &T,
) -> Result<(), IdempotencyError> {
    idempotency::store(conn, caller, key, &answer.to_bytes()).await
}

/// Runs `$body` (a future using `$conn`, the transaction) and commits what it did; runs it
/// again, in a new transaction, while it fails with a [`Conflict`] (at most [`ATTEMPTS`]
/// times). The enclosing function's error type needs `From<StoreError>` and [`Conflict`].
///
/// A macro, not a function taking an async closure: the future of a closure over a borrowed
/// connection cannot be proven `Send` for every lifetime by today's compiler, and tonic's
/// handlers must be `Send`.
#[macro_export]
macro_rules! retrying {
    ($pool:expr, |$conn:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = match $crate::transaction::begin($pool).await {
                Ok(tx) => tx,
                Err(e) => break Err(e.into()),
            };
            let result = {
                let $conn: &mut $crate::__private::PgConnection = &mut tx;
                $body.await
            };
            match $crate::transaction::settle(tx, result, attempt).await {
                $crate::transaction::Settled::Done(result) => break result,
                $crate::transaction::Settled::Again => continue,
            }
        }
    }};
}

/// [`retrying!`], once per idempotency key: claims `$key` for `$caller` first and answers a
/// replay with the stored response (an [`Answer`]); a first use runs `$body` and stores
/// its response before the commit (see [`idempotency`]). A refused command stores nothing, so
/// the key may be used again. The error type is `$body`'s.
#[macro_export]
macro_rules! once {
    ($pool:expr, $caller:expr, $key:expr, |$conn:ident| $body:expr) => {
        $crate::retrying!($pool, |conn| async {
            // Matched, not `?`-ed, so every arm has the body's error type.
            match $crate::transaction::replay(conn, $caller, $key).await {
                Ok(Some(answer)) => Ok(answer),
                Err(e) => Err(e.into()),
                Ok(None) => {
                    let fresh = {
                        let $conn: &mut $crate::__private::PgConnection = conn;
                        $body.await
                    };
                    match fresh {
                        Ok(answer) => match $crate::transaction::remember(conn, $caller, $key, &answer).await {
                            Ok(()) => Ok(answer),
                            Err(e) => Err(e.into()),
                        },
                        Err(e) => Err(e),
                    }
                }
            }
        })
    };
}
