//! What the users service keeps to itself: a sign-up (the raw phone number, the password hash),
//! password changes, sessions, roles and merchant applications (licence, contact number) stay in
//! its own database. Its topic carries what other services need, and nothing that names a phone
//! or holds a hash.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, authed, phone};
use rdkafka::{
    Message as _, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer as _},
};
use tuan_proto::{events::v1::EventEnvelope, users::v1 as pb};

/// Every envelope on `topic` until one of type `last` arrives (the test's public marker).
fn read_until(brokers: &str, topic: &str, last: &str) -> Vec<(EventEnvelope, Vec<u8>)> {
    let consumer: BaseConsumer = tuan_messaging::reader_config(brokers, "private-events-test").create().unwrap();
    let start = Instant::now();
    let partitions = loop {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
        let found: Vec<i32> = metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
        if !found.is_empty() {
            break found;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "topic {topic} never appeared");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut assignment = TopicPartitionList::new();
    for p in partitions {
        assignment.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut seen = Vec::new();
    while start.elapsed() < Duration::from_secs(60) {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
        let bytes = message.unwrap().payload().unwrap_or_default().to_vec();
        let envelope = tuan_messaging::envelope::accept(&bytes).expect("an envelope");
        let done = envelope.event_type == last;
        seen.push((envelope, bytes));
        if done {
            return seen;
        }
    }
    panic!("no {last} on {topic} within 60 s; saw {:?}", seen.iter().map(|(e, _)| &e.event_type).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_phone_number_password_hash_or_session_reaches_the_topic() {
    let mut app = TestApp::spawn().await;
    let number = phone();
    let tokens = app.sign_up(&number, "Mei").await;
    let change =
        pb::ChangePasswordRequest { old_password: "correct-horse-42".into(), new_password: "battery-staple-43".into() };
    app.client.change_password(authed(&tokens.access_token, change)).await.expect("change password");
    let tokens = app.login(&number, "battery-staple-43").await.expect("log in with the new password");
    let tokens = app
        .client
        .refresh(pb::RefreshRequest { refresh_token: tokens.refresh_token })
        .await
        .expect("refresh")
        .into_inner();
    let application = pb::ApplyMerchantRequest {
        business_name: "Mei's Mangoes".into(),
        license_number: "91310000-MEI".into(),
        contact_phone: number.clone(),
        category: "fruit".into(),
    };
    app.client.apply_merchant(authed(&tokens.access_token, application)).await.expect("apply");
    // Last, a public event to read up to.
    let rename = pb::UpdateProfileRequest { display_name: Some("Mei Lin".into()), ..Default::default() };
    app.client.update_profile(authed(&tokens.access_token, rename)).await.expect("rename");

    let stored: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT event_type FROM events").fetch_all(&app.db.pool).await.unwrap();
    for private in ["UserSignedUp", "PasswordChanged", "SessionStarted", "SessionRefreshed", "MerchantApplied"] {
        assert!(stored.iter().any(|t| t.ends_with(private)), "{private} is recorded in the users database: {stored:?}");
    }

    let topic = tuan_messaging::service_topic(&app.config.common.kafka.topic_prefix, "users");
    let brokers = app.config.common.kafka.brokers.clone();
    let published = tokio::task::spawn_blocking(move || read_until(&brokers, &topic, "tuan.users.v1.ProfileUpdated"))
        .await
        .unwrap();
    let digits = number.trim_start_matches('+');
    for (envelope, bytes) in &published {
        assert!(!tuan_messaging::is_private(&envelope.event_type), "{} was published", envelope.event_type);
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(digits), "{} carries the phone number", envelope.event_type);
        assert!(!text.contains("$argon2"), "{} carries a password hash", envelope.event_type);
    }
    // Nothing is stuck behind them either: the relay acknowledges private events unsent.
    let start = Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&app.db.pool).await.unwrap();
        if left == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{left} events stay in the outbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
