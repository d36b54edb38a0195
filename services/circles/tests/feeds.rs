//! Posts with deal cards, moments fanned out to friends' timelines (also across a crash of the
//! consumer), and broadcasts to followers' inboxes under the monthly quota.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, authed, circle};
use tonic::Code;
use tuan_proto::{
    circles::v1::{self as pb, CircleKind},
    common::v1::PageRequest,
};
use tuan_testkit::refused;
use uuid::Uuid;

fn page(limit: u32, cursor: &str) -> Option<PageRequest> {
    Some(PageRequest { limit, cursor: cursor.into() })
}

#[tokio::test]
async fn posts_carry_deal_cards_and_page_newest_first() {
    let mut app = TestApp::spawn().await;
    let (owner, reader) = (app.user(), app.user());
    let c = app.create_circle(&owner, CircleKind::Cluster, false).await;
    app.client.join_circle(authed(&reader.token, circle(&c.circle_id))).await.unwrap();
    let campaign = Uuid::now_v7().to_string();
    let card = pb::DealCard { target: Some(pb::deal_card::Target::CampaignId(campaign.clone())) };
    for i in 0..5 {
        let card = (i == 4).then(|| card.clone());
        let request = pb::CreatePostRequest { circle_id: c.circle_id.clone(), text: format!("post {i}"), card };
        app.client.create_post(authed(&owner.token, request)).await.unwrap();
    }
    let mut texts = Vec::new();
    let mut cursor = String::new();
    loop {
        let request = pb::ListPostsRequest { circle_id: c.circle_id.clone(), page: page(2, &cursor) };
        let got = app.client.list_posts(authed(&reader.token, request)).await.unwrap().into_inner();
        if texts.is_empty() {
            let card = got.posts[0].card.as_ref().and_then(|c| c.target.clone());
            assert_eq!(
                card,
                Some(pb::deal_card::Target::CampaignId(campaign.clone())),
                "the newest post shares the campaign"
            );
        }
        texts.extend(got.posts.into_iter().map(|p| p.text));
        if got.next_cursor.is_empty() {
            break;
        }
        cursor = got.next_cursor;
    }
    assert_eq!(texts, ["post 4", "post 3", "post 2", "post 1", "post 0"]);
    app.stop().await;
}

async fn timeline_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM public.timeline").fetch_one(app.pool()).await.unwrap()
}

