//! The operator role is granted, not claimed: no phone number makes an operator; the first is
//! made inside the deployment (`users grant-operator`), later ones by an operator; roles can
//! be revoked (ending the user's sessions), every change is in an audit list, and an operator
//! cannot decide its own merchant application.

mod common;

use common::{OPERATOR_PHONE, TestApp, authed, phone};
use tonic::Code;
use tuan_proto::users::v1 as pb;

const PASSWORD: &str = "correct-horse-42";

fn list_applications() -> pb::ListMerchantApplicationsRequest {
    pb::ListMerchantApplicationsRequest::default()
}

#[tokio::test]
async fn no_phone_number_makes_an_operator() {
    let mut app = TestApp::spawn().await;
    // The number that used to be the configured operator's, at sign-up and at login.
    let claimed = app.sign_up(OPERATOR_PHONE, "Ops?").await;
    let again = app.login(OPERATOR_PHONE, PASSWORD).await.unwrap();
    for tokens in [&claimed, &again] {
        let me = app.client.get_me(authed(&tokens.access_token, pb::GetMeRequest {})).await.unwrap().into_inner();
        assert!(me.roles.is_empty(), "{me:?}");
        let denied = app.client.list_merchant_applications(authed(&tokens.access_token, list_applications())).await;
        assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);
    }
    app.stop().await;
}

#[tokio::test]
async fn the_grant_operator_subcommand_makes_the_first_operator() {
    let mut app = TestApp::spawn().await;
    let phone = phone();
    app.sign_up(&phone, "First").await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_users"))
        .args(["grant-operator", &phone])
        .env("TUAN_DATABASE__URL", &app.db.url)
        .output()
        .expect("run users grant-operator");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tokens = app.login(&phone, PASSWORD).await.unwrap();
    app.client.list_merchant_applications(authed(&tokens.access_token, list_applications())).await.expect("operator");
    // An unknown number is an error, not a silent success.
    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_users"))
        .args(["grant-operator", "+8613999999999"])
        .env("TUAN_DATABASE__URL", &app.db.url)
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    app.stop().await;
}

#[tokio::test]
async fn operators_grant_and_revoke_roles_and_every_change_is_listed() {
    let mut app = TestApp::spawn().await;
    let first = app.sign_up_operator(&phone(), "First").await;
    let second_phone = phone();
    let second = app.sign_up(&second_phone, "Second").await;
    let plain = app.sign_up(&phone(), "Plain").await;

    // A plain user can neither grant nor list.
    let grant =
        |token: &str, user: &str| authed(token, pb::GrantRoleRequest { user_id: user.into(), role: "operator".into() });
    let denied = app.client.grant_role(grant(&plain.access_token, &plain.user_id)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    // Only roles that are granted by hand: the merchant role follows from a verification.
    let merchant =
        authed(&first.access_token, pb::GrantRoleRequest { user_id: plain.user_id.clone(), role: "merchant".into() });
    assert_eq!(app.client.grant_role(merchant).await.unwrap_err().code(), Code::InvalidArgument);

    let granted = app.client.grant_role(grant(&first.access_token, &second.user_id)).await.unwrap().into_inner();
    assert_eq!(granted.roles, vec!["operator"]);
    let second = app.login(&second_phone, PASSWORD).await.unwrap();
    app.client.list_merchant_applications(authed(&second.access_token, list_applications())).await.expect("granted");

    // Revoking ends every session of the revoked operator; a new login has no role.
    let second_laptop = app.login(&second_phone, PASSWORD).await.unwrap();
    let revoke = pb::RevokeRoleRequest { user_id: second.user_id.clone(), role: "operator".into() };
    let revoked = app.client.revoke_role(authed(&first.access_token, revoke)).await.unwrap().into_inner();
    assert!(revoked.roles.is_empty());
    for session in [&second, &second_laptop] {
        let refresh = pb::RefreshRequest { refresh_token: session.refresh_token.clone() };
        assert_eq!(app.client.refresh(refresh).await.unwrap_err().code(), Code::Unauthenticated);
    }
    let relogin = app.login(&second_phone, PASSWORD).await.unwrap();
    let denied = app.client.list_merchant_applications(authed(&relogin.access_token, list_applications())).await;
    assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);

    // Nobody revokes their own role (one operator always remains).
    let own = pb::RevokeRoleRequest { user_id: first.user_id.clone(), role: "operator".into() };
    assert_eq!(
        app.client.revoke_role(authed(&first.access_token, own)).await.unwrap_err().code(),
        Code::FailedPrecondition
    );

    // The audit, newest first, one page at a time.
    let mut changes = vec![];
    let mut cursor = String::new();
    loop {
        let page = tuan_proto::common::v1::PageRequest { limit: 2, cursor: cursor.clone() };
        let list = pb::ListRoleChangesRequest { page: Some(page) };
        let reply = app.client.list_role_changes(authed(&first.access_token, list)).await.unwrap().into_inner();
        changes.extend(reply.changes);
        if reply.next_cursor.is_empty() {
            break;
        }
        cursor = reply.next_cursor;
    }
    let seen: Vec<_> = changes.iter().map(|c| (c.user_id.as_str(), c.change.as_str(), c.changed_by.as_str())).collect();
    assert_eq!(
        seen,
        vec![
            (second.user_id.as_str(), "revoked", first.user_id.as_str()),
            (second.user_id.as_str(), "granted", first.user_id.as_str()),
            (first.user_id.as_str(), "granted", "deployment"),
        ]
    );
    assert!(changes.iter().all(|c| c.role == "operator" && c.changed_at_micros > 0));
    let listed = app.client.list_role_changes(authed(&plain.access_token, pb::ListRoleChangesRequest::default())).await;
    assert_eq!(listed.unwrap_err().code(), Code::PermissionDenied);
    app.stop().await;
}

#[tokio::test]
async fn an_operator_cannot_decide_its_own_merchant_application() {
    let mut app = TestApp::spawn().await;
    let operator = app.sign_up_operator(&phone(), "Ops").await;
    let application = pb::ApplyMerchantRequest {
        business_name: "Ops Shop".into(),
        license_number: "LIC-99999".into(),
        contact_phone: "+8613900139000".into(),
        category: "food".into(),
    };
    app.client.apply_merchant(authed(&operator.access_token, application)).await.unwrap();
    let events = app.event_count().await;
    let verify = pb::VerifyMerchantRequest { user_id: operator.user_id.clone() };
    let own = app.client.verify_merchant(authed(&operator.access_token, verify.clone())).await.unwrap_err();
    assert_eq!(own.code(), Code::PermissionDenied);
    let reject = pb::RejectMerchantRequest { user_id: operator.user_id.clone(), reason: "no".into() };
    let own = app.client.reject_merchant(authed(&operator.access_token, reject)).await.unwrap_err();
    assert_eq!(own.code(), Code::PermissionDenied);
    assert_eq!(app.event_count().await, events);
    // Another operator may.
    let other = app.sign_up_operator(&phone(), "Ops 2").await;
    app.client.verify_merchant(authed(&other.access_token, verify)).await.expect("another operator verifies");
    app.stop().await;
}
