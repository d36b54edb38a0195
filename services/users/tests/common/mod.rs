//! Spawns the users service on a fresh database, a free port and the shared broker, with a
//! client that has one method per call.

#![allow(dead_code)]

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, TimeDelta, Utc};
use tonic::transport::Channel;
use tuan_proto::users::v1::{self as pb, users_service_client::UsersServiceClient};
use tuan_testkit::{Server, TestDb};
// For the tests to take from here; not every test uses each.
#[allow(unused_imports)]
pub use tuan_testkit::{authed, retry_after};
use users::{Application, app::UsersApp, config::UsersConfig};

/// The operators of the tests: signed up, then made operators from inside the deployment
/// (what `users grant-operator` runs).
pub const OPERATOR_PHONE: &str = "+8613800000000";

pub struct TestApp {
    pub db: TestDb,
    pub server: Server<anyhow::Error>,
    pub config: UsersConfig,
    pub client: UsersServiceClient<Channel>,
    /// The time discovery goes by; move it with [`TestClock::advance`].
    pub clock: TestClock,
    /// The service's use cases, for what a test must trigger itself (a salt rotation).
    pub users: UsersApp,
}

pub fn config_for(db: &TestDb, brokers: &str) -> UsersConfig {
    let mut config = tuan_testkit::config_for(db, brokers, |c: &mut UsersConfig| &mut c.common);
    // Tests sign many people up from one address; tests/phone_codes.rs checks the real limit.
    config.users.phone_codes.per_client_per_hour = 1_000_000;
    config
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_tuned(|_| {}).await
    }

    /// [`TestApp::spawn`] with settings changed by `tune`.
    pub async fn spawn_tuned(tune: impl FnOnce(&mut UsersConfig)) -> Self {
        let (db, config) = tuan_testkit::fresh(config_for, tune).await;
        Self::spawn_with(db, config).await
    }

    pub async fn spawn_with(db: TestDb, config: UsersConfig) -> Self {
        let clock = TestClock::default();
        let app = Application::build_with_clock(config.clone(), clock.clock()).await.expect("build users service");
        let users = app.app().clone();
        let server = Server::spawn(app.port(), |stop| app.run_until_stopped(stop));
        let client = UsersServiceClient::new(server.channel().await);
        Self { db, server, config, client, clock, users }
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(&mut self) {
        self.server.stop().await;
    }

    /// Signs up `phone` the way a person does: asks for a code, reads the SMS, types it back.
    pub async fn sign_up(&mut self, phone: &str, name: &str) -> pb::AuthTokens {
        let code = self.code_for(phone, pb::PhoneCodePurpose::SignUp).await;
        self.client
            .sign_up(pb::SignUpRequest {
                phone: phone.into(),
                password: "correct-horse-42".into(),
                display_name: name.into(),
                region: "Shanghai".into(),
                code,
            })
            .await
            .expect("sign up")
            .into_inner()
    }

    /// Asks for a code for `phone` (E.164) and returns the one the SMS carries.
    pub async fn code_for(&mut self, phone: &str, purpose: pb::PhoneCodePurpose) -> String {
        let ask = pb::RequestPhoneCodeRequest { phone: phone.into(), purpose: purpose as i32 };
        tuan_testkit::sms::code_for(&self.db.pool, phone, self.client.request_phone_code(ask)).await
    }

    /// Signs up `phone`, makes it an operator as `users grant-operator <phone>` does, and logs
    /// in again so the tokens carry the role.
    pub async fn sign_up_operator(&mut self, phone: &str, name: &str) -> pb::AuthTokens {
        self.sign_up(phone, name).await;
        self.grant_operator(phone).await;
        self.login(phone, "correct-horse-42").await.expect("operator logs in")
    }

    /// What `users grant-operator <phone>` runs, against this test's database.
    pub async fn grant_operator(&self, phone: &str) {
        users::app::roles::grant_operator_in_deployment(&self.db.pool, users::startup::projections(), phone)
            .await
            .expect("grant operator");
    }

    pub async fn login(&mut self, phone: &str, password: &str) -> Result<pb::AuthTokens, tonic::Status> {
        let login = pb::LoginRequest { phone: phone.into(), password: password.into() };
        self.client.login(login).await.map(|r| r.into_inner())
    }

    pub async fn event_count(&self) -> i64 {
        tuan_testkit::event_count(&self.db.pool).await
    }

    /// Events the relay publishes (the private ones stay here: `tuan_messaging::PRIVATE_EVENTS`).
    pub async fn public_event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type <> ALL($1)")
            .bind(tuan_messaging::PRIVATE_EVENTS.to_vec())
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }
}

/// The system clock plus an offset a test moves forward.
#[derive(Clone, Default)]
pub struct TestClock {
    offset_secs: Arc<AtomicI64>,
}

impl TestClock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    pub fn advance(&self, by: TimeDelta) {
        self.offset_secs.fetch_add(by.num_seconds(), Ordering::SeqCst);
    }

    pub fn clock(&self) -> users::app::Clock {
        let this = self.clone();
        Arc::new(move || this.now())
    }
}

pub fn target(user_id: &str) -> pb::FriendTarget {
    pb::FriendTarget { user_id: user_id.into() }
}

/// Unique-enough test phone numbers.
pub fn phone() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("+86139{:04}{:04}", std::process::id() % 10_000, n)
}