/// 10,000 friends are inserted straight into the friendship projection (publishing 10,000
/// users events would only test the broker); the fan-out itself runs through the real outbox,
/// broker and consumer.
#[tokio::test]
async fn a_moment_reaches_each_of_10000_friends_timelines_exactly_once_even_across_a_crash() {
    const FRIENDS: i64 = 10_000;
    const MOMENTS: i64 = 6;
    let mut app = TestApp::spawn().await;
    let author = app.user();
    sqlx::query(
        "WITH f AS (SELECT gen_random_uuid() AS id FROM generate_series(1, $2)) \
         INSERT INTO public.friends (user_id, friend_id) SELECT $1, id FROM f UNION ALL SELECT id, $1 FROM f",
    )
    .bind(author.id)
    .bind(FRIENDS as i32)
    .execute(app.pool())
    .await
    .unwrap();

    let started = Instant::now();
    for i in 0..MOMENTS {
        let request = pb::PostMomentRequest { text: format!("fresh lychees, batch {i}"), card: None };
        app.client.post_moment(authed(&author.token, request)).await.unwrap();
    }
    let per_moment = FRIENDS + 1; // every friend and the author
    // Crash the service while the fan-out is under way: some moments done, the rest not.
    let deadline = Instant::now() + Duration::from_secs(30);
    let at_crash = loop {
        let n = timeline_rows(&app).await;
        if n >= per_moment {
            break n;
        }
        assert!(Instant::now() < deadline, "fan-out did not start within 30 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    eprintln!("first moment fanned out to {per_moment} timelines after {:?}", started.elapsed());
    let (db, config) = app.kill().await;
    let after_kill =
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM public.timeline").fetch_one(&db.pool).await.unwrap();
    eprintln!("killed with {at_crash} rows seen, {after_kill} committed of {}", per_moment * MOMENTS);
    assert_eq!(after_kill % per_moment, 0, "each moment's fan-out commits whole or not at all");
    assert!(after_kill < per_moment * MOMENTS, "the crash must come mid-way through the fan-out");

    let mut app = TestApp::spawn_with(db, config).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while timeline_rows(&app).await < per_moment * MOMENTS {
        assert!(Instant::now() < deadline, "fan-out did not finish after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rows, distinct, owners): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT (owner_id, moment_id)), count(DISTINCT owner_id) FROM public.timeline",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!((rows, distinct, owners), (per_moment * MOMENTS, per_moment * MOMENTS, per_moment));
    let per_owner: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT count(*) FROM public.timeline GROUP BY owner_id")
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert_eq!(per_owner, [MOMENTS], "every timeline has every moment exactly once");

    // A friend reads their timeline (one indexed query), newest first.
    let friend: Uuid = sqlx::query_scalar("SELECT friend_id FROM public.friends WHERE user_id = $1 LIMIT 1")
        .bind(author.id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let token = tuan_testkit::rpc::token(&app.config.common.auth, friend, &[]);
    let timeline = app
        .client
        .get_timeline(authed(&token, pb::GetTimelineRequest { page: page(4, "") }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(timeline.moments.len(), 4);
    assert_eq!(timeline.moments[0].text, format!("fresh lychees, batch {}", MOMENTS - 1));
    assert!(timeline.moments.iter().all(|m| m.author_id == author.id.to_string()));
    let rest = app
        .client
        .get_timeline(authed(&token, pb::GetTimelineRequest { page: page(4, &timeline.next_cursor) }))
        .await
        .unwrap();
    assert_eq!(rest.into_inner().moments.len() as i64, MOMENTS - 4);
    app.stop().await;
}

#[tokio::test]
async fn a_merchant_finds_its_own_account_by_naming_none_with_followers_and_the_months_quota() {
    let mut app = TestApp::spawn().await;
    let (merchant, operator, follower, plain) = (app.user(), app.operator(), app.user(), app.user());
    app.verify_merchant(&merchant, &operator).await;
    let own = || pb::AccountTarget { account_id: String::new() };
    // Before it opens one, and for anyone who has none: NOT_FOUND.
    refused!(app, Code::NotFound, app.client.get_public_account(authed(&merchant.token, own())));
    refused!(app, Code::NotFound, app.client.get_public_account(authed(&plain.token, own())));

    let open = pb::OpenPublicAccountRequest { name: "Orchard".into(), description: "apples".into() };
    let opened = app.client.open_public_account(authed(&merchant.token, open)).await.unwrap().into_inner();
    let found = app.client.get_public_account(authed(&merchant.token, own())).await.unwrap().into_inner();
    assert_eq!(found, opened);
    assert_eq!((found.follower_count, found.broadcasts_this_month, found.broadcast_quota), (0, 0, 20));

    let target = pb::AccountTarget { account_id: opened.account_id.clone() };
    app.client.follow_account(authed(&follower.token, target)).await.unwrap();
    let broadcast = pb::BroadcastRequest { account_id: opened.account_id.clone(), text: "fresh".into(), card: None };
    app.client.broadcast(authed(&merchant.token, broadcast)).await.unwrap();
    let found = app.client.get_public_account(authed(&merchant.token, own())).await.unwrap().into_inner();
    assert_eq!(found.account_id, opened.account_id);
    assert_eq!((found.follower_count, found.broadcasts_this_month, found.broadcast_quota), (1, 1, 20));
    // "Own" is the caller's: the follower has no account of its own to find.
    refused!(app, Code::NotFound, app.client.get_public_account(authed(&follower.token, own())));
    app.stop().await;
}

#[tokio::test]
async fn broadcasts_reach_unmuted_followers_and_the_21st_in_a_month_is_refused() {
    let mut app = TestApp::spawn().await;
    let (merchant, operator) = (app.user(), app.operator());
    let followers: Vec<_> = (0..3).map(|_| app.user()).collect();
    app.verify_merchant(&merchant, &operator).await;
    let account = app
        .client
        .open_public_account(authed(
            &merchant.token,
            pb::OpenPublicAccountRequest { name: "Orchard".into(), description: String::new() },
        ))
        .await
        .unwrap()
        .into_inner();
    let target = || pb::AccountTarget { account_id: account.account_id.clone() };
    for f in &followers {
        let follow = app.client.follow_account(authed(&f.token, target())).await.unwrap().into_inner();
        assert!(follow.following);
    }
    let (muted, unfollowed) = (&followers[1], &followers[2]);
    let mute = pb::MuteAccountRequest { account_id: account.account_id.clone(), muted: true };
    assert!(app.client.mute_account(authed(&muted.token, mute)).await.unwrap().into_inner().muted);
    app.client.unfollow_account(authed(&unfollowed.token, target())).await.unwrap();
    let seen = app.client.get_public_account(authed(&merchant.token, target())).await.unwrap().into_inner();
    assert_eq!(seen.follower_count, 2);

    let broadcast = |i: usize| pb::BroadcastRequest {
        account_id: account.account_id.clone(),
        text: format!("offer {i}"),
        card: None,
    };
    for i in 1..=20 {
        let receipt = app.client.broadcast(authed(&merchant.token, broadcast(i))).await.unwrap().into_inner();
        assert_eq!((receipt.sent_this_month, receipt.quota), (i as u32, 20));
    }
    let refused = refused!(app, Code::ResourceExhausted, app.client.broadcast(authed(&merchant.token, broadcast(21))));
    assert!(refused.message().contains("quota"), "{}", refused.message());
    let seen = app.client.get_public_account(authed(&merchant.token, target())).await.unwrap().into_inner();
    assert_eq!((seen.broadcasts_this_month, seen.broadcast_quota), (20, 20));

    // Delivered by fan-out: wait for the follower's inbox, then the muted and the unfollowed
    // have nothing (their state was settled before the first broadcast).
    let reader = &followers[0];
    app.wait_for(
        "inbox",
        "SELECT count(*) FROM public.inbox WHERE owner_id = $1 AND account_id = $2",
        reader.id,
        account.account_id.parse().unwrap(),
        20,
    )
    .await;
    let inbox = app
        .client
        .list_inbox(authed(&reader.token, pb::ListInboxRequest { page: page(5, "") }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inbox.items.len(), 5);
    assert_eq!((inbox.items[0].text.as_str(), inbox.items[0].account_name.as_str()), ("offer 20", "Orchard"));
    for other in [muted, unfollowed] {
        let inbox = app
            .client
            .list_inbox(authed(&other.token, pb::ListInboxRequest { page: None }))
            .await
            .unwrap()
            .into_inner();
        assert!(inbox.items.is_empty(), "a muted or unfollowed user gets nothing");
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM public.inbox").fetch_one(app.pool()).await.unwrap();
    assert_eq!(total, 20);
    app.stop().await;
}
