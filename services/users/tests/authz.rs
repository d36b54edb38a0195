//! The users service's rows of the authorization matrix (`tuan_testkit::authz::MATRIX`):
//! every RPC refuses bad tokens, operator actions refuse normal users, nobody acts on someone
//! else's friend requests, friendships or merchant application, and refusals change nothing.

mod common;

use common::{OPERATOR_PHONE, TestApp, authed, phone, target};
use prost::Message as _;
use sha2::{Digest, Sha256};
use tonic::{Code, transport::Channel};
use tuan_proto::users::v1 as pb;
use tuan_testkit::{
    authz::{self, Callers, USERS},
    rpc::{assert_probes_are_public, bearer, call_raw},
};
use uuid::Uuid;

const PASSWORD: &str = "correct-horse-42";

/// A and D are friends; B asked A to be friends; A applied to be a merchant. X is nobody to
/// any of them.
struct Fixture {
    a: pb::AuthTokens,
    /// A second session of A's, to log out of.
    a_again: pb::AuthTokens,
    a_phone: String,
    b: pb::AuthTokens,
    salt: String,
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

impl Fixture {
    async fn new(app: &mut TestApp) -> Self {
        let a_phone = phone();
        let a = app.sign_up(&a_phone, "Ai").await;
        let b = app.sign_up(&phone(), "Bo").await;
        let d = app.sign_up(&phone(), "Du").await;
        let ask = |to: &str| pb::SendFriendRequestRequest { user_id: to.into(), message: "hi".into() };
        app.client.send_friend_request(authed(&b.access_token, ask(&a.user_id))).await.unwrap();
        app.client.send_friend_request(authed(&d.access_token, ask(&a.user_id))).await.unwrap();
        app.client.accept_friend_request(authed(&a.access_token, target(&d.user_id))).await.unwrap();
        app.client.apply_merchant(authed(&a.access_token, application())).await.unwrap();
        let login = pb::LoginRequest { phone: a_phone.clone(), password: PASSWORD.into() };
        let a_again = app.client.login(login).await.unwrap().into_inner();
        Self { a, a_again, a_phone, b, salt: app.config.users.discovery_salt.clone() }
    }

