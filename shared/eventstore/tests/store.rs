//! The event store against a real Postgres: optimistic concurrency, replay order, snapshots.

use std::sync::Arc;

use futures::future::join_all;
use tuan_eventstore::{
    Aggregate, EventMeta, EventStore, NewEvent, ProjectionSet, Repository, Snapshot, StoreError, StreamRef, event_enum,
};
use tuan_proto::users::v1::RoleGranted;
use tuan_testkit::TestDb;

event_enum! {
    enum CounterEvent {
        Incremented(RoleGranted),
    }
}

#[derive(Default)]
struct Counter(u64);

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl Aggregate for Counter {
    const STREAM_TYPE: &'static str = "counter";
    type Event = CounterEvent;
    type Command = ();
    type Error = Never;
    fn handle(&self, _: ()) -> Result<Vec<CounterEvent>, Never> {
        Ok(vec![CounterEvent::Incremented(RoleGranted { role: format!("{}", self.0 + 1), ..Default::default() })])
    }
    fn apply(&mut self, _: &CounterEvent) {
        self.0 += 1;
    }
}

fn event(n: u32) -> NewEvent {
    NewEvent { event_type: "test.Event", schema_version: 1, payload: n.to_be_bytes().to_vec() }
}

#[tokio::test]
async fn concurrent_appends_at_the_same_version_exactly_one_wins() {
    let db = TestDb::new().await;
    let store = EventStore::new(db.pool.clone());
    let stream = StreamRef::new("race", "r1");
    let attempts = (0..16).map(|i| {
        let (store, stream) = (store.clone(), stream.clone());
        async move {
            let mut tx = store.pool().begin().await.unwrap();
            let result = store.append(&mut tx, &stream, 0, &[event(i)], &EventMeta::default()).await;
            if result.is_ok() {
                tx.commit().await.unwrap();
            }
            result
        }
    });
    let results = join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results.iter().filter(|r| matches!(r, Err(StoreError::Conflict { .. }))).count();
    assert_eq!((winners, conflicts), (1, 15));

    let mut conn = db.pool.acquire().await.unwrap();
    let stored = store.read_stream(&mut conn, &stream, 0).await.unwrap();
    assert_eq!(stored.len(), 1);
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&db.pool).await.unwrap();
    assert_eq!(outbox, 1, "only the winner's event is queued for publishing");
}

#[tokio::test]
async fn repository_redecides_after_a_conflict_and_never_loses_an_increment() {
    let db = TestDb::new().await;
    let repo: Repository<Counter> = Repository::new(EventStore::new(db.pool.clone()), ProjectionSet::default());
    let repo = Arc::new(repo);
    let tasks = (0..8).map(|_| {
        let repo = repo.clone();
        async move { repo.execute("c1", &EventMeta::default(), |c| c.handle(())).await.map(|(c, _)| c.0) }
    });
    let results = join_all(tasks).await;
    let succeeded = results.iter().filter(|r| r.is_ok()).count() as u64;
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, tuan_eventstore::CommandError::Store(StoreError::Conflict { .. })), "{e}");
        }
    }
    let mut conn = db.pool.acquire().await.unwrap();
    let (counter, version) = repo.load(&mut conn, "c1").await.unwrap();
    assert_eq!(counter.0, succeeded);
    assert_eq!(version, succeeded);
    assert!(succeeded >= 1);
}

