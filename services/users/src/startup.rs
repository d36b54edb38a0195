//! Wires the users service together: host, use cases, gRPC API.

use std::{sync::Arc, time::Duration};

use tonic::server::NamedService;
use tuan_eventstore::ProjectionSet;
use tuan_host::Host;
use tuan_runtime::auth::{AuthInterceptor, TokenKeys};

use crate::{
    api::{UsersApi, UsersServiceServer},
    app::{Settings, UsersApp},
    config::{SERVICE, UsersConfig},
    store::UsersProjection,
};

/// The users service, built and ready to serve.
pub struct Application {
    host: Host,
    app: UsersApp,
    keys: TokenKeys,
}

impl Application {
    pub async fn build(config: UsersConfig) -> anyhow::Result<Self> {
        let projections = projections();
        let host = Host::start(SERVICE, &config.common, &projections).await?;
        let keys = TokenKeys::new(&config.common.auth);
        let settings = Settings {
            access_ttl: Duration::from_secs(config.users.access_ttl_secs),
            refresh_ttl: Duration::from_secs(config.users.refresh_ttl_secs),
            discovery_salt: config.users.discovery_salt.clone(),
            operator_phones: config.users.operator_phones.clone(),
        };
        let app = UsersApp::new(host.pool.clone(), projections, keys.clone(), settings);
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
