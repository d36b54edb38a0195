//! Circles end to end: clusters grow by friends adding friends, groups need approval, the cap
//! holds under 600 concurrent joins, and the owner/admin/member roles.

mod common;

use std::time::Duration;

use common::{TestApp, User, authed, circle, member};
use tonic::Code;
use tuan_proto::circles::v1::{self as pb, CircleKind, MembershipState, Role};
use tuan_testkit::refused;

#[tokio::test]
async fn a_cluster_grows_three_levels_deep_without_approval_but_a_group_requires_it() {
    let mut app = TestApp::spawn().await;
    let (owner, a, b, c) = (app.user(), app.user(), app.user(), app.user());
    // A chain of friendships: owner - a - b - c. Nobody else is friends.
    app.befriend_async(&owner, &a).await;
    app.befriend_async(&a, &b).await;
    app.befriend(&b, &c).await;
    app.befriend(&owner, &a).await;
    app.befriend(&a, &b).await;

    let cluster = app.create_circle(&owner, CircleKind::Cluster, false).await;
    let id = cluster.circle_id.as_str();
    for (inviter, friend) in [(&owner, &a), (&a, &b), (&b, &c)] {
        let added = app.client.invite_member(authed(&inviter.token, member(id, friend))).await.unwrap().into_inner();
        assert_eq!(added.state(), MembershipState::Member, "a cluster member adds friends directly");
        assert_eq!(added.invited_by, inviter.id.to_string());
    }
    let seen = app.circle(&c, id).await;
    assert_eq!(seen.member_count, 4);
    assert_eq!(seen.my_role(), Role::Member);

    // The same chain into a group that requires approval.
    let group = app.create_circle(&owner, CircleKind::Group, true).await;
    let gid = group.circle_id.as_str();
    assert!(group.approval_required);
    // The owner is an admin: their invitation needs no approval, but it is only an invitation.
    let invited = app.client.invite_member(authed(&owner.token, member(gid, &a))).await.unwrap().into_inner();
    assert_eq!(invited.state(), MembershipState::Invited);
    assert_eq!(app.circle(&owner, gid).await.member_count, 1);
    app.client.join_circle(authed(&a.token, circle(gid))).await.unwrap();
    // A plain member's invitation waits for an admin.
    let pending = app.client.invite_member(authed(&a.token, member(gid, &b))).await.unwrap().into_inner();
    assert_eq!(pending.state(), MembershipState::AwaitingApproval);
    let early = app.client.join_circle(authed(&b.token, circle(gid))).await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "{}", early.message());
    let listed = app
        .client
        .list_members(authed(
            &owner.token,
            pb::ListMembersRequest {
                circle_id: gid.into(),
                state: MembershipState::AwaitingApproval as i32,
                page: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.members.len(), 1);
    assert_eq!(listed.members[0].user_id, b.id.to_string());
    let denied = app.client.approve_invitation(authed(&a.token, member(gid, &b))).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let approved = app.client.approve_invitation(authed(&owner.token, member(gid, &b))).await.unwrap().into_inner();
    assert_eq!(approved.state(), MembershipState::Invited);
    let joined = app.client.join_circle(authed(&b.token, circle(gid))).await.unwrap().into_inner();
    assert_eq!(joined.state(), MembershipState::Member);
    // An uninvited user cannot join a group, but anyone can join an open cluster.
    let stranger = app.user();
    let closed = app.client.join_circle(authed(&stranger.token, circle(gid))).await.unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition);
    app.client.join_circle(authed(&stranger.token, circle(id))).await.unwrap();
    assert_eq!(app.circle(&owner, gid).await.member_count, 3);
    assert_eq!(app.circle(&owner, id).await.member_count, 5);
    app.stop().await;
}