#[tokio::test]
async fn replay_never_skips_an_event_that_commits_late() {
    let db = TestDb::new().await;
    let store = EventStore::new(db.pool.clone());
    // A appends first but commits last.
    let mut late = db.pool.begin().await.unwrap();
    store.append(&mut late, &StreamRef::new("s", "late"), 0, &[event(1)], &EventMeta::default()).await.unwrap();
    let mut early = db.pool.begin().await.unwrap();
    store.append(&mut early, &StreamRef::new("s", "early"), 0, &[event(2)], &EventMeta::default()).await.unwrap();
    early.commit().await.unwrap();

    let mut conn = db.pool.acquire().await.unwrap();
    let (first, cursor) = store.read_all(&mut conn, None, 100).await.unwrap();
    assert!(first.is_empty(), "nothing is settled while an older writer is open");
    late.commit().await.unwrap();
    // Settled means older than every transaction still running in the whole server
    // (`pg_snapshot_xmin` is cluster-wide), so a transaction of another test's database that
    // began before `late` holds these back until it ends: read again, as a real reader would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (second, cursor) = loop {
        let (events, next) = store.read_all(&mut conn, cursor.clone(), 100).await.unwrap();
        if !events.is_empty() || std::time::Instant::now() > deadline {
            break (events, next);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let ids: Vec<&str> = second.iter().map(|e| e.stream_id.as_str()).collect();
    assert_eq!(ids, ["late", "early"]);
    let (third, _) = store.read_all(&mut conn, cursor, 100).await.unwrap();
    assert!(third.is_empty());
}

/// An older transaction (smaller id) that appends to a stream after a younger one did:
/// replay must still give the stream's events in version order, or a rebuilt projection
/// ends on the wrong state. (Found by the chaos run once a campaign's saga steps stopped
/// queueing on one lock: a team row rebuilt at version 5 while the live one was at 7.)
///
/// Known to fail: replay follows transaction ids, taken at a transaction's first write.
/// Services avoid the case by taking the lock that orders such writers before their first
/// write (group-buy's campaign row). Raising an append's replay key to its stream's previous
/// one fixed this test but split a transaction's events across the replay, and payments'
/// rebuild then overdrew an account (docs/reliability.md). A fix must move a transaction's
/// events together.
#[tokio::test]
#[ignore = "known replay-order limitation, see the comment"]
async fn replay_keeps_each_streams_version_order_when_an_older_transaction_appends_last() {
    let db = TestDb::new().await;
    let store = EventStore::new(db.pool.clone());
    let team = StreamRef::new("s", "team");
    // The older transaction takes its id with a write elsewhere first.
    let mut older = db.pool.begin().await.unwrap();
    store.append(&mut older, &StreamRef::new("s", "join-a"), 0, &[event(1)], &EventMeta::default()).await.unwrap();
    let mut younger = db.pool.begin().await.unwrap();
    store.append(&mut younger, &StreamRef::new("s", "join-b"), 0, &[event(2)], &EventMeta::default()).await.unwrap();
    store.append(&mut younger, &team, 0, &[event(3)], &EventMeta::default()).await.unwrap();
    younger.commit().await.unwrap();
    store.append(&mut older, &team, 1, &[event(4), event(5)], &EventMeta::default()).await.unwrap();
    older.commit().await.unwrap();

    let mut conn = db.pool.acquire().await.unwrap();
    let (all, _) = store.read_all(&mut conn, None, 100).await.unwrap();
    let team_versions: Vec<u64> = all.iter().filter(|e| e.stream_id == "team").map(|e| e.version).collect();
    assert_eq!(team_versions, [1, 2, 3], "the team's events in version order");
    assert_eq!(all.len(), 5, "nothing skipped");
}

#[tokio::test]
async fn snapshots_keep_the_newest() {
    let db = TestDb::new().await;
    let store = EventStore::new(db.pool.clone());
    let stream = StreamRef::new("snap", "x");
    let mut conn = db.pool.acquire().await.unwrap();
    assert!(store.load_snapshot(&mut conn, &stream).await.unwrap().is_none());
    let snap = |version, state: &str| Snapshot { version, schema_version: 1, state: state.as_bytes().to_vec() };
    store.save_snapshot(&mut conn, &stream, &snap(10, "ten")).await.unwrap();
    store.save_snapshot(&mut conn, &stream, &snap(5, "five")).await.unwrap();
    let loaded = store.load_snapshot(&mut conn, &stream).await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.state.as_slice()), (10, b"ten".as_slice()));
}
