//! The main users journey through gRPC, against real Postgres and the real broker.

mod common;

use common::{TestApp, authed, phone, target};
use tuan_proto::users::v1::{self as pb, FriendshipState};

#[tokio::test]
async fn sign_up_login_befriend_and_both_friend_lists_show_it() {
    let mut app = TestApp::spawn().await;
    let (phone_a, phone_b) = (phone(), phone());
    let a = app.sign_up(&phone_a, "Alice").await;
    let b = app.sign_up(&phone_b, "Bob").await;

    let login = app
        .client
        .login(pb::LoginRequest { phone: phone_a.clone(), password: "correct-horse-42".into() })
        .await
        .expect("login")
        .into_inner();
    assert_eq!(login.user_id, a.user_id);

    let sent = app
        .client
        .send_friend_request(authed(
            &login.access_token,
            pb::SendFriendRequestRequest { user_id: b.user_id.clone(), message: "dinner?".into() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.state(), FriendshipState::RequestSent);

    let incoming = app
        .client
        .list_friend_requests(authed(
            &b.access_token,
            pb::ListFriendRequestsRequest { direction: pb::list_friend_requests_request::Direction::Incoming as i32 },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(incoming.requests.len(), 1);
    assert_eq!(incoming.requests[0].from.as_ref().unwrap().display_name, "Alice");
    assert_eq!(incoming.requests[0].message, "dinner?");

    let accepted = app.client.accept_friend_request(authed(&b.access_token, target(&a.user_id))).await.unwrap();
    assert_eq!(accepted.into_inner().state(), FriendshipState::Friends);

    for (token, other, name) in [(&login.access_token, &b.user_id, "Bob"), (&b.access_token, &a.user_id, "Alice")] {
        let friends = app
            .client
            .list_friends(authed(token, pb::ListFriendsRequest { page: None }))
            .await
            .unwrap()
            .into_inner()
            .friends;
        assert_eq!(friends.len(), 1);
        let profile = friends[0].profile.as_ref().unwrap();
        assert_eq!((&profile.user_id, profile.display_name.as_str()), (other, name));
    }
    app.stop().await;
}

#[tokio::test]
async fn refresh_rotates_tokens_and_logout_ends_the_session() {
    let mut app = TestApp::spawn().await;
    let tokens = app.sign_up(&phone(), "Carol").await;
    let refreshed = app
        .client
        .refresh(pb::RefreshRequest { refresh_token: tokens.refresh_token.clone() })
        .await
        .expect("refresh")
        .into_inner();
    assert_ne!(refreshed.refresh_token, tokens.refresh_token);
    let me = app.client.get_me(authed(&refreshed.access_token, pb::GetMeRequest {})).await.unwrap().into_inner();
    assert_eq!(me.display_name, "Carol");

    let reused = app.client.refresh(pb::RefreshRequest { refresh_token: tokens.refresh_token }).await.unwrap_err();
    assert_eq!(reused.code(), tonic::Code::Unauthenticated);

    app.client.logout(pb::LogoutRequest { refresh_token: refreshed.refresh_token.clone() }).await.unwrap();
    let after = app.client.refresh(pb::RefreshRequest { refresh_token: refreshed.refresh_token }).await.unwrap_err();
    assert_eq!(after.code(), tonic::Code::Unauthenticated);
    app.stop().await;
}

#[tokio::test]
async fn address_book_discovery_finds_users_by_salted_hash_only() {
    use sha2::{Digest, Sha256};
    let mut app = TestApp::spawn().await;
    let (phone_a, phone_b) = (phone(), phone());
    let a = app.sign_up(&phone_a, "Dan").await;
    let b = app.sign_up(&phone_b, "Eve").await;
    let salt = app.client.get_discovery_salt(pb::GetDiscoverySaltRequest {}).await.unwrap().into_inner();
    let hash =
        |p: &str| hex::encode(Sha256::new().chain_update(salt.salt.as_bytes()).chain_update(p.as_bytes()).finalize());
    let stranger = hash("+8613999999999");
    let found = app
        .client
        .discover_friends(authed(
            &a.access_token,
            pb::DiscoverFriendsRequest {
                phone_hashes: vec![hash(&phone_b), stranger.clone(), hash(&phone_a)],
                salt_id: salt.salt_id,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .matches;
    assert_eq!(found.len(), 1, "only Eve: not the caller, not the stranger");
    assert_eq!(found[0].profile.as_ref().unwrap().user_id, b.user_id);
    assert_eq!(found[0].state(), FriendshipState::None);

    // A non-user's hash is never stored anywhere.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE position($1::bytea in payload) > 0")
        .bind(stranger.as_bytes())
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM discovery_hashes WHERE phone_hash = $1")
        .bind(&stranger)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(kept, 0);
    app.stop().await;
}

#[tokio::test]
async fn merchant_applies_operator_verifies_and_the_merchant_role_follows() {
    let mut app = TestApp::spawn().await;
    let operator = app.sign_up_operator(common::OPERATOR_PHONE, "Ops").await;
    let merchant = app.sign_up(&phone(), "Fruit Shop").await;
    let applied = app
        .client
        .apply_merchant(authed(
            &merchant.access_token,
            pb::ApplyMerchantRequest {
                business_name: "Fresh Fruit Co".into(),
                license_number: "91310000-ABC".into(),
                contact_phone: "+86 139 0013 9000".into(),
                category: "grocery".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(applied.status(), pb::MerchantStatus::Pending);

    let pending = app
        .client
        .list_merchant_applications(authed(
            &operator.access_token,
            pb::ListMerchantApplicationsRequest { status: pb::MerchantStatus::Pending as i32, page: None },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pending.applications.len(), 1);

    let verified = app
        .client
        .verify_merchant(authed(
            &operator.access_token,
            pb::VerifyMerchantRequest { user_id: merchant.user_id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verified.status(), pb::MerchantStatus::Verified);
    assert_eq!(verified.decided_by, operator.user_id);

    let refreshed =
        app.client.refresh(pb::RefreshRequest { refresh_token: merchant.refresh_token }).await.unwrap().into_inner();
    let me = app.client.get_me(authed(&refreshed.access_token, pb::GetMeRequest {})).await.unwrap().into_inner();
    assert_eq!(me.merchant_status(), pb::MerchantStatus::Verified);
    app.stop().await;
}