/// Joins, retrying only lost races (ABORTED) and overload (UNAVAILABLE), so every join ends
/// with a definitive answer.
/// Returns the final code and how many retries it took.
async fn join_until_decided(mut client: common::Client, user: User, circle_id: String) -> (Code, u32) {
    let mut retries = 0;
    loop {
        match client.join_circle(authed(&user.token, circle(&circle_id))).await {
            Ok(_) => return (Code::Ok, retries),
            Err(s) if matches!(s.code(), Code::Aborted | Code::Unavailable) => {
                retries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(s) => return (s.code(), retries),
        }
    }
}

#[tokio::test]
async fn six_hundred_concurrent_joins_into_a_500_cap_cluster_leave_exactly_500_members() {
    let mut app = TestApp::spawn().await;
    let owner = app.user();
    let cluster = app.create_circle(&owner, CircleKind::Cluster, false).await;
    assert_eq!(cluster.member_cap, 500);
    let joiners: Vec<User> = (0..600).map(|_| app.user()).collect();
    let started = std::time::Instant::now();
    let tasks: Vec<_> = joiners
        .into_iter()
        .map(|u| tokio::spawn(join_until_decided(app.client.clone(), u, cluster.circle_id.clone())))
        .collect();
    let (mut codes, mut retries) = (Vec::new(), 0);
    for t in tasks {
        let (code, tries) = t.await.unwrap();
        codes.push(code);
        retries += tries;
    }
    eprintln!("600 concurrent joins decided in {:?} with {retries} retries", started.elapsed());
    let ok = codes.iter().filter(|c| **c == Code::Ok).count();
    let full = codes.iter().filter(|c| **c == Code::ResourceExhausted).count();
    // The owner is the first member: 499 joins fit.
    assert_eq!((ok, full), (499, 101), "every join is either in or refused for the cap: {codes:?}");
    assert_eq!(app.circle(&owner, &cluster.circle_id).await.member_count, 500);
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM memberships WHERE circle_id = $1::uuid AND status = 'member'")
            .bind(&cluster.circle_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    let joined_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'tuan.circles.v1.MemberJoined' AND stream_id LIKE $1 || ':%'",
    )
    .bind(&cluster.circle_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!((rows, joined_events), (500, 500));
    app.stop().await;
}

#[tokio::test]
async fn owners_and_admins_run_the_circle_and_members_page_through_it() {
    let mut app = TestApp::spawn().await;
    let owner = app.user();
    let friends: Vec<User> = (0..5).map(|_| app.user()).collect();
    for f in &friends {
        app.befriend_async(&owner, f).await;
    }
    for f in &friends {
        app.befriend(&owner, f).await;
    }
    let c = app.create_circle(&owner, CircleKind::Cluster, false).await;
    let id = c.circle_id.as_str();
    for f in &friends {
        app.client.invite_member(authed(&owner.token, member(id, f))).await.unwrap();
    }
    let (admin, m1, m2) = (&friends[0], &friends[1], &friends[2]);
    let promoted = app.client.promote_admin(authed(&owner.token, member(id, admin))).await.unwrap().into_inner();
    assert_eq!(promoted.role(), Role::Admin);

    // An admin renames, sets the topic and kicks members, but not another admin.
    let renamed = app
        .client
        .rename_circle(authed(
            &admin.token,
            pb::RenameCircleRequest { circle_id: id.into(), name: "Weekend hikes".into() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.name, "Weekend hikes");
    app.client
        .set_topic(authed(&admin.token, pb::SetTopicRequest { circle_id: id.into(), topic: "hiking".into() }))
        .await
        .unwrap();
    let kicked = app.client.kick_member(authed(&admin.token, member(id, m1))).await.unwrap().into_inner();
    assert_eq!(kicked.state(), MembershipState::None);
    app.client.promote_admin(authed(&owner.token, member(id, m2))).await.unwrap();
    let outranked = app.client.kick_member(authed(&admin.token, member(id, m2))).await.unwrap_err();
    assert_eq!(outranked.code(), Code::PermissionDenied);
    let demoted = app.client.demote_admin(authed(&owner.token, member(id, m2))).await.unwrap().into_inner();
    assert_eq!(demoted.role(), Role::Member);

    // Mute is personal; leaving works for members but not for the owner.
    let muted = app
        .client
        .mute_circle(authed(&m2.token, pb::MuteCircleRequest { circle_id: id.into(), muted: true }))
        .await
        .unwrap();
    assert!(muted.into_inner().muted);
    assert!(app.circle(m2, id).await.muted);
    let owner_leaves = app.client.leave_circle(authed(&owner.token, circle(id))).await.unwrap_err();
    assert_eq!(owner_leaves.code(), Code::FailedPrecondition);
    app.client.leave_circle(authed(&friends[3].token, circle(id))).await.unwrap();

    // Members page by user id.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .client
            .list_members(authed(
                &m2.token,
                pb::ListMembersRequest {
                    circle_id: id.into(),
                    state: 0,
                    page: Some(tuan_proto::common::v1::PageRequest { limit: 2, cursor: cursor.clone() }),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.members.into_iter().map(|m| (m.user_id, m.role)));
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(seen.len(), 4, "owner, admin, m2 and friends[4]: {seen:?}");
    assert_eq!(app.circle(&owner, id).await.member_count, 4);

    // Ownership moves to the admin; the old owner stays on as admin and can now leave.
    let transferred =
        app.client.transfer_ownership(authed(&owner.token, member(id, admin))).await.unwrap().into_inner();
    assert_eq!(transferred.owner_id, admin.id.to_string());
    assert_eq!(transferred.my_role(), Role::Admin);
    assert_eq!(app.circle(admin, id).await.my_role(), Role::Owner);
    app.client.leave_circle(authed(&owner.token, circle(id))).await.unwrap();

    // My circles lists it with count and role, until the new owner dissolves it.
    let mine = app
        .client
        .list_my_circles(authed(&admin.token, pb::ListMyCirclesRequest { page: None }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.circles.len(), 1);
    assert_eq!((mine.circles[0].member_count, mine.circles[0].my_role()), (3, Role::Owner));
    let not_owner = app.client.dissolve_circle(authed(&m2.token, circle(id))).await.unwrap_err();
    assert_eq!(not_owner.code(), Code::PermissionDenied);
    let dissolved = app.client.dissolve_circle(authed(&admin.token, circle(id))).await.unwrap().into_inner();
    assert!(dissolved.dissolved);
    let mine = app
        .client
        .list_my_circles(authed(&admin.token, pb::ListMyCirclesRequest { page: None }))
        .await
        .unwrap()
        .into_inner();
    assert!(mine.circles.is_empty());
    let after = app.client.join_circle(authed(&app.user().token, circle(id))).await.unwrap_err();
    assert_eq!(after.code(), Code::FailedPrecondition);
    app.stop().await;
}

#[tokio::test]
async fn a_premium_owner_may_raise_the_cap_to_2000_and_others_only_to_500() {
    let mut app = TestApp::spawn().await;
    let (owner, operator) = (app.user(), app.operator());
    let c = app.create_circle(&owner, CircleKind::Group, false).await;
    let set_cap = |cap| pb::SetMemberCapRequest { circle_id: c.circle_id.clone(), member_cap: cap };
    let refused = app.client.set_member_cap(authed(&owner.token, set_cap(1000))).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{}", refused.message());
    let lowered = app.client.set_member_cap(authed(&owner.token, set_cap(100))).await.unwrap().into_inner();
    assert_eq!(lowered.member_cap, 100);

    let not_operator = app
        .client
        .set_premium(authed(&owner.token, pb::SetPremiumRequest { user_id: owner.id.to_string(), premium: true }))
        .await;
    assert_eq!(not_operator.unwrap_err().code(), Code::PermissionDenied);
    app.client
        .set_premium(authed(&operator.token, pb::SetPremiumRequest { user_id: owner.id.to_string(), premium: true }))
        .await
        .unwrap();
    let raised = app.client.set_member_cap(authed(&owner.token, set_cap(2000))).await.unwrap().into_inner();
    assert_eq!(raised.member_cap, 2000);
    let too_high = app.client.set_member_cap(authed(&owner.token, set_cap(2001))).await.unwrap_err();
    assert_eq!(too_high.code(), Code::InvalidArgument);
    app.stop().await;
}

#[tokio::test]
async fn joining_a_full_circle_is_a_limit_resource_exhausted_and_changes_nothing() {
    let mut app = TestApp::spawn_configured(|c| c.circles.default_member_cap = 2).await;
    let (owner, friend, first, late, invitee) = (app.user(), app.user(), app.user(), app.user(), app.user());
    app.befriend(&owner, &friend).await;
    app.befriend(&owner, &invitee).await;
    let cluster = app.create_circle(&owner, CircleKind::Cluster, false).await;
    let group = app.create_circle(&owner, CircleKind::Group, false).await;
    let (id, gid) = (cluster.circle_id.as_str(), group.circle_id.as_str());
    assert_eq!(cluster.member_cap, 2);
    app.client.join_circle(authed(&first.token, circle(id))).await.unwrap();
    // The group's invitation is taken while there is room; the cap is checked again on joining.
    app.client.invite_member(authed(&owner.token, member(gid, &invitee))).await.unwrap();
    app.client.invite_member(authed(&owner.token, member(gid, &friend))).await.unwrap();
    app.client.join_circle(authed(&friend.token, circle(gid))).await.unwrap();

    let before = (app.circle(&owner, id).await.member_count, app.circle(&owner, gid).await.member_count);
    assert_eq!(before, (2, 2));
    // Joining an open cluster, a member adding a friend to it, and an invitee joining a group:
    // each is past the cap, a limit rather than a precondition, and nothing is written.
    let full = refused!(app, Code::ResourceExhausted, app.client.join_circle(authed(&late.token, circle(id))));
    assert!(full.message().contains("cap of 2"), "{}", full.message());
    refused!(app, Code::ResourceExhausted, app.client.invite_member(authed(&owner.token, member(id, &friend))));
    refused!(app, Code::ResourceExhausted, app.client.join_circle(authed(&invitee.token, circle(gid))));
    let after = (app.circle(&owner, id).await.member_count, app.circle(&owner, gid).await.member_count);
    assert_eq!(after, before);
    let refused = app.client.get_circle(authed(&late.token, circle(id))).await.unwrap().into_inner();
    assert_eq!(refused.my_role(), Role::Unspecified, "the late joiner is not a member: {refused:?}");
    app.stop().await;
}
