//! The circles service's rows of the authorization matrix (`tuan_testkit::authz::MATRIX`):
//! every RPC refuses bad tokens; a stranger can neither see a private group nor change it,
//! its members or its posts; operator and merchant actions refuse normal users; only an
//! account's owner broadcasts. Refusals change nothing.

mod common;

use common::{TestApp, User, authed, circle, member};
use prost::Message as _;
use tonic::transport::Channel;
use tuan_proto::circles::v1::{self as pb, CircleKind};
use tuan_testkit::{
    authz::{self, CIRCLES, Callers},
    rpc::{assert_probes_are_public, bearer},
};

/// O owns the group G (approval required) with member M and invitee P, and runs a public
/// account. X is nobody to any of them.
struct Fixture {
    owner: User,
    member: User,
    invitee: User,
    group: pb::Circle,
    account: pb::PublicAccount,
}

impl Fixture {
    async fn new(app: &mut TestApp) -> Self {
        let (owner, member, invitee, operator) = (app.user(), app.user(), app.user(), app.operator());
        app.befriend_async(&owner, &member).await;
        app.befriend_async(&owner, &invitee).await;
        app.befriend(&owner, &member).await;
        app.befriend(&owner, &invitee).await;
        app.verify_merchant(&owner, &operator).await;
        let group = app.create_circle(&owner, CircleKind::Group, true).await;
        let id = group.circle_id.as_str();
        app.client.invite_member(authed(&owner.token, member_of(id, &member))).await.unwrap();
        app.client.join_circle(authed(&member.token, circle(id))).await.unwrap();
        app.client.invite_member(authed(&owner.token, member_of(id, &invitee))).await.unwrap();
        let post = pb::CreatePostRequest { circle_id: id.into(), text: "hotpot at 7".into(), card: None };
        app.client.create_post(authed(&member.token, post)).await.unwrap();
        let open = pb::OpenPublicAccountRequest { name: "Fresh fruit".into(), description: "daily".into() };
        let account = app.client.open_public_account(authed(&owner.token, open)).await.unwrap().into_inner();
        let group = app.circle(&owner, id).await;
        Self { owner, member, invitee, group, account }
    }

    /// The request each RPC gets in this test, naming the victims' things.
    fn request(&self, method: &str) -> Vec<u8> {
        let g = self.group.circle_id.clone();
        let account = self.account.account_id.clone();
        let text = |t: &str| t.to_string();
        match method {
            "CreateCircle" => pb::CreateCircleRequest {
                name: text("Mine"),
                kind: CircleKind::Group as i32,
                topic: String::new(),
                approval_required: false,
            }
            .encode_to_vec(),
            "GetCircle" | "DissolveCircle" | "JoinCircle" | "LeaveCircle" => circle(&g).encode_to_vec(),
            "RenameCircle" => pb::RenameCircleRequest { circle_id: g, name: text("Mine now") }.encode_to_vec(),
            "SetTopic" => pb::SetTopicRequest { circle_id: g, topic: text("spam") }.encode_to_vec(),
            "SetApprovalRequired" => {
                pb::SetApprovalRequiredRequest { circle_id: g, approval_required: false }.encode_to_vec()
            }
            "SetMemberCap" => pb::SetMemberCapRequest { circle_id: g, member_cap: 10 }.encode_to_vec(),
            "TransferOwnership" | "KickMember" | "PromoteAdmin" | "DemoteAdmin" => {
                member(&g, &self.member).encode_to_vec()
            }
            "InviteMember" | "ApproveInvitation" | "DeclineInvitation" => member(&g, &self.invitee).encode_to_vec(),
            "MuteCircle" => pb::MuteCircleRequest { circle_id: g, muted: true }.encode_to_vec(),
            "ListMyCircles" => pb::ListMyCirclesRequest { page: None }.encode_to_vec(),
            "ListMembers" => pb::ListMembersRequest { circle_id: g, state: 0, page: None }.encode_to_vec(),
            "CreatePost" => pb::CreatePostRequest { circle_id: g, text: text("spam"), card: None }.encode_to_vec(),
            "ListPosts" => pb::ListPostsRequest { circle_id: g, page: None }.encode_to_vec(),
            "PostMoment" => pb::PostMomentRequest { text: text("hello"), card: None }.encode_to_vec(),
            "GetTimeline" => pb::GetTimelineRequest { page: None }.encode_to_vec(),
            "SetPremium" => pb::SetPremiumRequest { user_id: self.owner.id.to_string(), premium: true }.encode_to_vec(),
            "OpenPublicAccount" => {
                pb::OpenPublicAccountRequest { name: text("Not a shop"), description: String::new() }.encode_to_vec()
            }
            "GetPublicAccount" | "FollowAccount" | "UnfollowAccount" => {
                pb::AccountTarget { account_id: account }.encode_to_vec()
            }
            "MuteAccount" => pb::MuteAccountRequest { account_id: account, muted: true }.encode_to_vec(),
            "Broadcast" => {
                pb::BroadcastRequest { account_id: account, text: text("hijack"), card: None }.encode_to_vec()
            }
            "ListInbox" => pb::ListInboxRequest { page: None }.encode_to_vec(),
            other => panic!("no request for CirclesService/{other}: add one (and its row in the matrix)"),
        }
    }
}

fn member_of(circle_id: &str, user: &User) -> pb::MemberTarget {
    member(circle_id, user)
}

/// Events appended by API requests (consumers of other services' events append with other
/// causes, at any moment).
async fn snapshot(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE causation_id LIKE 'request:%'").fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn every_circles_rpc_refuses_whom_the_matrix_refuses_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let f = Fixture::new(&mut app).await;
    let intruder = app.user();
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", app.port)).unwrap().connect().await.unwrap();
    let pool = app.pool().clone();
    let callers =
        Callers { intruder: bearer(&intruder.token), plain_user: bearer(&intruder.token), victim: f.owner.id };
    let checked = authz::check_service(
        &channel,
        CIRCLES,
        &app.config.common.auth,
        &callers,
        |m| f.request(m),
        || snapshot(&pool),
    )
    .await;
    println!("{checked:?}");
    assert!(checked.calls > checked.rpcs);

    // The group is as its owner left it.
    let group = app.circle(&f.owner, &f.group.circle_id).await;
    assert_eq!(group, f.group);
    let members = app
        .client
        .list_members(authed(
            &f.owner.token,
            pb::ListMembersRequest { circle_id: f.group.circle_id.clone(), state: 0, page: None },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.members.len(), 2, "owner and member");
    // Only the owner sees how much of the broadcast quota is used.
    let target = || pb::AccountTarget { account_id: f.account.account_id.clone() };
    let seen = app.client.get_public_account(authed(&intruder.token, target())).await.unwrap().into_inner();
    assert_eq!((seen.broadcasts_this_month, seen.broadcast_quota), (0, 0));
    let own = app.client.get_public_account(authed(&f.owner.token, target())).await.unwrap().into_inner();
    assert!(own.broadcast_quota > 0);
    assert_probes_are_public(&channel).await;
    app.stop().await;
}
