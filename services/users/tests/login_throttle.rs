//! Login throttling: wrong passwords for one number lock it for growing times
//! (RESOURCE_EXHAUSTED with a retry-after), and the right one works once the lock is over.
//! (Bursts of logins: tests/login_burst.rs.)

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, authed, phone, retry_after};
use tonic::Code;
use tuan_proto::users::v1 as pb;

const PASSWORD: &str = "correct-horse-42";

#[tokio::test]
async fn thirty_wrong_passwords_are_throttled_and_the_right_one_works_after_the_lock() {
    let mut app = TestApp::spawn_tuned(|c| {
        c.users.login_free_attempts = 5;
        c.users.login_lock_base_ms = 1_000;
        c.users.login_lock_max_ms = 2_000;
    })
    .await;
    let phone = phone();
    app.sign_up(&phone, "Ai").await;
    let (mut wrong, mut throttled, mut longest) = (0, 0, Duration::ZERO);
    let started = Instant::now();
    for _ in 0..30 {
        let status = app.login(&phone, "not-the-password-1").await.unwrap_err();
        match status.code() {
            Code::Unauthenticated => wrong += 1,
            Code::ResourceExhausted => {
                throttled += 1;
                longest = longest.max(retry_after(&status));
            }
            other => panic!("unexpected {other:?}: {status:?}"),
        }
    }
    println!("30 wrong passwords in {:?}: {wrong} checked, {throttled} throttled", started.elapsed());
    assert_eq!(wrong, 6, "five free attempts, then the one that locks");
    assert_eq!(throttled, 24);
    assert!(longest <= Duration::from_millis(2_000), "{longest:?}");

    // Locked, the right password is refused too, with when to come back.
    let locked = app.login(&phone, PASSWORD).await.unwrap_err();
    assert_eq!(locked.code(), Code::ResourceExhausted);
    tokio::time::sleep(retry_after(&locked) + Duration::from_millis(50)).await;
    let tokens = app.login(&phone, PASSWORD).await.expect("the right password works after the lock");
    app.client.get_me(authed(&tokens.access_token, pb::GetMeRequest {})).await.unwrap();

    // The success forgot the failures: a typo now is just a wrong password.
    assert_eq!(app.login(&phone, "not-the-password-1").await.unwrap_err().code(), Code::Unauthenticated);
    // Each further lock is longer: after the free attempts 1 s, then 2 s (the ceiling).
    for _ in 0..5 {
        app.login(&phone, "not-the-password-1").await.unwrap_err();
    }
    let first = app.login(&phone, "x").await.unwrap_err();
    tokio::time::sleep(retry_after(&first) + Duration::from_millis(20)).await;
    app.login(&phone, "not-the-password-1").await.unwrap_err();
    let second = app.login(&phone, "x").await.unwrap_err();
    assert!(retry_after(&second) > retry_after(&first), "{:?} then {:?}", retry_after(&first), retry_after(&second));

    // Another number is not affected.
    let other = common::phone();
    app.sign_up(&other, "Bo").await;
    app.login(&other, PASSWORD).await.expect("another number logs in");
    app.stop().await;
}
