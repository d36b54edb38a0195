//! Address-book discovery through gRPC: the cap per call, the daily allowance (durable, exact
//! under concurrency, renewed the next day), and rotating salts.

mod common;

use chrono::{TimeDelta, Timelike};
use common::{TestApp, authed, phone, retry_after};
use sha2::{Digest, Sha256};
use tonic::Code;
use tuan_proto::users::v1 as pb;
use users::{domain::discovery::phone_hash, store::discovery as store};

const WEEK: i64 = 7 * 86_400;

/// A service whose discovery allows `per_request` hashes per call and `daily` per day.
async fn spawn(per_request: u32, daily: u32) -> TestApp {
    TestApp::spawn_tuned(|config| {
        config.users.discovery_max_per_request = per_request;
        config.users.discovery_daily_limit = daily;
        config.users.discovery_period_secs = WEEK as u64;
    })
    .await
}

fn hash(salt: &pb::GetDiscoverySaltResponse, phone: &str) -> String {
    hex::encode(Sha256::new().chain_update(salt.salt.as_bytes()).chain_update(phone.as_bytes()).finalize())
}

/// `n` hashes of numbers nobody has.
fn strangers(salt: &pb::GetDiscoverySaltResponse, n: usize) -> Vec<String> {
    (0..n).map(|_| hash(salt, &phone())).collect()
}

impl TestApp {
    async fn salt(&mut self) -> pb::GetDiscoverySaltResponse {
        self.client.get_discovery_salt(pb::GetDiscoverySaltRequest {}).await.unwrap().into_inner()
    }

    async fn discover(
        &mut self,
        token: &str,
        salt_id: i64,
        phone_hashes: Vec<String>,
    ) -> Result<Vec<pb::DiscoveredUser>, tonic::Status> {
        let request = pb::DiscoverFriendsRequest { phone_hashes, salt_id };
        self.client.discover_friends(authed(token, request)).await.map(|r| r.into_inner().matches)
    }

