//! `tuanctl` as an operator runs it: the built binary, against the users and payments services
//! running on real Postgres databases and the shared broker.
//!
//! - an operator logged in with phone and password verifies a merchant (and a normal user is
//!   refused);
//! - rebuilding the users projections online leaves them exactly as they were;
//! - a dead-lettered event is re-driven: its consumer applies it, and re-driving again
//!   publishes nothing;
//! - the operator looks up another user's wallet (by id and by phone number), and a normal
//!   user cannot.

use std::time::Duration;

use prost::{Message as _, Name as _};
use tonic::{Request, transport::Channel};
use tuan_proto::{
    events::v1::EventEnvelope,
    payments::v1::{self as pay, payments_service_client::PaymentsServiceClient},
    users::v1::{self as us, FriendRequestAccepted, users_service_client::UsersServiceClient},
};
use tuan_testkit::TestDb;
use uuid::Uuid;

const OPERATOR_PHONE: &str = "+8613800000000";
const PASSWORD: &str = "correct-horse-42";

struct Running {
    db: TestDb,
    port: u16,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.expect("server task").expect("server result");
        drop(self.db);
    }
}

async fn spawn_users(prefix: &str, brokers: &str) -> Running {
    let db = TestDb::new().await;
    let mut config = users::config::UsersConfig::default();
    config.common.environment = tuan_runtime::config::Environment::Development;
    config.common.grpc_addr = "127.0.0.1:0".parse().unwrap();
    config.common.database.url = db.url.clone().into();
    config.common.kafka.brokers = brokers.to_string();
    config.common.kafka.topic_prefix = prefix.to_string();
    config.common.kafka.partitions = 2;
    let app = users::Application::build(config).await.expect("build users");
    let port = app.port();
    let (stop, rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    Running { db, port, stop, server }
}

async fn spawn_payments(prefix: &str, brokers: &str) -> Running {
    let db = TestDb::new().await;
    let mut config = payments::config::PaymentsConfig::default();
    config.common.environment = tuan_runtime::config::Environment::Development;
    config.common.grpc_addr = "127.0.0.1:0".parse().unwrap();
    config.common.database.url = db.url.clone().into();
    config.common.kafka.brokers = brokers.to_string();
    config.common.kafka.topic_prefix = prefix.to_string();
    config.common.kafka.partitions = 2;
    let app = payments::Application::build(config).await.expect("build payments");
    let port = app.port();
    let (stop, rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    Running { db, port, stop, server }
}

/// Runs the tuanctl binary (without blocking the services in this process); returns
/// (success, stdout, stderr).
async fn tuanctl(users: u16, payments: u16, credentials: &[&str], args: &[&str]) -> (bool, String, String) {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_tuanctl"))
        .args(["--users-addr", &format!("127.0.0.1:{users}"), "--payments-addr", &format!("127.0.0.1:{payments}")])
        // Nothing listens there: commands for these services must not be needed here.
        .args(["--circles-addr", "127.0.0.1:1", "--groupbuy-addr", "127.0.0.1:1"])
        .args(credentials)
        .args(args)
        .env_remove("TUAN_TOKEN")
        .env_remove("TUAN_PHONE")
        .env_remove("TUAN_PASSWORD")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("tuanctl {args:?} did not finish in 2 minutes"))
        .expect("run tuanctl");
    let (out, err) = (String::from_utf8_lossy(&output.stdout).into(), String::from_utf8_lossy(&output.stderr).into());
    (output.status.success(), out, err)
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Signs up with the code of the SMS the users service (on `users_db`) sent.
async fn sign_up(
    client: &mut UsersServiceClient<Channel>,
    users_db: &sqlx::PgPool,
    phone: &str,
    name: &str,
) -> us::AuthTokens {
    let ask = us::RequestPhoneCodeRequest { phone: phone.into(), purpose: us::PhoneCodePurpose::SignUp as i32 };
    let code = tuan_testkit::sms::code_for(users_db, phone, client.request_phone_code(ask)).await;
    let request = us::SignUpRequest {
        phone: phone.into(),
        password: PASSWORD.into(),
        display_name: name.into(),
        region: "Shanghai".into(),
        code,
    };
    client.sign_up(request).await.expect("sign up").into_inner()
}

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// Every projection table of a database, as sorted JSON rows: what a rebuild must reproduce.
async fn projection_contents(pool: &sqlx::PgPool) -> Vec<(String, String)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'proj' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(!tables.is_empty(), "the users service keeps projections in schema proj");
    let mut contents = Vec::new();
    for table in tables {
        let sql = format!("SELECT COALESCE(json_agg(t ORDER BY t::text), '[]')::text FROM proj.{table} t");
        let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.unwrap();
        contents.push((table, rows));
    }
    contents
}

fn phone() -> String {
    format!("+86139{:08}", rand_digits())
}

fn rand_digits() -> u32 {
    (Uuid::new_v4().as_u128() % 100_000_000) as u32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_verifies_a_merchant_rebuilds_projections_and_redrives_a_dead_letter() {
    tuan_testkit::init_tracing();
    let brokers = tuan_testkit::shared_broker();
    let prefix = tuan_testkit::unique_prefix();
    let users = spawn_users(&prefix, &brokers).await;
    let payments = spawn_payments(&prefix, &brokers).await;
    let (u, p) = (users.port, payments.port);
    let mut client = UsersServiceClient::connect(format!("http://127.0.0.1:{u}")).await.unwrap();

    // ---- merchants ----
    let operator = sign_up(&mut client, &users.db.pool, OPERATOR_PHONE, "Ops").await;
    // Made operator inside the deployment: what `users grant-operator` runs.
    users::app::roles::grant_operator_in_deployment(&users.db.pool, users::startup::projections(), OPERATOR_PHONE)
        .await
        .expect("grant operator");
    let merchant_phone = phone();
    let shop = sign_up(&mut client, &users.db.pool, &merchant_phone, "Shopkeeper").await;
    let application = us::ApplyMerchantRequest {
        business_name: "Shop Ltd".into(),
        license_number: "LIC-12345".into(),
        contact_phone: "+8613900139000".into(),
        category: "food".into(),
    };
    client.apply_merchant(authed(&shop.access_token, application)).await.expect("apply");
    let login = ["--phone", OPERATOR_PHONE, "--password", PASSWORD];

    // ---- the development SMS: the code a person trying a local run reads ----
    let database = ["--database-url", &users.db.url];
    let (ok, out, err) = tuanctl(u, p, &[], &[&["sms", &merchant_phone, "--code-only"][..], &database].concat()).await;
    assert!(ok, "{err}");
    let code = out.trim();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{out:?}");
    let (ok, out, err) = tuanctl(u, p, &[], &[&["--json", "sms", &merchant_phone][..], &database].concat()).await;
    assert!(ok, "{err}");
    assert!(json(&out)["body"].as_str().unwrap().contains(code), "{out}");
    let (ok, _, err) = tuanctl(u, p, &[], &[&["sms", "+8613911112222"][..], &database].concat()).await;
    assert!(!ok && err.contains("no SMS"), "{err}");

    let (ok, out, err) = tuanctl(u, p, &login, &["--json", "merchants", "pending"]).await;
    assert!(ok, "{err}");
    let pending = json(&out);
    assert!(pending.as_array().unwrap().iter().any(|a| a["user_id"] == shop.user_id), "{out}");

    // A normal user is refused, and nothing is decided.
    let normal = ["--phone", merchant_phone.as_str(), "--password", PASSWORD];
    let (ok, _, err) = tuanctl(u, p, &normal, &["merchants", "verify", &shop.user_id]).await;
    assert!(!ok && err.contains("PermissionDenied"), "{err}");

    let (ok, out, err) = tuanctl(u, p, &login, &["merchants", "verify", &shop.user_id]).await;
    assert!(ok, "{err}");
    assert!(out.contains("is now verified"), "{out}");
    let me = client.get_me(authed(&shop.access_token, us::GetMeRequest {})).await.unwrap().into_inner();
    assert_eq!(me.merchant_status(), us::MerchantStatus::Verified);
    // Looked up by phone number, the user shows as a verified merchant.
    let (ok, out, err) = tuanctl(u, p, &login, &["--json", "user", &merchant_phone]).await;
    assert!(ok, "{err}");
    let user = json(&out);
    assert_eq!(user["user_id"], shop.user_id);
    assert_eq!(user["verified_merchant"], true);
    assert_eq!(user["merchant_application"]["status"], "verified");

    // ---- roles ----
    let (ok, _, err) = tuanctl(u, p, &normal, &["roles", "grant", &shop.user_id]).await;
    assert!(!ok && err.contains("PermissionDenied"), "{err}");
    let (ok, out, err) = tuanctl(u, p, &login, &["--json", "roles", "grant", &shop.user_id]).await;
    assert!(ok, "{err}");
    assert_eq!(json(&out)["roles"], serde_json::json!(["operator"]), "{out}");
    let (ok, out, err) = tuanctl(u, p, &login, &["roles", "revoke", &shop.user_id]).await;
    assert!(ok && out.contains("now has roles []"), "{out}{err}");
    let (ok, out, err) = tuanctl(u, p, &login, &["--json", "roles", "changes"]).await;
    assert!(ok, "{err}");
    let changes = json(&out);
    let changes: Vec<_> = changes.as_array().unwrap().iter().map(|c| c["change"].as_str().unwrap()).collect();
    assert_eq!(changes, ["revoked", "granted", "granted"], "{out}");
    let shop = client
        .login(us::LoginRequest { phone: merchant_phone.clone(), password: PASSWORD.into() })
        .await
        .unwrap()
        .into_inner();

    // ---- rebuild ----
    // With a token: a login would start a session (a row in the sessions projection) after
    // the snapshot.
    let token = client
        .login(us::LoginRequest { phone: OPERATOR_PHONE.into(), password: PASSWORD.into() })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let with_token = ["--token", token.as_str()];
    let before = projection_contents(&users.db.pool).await;
    let (ok, out, err) = tuanctl(u, p, &with_token, &["--json", "rebuild", "users"]).await;
    assert!(ok, "{err}");
    let rebuilt = json(&out);
    assert_eq!(rebuilt["done"], true);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&users.db.pool).await.unwrap();
    assert_eq!(rebuilt["replayed"], events, "every event replayed: {out}");
    assert_eq!(projection_contents(&users.db.pool).await, before, "the rebuilt projections equal the old ones");
    // The service still answers from them.
    let me = client.get_me(authed(&shop.access_token, us::GetMeRequest {})).await.unwrap().into_inner();
    assert_eq!(me.merchant_status(), us::MerchantStatus::Verified);

    // ---- dead letters ----
    // A friendship event payments' users consumer set aside (as if its database had refused
    // it); once re-driven, the consumer applies it.
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let event = FriendRequestAccepted { from_user_id: a.to_string(), to_user_id: b.to_string() };
    let envelope = EventEnvelope {
        event_id: Uuid::now_v7().to_string(),
        stream_type: "friendship".into(),
        stream_id: a.to_string(),
        version: 1,
        event_type: FriendRequestAccepted::full_name(),
        schema_version: 1,
        occurred_at_micros: chrono::Utc::now().timestamp_micros(),
        correlation_id: Uuid::now_v7().to_string(),
        payload: event.encode_to_vec(),
        source: "users".into(),
        ..Default::default()
    };
    let pool = &payments.db.pool;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO dead_letters (consumer, topic, partition, kafka_offset, message_key, message_value, reason, attempts) \
         VALUES ($1, $2, 0, 999999, $3, $4, 'database refused the write', 3) RETURNING id",
    )
    .bind(format!("{prefix}payments.users"))
    .bind(format!("{prefix}tuan.users.v1"))
    .bind(a.to_string().into_bytes())
    .bind(envelope.encode_to_vec())
    .fetch_one(pool)
    .await
    .unwrap();
    let friends = || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM public.friends WHERE user_id = $1 AND friend_id = $2")
            .bind(a)
            .bind(b)
            .fetch_one(pool)
            .await
            .unwrap();
        n
    };
    assert_eq!(friends().await, 0);

    let (ok, out, err) = tuanctl(u, p, &login, &["--json", "dead-letters", "list", "--service", "payments"]).await;
    assert!(ok, "{err}");
    let letters = json(&out);
    let letter = letters.as_array().unwrap().iter().find(|l| l["id"] == id).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(letter["event_type"], FriendRequestAccepted::full_name());
    assert_eq!(letter["redriven_at"], serde_json::Value::Null);

    let (ok, out, err) = tuanctl(u, p, &login, &["dead-letters", "redrive", "payments", &id.to_string()]).await;
    assert!(ok, "{err}");
    assert!(out.contains("re-drove dead letter"), "{out}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while friends().await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the re-driven event was never applied");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Re-driving again publishes nothing, and the letter no longer waits.
    let (ok, out, err) =
        tuanctl(u, p, &login, &["--json", "dead-letters", "redrive", "payments", &id.to_string()]).await;
    assert!(ok, "{err}");
    assert_eq!(json(&out)["published"], false, "{out}");
    let (ok, out, _) = tuanctl(u, p, &login, &["--json", "dead-letters", "list", "--service", "payments"]).await;
    assert!(ok && !json(&out).as_array().unwrap().iter().any(|l| l["id"] == id), "{out}");
    let (ok, _, err) = tuanctl(u, p, &login, &["dead-letters", "redrive", "payments", "424242"]).await;
    assert!(!ok && err.contains("NotFound"), "{err}");

    // ---- wallets ----
    // The shop tops up 25.00 CNY; the operator reads that wallet by user id (JSON) and by phone
    // number (for people); `me` is the operator's own; the shop cannot read the operator's.
    let mut payments_client = PaymentsServiceClient::connect(format!("http://127.0.0.1:{p}")).await.unwrap();
    let top_up = pay::TopUpRequest {
        amount: "25.00".into(),
        currency: "CNY".into(),
        idempotency_key: Uuid::now_v7().to_string(),
    };
    payments_client.top_up(authed(&shop.access_token, top_up)).await.expect("top up");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let own = pay::GetWalletRequest::default();
        let wallet = payments_client.get_wallet(authed(&shop.access_token, own)).await.unwrap().into_inner();
        if wallet.balances.iter().any(|b| b.currency == "CNY" && b.available == "25.00") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the top-up never settled: {wallet:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ok, out, err) = tuanctl(u, p, &login, &["--json", "wallet", &shop.user_id]).await;
    assert!(ok, "{err}");
    let wallet = json(&out);
    assert_eq!(wallet["user_id"], shop.user_id, "{out}");
    let balances = wallet["balances"].as_array().unwrap();
    assert_eq!(balances.len(), 1, "{out}");
    assert_eq!((&balances[0]["currency"], &balances[0]["available"]), (&"CNY".into(), &"25.00".into()), "{out}");
    assert_eq!(wallet["open_holds"], serde_json::json!([]), "{out}");
    let (ok, out, err) = tuanctl(u, p, &login, &["wallet", &merchant_phone]).await;
    assert!(ok, "{err}");
    assert!(out.contains(&format!("wallet of {}", shop.user_id)), "{out}");
    assert!(out.lines().any(|l| l.starts_with("CNY") && l.contains("25.00")), "{out}");
    let (ok, out, err) = tuanctl(u, p, &login, &["--json", "wallet", "me"]).await;
    assert!(ok, "{err}");
    assert_eq!(json(&out)["user_id"], operator.user_id, "{out}");
    assert_eq!(json(&out)["balances"], serde_json::json!([]), "{out}");
    let (ok, out, err) = tuanctl(u, p, &normal, &["--json", "wallet", &operator.user_id]).await;
    assert!(!ok && err.contains("PermissionDenied"), "{err}");
    assert!(out.is_empty(), "nothing of the wallet is shown: {out}");

    // ---- sagas and backlog answer (nothing is stuck here) ----
    let (ok, out, err) =
        tuanctl(u, p, &login, &["--json", "sagas", "--service", "payments", "--older-than", "1s"]).await;
    assert!(ok, "{err}");
    assert!(json(&out).as_array().unwrap().is_empty(), "{out}");

    // Backlog: every service gets a row, the unreachable ones say so; payments reports its
    // consumer groups' lag from the broker.
    let (ok, out, err) = tuanctl(u, p, &login, &["--json", "backlog"]).await;
    assert!(ok, "{err}");
    let backlog = json(&out);
    let row = |name: &str| backlog.as_array().unwrap().iter().find(|r| r["service"] == name).cloned().unwrap();
    assert_eq!(row("users")["dead_letters_waiting"], 0, "{out}");
    assert_eq!(row("payments")["dead_letters_waiting"], 0, "the re-driven letter no longer waits: {out}");
    assert!(row("groupbuy")["error"].is_string(), "{out}");
    let lag = row("payments")["lag"].as_array().cloned().unwrap_or_default();
    assert!(
        lag.iter().any(|l| l["consumer"] == format!("{prefix}payments.users")) || row("payments")["lag_error"] != "",
        "payments' users consumer is measured: {out}"
    );
    let (ok, out, err) = tuanctl(u, p, &login, &["backlog"]).await;
    assert!(ok && out.contains("SERVICE") && out.contains("payments"), "{out}{err}");

    payments.stop().await;
    users.stop().await;
}
