use std::marker::PhantomData;

use sqlx::PgConnection;
use thiserror::Error;

use crate::{
    aggregate::{Aggregate, EventPayload},
    error::StoreError,
    projection::ProjectionSet,
    store::{EventMeta, EventStore, NewEvent, RecordedEvent, StreamRef, Version},
};

/// How often a command is re-decided after losing a concurrent append before giving up
/// with a conflict (which the API reports as `ABORTED`).
const MAX_ATTEMPTS: usize = 5;

/// A command failed either by a business rule or in the store.
#[derive(Debug, Error)]
pub enum CommandError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Domain(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads aggregates of one type and runs commands against them.
pub struct Repository<A: Aggregate> {
    store: EventStore,
    projections: ProjectionSet,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A: Aggregate> Clone for Repository<A> {
    fn clone(&self) -> Self {
        Self { store: self.store.clone(), projections: self.projections.clone(), _aggregate: PhantomData }
    }
}

impl<A: Aggregate> Repository<A> {
    /// `projections` are updated inline, in the same transaction as every append.
    pub fn new(store: EventStore, projections: ProjectionSet) -> Self {
        Self { store, projections, _aggregate: PhantomData }
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    fn stream(id: &str) -> StreamRef {
        StreamRef::new(A::STREAM_TYPE, id)
    }

    /// Current state and version of aggregate `id` (default state at version 0 if new).
    pub async fn load(&self, conn: &mut PgConnection, id: &str) -> Result<(A, Version), StoreError> {
        let events = self.store.read_stream(conn, &Self::stream(id), 0).await?;
        let mut state = A::default();
        let mut version = 0;
        for recorded in &events {
            let event = A::Event::decode(&recorded.event_type, recorded.schema_version, &recorded.payload)
                .map_err(|e| StoreError::Decode(e.to_string()))?;
            state.apply(&event);
            version = recorded.version;
        }
        Ok((state, version))
    }

    /// Runs `decide` against the current state of `id` and appends what it returns, in its own
    /// transaction, re-deciding on a concurrent append up to a bound. Returns the new state and
    /// the recorded events (empty when the command changed nothing).
    pub async fn execute<F>(
        &self,
        id: &str,
        meta: &EventMeta,
        decide: F,
    ) -> Result<(A, Vec<RecordedEvent>), CommandError<A::Error>>
    where
        F: Fn(&A) -> Result<Vec<A::Event>, A::Error>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
            match self.execute_in(&mut tx, id, meta, &decide).await {
                Ok(done) => {
                    tx.commit().await.map_err(StoreError::from_sqlx)?;
                    return Ok(done);
                }
                Err(CommandError::Store(StoreError::Conflict { .. })) if attempt < MAX_ATTEMPTS => {
                    tx.rollback().await.ok();
                    tracing::debug!(stream = %Self::stream(id), attempt, "append conflict, retrying");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `command` against aggregate `id` inside the caller's transaction (so several writes
    /// commit together, e.g. with a consumer's processed-event record) and appends what it
    /// decides, without retry. Returns the new state and the events decided, typed (empty when
    /// the command changed nothing).
    pub async fn run_in(
        &self,
        conn: &mut PgConnection,
        id: impl std::fmt::Display,
        meta: &EventMeta,
        command: A::Command,
    ) -> Result<(A, Vec<A::Event>), CommandError<A::Error>> {
        let (state, version) = self.load(conn, &id.to_string()).await?;
        let events = state.handle(command).map_err(CommandError::Domain)?;
        let (state, _) = self.append_decided(conn, &id.to_string(), meta, state, version, &events).await?;
        Ok((state, events))
    }

    /// Like [`execute`](Self::execute), inside the caller's transaction and without retry, for
    /// a decision that is not one command (a closure over the loaded state).
    pub async fn execute_in<F>(
        &self,
        conn: &mut PgConnection,
        id: &str,
        meta: &EventMeta,
        decide: F,
    ) -> Result<(A, Vec<RecordedEvent>), CommandError<A::Error>>
    where
        F: Fn(&A) -> Result<Vec<A::Event>, A::Error>,
    {
        let (state, version) = self.load(conn, id).await?;
        let events = decide(&state).map_err(CommandError::Domain)?;
        self.append_decided(conn, id, meta, state, version, &events).await
    }

    /// Appends `events` decided on `state` at `version`, applies them and the inline projections.
    async fn append_decided(
        &self,
        conn: &mut PgConnection,
        id: &str,
        meta: &EventMeta,
        mut state: A,
        version: Version,
        events: &[A::Event],
    ) -> Result<(A, Vec<RecordedEvent>), CommandError<A::Error>> {
        if events.is_empty() {
            return Ok((state, Vec::new()));
        }
        let new: Vec<NewEvent> = events
            .iter()
            .map(|e| NewEvent { event_type: e.event_type(), schema_version: e.schema_version(), payload: e.encode() })
            .collect();
        let recorded = self.store.append(conn, &Self::stream(id), version, &new, meta).await?;
        for event in events {
            state.apply(event);
        }
        self.projections.apply_all(conn, &recorded).await?;
        Ok((state, recorded))
    }
}