    /// Numbers charged to `user` today (by the service's clock).
    async fn used_today(&self, user: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT COALESCE(sum(numbers), 0)::bigint FROM discovery_usage WHERE user_id = $1::uuid AND day = $2",
        )
        .bind(user)
        .bind(self.clock.now().date_naive())
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn more_than_the_cap_per_call_is_refused_and_nothing_is_counted() {
    let mut app = spawn(3, 10).await;
    let me = app.sign_up(&phone(), "Cap").await;
    let salt = app.salt().await;

    let over = app.discover(&me.access_token, salt.salt_id, strangers(&salt, 4)).await.unwrap_err();
    assert_eq!(over.code(), Code::InvalidArgument, "{over:?}");
    assert!(over.message().contains("at most 3"), "{}", over.message());
    let mut bad = strangers(&salt, 2);
    bad.push("not-a-hash".into());
    let bad = app.discover(&me.access_token, salt.salt_id, bad).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(app.used_today(&me.user_id).await, 0, "refused calls are not charged");

    // A repeat counts once: [a, b, a] is two numbers.
    let mut repeated = strangers(&salt, 2);
    repeated.push(repeated[0].clone());
    app.discover(&me.access_token, salt.salt_id, repeated).await.unwrap();
    assert_eq!(app.used_today(&me.user_id).await, 2);
    app.stop().await;
}

#[tokio::test]
async fn the_daily_allowance_runs_out_and_renews_the_next_day() {
    let mut app = spawn(5, 8).await;
    // Noon, so that the day does not end during the test.
    let since_midnight = i64::from(app.clock.now().num_seconds_from_midnight());
    app.clock.advance(TimeDelta::seconds((12 * 3600 - since_midnight).rem_euclid(86_400)));
    let me = app.sign_up(&phone(), "Daily").await;
    let friend_phone = phone();
    let friend = app.sign_up(&friend_phone, "Friend").await;
    let salt = app.salt().await;

    app.discover(&me.access_token, salt.salt_id, strangers(&salt, 5)).await.unwrap();
    let over = app.discover(&me.access_token, salt.salt_id, strangers(&salt, 4)).await.unwrap_err();
    assert_eq!(over.code(), Code::ResourceExhausted, "{over:?}");
    let retry_ms = retry_after(&over).as_millis() as u64;
    let now = app.clock.now();
    let to_midnight = 86_400 - u64::from(now.num_seconds_from_midnight());
    assert!(retry_ms.div_ceil(1000).abs_diff(to_midnight) <= 2, "retry in {retry_ms} ms, midnight in {to_midnight} s");
    assert_eq!(app.used_today(&me.user_id).await, 5, "a refused call is not charged");

    // What is left of today is still there, up to the limit exactly.
    let mut last = strangers(&salt, 2);
    last.push(hash(&salt, &friend_phone));
    let found = app.discover(&me.access_token, salt.salt_id, last).await.unwrap();
    assert_eq!(found[0].profile.as_ref().unwrap().user_id, friend.user_id);
    let over = app.discover(&me.access_token, salt.salt_id, strangers(&salt, 1)).await.unwrap_err();
    assert_eq!(over.code(), Code::ResourceExhausted);
    // Another user has their own allowance.
    app.discover(&friend.access_token, salt.salt_id, strangers(&salt, 5)).await.unwrap();

    // The next day (the salt may have rotated meanwhile: fetch it again).
    app.clock.advance(TimeDelta::days(1));
    let salt = app.salt().await;
    app.discover(&me.access_token, salt.salt_id, strangers(&salt, 5)).await.unwrap();
    assert_eq!(app.used_today(&me.user_id).await, 5);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_calls_never_pass_the_daily_allowance() {
    let mut app = spawn(5, 50).await;
    let me = app.sign_up(&phone(), "Eager").await;
    let salt = app.salt().await;
    let calls = (0..30).map(|_| {
        let (mut client, token, hashes) = (app.client.clone(), me.access_token.clone(), strangers(&salt, 5));
        let salt_id = salt.salt_id;
        tokio::spawn(async move {
            client.discover_friends(authed(&token, pb::DiscoverFriendsRequest { phone_hashes: hashes, salt_id })).await
        })
    });
    let (mut served, mut refused) = (0, 0);
    for call in futures::future::join_all(calls).await {
        match call.unwrap() {
            Ok(_) => served += 1,
            Err(status) if status.code() == Code::ResourceExhausted => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((served, refused), (10, 20), "50 numbers a day, 5 a call");
    assert_eq!(app.used_today(&me.user_id).await, 50);
    app.stop().await;
}

#[tokio::test]
async fn salts_rotate_the_previous_one_still_matches_older_and_unknown_ones_are_refused() {
    let mut app = spawn(100, 1_000).await;
    let me = app.sign_up(&phone(), "Seeker").await;
    let (old_phone, late_phone) = (phone(), phone());
    let old = app.sign_up(&old_phone, "Old").await;
    let first = app.salt().await;
    let expires = chrono::DateTime::from_timestamp_micros(first.expires_at_micros).unwrap();
    assert!(expires > app.clock.now() && expires <= app.clock.now() + TimeDelta::seconds(WEEK));
    let finds = |found: Vec<pb::DiscoveredUser>| -> Vec<String> {
        found.into_iter().map(|m| m.profile.unwrap().user_id).collect()
    };

    // One period later: a new salt; hashes made with the one before still match.
    app.clock.advance(TimeDelta::seconds(WEEK));
    let second = app.salt().await;
    assert_eq!(second.salt_id, first.salt_id + 1);
    assert_ne!(second.salt, first.salt);
    assert_eq!(second.expires_at_micros, first.expires_at_micros + WEEK * 1_000_000);
    let late = app.sign_up(&late_phone, "Late").await;
    let with_first = app.discover(&me.access_token, first.salt_id, vec![hash(&first, &old_phone)]).await.unwrap();
    assert_eq!(finds(with_first), vec![old.user_id.clone()]);
    let with_second = app
        .discover(&me.access_token, second.salt_id, vec![hash(&second, &old_phone), hash(&second, &late_phone)])
        .await
        .unwrap();
    let mut expected = vec![old.user_id.clone(), late.user_id.clone()];
    expected.sort();
    let mut got = finds(with_second);
    got.sort();
    assert_eq!(got, expected);
    // A hash made with one salt does not match under another's id.
    let mixed = app.discover(&me.access_token, second.salt_id, vec![hash(&first, &old_phone)]).await.unwrap();
    assert!(mixed.is_empty());

    // Two periods on: the first salt is refused, the second still works, and the third (filled
    // by the rotation from the numbers the service holds) matches users from before it.
    app.clock.advance(TimeDelta::seconds(WEEK));
    app.users.rotate_discovery().await.unwrap();
    let third = app.salt().await;
    assert_eq!(third.salt_id, second.salt_id + 1);
    let stale = app.discover(&me.access_token, first.salt_id, vec![hash(&first, &old_phone)]).await.unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition, "{stale:?}");
    assert!(stale.message().contains("fetch the salt again"), "{}", stale.message());
    for unknown in [third.salt_id + 1, 0, -7] {
        let refused = app.discover(&me.access_token, unknown, vec![hash(&third, &old_phone)]).await.unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition, "salt id {unknown}");
    }
    let with_second = app.discover(&me.access_token, second.salt_id, vec![hash(&second, &old_phone)]).await.unwrap();
    assert_eq!(finds(with_second), vec![old.user_id.clone()]);
    let with_third = app.discover(&me.access_token, third.salt_id, vec![hash(&third, &late_phone)]).await.unwrap();
    assert_eq!(finds(with_third), vec![late.user_id.clone()]);

    // Only the kept periods' hashes remain: the previous, the current and the next.
    let periods: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT period FROM discovery_hashes ORDER BY period")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(periods, vec![second.salt_id, third.salt_id, third.salt_id + 1]);
    app.stop().await;
}

#[tokio::test]
async fn a_period_is_filled_in_batches_with_every_user_once() {
    let mut app = spawn(100, 1_000).await;
    let mut phones = Vec::new();
    for _ in 0..5 {
        let number = phone();
        app.sign_up(&number, "Batch").await;
        phones.push(number);
    }
    let pool = app.users.pool().clone();
    let far = app.salt().await.salt_id + 100;
    store::register_periods(&pool, &[far]).await.unwrap();
    let hash_of = |p: &str| phone_hash(&format!("salt-{far}"), p);
    let mut batches = 1;
    while !store::fill_batch(&pool, far, 2, hash_of).await.unwrap() {
        batches += 1;
    }
    assert_eq!(batches, 3, "5 users, 2 a batch");
    assert!(store::fill_batch(&pool, far, 2, hash_of).await.unwrap(), "a filled period stays filled");
    let mut stored: Vec<String> =
        sqlx::query_scalar("SELECT phone_hash FROM discovery_hashes WHERE period = $1 ORDER BY phone_hash")
            .bind(far)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    let mut expected: Vec<String> = phones.iter().map(|p| hash_of(p)).collect();
    expected.sort();
    stored.sort();
    assert_eq!(stored, expected);
    app.stop().await;
}
