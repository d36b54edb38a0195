//! Phones are proven by a code sent to them: sign-up and password reset need the code of the
//! SMS; codes are 6 digits, expire, allow 5 tries, work once and are kept hashed; sends are
//! limited per number and per client; and no answer says whether a number is registered.

mod common;

use std::time::Duration;

use common::{TestApp, authed, phone, retry_after};
use sha2::{Digest, Sha256};
use tonic::Code;
use tuan_proto::users::v1 as pb;
use tuan_testkit::sms;

const PASSWORD: &str = "correct-horse-42";

fn sign_up(phone: &str, code: &str) -> pb::SignUpRequest {
    pb::SignUpRequest {
        phone: phone.into(),
        password: PASSWORD.into(),
        display_name: "Lin".into(),
        region: "Shanghai".into(),
        code: code.into(),
    }
}

fn ask(phone: &str, purpose: pb::PhoneCodePurpose) -> pb::RequestPhoneCodeRequest {
    pb::RequestPhoneCodeRequest { phone: phone.into(), purpose: purpose as i32 }
}

/// How many SMS the development sender wrote, once `expected` are there (sending is
/// asynchronous) or 3 s have passed; then a moment more, so one too many shows.
async fn texts_sent(app: &TestApp, expected: i64) -> i64 {
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM public.dev_sms").fetch_one(&app.db.pool).await.unwrap()
    };
    for _ in 0..60 {
        if count().await >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    count().await
}