    /// The request each RPC gets in this test, naming the victims' things.
    fn request(&self, method: &str) -> Vec<u8> {
        let (a, b) = (&self.a.user_id, &self.b.user_id);
        match method {
            "SignUp" => pb::SignUpRequest {
                phone: phone(),
                password: PASSWORD.into(),
                display_name: "New".into(),
                region: String::new(),
            }
            .encode_to_vec(),
            "Login" => pb::LoginRequest { phone: self.a_phone.clone(), password: PASSWORD.into() }.encode_to_vec(),
            "Refresh" => pb::RefreshRequest { refresh_token: self.a.refresh_token.clone() }.encode_to_vec(),
            "Logout" => pb::LogoutRequest { refresh_token: self.a_again.refresh_token.clone() }.encode_to_vec(),
            "GetMe" => pb::GetMeRequest {}.encode_to_vec(),
            "GetProfiles" => pb::GetProfilesRequest { user_ids: vec![a.clone(), b.clone()] }.encode_to_vec(),
            "UpdateProfile" => {
                pb::UpdateProfileRequest { display_name: Some("Mallory".into()), ..Default::default() }.encode_to_vec()
            }
            "SendFriendRequest" => {
                pb::SendFriendRequestRequest { user_id: a.clone(), message: "let me in".into() }.encode_to_vec()
            }
            // B's pending request to A is not the caller's to cancel, accept or decline.
            "CancelFriendRequest" | "AcceptFriendRequest" | "DeclineFriendRequest" => target(b).encode_to_vec(),
            // A's friendship with D is not the caller's to end.
            "RemoveFriend" | "BlockUser" | "UnblockUser" => target(a).encode_to_vec(),
            "ListFriends" => pb::ListFriendsRequest { page: None }.encode_to_vec(),
            "ListFriendRequests" => pb::ListFriendRequestsRequest { direction: 0 }.encode_to_vec(),
            "GetDiscoverySalt" => pb::GetDiscoverySaltRequest {}.encode_to_vec(),
            "DiscoverFriends" => {
                let hash = hex::encode(Sha256::new().chain_update(&self.salt).chain_update(&self.a_phone).finalize());
                pb::DiscoverFriendsRequest { phone_hashes: vec![hash] }.encode_to_vec()
            }
            "ApplyMerchant" => application().encode_to_vec(),
            "GetMerchantApplication" => pb::GetMerchantApplicationRequest { user_id: a.clone() }.encode_to_vec(),
            "ListMerchantApplications" => pb::ListMerchantApplicationsRequest::default().encode_to_vec(),
            "VerifyMerchant" => pb::VerifyMerchantRequest { user_id: a.clone() }.encode_to_vec(),
            "RejectMerchant" => {
                pb::RejectMerchantRequest { user_id: a.clone(), reason: "I said so".into() }.encode_to_vec()
            }
            other => panic!("no request for UsersService/{other}: add one (and its row in the matrix)"),
        }
    }
}

fn application() -> pb::ApplyMerchantRequest {
    pb::ApplyMerchantRequest {
        business_name: "Shop Ltd".into(),
        license_number: "LIC-12345".into(),
        contact_phone: "+8613900139000".into(),
        category: "food".into(),
    }
}

async fn snapshot(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await.unwrap()
}

async fn channel(app: &TestApp) -> Channel {
    Channel::from_shared(app.channel_url()).unwrap().connect().await.unwrap()
}

#[tokio::test]
async fn every_users_rpc_refuses_whom_the_matrix_refuses_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let f = Fixture::new(&mut app).await;
    let x = app.sign_up(&phone(), "Mallory").await;
    let channel = channel(&app).await;
    let pool = app.db.pool.clone();
    let callers =
        Callers { intruder: bearer(&x.access_token), plain_user: bearer(&x.access_token), victim: uuid(&f.a.user_id) };
    let checked =
        authz::check_service(&channel, USERS, &app.config.common.auth, &callers, |m| f.request(m), || snapshot(&pool))
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
    assert_eq!(a_incoming.requests.len(), 1, "B's request to A is still pending");
    app.stop().await;
}

#[tokio::test]
async fn public_rpcs_need_no_token_and_their_own_credentials_are_checked() {
    let mut app = TestApp::spawn().await;
    let channel = channel(&app).await;
    let pool = app.db.pool.clone();
    let timeout = std::time::Duration::from_secs(20);
    let f = Fixture::new(&mut app).await;
    for rule in authz::rules_of(USERS).filter(|r| r.is_public()) {
        let reply = call_raw(&channel, rule.rpc, &None, f.request(rule.method()), timeout).await;
        assert!(reply.is_ok(), "{} without a token: {:?}", rule.rpc, reply.err());
    }
    // Refresh rotated A's first refresh token and Logout ended the second session: neither
    // refreshes any more, nor does garbage or a guessed secret for a real session.
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
            || snapshot(&pool),
            call_raw(&channel, &format!("{USERS}/{rpc}"), &None, body, timeout),
        )
        .await;
    }
    // Logging out twice with one's own token is fine and changes nothing.
    let before = snapshot(&pool).await;
    app.client.logout(pb::LogoutRequest { refresh_token: f.a_again.refresh_token.clone() }).await.unwrap();
    assert_eq!(snapshot(&pool).await, before);
    // An operator is what it takes to verify a merchant.
    let operator = app.sign_up(OPERATOR_PHONE, "Ops").await;
    let verify = pb::VerifyMerchantRequest { user_id: f.a.user_id.clone() };
    app.client.verify_merchant(authed(&operator.access_token, verify)).await.expect("an operator verifies");
    assert_probes_are_public(&channel).await;
    app.stop().await;
}
