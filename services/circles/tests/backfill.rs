//! A new friend's timeline fills with the author's recent moments, whichever of the two events
//! (the friendship, from the users service; the moment's fan-out, from circles' own topic)
//! comes first; at most the last 30 days and 100 moments; a block still hides them.

mod common;

use std::time::{Duration, Instant};

use circles::store::feeds::{BACKFILL_DAYS, BACKFILL_MOMENTS};
use common::{TestApp, User, authed};
use tuan_proto::{circles::v1 as pb, common::v1::PageRequest};

async fn post(app: &mut TestApp, author: &User, text: &str) {
    let request = pb::PostMomentRequest { text: text.into(), card: None };
    app.client.post_moment(authed(&author.token, request)).await.expect("post moment");
}

async fn timeline(app: &mut TestApp, reader: &User) -> Vec<String> {
    let request = pb::GetTimelineRequest { page: Some(PageRequest { limit: 50, cursor: String::new() }) };
    let page = app.client.get_timeline(authed(&reader.token, request)).await.expect("timeline").into_inner();
    page.moments.into_iter().map(|m| m.text).collect()
}

/// Rows of `owner`'s timeline written by `author`.
async fn rows(app: &TestApp, owner: &User, author: &User) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM public.timeline WHERE owner_id = $1 AND author_id = $2")
        .bind(owner.id)
        .bind(author.id)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

async fn wait_rows(app: &TestApp, owner: &User, author: &User, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = rows(app, owner, author).await;
        if n == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{n} timeline rows, expected {expected}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_new_friend_sees_each_sides_recent_moments() {
    let mut app = TestApp::spawn().await;
    let (author, reader) = (app.user(), app.user());
    for text in ["lychees in", "mangoes tomorrow", "last box of lychees"] {
        post(&mut app, &author, text).await;
    }
    post(&mut app, &reader, "hello from the reader").await;
    wait_rows(&app, &author, &author, 3).await; // fanned out, to the author only so far
    assert!(timeline(&mut app, &reader).await.iter().all(|t| t.contains("reader")));

    app.befriend(&author, &reader).await;
    wait_rows(&app, &reader, &author, 3).await;
    let seen = timeline(&mut app, &reader).await;
    assert_eq!(seen, ["hello from the reader", "last box of lychees", "mangoes tomorrow", "lychees in"]);
    wait_rows(&app, &author, &reader, 1).await; // and the other way round

    // A block still hides them; the rows stay, the read leaves them out.
    app.block(&author, &reader).await;
    assert_eq!(timeline(&mut app, &reader).await, ["hello from the reader"]);
    app.stop().await;
}

#[tokio::test]
async fn a_moment_posted_around_a_new_friendship_arrives_once_in_either_order() {
    let mut app = TestApp::spawn().await;
    for round in 0..3 {
        // The moment first, the friendship right after: the fan-out may run before circles
        // knows the friendship, and the backfill must bring the moment.
        let (author, reader) = (app.user(), app.user());
        post(&mut app, &author, &format!("moment before friendship {round}")).await;
        app.befriend_async(&author, &reader).await;
        wait_rows(&app, &reader, &author, 1).await;

        // The friendship first, the moment right after: fan-out or backfill, one row.
        let (author, reader) = (app.user(), app.user());
        app.befriend_async(&author, &reader).await;
        post(&mut app, &author, &format!("moment after friendship {round}")).await;
        wait_rows(&app, &reader, &author, 1).await;
    }
    // Both consumers settle: still one row per moment and reader.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT owner_id, moment_id FROM public.timeline GROUP BY 1, 2 HAVING count(*) > 1) d",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(doubled, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_backfill_brings_at_most_the_last_30_days_and_100_moments() {
    let mut app = TestApp::spawn().await;
    let (author, reader, old_friend) = (app.user(), app.user(), app.user());
    // History written straight into the moments read model (posting 110 moments through the
    // API would only take longer): 105 within the window, 5 older than it.
    sqlx::query(
        "INSERT INTO proj.moments (moment_id, author_id, text, created_at) \
         SELECT gen_random_uuid(), $1, 'recent ' || i, now() - make_interval(mins => i) FROM generate_series(1, 105) i \
         UNION ALL SELECT gen_random_uuid(), $1, 'old ' || i, now() - make_interval(days => $2 + i) FROM generate_series(1, 5) i",
    )
    .bind(author.id)
    .bind(BACKFILL_DAYS)
    .execute(app.pool())
    .await
    .unwrap();
    app.befriend(&author, &reader).await;
    wait_rows(&app, &reader, &author, BACKFILL_MOMENTS).await;
    let oldest: String = sqlx::query_scalar(
        "SELECT m.text FROM public.timeline t JOIN proj.moments m USING (moment_id) \
         WHERE t.owner_id = $1 ORDER BY t.created_at LIMIT 1",
    )
    .bind(reader.id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(oldest, format!("recent {BACKFILL_MOMENTS}"), "the newest 100, nothing older than 30 days");

    // A friendship announced again (a redelivery, or unfriend and befriend) adds nothing twice.
    app.befriend(&author, &old_friend).await;
    app.befriend_async(&author, &reader).await;
    wait_rows(&app, &old_friend, &author, BACKFILL_MOMENTS).await;
    assert_eq!(rows(&app, &reader, &author).await, BACKFILL_MOMENTS);
    app.stop().await;
}
