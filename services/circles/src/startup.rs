//! Wires the circles service together: host, consumers, use cases, gRPC API.

use std::{sync::Arc, time::Duration};

use tonic::server::NamedService;
use tuan_eventstore::ProjectionSet;
use tuan_host::Host;
use tuan_messaging::ConsumerHandle;
use tuan_runtime::auth::{AuthInterceptor, TokenKeys};

use crate::{
    api::{CirclesApi, CirclesServiceServer},
    app::{CirclesApp, Settings},
    config::{CirclesConfig, SERVICE},
    consumers::{CardsFeed, FanoutFeed, UsersFeed},
    store::{CirclesProjection, cards, feeds},
};

/// The circles service, built and ready to serve.
pub struct Application {
    host: Host,
    app: CirclesApp,
    keys: TokenKeys,
    consumers: Vec<ConsumerHandle>,
}

impl Application {
    pub async fn build(config: CirclesConfig) -> anyhow::Result<Self> {
        let projections = projections();
        let mut host = Host::start(SERVICE, &config.common, &projections).await?;
        feeds::install(&host.pool).await?;
        cards::install(&host.pool).await?;
        let keys = TokenKeys::new(&config.common.auth);
        let settings = Settings {
            default_member_cap: config.circles.default_member_cap,
            premium_member_cap: config.circles.premium_member_cap,
            broadcast_quota_per_month: config.circles.broadcast_quota_per_month,
        };
        anyhow::ensure!(
            settings.default_member_cap >= 1 && settings.default_member_cap <= settings.premium_member_cap,
            "circles.default_member_cap must be between 1 and circles.premium_member_cap"
        );
        let app = CirclesApp::new(host.pool.clone(), projections, settings);
        let consumers = start_consumers(&mut host);
        Ok(Self { host, app, keys, consumers })
    }

    pub fn port(&self) -> u16 {
        self.host.port()
    }

    pub fn app(&self) -> &CirclesApp {
        &self.app
    }

    /// The consumers (users events, own fan-out events, group-buy and payments events for the
    /// live cards).
    pub fn consumers(&self) -> Vec<ConsumerHandle> {
        self.consumers.clone()
    }

    /// Serves until `stop` resolves, then drains.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let (router, health) = Host::router(&[CirclesServiceServer::<CirclesApi>::NAME])?;
        health.set_serving::<CirclesServiceServer<CirclesApi>>().await;
        let api = CirclesServiceServer::with_interceptor(CirclesApi::new(self.app), AuthInterceptor::new(self.keys));
        self.host.serve(router.add_service(api), stop).await
    }
}

/// Starts the users-events consumer, the fan-out consumer (of this service's own topic) and
/// the live-cards consumer (of the group-buy and payments topics). They begin once their
/// topics exist; the service serves meanwhile.
fn start_consumers(host: &mut Host) -> Vec<ConsumerHandle> {
    let mut consumers = host.consume("circles.users", &["users"], 1, UsersFeed);
    consumers.extend(host.consume("circles.fanout", &[SERVICE], 1, FanoutFeed));
    consumers.extend(host.consume("circles.cards", &["groupbuy", "payments"], 1, CardsFeed));
    consumers
}

/// Waits (up to `timeout`) until every consumer in `consumers` has partitions assigned.
pub async fn wait_consumers_assigned(consumers: Vec<ConsumerHandle>, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    for mut handle in consumers {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !handle.wait_assigned(left).await {
            return false;
        }
    }
    true
}

/// The read models kept inline with the circles event store.
pub fn projections() -> ProjectionSet {
    ProjectionSet::new(vec![Arc::new(CirclesProjection)])
}
