//! ListMyCirclePosts, the batch read behind Home's deal cards: a page of my circles with the
//! newest posts of each, in one call; only circles I am a member of; bounded.

mod common;

use common::{TestApp, User, authed, circle};
use tonic::Code;
use tuan_proto::{
    circles::v1::{self as pb, CircleKind},
    common::v1::PageRequest,
};

fn page(limit: u32, cursor: &str) -> Option<PageRequest> {
    Some(PageRequest { limit, cursor: cursor.into() })
}

async fn post(app: &mut TestApp, author: &User, circle_id: &str, text: &str) {
    let request = pb::CreatePostRequest { circle_id: circle_id.into(), text: text.into(), card: None };
    app.client.create_post(authed(&author.token, request)).await.expect("post");
}

async fn list(app: &mut TestApp, user: &User, request: pb::ListMyCirclePostsRequest) -> pb::ListMyCirclePostsResponse {
    app.client.list_my_circle_posts(authed(&user.token, request)).await.expect("list my circle posts").into_inner()
}

fn texts(posts: &[pb::Post]) -> Vec<&str> {
    posts.iter().map(|p| p.text.as_str()).collect()
}

#[tokio::test]
async fn my_circles_with_their_newest_posts_in_one_call_and_nobody_elses() {
    let mut app = TestApp::spawn().await;
    let (owner, reader) = (app.user(), app.user());
    let first = app.create_circle(&owner, CircleKind::Cluster, false).await;
    let second = app.create_circle(&owner, CircleKind::Cluster, false).await;
    let not_mine = app.create_circle(&owner, CircleKind::Cluster, false).await;
    let left = app.create_circle(&owner, CircleKind::Cluster, false).await;
    for c in [&first, &second, &left] {
        app.client.join_circle(authed(&reader.token, circle(&c.circle_id))).await.expect("join");
    }
    for i in 0..3 {
        post(&mut app, &owner, &first.circle_id, &format!("first {i}")).await;
    }
    post(&mut app, &reader, &second.circle_id, "second 0").await;
    post(&mut app, &owner, &not_mine.circle_id, "not mine").await;
    post(&mut app, &owner, &left.circle_id, "left behind").await;
    app.client.leave_circle(authed(&reader.token, circle(&left.circle_id))).await.expect("leave");

    let all = list(
        &mut app,
        &reader,
        pb::ListMyCirclePostsRequest { page: None, circles_with_posts: 0, posts_per_circle: 2 },
    )
    .await;
    let circles: Vec<&str> = all.circles.iter().map(|c| c.circle_id.as_str()).collect();
    assert_eq!(circles, [first.circle_id.as_str(), second.circle_id.as_str()], "as ListMyCircles lists them");
    assert_eq!(texts(&all.posts), ["first 2", "first 1", "second 0"], "circles in page order, newest first in each");
    assert!(all.next_cursor.is_empty());

    // The same posts (and circles) the single reads give.
    let single = pb::ListPostsRequest { circle_id: first.circle_id.clone(), page: page(2, "") };
    let single = app.client.list_posts(authed(&reader.token, single)).await.unwrap().into_inner().posts;
    assert_eq!(all.posts[..2], single[..]);
    let mine = pb::ListMyCirclesRequest { page: None };
    let mine = app.client.list_my_circles(authed(&reader.token, mine)).await.unwrap().into_inner().circles;
    assert_eq!(all.circles, mine);

    // Posts of only the first circles of the page; pages go on with their own posts.
    let one = list(
        &mut app,
        &reader,
        pb::ListMyCirclePostsRequest { page: None, circles_with_posts: 1, posts_per_circle: 0 },
    )
    .await;
    assert_eq!(texts(&one.posts), ["first 2", "first 1", "first 0"]);
    assert_eq!(one.circles, all.circles, "circles without posts are listed all the same");
    let head = list(&mut app, &reader, pb::ListMyCirclePostsRequest { page: page(1, ""), ..Default::default() }).await;
    assert_eq!((head.circles.len(), texts(&head.posts)), (1, vec!["first 2", "first 1", "first 0"]));
    let tail = pb::ListMyCirclePostsRequest { page: page(1, &head.next_cursor), ..Default::default() };
    let tail = list(&mut app, &reader, tail).await;
    assert_eq!(tail.circles[0].circle_id, second.circle_id);
    assert_eq!(texts(&tail.posts), ["second 0"]);

    // Someone in no circle sees nothing, however asked.
    let stranger = app.user();
    let nothing = list(&mut app, &stranger, pb::ListMyCirclePostsRequest::default()).await;
    assert_eq!(nothing, pb::ListMyCirclePostsResponse::default());
    app.stop().await;
}

#[tokio::test]
async fn list_my_circle_posts_is_bounded() {
    let mut app = TestApp::spawn().await;
    let user = app.user();
    let refused = [
        pb::ListMyCirclePostsRequest { posts_per_circle: 21, ..Default::default() },
        pb::ListMyCirclePostsRequest { circles_with_posts: 51, ..Default::default() },
        pb::ListMyCirclePostsRequest { page: page(201, ""), ..Default::default() },
        pb::ListMyCirclePostsRequest { page: page(10, "not a cursor"), ..Default::default() },
    ];
    for request in refused {
        let status = app.client.list_my_circle_posts(authed(&user.token, request.clone())).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{request:?}: {}", status.message());
    }
    let most = pb::ListMyCirclePostsRequest { page: page(200, ""), circles_with_posts: 50, posts_per_circle: 20 };
    app.client.list_my_circle_posts(authed(&user.token, most)).await.expect("the largest request");
    app.stop().await;
}
