//! Wires the users service together: host, use cases, gRPC API.

use std::{sync::Arc, time::Duration};

use tonic::server::NamedService;
use tuan_eventstore::ProjectionSet;
use tuan_host::Host;
use tuan_runtime::auth::{AuthInterceptor, TokenKeys};

use crate::{
    api::{UsersApi, UsersServiceServer},
    app::{Clock, DiscoverySettings, HashingBound, LoginSettings, PhoneCodes, Settings, UsersApp},
    config::{SERVICE, SmsSenderKind, UsersConfig},
    domain::{
        discovery::SaltSchedule,
        login::LoginThrottle,
        phone_code::{CodeHasher, CodePolicy},
    },
    sms::{DevelopmentSender, HttpSender, Retry, SmsOutbox, SmsSender, Templates},
    store::UsersProjection,
};

/// How often each replica registers the coming salt period and fills what is not filled.
const ROTATION_CHECK: Duration = Duration::from_secs(60);

/// The users service, built and ready to serve.
pub struct Application {
    host: Host,
    app: UsersApp,
    keys: TokenKeys,
}

impl Application {
    pub async fn build(config: UsersConfig) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(chrono::Utc::now)).await
    }

    /// [`Application::build`] with discovery going by `clock` (tests move it).
    pub async fn build_with_clock(config: UsersConfig, clock: Clock) -> anyhow::Result<Self> {
        config.check()?;
        let projections = projections();
        let mut host = Host::start(SERVICE, &config.common, &projections).await?;
        crate::store::install(&host.pool).await?;
        let keys = TokenKeys::new(&config.common.auth);
        let u = &config.users;
        let settings = Settings {
            access_ttl: Duration::from_secs(config.users.access_ttl_secs),
            refresh_ttl: Duration::from_secs(config.users.refresh_ttl_secs),
            session_max_lifetime: Duration::from_secs(config.users.session_max_lifetime_secs),
            discovery: DiscoverySettings {
                salts: SaltSchedule::new(
                    config.users.discovery_secret.clone(),
                    Duration::from_secs(config.users.discovery_period_secs),
                ),
                max_per_request: config.users.discovery_max_per_request as usize,
                daily_limit: config.users.discovery_daily_limit,
            },
            login: LoginSettings {
                throttle: LoginThrottle {
                    free_attempts: u.login_free_attempts,
                    base_lock: Duration::from_millis(u.login_lock_base_ms),
                    max_lock: Duration::from_millis(u.login_lock_max_ms),
                },
                forget_after: Duration::from_millis(u.login_lock_max_ms.saturating_mul(4)),
            },
            hashing_concurrency: match u.password_hash_concurrency {
                0 => HashingBound::machine_sized(),
                n => n as usize,
            },
            hashing_wait: Duration::from_millis(u.password_hash_wait_ms),
        };
        let codes = phone_codes(&config, &host.pool).await?;
        let app = UsersApp::new(host.pool.clone(), projections, keys.clone(), settings, codes, clock);
        app.register_discovery_periods().await?;
        let (rotating, mut shutdown) = (app.clone(), host.shutdown());
        host.spawn(async move {
            loop {
                // Cancelling a fill midway loses at most one batch: the period's cursor is stored.
                tokio::select! {
                    result = rotating.rotate_discovery() => if let Err(e) = result {
                        tracing::warn!(error = %e, "discovery salt rotation failed; retrying");
                    },
                    _ = shutdown.wait() => return,
                }
                tokio::select! {
                    _ = tokio::time::sleep(ROTATION_CHECK) => {}
                    _ = shutdown.wait() => return,
                }
            }
        });
        Ok(Self { host, app, keys })
    }

    pub fn port(&self) -> u16 {
        self.host.port()
    }

    pub fn app(&self) -> &UsersApp {
        &self.app
    }

    /// Serves until `stop` resolves, then drains.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let (router, health) = Host::router(&[UsersServiceServer::<UsersApi>::NAME])?;
        health.set_serving::<UsersServiceServer<UsersApi>>().await;
        let api = UsersServiceServer::with_interceptor(UsersApi::new(self.app), AuthInterceptor::new(self.keys));
        self.host.serve(router.add_service(api), stop).await
    }
}

/// The code policy and the SMS outbox, with the sender the settings name.
async fn phone_codes(config: &UsersConfig, pool: &sqlx::PgPool) -> anyhow::Result<PhoneCodes> {
    use secrecy::ExposeSecret;
    let (codes, sms) = (&config.users.phone_codes, &config.users.sms);
    let policy = CodePolicy {
        ttl: Duration::from_secs(codes.ttl_secs),
        attempts: codes.attempts,
        resend_after: Duration::from_secs(codes.resend_after_secs),
        per_phone_per_hour: codes.per_phone_per_hour,
        per_client_per_hour: codes.per_client_per_hour,
    };
    let sender: Arc<dyn SmsSender> = match sms.sender {
        SmsSenderKind::Development => Arc::new(DevelopmentSender::new(pool.clone()).await?),
        SmsSenderKind::Http => Arc::new(HttpSender::new(
            &sms.url,
            &sms.account,
            sms.token.clone(),
            &sms.from,
            Duration::from_millis(sms.timeout_ms),
        )?),
    };
    let templates = Templates {
        sign_up: sms.sign_up_template.clone(),
        reset_password: sms.reset_password_template.clone(),
        already_registered: sms.already_registered_template.clone(),
        not_registered: sms.not_registered_template.clone(),
        code_ttl: policy.ttl,
    };
    let retry = Retry { attempts: sms.attempts, backoff: Duration::from_millis(sms.backoff_ms) };
    Ok(PhoneCodes {
        hasher: CodeHasher::new(codes.secret.expose_secret().as_bytes()),
        policy,
        outbox: SmsOutbox::start(sender, templates, retry, sms.queue),
    })
}

/// The read models kept inline with the users event store.
pub fn projections() -> ProjectionSet {
    ProjectionSet::new(vec![Arc::new(UsersProjection)])
}
