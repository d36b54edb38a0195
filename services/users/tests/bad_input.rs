//! Every bad input gets a precise status and changes nothing.

mod common;

use common::{TestApp, authed, phone, target};
use tonic::Code;
use tuan_proto::users::v1 as pb;
use tuan_runtime::auth::Caller;
use tuan_testkit::{
    refused,
    rpc::{expired_token, forged_token},
};
use uuid::Uuid;

/// A sign-up with a code nobody sent.
fn sign_up(phone: &str, password: &str) -> pb::SignUpRequest {
    pb::SignUpRequest {
        phone: phone.into(),
        password: password.into(),
        display_name: "X".into(),
        region: String::new(),
        code: "123456".into(),
    }
}

#[tokio::test]
async fn sign_up_refuses_bad_phones_weak_passwords_and_duplicates() {
    let mut app = TestApp::spawn().await;
    for bad in ["13800138000", "+86-abc", "+12", ""] {
        refused!(app, Code::InvalidArgument, app.client.sign_up(sign_up(bad, "correct-horse-42")));
    }
    for weak in ["short1", "onlyletters-no-digits", "12345678901", "password123"] {
        let status = refused!(app, Code::InvalidArgument, app.client.sign_up(sign_up(&phone(), weak)));
        assert!(status.message().contains("password"), "{}", status.message());
    }
    // A registered number without its code: the same answer as any number without its code
    // (tests/phone_codes.rs), so sign-up tells nobody which numbers are taken.
    let taken = phone();
    app.sign_up(&taken, "First").await;
    let taken_refusal = refused!(app, Code::Unauthenticated, app.client.sign_up(sign_up(&taken, "another-pass-99")));
    let spaced = format!("{} {}", &taken[..4], &taken[4..]);
    refused!(app, Code::Unauthenticated, app.client.sign_up(sign_up(&spaced, "another-pass-99")));
    let free_refusal = refused!(app, Code::Unauthenticated, app.client.sign_up(sign_up(&phone(), "another-pass-99")));
    assert_eq!(taken_refusal.message(), free_refusal.message());
    let no_name = pb::SignUpRequest { display_name: "  ".into(), ..sign_up(&phone(), "correct-horse-42") };
    refused!(app, Code::InvalidArgument, app.client.sign_up(no_name));
    for bad_code in ["", "12345", "abcdef", "1234567"] {
        let request = pb::SignUpRequest { code: bad_code.into(), ..sign_up(&phone(), "correct-horse-42") };
        let status = refused!(app, Code::InvalidArgument, app.client.sign_up(request));
        assert!(status.message().contains("code"), "{}", status.message());
    }
    app.stop().await;
}

#[tokio::test]
async fn wrong_credentials_are_unauthenticated_without_saying_which_part() {
    let mut app = TestApp::spawn().await;
    let known = phone();
    app.sign_up(&known, "Gao").await;
    let wrong_password = refused!(
        app,
        Code::Unauthenticated,
        app.client.login(pb::LoginRequest { phone: known.clone(), password: "not-the-password-1".into() })
    );
    let unknown_phone = refused!(
        app,
        Code::Unauthenticated,
        app.client.login(pb::LoginRequest { phone: phone(), password: "correct-horse-42".into() })
    );
    let malformed_phone = refused!(
        app,
        Code::Unauthenticated,
        app.client.login(pb::LoginRequest { phone: "nonsense".into(), password: "correct-horse-42".into() })
    );
    assert_eq!(wrong_password.message(), unknown_phone.message());
    assert_eq!(wrong_password.message(), malformed_phone.message());
    app.stop().await;
}

#[tokio::test]
async fn expired_forged_and_missing_tokens_are_unauthenticated() {
    let mut app = TestApp::spawn().await;
    let me = app.sign_up(&phone(), "Hu").await;
    let caller = Caller { user_id: Uuid::parse_str(&me.user_id).unwrap(), session_id: Uuid::now_v7(), roles: vec![] };
    let expired = expired_token(&app.config.common.auth, &caller);
    let forged = forged_token(&app.config.common.auth, &caller);

    for token in [expired.as_str(), forged.as_str(), "not.a.jwt"] {
        refused!(app, Code::Unauthenticated, app.client.get_me(authed(token, pb::GetMeRequest {})));
        refused!(
            app,
            Code::Unauthenticated,
            app.client.update_profile(authed(
                token,
                pb::UpdateProfileRequest { display_name: Some("Evil".into()), ..Default::default() }
            ))
        );
    }
    refused!(app, Code::Unauthenticated, app.client.get_me(pb::GetMeRequest {}));
    refused!(app, Code::Unauthenticated, app.client.refresh(pb::RefreshRequest { refresh_token: "garbage".into() }));
    app.stop().await;
}