/// A code other than `code`.
fn other_than(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn sign_up_takes_the_code_of_the_sms_once() {
    let mut app = TestApp::spawn().await;
    let number = phone();
    let without = app.client.sign_up(sign_up(&number, "")).await.unwrap_err();
    assert_eq!(without.code(), Code::InvalidArgument, "{without:?}");
    assert!(without.message().contains("RequestPhoneCode"), "{}", without.message());

    let sent = app.client.request_phone_code(ask(&number, pb::PhoneCodePurpose::SignUp)).await.unwrap().into_inner();
    assert_eq!((sent.expires_in_secs, sent.resend_after_secs), (300, 60));
    let sms = sms::next(&app.db.pool, &number, 0).await;
    let code = sms.code.clone().expect("a code");
    assert_eq!(code.len(), 6);
    assert!(sms.body.contains(&code) && sms.body.contains("sign-up code"), "{}", sms.body);

    let before = app.event_count().await;
    let wrong = app.client.sign_up(sign_up(&number, &other_than(&code))).await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(app.event_count().await, before, "a wrong code changes nothing");
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let tokens = app.client.sign_up(sign_up(&number, &spaced)).await.expect("the right code signs up").into_inner();
    let me = app.client.get_me(authed(&tokens.access_token, pb::GetMeRequest {})).await.unwrap().into_inner();
    assert_eq!(me.phone_e164, number);

    // The code is spent: a second sign-up with it (another password, a replay) is refused
    // like any wrong code, not as "already registered".
    let replay = app.client.sign_up(sign_up(&number, &code)).await.unwrap_err();
    assert_eq!((replay.code(), replay.message()), (wrong.code(), wrong.message()));
    app.stop().await;
}

#[tokio::test]
async fn a_code_allows_five_tries_and_expires() {
    let mut app = TestApp::spawn_tuned(|c| {
        c.users.phone_codes.ttl_secs = 2;
        c.users.phone_codes.resend_after_secs = 0;
    })
    .await;
    let number = phone();
    let code = app.code_for(&number, pb::PhoneCodePurpose::SignUp).await;
    for _ in 0..5 {
        let wrong = app.client.sign_up(sign_up(&number, &other_than(&code))).await.unwrap_err();
        assert_eq!(wrong.code(), Code::Unauthenticated);
    }
    let sixth = app.client.sign_up(sign_up(&number, &code)).await.unwrap_err();
    assert_eq!(sixth.code(), Code::Unauthenticated, "five wrong tries burn the code, even for the right one");

    // A new code replaces it, and then expires.
    let code = app.code_for(&number, pb::PhoneCodePurpose::SignUp).await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let late = app.client.sign_up(sign_up(&number, &code)).await.unwrap_err();
    assert_eq!(late.code(), Code::Unauthenticated, "an expired code is refused");
    let code = app.code_for(&number, pb::PhoneCodePurpose::SignUp).await;
    app.client.sign_up(sign_up(&number, &code)).await.expect("a fresh code works");
    app.stop().await;
}

#[tokio::test]
async fn codes_are_kept_hashed() {
    let mut app = TestApp::spawn().await;
    let number = phone();
    let code = app.code_for(&number, pb::PhoneCodePurpose::SignUp).await;
    let (hash,): (Vec<u8>,) = sqlx::query_as("SELECT code_hash FROM public.phone_codes WHERE phone_e164 = $1")
        .bind(&number)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(hash.len(), 32);
    assert_ne!(hash, Sha256::digest(code.as_bytes()).to_vec(), "a plain hash of a 6-digit code is a lookup away");
    assert!(!hex::encode(&hash).contains(&code) && !String::from_utf8_lossy(&hash).contains(&code));
    app.stop().await;
}

#[tokio::test]
async fn the_answer_never_says_whether_a_number_is_registered() {
    // No spacing: the registered number just had its sign-up code.
    let mut app = TestApp::spawn_tuned(|c| c.users.phone_codes.resend_after_secs = 0).await;
    let (registered, free) = (phone(), phone());
    app.sign_up(&registered, "Registered").await;

    let before = sms::last_id(&app.db.pool, &registered).await;
    let for_registered = app.client.request_phone_code(ask(&registered, pb::PhoneCodePurpose::SignUp)).await;
    let for_free = app.client.request_phone_code(ask(&free, pb::PhoneCodePurpose::SignUp)).await;
    assert_eq!(for_registered.unwrap().into_inner(), for_free.unwrap().into_inner());
    // The SMS tells the owner instead, and carries no code that would prove the number.
    let notice = sms::next(&app.db.pool, &registered, before).await;
    assert!(notice.code.is_none() && notice.body.contains("already has an account"), "{notice:?}");
    let guess = app.client.sign_up(sign_up(&registered, "123456")).await.unwrap_err();
    let free_guess = app.client.sign_up(sign_up(&free, "123456")).await.unwrap_err();
    assert_eq!((guess.code(), guess.message()), (free_guess.code(), free_guess.message()));

    // A reset: a code for the registered number, a notice for the free one, one answer.
    let reset_registered = app.client.request_phone_code(ask(&registered, pb::PhoneCodePurpose::ResetPassword)).await;
    let before = sms::last_id(&app.db.pool, &free).await;
    let reset_free = app.client.request_phone_code(ask(&free, pb::PhoneCodePurpose::ResetPassword)).await;
    assert_eq!(reset_registered.unwrap().into_inner(), reset_free.unwrap().into_inner());
    let notice = sms::next(&app.db.pool, &free, before).await;
    assert!(notice.code.is_none() && notice.body.contains("has no account"), "{notice:?}");
    let reset = pb::ResetPasswordRequest { phone: free.clone(), code: "123456".into(), new_password: PASSWORD.into() };
    assert_eq!(app.client.reset_password(reset).await.unwrap_err().code(), Code::Unauthenticated);
    app.stop().await;
}

#[tokio::test]
async fn a_new_code_for_the_same_number_waits_a_minute() {
    let mut app = TestApp::spawn().await;
    let number = phone();
    app.client.request_phone_code(ask(&number, pb::PhoneCodePurpose::SignUp)).await.unwrap();
    let again = app.client.request_phone_code(ask(&number, pb::PhoneCodePurpose::SignUp)).await.unwrap_err();
    assert_eq!(again.code(), Code::ResourceExhausted, "{again:?}");
    let wait = retry_after(&again);
    assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(60), "{wait:?}");
    // Another purpose has its own spacing.
    app.client.request_phone_code(ask(&number, pb::PhoneCodePurpose::ResetPassword)).await.unwrap();
    app.stop().await;
}

/// A request for a code as the gateway passes it on for the client at `address`.
fn from(address: &str, message: pb::RequestPhoneCodeRequest) -> tonic::Request<pb::RequestPhoneCodeRequest> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(tuan_runtime::grpc::CLIENT_ADDRESS, address.parse().unwrap());
    request
}

