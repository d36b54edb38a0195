//! Wires the users service together: host, use cases, gRPC API.

use std::{sync::Arc, time::Duration};

use tonic::server::NamedService;
use tuan_eventstore::ProjectionSet;
use tuan_host::Host;
use tuan_runtime::auth::{AuthInterceptor, TokenKeys};

use crate::{
    api::{UsersApi, UsersServiceServer},
    app::{Clock, DiscoverySettings, HashingBound, LoginSettings, Settings, UsersApp},
    config::{SERVICE, UsersConfig},
    domain::{discovery::SaltSchedule, login::LoginThrottle},
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
        let app = UsersApp::new(host.pool.clone(), projections, keys.clone(), settings, clock);
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

/// The read models kept inline with the users event store.
pub fn projections() -> ProjectionSet {
    ProjectionSet::new(vec![Arc::new(UsersProjection)])
}
