//! Every bad input gets a precise status and changes nothing.

mod common;

use common::{TestApp, authed, circle, member};
use tonic::Code;
use tuan_proto::circles::v1::{self as pb, CircleKind};
use tuan_testkit::refused;

#[tokio::test]
async fn circle_misuse_is_refused_precisely_and_changes_nothing() {
    // A small cap keeps "joining past the cap" cheap.
    let mut app = TestApp::spawn_configured(|c| c.circles.default_member_cap = 3).await;
    let (owner, friend, stranger, blocked, blocker) = (app.user(), app.user(), app.user(), app.user(), app.user());
    app.befriend_async(&owner, &friend).await;
    app.befriend(&owner, &friend).await;
    app.block(&owner, &blocked).await;
    app.block(&blocker, &owner).await;

    let cluster = app.create_circle(&owner, CircleKind::Cluster, false).await;
    let id = cluster.circle_id.as_str();

    // Bad arguments.
    let unnamed = pb::CreateCircleRequest { name: "  ".into(), kind: CircleKind::Group as i32, ..Default::default() };
    refused!(app, Code::InvalidArgument, app.client.create_circle(authed(&owner.token, unnamed)));
    let no_kind = pb::CreateCircleRequest { name: "x".into(), ..Default::default() };
    refused!(app, Code::InvalidArgument, app.client.create_circle(authed(&owner.token, no_kind)));
    refused!(app, Code::InvalidArgument, app.client.join_circle(authed(&owner.token, circle("not-a-uuid"))));
    refused!(
        app,
        Code::NotFound,
        app.client.join_circle(authed(&owner.token, circle(&uuid::Uuid::now_v7().to_string())))
    );
    refused!(app, Code::Unauthenticated, app.client.join_circle(circle(id)));

    // Inviting a non-friend, someone you blocked, someone who blocked you, yourself.
    refused!(app, Code::FailedPrecondition, app.client.invite_member(authed(&owner.token, member(id, &stranger))));
    refused!(app, Code::FailedPrecondition, app.client.invite_member(authed(&owner.token, member(id, &blocked))));
    refused!(app, Code::PermissionDenied, app.client.invite_member(authed(&owner.token, member(id, &blocker))));
    refused!(app, Code::InvalidArgument, app.client.invite_member(authed(&owner.token, member(id, &owner))));
    // The owner blocked this user: they cannot join the owner's open cluster either.
    refused!(app, Code::PermissionDenied, app.client.join_circle(authed(&blocked.token, circle(id))));
    // A non-member cannot invite.
    refused!(app, Code::PermissionDenied, app.client.invite_member(authed(&stranger.token, member(id, &friend))));

    // A member doing an admin's act.
    app.client.invite_member(authed(&owner.token, member(id, &friend))).await.unwrap();
    let rename = pb::RenameCircleRequest { circle_id: id.into(), name: "Mine now".into() };
    refused!(app, Code::PermissionDenied, app.client.rename_circle(authed(&friend.token, rename)));
    refused!(app, Code::PermissionDenied, app.client.kick_member(authed(&friend.token, member(id, &owner))));
    refused!(app, Code::PermissionDenied, app.client.promote_admin(authed(&friend.token, member(id, &friend))));
    refused!(app, Code::PermissionDenied, app.client.dissolve_circle(authed(&friend.token, circle(id))));
    refused!(app, Code::PermissionDenied, app.client.transfer_ownership(authed(&friend.token, member(id, &friend))));
    refused!(app, Code::AlreadyExists, app.client.join_circle(authed(&friend.token, circle(id))));
    refused!(app, Code::NotFound, app.client.kick_member(authed(&owner.token, member(id, &stranger))));

    // Joining past the cap (3: owner, friend, one more).
    app.client.join_circle(authed(&stranger.token, circle(id))).await.unwrap();
    let late = app.user();
    let full = refused!(app, Code::ResourceExhausted, app.client.join_circle(authed(&late.token, circle(id))));
    assert!(full.message().contains("cap"), "{}", full.message());
    let cap_below = pb::SetMemberCapRequest { circle_id: id.into(), member_cap: 2 };
    refused!(app, Code::FailedPrecondition, app.client.set_member_cap(authed(&owner.token, cap_below)));
    let cap_above = pb::SetMemberCapRequest { circle_id: id.into(), member_cap: 600 };
    refused!(app, Code::PermissionDenied, app.client.set_member_cap(authed(&owner.token, cap_above)));

    // Posts: too long, empty, bad card, not a member.
    let post = |text: &str, card: Option<pb::DealCard>| pb::CreatePostRequest {
        circle_id: id.into(),
        text: text.into(),
        card,
    };
    let long = "字".repeat(2001);
    refused!(app, Code::InvalidArgument, app.client.create_post(authed(&friend.token, post(&long, None))));
    refused!(app, Code::InvalidArgument, app.client.create_post(authed(&friend.token, post("  ", None))));
    let bad_card = pb::DealCard { target: Some(pb::deal_card::Target::CampaignId("nope".into())) };
    refused!(app, Code::InvalidArgument, app.client.create_post(authed(&friend.token, post("deal", Some(bad_card)))));
    refused!(app, Code::PermissionDenied, app.client.create_post(authed(&late.token, post("let me in", None))));
    refused!(
        app,
        Code::PermissionDenied,
        app.client.list_posts(authed(&late.token, pb::ListPostsRequest { circle_id: id.into(), page: None }))
    );
    let bad_cursor = pb::ListPostsRequest {
        circle_id: id.into(),
        page: Some(tuan_proto::common::v1::PageRequest { limit: 10, cursor: "garbage".into() }),
    };
    refused!(app, Code::InvalidArgument, app.client.list_posts(authed(&friend.token, bad_cursor)));
    app.client.create_post(authed(&friend.token, post(&"字".repeat(2000), None))).await.unwrap();
    refused!(
        app,
        Code::InvalidArgument,
        app.client.post_moment(authed(&friend.token, pb::PostMomentRequest { text: long, card: None }))
    );
    app.stop().await;
}

