//! Reliability of the users service's event pipeline: a broker outage delays events but loses
//! none, and projections rebuilt from the store equal the live ones.

mod common;

use std::time::Duration;

use common::{TestApp, authed, config_for, phone, target};
use futures::{FutureExt, future::BoxFuture};
use sqlx::{PgConnection, PgPool};
use tuan_messaging::{EventHandler, HandlerError, IdempotentConsumer, KafkaClients, service_topic};
use tuan_proto::{events::v1::EventEnvelope, users::v1 as pb};
use tuan_runtime::shutdown::Shutdown;
use tuan_testkit::{OwnBroker, TestDb};

/// A downstream projection: how often each event was applied.
struct Seen;

impl EventHandler for Seen {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            sqlx::query(
                "INSERT INTO public.seen (event_id, applied) VALUES ($1::uuid, 1) \
                 ON CONFLICT (event_id) DO UPDATE SET applied = seen.applied + 1",
            )
            .bind(&event.event_id)
            .execute(conn)
            .await?;
            Ok(())
        }
        .boxed()
    }
}

async fn seen_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM public.seen").fetch_one(pool).await.unwrap()
}

async fn wait_seen(pool: &PgPool, expected: i64, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = seen_count(pool).await;
        if n >= expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "consumer saw {n} of {expected} events in {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_broker_outage_delays_events_but_each_arrives_exactly_once() {
    tuan_testkit::init_tracing();
    let mut broker = OwnBroker::start();
    let db = TestDb::new().await;
    let config = config_for(&db, &broker.address());
    let prefix = config.common.kafka.topic_prefix.clone();
    let mut app = TestApp::spawn_with(db, config).await;
    sqlx::query("CREATE TABLE public.seen (event_id UUID PRIMARY KEY, applied INT NOT NULL)")
        .execute(&app.db.pool)
        .await
        .unwrap();

    let me = app.sign_up(&phone(), "Lin").await;
    let kafka = KafkaClients::new(&broker.address()).unwrap();
    let (trigger, shutdown) = Shutdown::new();
    let topic = service_topic(&prefix, "users");
    // The relay creates the topic; subscribe once it exists.
    tuan_messaging::topics::ensure_topics(
        &broker.address(),
        std::slice::from_ref(&topic),
        2,
        1,
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    let (consumer, mut handle) = IdempotentConsumer::new(
        &format!("{prefix}downstream"),
        &[topic],
        tuan_messaging::dead_letter_topic(&prefix),
        app.db.pool.clone(),
        kafka,
        Seen,
    )
    .unwrap();
    tokio::spawn(consumer.run(shutdown));
    assert!(handle.wait_assigned(Duration::from_secs(30)).await, "downstream consumer got no partitions");
    let before = app.public_event_count().await;
    wait_seen(&app.db.pool, before, Duration::from_secs(30)).await;

    broker.kill();
    for i in 0..100 {
        app.client
            .update_profile(authed(
                &me.access_token,
                pb::UpdateProfileRequest { display_name: Some(format!("Lin {i}")), ..Default::default() },
            ))
            .await
            .expect("commands keep working while the broker is down");
    }
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(queued, 100, "every event waits in the outbox");
    tokio::time::sleep(Duration::from_secs(2)).await;

    broker.resume();
    wait_seen(&app.db.pool, before + 100, Duration::from_secs(90)).await;
    let twice: i64 = sqlx::query_scalar("SELECT count(*) FROM public.seen WHERE applied <> 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(twice, 0, "no event applied twice");
    let missing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events e LEFT JOIN public.seen s USING (event_id) \
         WHERE s.event_id IS NULL AND e.event_type <> ALL($1)",
    )
    .bind(tuan_messaging::PRIVATE_EVENTS.to_vec())
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(missing, 0, "every stored public event reached the consumer");
    assert_eq!(seen_count(&app.db.pool).await, app.public_event_count().await);
    trigger.trigger();
    app.stop().await;
}

async fn dump(pool: &PgPool) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["users", "friends", "friend_requests", "blocks", "merchant_applications"] {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT row_to_json(t)::text FROM proj.{table} t ORDER BY row_to_json(t)::text"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        out.push(format!("{table}: {}", rows.join("\n")));
    }
    out
}

