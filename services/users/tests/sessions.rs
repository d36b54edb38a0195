//! Sessions that can be trusted: a replayed refresh token ends the session for the thief and
//! the owner, a session ends at its absolute lifetime however often it is refreshed, and
//! "log out everywhere" and a password change end every other session.

mod common;

use std::time::Duration;

use common::{TestApp, authed, phone};
use prost::Message as _;
use tonic::Code;
use tuan_proto::users::v1 as pb;

const PASSWORD: &str = "correct-horse-42";

fn refresh(token: &str) -> pb::RefreshRequest {
    pb::RefreshRequest { refresh_token: token.into() }
}

/// The `reason` of every SessionEnded event, oldest first.
async fn ended_reasons(app: &TestApp) -> Vec<String> {
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE event_type = 'tuan.users.v1.SessionEnded' ORDER BY global_position",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    payloads.iter().map(|p| pb::SessionEnded::decode(&p[..]).unwrap().reason).collect()
}

#[tokio::test]
async fn a_replayed_refresh_token_ends_the_session_for_the_thief_and_the_owner() {
    let mut app = TestApp::spawn().await;
    let stolen = app.sign_up(&phone(), "Ai").await;
    // The owner refreshes; the thief, holding the old token, tries it.
    let owner = app.client.refresh(refresh(&stolen.refresh_token)).await.expect("owner refreshes").into_inner();
    let thief = app.client.refresh(refresh(&stolen.refresh_token)).await.unwrap_err();
    assert_eq!(thief.code(), Code::Unauthenticated);
    assert_eq!(ended_reasons(&app).await, vec!["refresh_token_reused".to_string()]);
    // The whole session is over: the owner's current token fails, and so does the old again.
    let owner_next = app.client.refresh(refresh(&owner.refresh_token)).await.unwrap_err();
    assert_eq!(owner_next.code(), Code::Unauthenticated);
    let thief_again = app.client.refresh(refresh(&stolen.refresh_token)).await.unwrap_err();
    assert_eq!(thief_again.code(), Code::Unauthenticated);
    assert_eq!(ended_reasons(&app).await.len(), 1, "an ended session ends once");

    // The other way round: the thief refreshes first, then the owner's (now old) token ends it.
    let phone = phone();
    let victim = app.sign_up(&phone, "Bo").await;
    let thief = app.client.refresh(refresh(&victim.refresh_token)).await.unwrap().into_inner();
    assert_eq!(app.client.refresh(refresh(&victim.refresh_token)).await.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(app.client.refresh(refresh(&thief.refresh_token)).await.unwrap_err().code(), Code::Unauthenticated);
    // The owner logs in again: a new session, unaffected.
    let again = app.login(&phone, PASSWORD).await.unwrap();
    app.client.refresh(refresh(&again.refresh_token)).await.expect("a new session refreshes");
    app.stop().await;
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_often_it_is_refreshed() {
    let mut app = TestApp::spawn_tuned(|c| {
        c.users.refresh_ttl_secs = 3600;
        c.users.session_max_lifetime_secs = 3;
    })
    .await;
    let started = chrono::Utc::now();
    let mut tokens = app.sign_up(&phone(), "Ai").await;
    let end = (started + chrono::TimeDelta::seconds(4)).timestamp_micros();
    assert!(tokens.refresh_expires_at_micros <= end, "the first expiry is the absolute end, not an hour away");
    let mut refreshes = 0;
    let refused = loop {
        match app.client.refresh(refresh(&tokens.refresh_token)).await {
            Ok(next) => {
                tokens = next.into_inner();
                assert!(tokens.refresh_expires_at_micros <= end, "a refresh never passes the absolute end");
                refreshes += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(status) => break status,
        }
        assert!(chrono::Utc::now() < started + chrono::TimeDelta::seconds(10), "the session never ended");
    };
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refreshes >= 5, "refreshed {refreshes} times before the end");
    assert!(chrono::Utc::now() >= started + chrono::TimeDelta::seconds(3));
    app.stop().await;
}

#[tokio::test]
async fn log_out_everywhere_ends_every_other_session() {
    let mut app = TestApp::spawn().await;
    let phone = phone();
    let here = app.sign_up(&phone, "Ai").await;
    let laptop = app.login(&phone, PASSWORD).await.unwrap();
    let tablet = app.login(&phone, PASSWORD).await.unwrap();
    let stranger = app.sign_up(&common::phone(), "Bo").await;
    let reply = app
        .client
        .logout_everywhere(authed(&here.access_token, pb::LogoutEverywhereRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.ended_sessions, 2);
    for gone in [&laptop, &tablet] {
        assert_eq!(app.client.refresh(refresh(&gone.refresh_token)).await.unwrap_err().code(), Code::Unauthenticated);
    }
    app.client.refresh(refresh(&here.refresh_token)).await.expect("the caller's session lives on");
    app.client.refresh(refresh(&stranger.refresh_token)).await.expect("nobody else's session ends");
    assert_eq!(ended_reasons(&app).await, vec!["logout_everywhere"; 2]);
    app.stop().await;
}

#[tokio::test]
async fn changing_the_password_needs_the_old_one_and_ends_every_other_session() {
    let mut app = TestApp::spawn().await;
    let phone = phone();
    let here = app.sign_up(&phone, "Ai").await;
    let other = app.login(&phone, PASSWORD).await.unwrap();
    let change = |old: &str, new: &str| {
        authed(&here.access_token, pb::ChangePasswordRequest { old_password: old.into(), new_password: new.into() })
    };
    let events = app.event_count().await;
    let wrong = app.client.change_password(change("not-my-password-1", "another-horse-77")).await.unwrap_err();
    assert_eq!(wrong.code(), Code::PermissionDenied);
    let weak = app.client.change_password(change(PASSWORD, "short")).await.unwrap_err();
    assert_eq!(weak.code(), Code::InvalidArgument);
    assert_eq!(app.event_count().await, events, "refusals change nothing");

    let reply = app.client.change_password(change(PASSWORD, "another-horse-77")).await.unwrap().into_inner();
    assert_eq!(reply.ended_sessions, 1);
    assert_eq!(app.client.refresh(refresh(&other.refresh_token)).await.unwrap_err().code(), Code::Unauthenticated);
    app.client.refresh(refresh(&here.refresh_token)).await.expect("the caller's session lives on");
    assert_eq!(app.login(&phone, PASSWORD).await.unwrap_err().code(), Code::Unauthenticated);
    app.login(&phone, "another-horse-77").await.expect("the new password works");
    assert_eq!(ended_reasons(&app).await, vec!["password_changed"]);
    app.stop().await;
}