#[tokio::test]
async fn public_account_misuse_is_refused_precisely_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let (merchant, plain, operator) = (app.user(), app.user(), app.operator());
    let open = |name: &str| pb::OpenPublicAccountRequest { name: name.into(), description: "fresh fruit daily".into() };
    refused!(app, Code::PermissionDenied, app.client.open_public_account(authed(&plain.token, open("Not a shop"))));
    app.verify_merchant(&merchant, &operator).await;
    refused!(app, Code::InvalidArgument, app.client.open_public_account(authed(&merchant.token, open(""))));
    let account = app.client.open_public_account(authed(&merchant.token, open("Fruit"))).await.unwrap().into_inner();
    refused!(app, Code::AlreadyExists, app.client.open_public_account(authed(&merchant.token, open("Fruit again"))));

    let target = || pb::AccountTarget { account_id: account.account_id.clone() };
    refused!(app, Code::FailedPrecondition, app.client.unfollow_account(authed(&plain.token, target())));
    refused!(
        app,
        Code::FailedPrecondition,
        app.client.mute_account(authed(
            &plain.token,
            pb::MuteAccountRequest { account_id: account.account_id.clone(), muted: true }
        ))
    );
    let missing = pb::AccountTarget { account_id: uuid::Uuid::now_v7().to_string() };
    refused!(app, Code::NotFound, app.client.follow_account(authed(&plain.token, missing)));
    let broadcast =
        |text: &str| pb::BroadcastRequest { account_id: account.account_id.clone(), text: text.into(), card: None };
    refused!(app, Code::PermissionDenied, app.client.broadcast(authed(&plain.token, broadcast("hijack"))));
    refused!(app, Code::InvalidArgument, app.client.broadcast(authed(&merchant.token, broadcast(&"x".repeat(2001)))));
    app.stop().await;
}
