//! The users service's rows of the authorization matrix (`tuan_testkit::authz::MATRIX`):
//! every RPC refuses bad tokens, operator actions refuse normal users, nobody acts on someone
//! else's friend requests, friendships or merchant application, and refusals change nothing.

mod common;
mod fixture;

use common::{OPERATOR_PHONE, TestApp, authed, phone};
use fixture::{Fixture, uuid};
use prost::Message as _;
use tonic::Code;
use tuan_proto::users::v1 as pb;
use tuan_testkit::{
    authz::{self, Callers, USERS, assert_probes_are_public},
    event_count,
    rpc::{bearer, call_raw},
};
use uuid::Uuid;

#[tokio::test]
async fn every_users_rpc_refuses_whom_the_matrix_refuses_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let f = Fixture::new(&mut app).await;
    let x = app.sign_up(&phone(), "Mallory").await;
    let channel = app.server.channel().await;
    let pool = app.db.pool.clone();
    let callers =
        Callers { intruder: bearer(&x.access_token), plain_user: bearer(&x.access_token), victim: uuid(&f.a.user_id) };
    let checked = authz::check_service(
        &channel,
        USERS,
        &app.config.common.auth,
        &callers,
        |m| f.request(m),
        || event_count(&pool),
    )
    .await;
    println!("{checked:?}");
    assert!(checked.calls > checked.rpcs);

    // The intruder's own calls showed only the intruder's things.
    let me = app.client.get_me(authed(&x.access_token, pb::GetMeRequest {})).await.unwrap().into_inner();
    assert_eq!(me.user_id, x.user_id);
    assert_eq!(me.display_name, "Mallory");
    let incoming = app
        .client
        .list_friend_requests(authed(&x.access_token, pb::ListFriendRequestsRequest { direction: 1 }))
        .await
        .unwrap()
        .into_inner();
    assert!(incoming.requests.is_empty(), "{incoming:?}");
    let friends =
        app.client.list_friends(authed(&x.access_token, pb::ListFriendsRequest { page: None })).await.unwrap();
    assert!(friends.into_inner().friends.is_empty());
    // A's things are as A left them.
    let a = app.client.get_me(authed(&f.a.access_token, pb::GetMeRequest {})).await.unwrap().into_inner();
    assert_eq!(a.display_name, "Ai");
    assert_eq!(a.merchant_status(), pb::MerchantStatus::Pending);
    let a_incoming = app
        .client
        .list_friend_requests(authed(&f.a.access_token, pb::ListFriendRequestsRequest { direction: 1 }))
        .await
        .unwrap()
        .into_inner();
    let from_b = |r: &pb::FriendRequest| r.from.as_ref().is_some_and(|p| p.user_id == f.b.user_id);
    assert!(a_incoming.requests.iter().any(from_b), "B's request to A is still pending: {a_incoming:?}");
    app.stop().await;
}

#[tokio::test]
async fn public_rpcs_need_no_token_and_their_own_credentials_are_checked() {
    let mut app = TestApp::spawn().await;
    let channel = app.server.channel().await;
    let pool = app.db.pool.clone();
    let timeout = std::time::Duration::from_secs(20);
    let f = Fixture::new(&mut app).await;
    for rule in authz::rules_of(USERS).filter(|r| r.is_public()) {
        let reply = call_raw(&channel, rule.rpc, &None, f.request(rule.method()), timeout).await;
        assert!(reply.is_ok(), "{} without a token: {:?}", rule.rpc, reply.err());
    }
    // Refresh rotated A's first refresh token: presented again, it ends A's first session
    // (whoever presents a superseded token may be a thief), one event and nothing else.
    let before = event_count(&pool).await;
    let reused = app.client.refresh(pb::RefreshRequest { refresh_token: f.a.refresh_token.clone() }).await;
    assert_eq!(reused.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(event_count(&pool).await, before + 1, "the reuse ended the session");
    // Now the ended first session and the second, which Logout ended, refresh no more, nor
    // does garbage or a guessed secret for a real session; and no refusal changes anything.
    let guessed = |token: &str| format!("{}.{}", token.split_once('.').unwrap().0, "0".repeat(64));
    let refused = [
        ("Refresh", f.a.refresh_token.clone()),
        ("Refresh", f.a_again.refresh_token.clone()),
        ("Logout", f.a.refresh_token.clone()),
        ("Logout", guessed(&f.a_again.refresh_token)),
        ("Refresh", guessed(&f.a_again.refresh_token)),
        ("Logout", "garbage".into()),
        ("Refresh", format!("{}.{}", Uuid::now_v7(), "0".repeat(64))),
    ];
    for (rpc, token) in refused {
        let body = pb::RefreshRequest { refresh_token: token.clone() }.encode_to_vec();
        tuan_testkit::rpc::assert_refused_cleanly(
            &format!("{rpc} with the spent or forged refresh token {token}"),
            Code::Unauthenticated,
            || event_count(&pool),
            call_raw(&channel, &format!("{USERS}/{rpc}"), &None, body, timeout),
        )
        .await;
    }
    // Logging out twice with one's own token is fine and changes nothing.
    let before = event_count(&pool).await;
    app.client.logout(pb::LogoutRequest { refresh_token: f.a_again.refresh_token.clone() }).await.unwrap();
    assert_eq!(event_count(&pool).await, before);
    // An operator is what it takes to verify a merchant.
    let operator = app.sign_up_operator(OPERATOR_PHONE, "Ops").await;
    let verify = pb::VerifyMerchantRequest { user_id: f.a.user_id.clone() };
    app.client.verify_merchant(authed(&operator.access_token, verify)).await.expect("an operator verifies");
    assert_probes_are_public(&channel).await;
    app.stop().await;
}

#[tokio::test]
async fn the_admin_api_refuses_everyone_but_operators_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let channel = app.server.channel().await;
    let pool = app.db.pool.clone();
    let checked = tuan_testkit::authz::check_admin(&channel, &app.config.common.auth, &pool).await;
    println!("{checked:?}");
    assert!(checked.calls > checked.rpcs);
    app.stop().await;
}