#[tokio::test]
async fn projections_rebuilt_from_the_store_equal_the_live_ones() {
    let mut app = TestApp::spawn().await;
    let operator = app.sign_up_operator(common::OPERATOR_PHONE, "Ops").await;
    let users = [app.sign_up(&phone(), "A").await, app.sign_up(&phone(), "B").await, app.sign_up(&phone(), "C").await];
    let ask = |to: &str| pb::SendFriendRequestRequest { user_id: to.into(), message: "hi".into() };
    app.client.send_friend_request(authed(&users[0].access_token, ask(&users[1].user_id))).await.unwrap();
    app.client.accept_friend_request(authed(&users[1].access_token, target(&users[0].user_id))).await.unwrap();
    app.client.send_friend_request(authed(&users[2].access_token, ask(&users[0].user_id))).await.unwrap();
    app.client.block_user(authed(&users[1].access_token, target(&users[2].user_id))).await.unwrap();
    app.client
        .update_profile(authed(
            &users[2].access_token,
            pb::UpdateProfileRequest { region: Some("Hangzhou".into()), ..Default::default() },
        ))
        .await
        .unwrap();
    app.client
        .apply_merchant(authed(
            &users[0].access_token,
            pb::ApplyMerchantRequest {
                business_name: "A's Noodles".into(),
                license_number: "LIC-77777".into(),
                contact_phone: "+8613900139001".into(),
                category: "food".into(),
            },
        ))
        .await
        .unwrap();
    app.client
        .verify_merchant(authed(
            &operator.access_token,
            pb::VerifyMerchantRequest { user_id: users[0].user_id.clone() },
        ))
        .await
        .unwrap();

    let live = dump(&app.db.pool).await;
    let replayed = tuan_eventstore::rebuild_projections(
        &tuan_eventstore::EventStore::new(app.db.pool.clone()),
        &users::startup::projections(),
    )
    .await
    .unwrap();
    assert_eq!(replayed as i64, app.event_count().await);
    assert_eq!(dump(&app.db.pool).await, live);

    // The service keeps working on the swapped-in tables.
    app.client.remove_friend(authed(&users[0].access_token, target(&users[1].user_id))).await.unwrap();
    let friends = app
        .client
        .list_friends(authed(&users[1].access_token, pb::ListFriendsRequest { page: None }))
        .await
        .unwrap()
        .into_inner();
    assert!(friends.friends.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn health_and_reflection_v1_and_v1alpha_list_the_service_and_the_admin_api() {
    use tonic_reflection::pb::{v1, v1alpha};
    let mut app = TestApp::spawn().await;
    let channel = app.server.channel().await;

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "tuan.users.v1.UsersService".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status(), tonic_health::pb::health_check_response::ServingStatus::Serving);

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut stream = client.server_reflection_info(futures::stream::iter([request])).await.unwrap().into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) = reply.message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    // The operator-only admin API the host mounts is listed too (calling it still needs an
    // operator's token).
    for expected in ["tuan.users.v1.UsersService", "grpc.health.v1.Health", "tuan.admin.v1.Admin"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::FileContainingSymbol(
            "tuan.admin.v1.Admin".into(),
        )),
    };
    let mut stream = client.server_reflection_info(futures::stream::iter([request])).await.unwrap().into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) = reply.message_response
    else {
        panic!("expected the admin API's file descriptor");
    };
    assert!(!files.file_descriptor_proto.is_empty());

    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let list = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut stream = alpha.server_reflection_info(futures::stream::iter([list])).await.unwrap().into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) = reply.message_response
    else {
        panic!("expected a service list from v1alpha");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["tuan.users.v1.UsersService", "tuan.admin.v1.Admin"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from v1alpha's {names:?}");
    }
    for symbol in ["tuan.users.v1.UsersService", "tuan.admin.v1.Admin"] {
        let request = v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                symbol.into(),
            )),
        };
        let mut stream = alpha.server_reflection_info(futures::stream::iter([request])).await.unwrap().into_inner();
        let reply = stream.message().await.unwrap().unwrap();
        assert!(
            matches!(
                reply.message_response,
                Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
            ),
            "{symbol}: {:?}",
            reply.message_response
        );
    }
    app.stop().await;
}