#[tokio::test]
async fn friendship_misuse_is_refused_precisely() {
    let mut app = TestApp::spawn().await;
    let a = app.sign_up(&phone(), "Ai").await;
    let b = app.sign_up(&phone(), "Bo").await;
    let request = |to: &str| pb::SendFriendRequestRequest { user_id: to.into(), message: String::new() };

    refused!(app, Code::InvalidArgument, app.client.send_friend_request(authed(&a.access_token, request(&a.user_id))));
    refused!(
        app,
        Code::InvalidArgument,
        app.client.send_friend_request(authed(&a.access_token, request("not-a-uuid")))
    );
    refused!(
        app,
        Code::NotFound,
        app.client.send_friend_request(authed(&a.access_token, request(&Uuid::now_v7().to_string())))
    );
    refused!(app, Code::NotFound, app.client.accept_friend_request(authed(&a.access_token, target(&b.user_id))));
    refused!(app, Code::NotFound, app.client.remove_friend(authed(&a.access_token, target(&b.user_id))));

    app.client.send_friend_request(authed(&a.access_token, request(&b.user_id))).await.unwrap();
    refused!(app, Code::AlreadyExists, app.client.send_friend_request(authed(&a.access_token, request(&b.user_id))));
    refused!(app, Code::NotFound, app.client.accept_friend_request(authed(&a.access_token, target(&b.user_id))));

    // B blocks A: A can no longer ask, and B must unblock before asking.
    app.client.block_user(authed(&b.access_token, target(&a.user_id))).await.unwrap();
    refused!(app, Code::PermissionDenied, app.client.send_friend_request(authed(&a.access_token, request(&b.user_id))));
    refused!(
        app,
        Code::FailedPrecondition,
        app.client.send_friend_request(authed(&b.access_token, request(&a.user_id)))
    );
    let long = "x".repeat(201);
    refused!(
        app,
        Code::InvalidArgument,
        app.client.send_friend_request(authed(
            &a.access_token,
            pb::SendFriendRequestRequest { user_id: b.user_id.clone(), message: long }
        ))
    );
    app.stop().await;
}

#[tokio::test]
async fn only_operators_verify_merchants_and_bad_applications_are_refused() {
    let mut app = TestApp::spawn().await;
    let merchant = app.sign_up(&phone(), "Shop").await;
    let other = app.sign_up(&phone(), "Nosy").await;
    let operator = app.sign_up_operator(common::OPERATOR_PHONE, "Ops").await;
    let application = pb::ApplyMerchantRequest {
        business_name: "Shop Ltd".into(),
        license_number: "LIC-12345".into(),
        contact_phone: "+8613900139000".into(),
        category: "food".into(),
    };
    refused!(
        app,
        Code::InvalidArgument,
        app.client.apply_merchant(authed(
            &merchant.access_token,
            pb::ApplyMerchantRequest { license_number: "1".into(), ..application.clone() }
        ))
    );
    app.client.apply_merchant(authed(&merchant.access_token, application.clone())).await.unwrap();
    refused!(app, Code::AlreadyExists, app.client.apply_merchant(authed(&merchant.access_token, application)));

    let verify = || pb::VerifyMerchantRequest { user_id: merchant.user_id.clone() };
    refused!(app, Code::PermissionDenied, app.client.verify_merchant(authed(&merchant.access_token, verify())));
    refused!(app, Code::PermissionDenied, app.client.verify_merchant(authed(&other.access_token, verify())));
    refused!(
        app,
        Code::PermissionDenied,
        app.client.get_merchant_application(authed(
            &other.access_token,
            pb::GetMerchantApplicationRequest { user_id: merchant.user_id.clone() }
        ))
    );
    refused!(
        app,
        Code::InvalidArgument,
        app.client.reject_merchant(authed(
            &operator.access_token,
            pb::RejectMerchantRequest { user_id: merchant.user_id.clone(), reason: " ".into() }
        ))
    );
    refused!(
        app,
        Code::FailedPrecondition,
        app.client.verify_merchant(authed(
            &operator.access_token,
            pb::VerifyMerchantRequest { user_id: other.user_id.clone() }
        ))
    );
    app.client.verify_merchant(authed(&operator.access_token, verify())).await.unwrap();
    refused!(app, Code::FailedPrecondition, app.client.verify_merchant(authed(&operator.access_token, verify())));
    app.stop().await;
}

#[tokio::test]
async fn profile_updates_are_validated() {
    let mut app = TestApp::spawn().await;
    let me = app.sign_up(&phone(), "Jun").await;
    for bad in [
        pb::UpdateProfileRequest { display_name: Some("".into()), ..Default::default() },
        pb::UpdateProfileRequest { avatar_url: Some("javascript:alert(1)".into()), ..Default::default() },
        pb::UpdateProfileRequest { marketplace_account_id: Some("has spaces".into()), ..Default::default() },
    ] {
        refused!(app, Code::InvalidArgument, app.client.update_profile(authed(&me.access_token, bad)));
    }
    let updated = app
        .client
        .update_profile(authed(
            &me.access_token,
            pb::UpdateProfileRequest {
                avatar_url: Some("https://img.example/jun.png".into()),
                marketplace_account_id: Some("taobao-jun_1".into()),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.display_name, "Jun");
    assert_eq!(updated.marketplace_account_id, "taobao-jun_1");
    app.stop().await;
}