#[tokio::test]
async fn sends_are_capped_per_number_and_per_client_each_hour() {
    let mut app = TestApp::spawn_tuned(|c| {
        c.users.phone_codes.resend_after_secs = 0;
        c.users.phone_codes.per_phone_per_hour = 3;
        c.users.phone_codes.per_client_per_hour = 5;
    })
    .await;
    let sign_up_code = |number: &str| ask(number, pb::PhoneCodePurpose::SignUp);
    let number = phone();
    for _ in 0..3 {
        app.client.request_phone_code(sign_up_code(&number)).await.unwrap();
    }
    let capped = app.client.request_phone_code(sign_up_code(&number)).await.unwrap_err();
    assert_eq!(capped.code(), Code::ResourceExhausted);
    assert!(retry_after(&capped) > Duration::from_secs(3000), "{:?}", retry_after(&capped));
    let elsewhere = app.client.request_phone_code(from("203.0.113.7", sign_up_code(&number))).await.unwrap_err();
    assert_eq!(elsewhere.code(), Code::ResourceExhausted, "the number's cap holds from every client");

    // Three sent from this client; two more numbers, then it is cut off, and others are not.
    let (other, third) = (phone(), phone());
    app.client.request_phone_code(sign_up_code(&other)).await.unwrap();
    app.client.request_phone_code(sign_up_code(&other)).await.unwrap();
    let cut_off = app.client.request_phone_code(sign_up_code(&third)).await.unwrap_err();
    assert_eq!(cut_off.code(), Code::ResourceExhausted);
    assert!(retry_after(&cut_off) > Duration::from_secs(3000), "{:?}", retry_after(&cut_off));
    app.client.request_phone_code(from("203.0.113.7", sign_up_code(&third))).await.expect("another client");

    assert_eq!(texts_sent(&app, 6).await, 6, "one SMS per accepted request, none for a refused one");
    app.stop().await;
}

#[tokio::test]
async fn a_reset_code_sets_a_new_password_and_ends_every_session() {
    let mut app = TestApp::spawn().await;
    let number = phone();
    let first = app.sign_up(&number, "Forgetful").await;
    let second = app.login(&number, PASSWORD).await.unwrap();
    let code = app.code_for(&number, pb::PhoneCodePurpose::ResetPassword).await;
    // A sign-up code is no reset code, and the reverse.
    let wrong_purpose = app.client.sign_up(sign_up(&number, &code)).await.unwrap_err();
    assert_eq!(wrong_purpose.code(), Code::Unauthenticated);
    let weak = pb::ResetPasswordRequest { phone: number.clone(), code: code.clone(), new_password: "short1".into() };
    assert_eq!(app.client.reset_password(weak).await.unwrap_err().code(), Code::InvalidArgument);

    let reset =
        pb::ResetPasswordRequest { phone: number.clone(), code: code.clone(), new_password: "a-new-horse-77".into() };
    let tokens = app.client.reset_password(reset.clone()).await.expect("reset").into_inner();
    assert_eq!(tokens.user_id, first.user_id);
    for old in [&first, &second] {
        let refreshed = app.client.refresh(pb::RefreshRequest { refresh_token: old.refresh_token.clone() }).await;
        assert_eq!(refreshed.unwrap_err().code(), Code::Unauthenticated, "every earlier session ended");
    }
    app.client.refresh(pb::RefreshRequest { refresh_token: tokens.refresh_token }).await.expect("the new session");
    assert_eq!(app.login(&number, PASSWORD).await.unwrap_err().code(), Code::Unauthenticated);
    app.login(&number, "a-new-horse-77").await.expect("the new password logs in");
    let replay = app.client.reset_password(reset).await.unwrap_err();
    assert_eq!(replay.code(), Code::Unauthenticated, "a reset code works once");
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_for_a_code_are_refused_and_send_nothing() {
    let mut app = TestApp::spawn().await;
    for bad in ["13800138000", "+86-abc", ""] {
        let status = app.client.request_phone_code(ask(bad, pb::PhoneCodePurpose::SignUp)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
    }
    let unspecified = app.client.request_phone_code(ask(&phone(), pb::PhoneCodePurpose::Unspecified)).await;
    assert_eq!(unspecified.unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(texts_sent(&app, 0).await, 0);
    app.stop().await;
}
