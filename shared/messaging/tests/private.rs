//! A service keeps no copy of another's private events: dead letters holding one (set aside
//! before private events stopped being published) are deleted at start-up, the rest kept.

use prost::Message as _;
use tuan_proto::{events::v1::EventEnvelope, users::v1 as users};
use tuan_testkit::TestDb;
use uuid::Uuid;

fn letter_value<M: prost::Name>() -> Vec<u8> {
    EventEnvelope {
        event_id: Uuid::now_v7().to_string(),
        event_type: M::full_name(),
        source: "users".into(),
        ..Default::default()
    }
    .encode_to_vec()
}

#[tokio::test]
async fn dead_letters_holding_private_events_are_purged_and_the_rest_kept() {
    let db = TestDb::new().await;
    tuan_eventstore::install_schema(&db.pool).await.unwrap();
    let values = [
        letter_value::<users::UserSignedUp>(),
        letter_value::<users::SessionStarted>(),
        letter_value::<users::FriendRequestAccepted>(),
    ];
    for (offset, value) in values.iter().enumerate() {
        sqlx::query(
            "INSERT INTO dead_letters (consumer, topic, partition, kafka_offset, message_key, message_value, reason, attempts) \
             VALUES ('payments.users', 'tuan.users.v1', 0, $1, '', $2, 'test', 1)",
        )
        .bind(offset as i64)
        .bind(value)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    assert_eq!(tuan_messaging::purge_private_copies(&db.pool).await.unwrap(), 2);
    assert_eq!(tuan_messaging::purge_private_copies(&db.pool).await.unwrap(), 0, "idempotent");
    let left: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT message_value FROM dead_letters").fetch_all(&db.pool).await.unwrap();
    assert_eq!(left, [values[2].clone()], "the public letter stays");
}
