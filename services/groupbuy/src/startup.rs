//! Wires the group-buy service together: host, use cases, saga consumers, deadline scanner,
//! progress listener, gRPC API.

use std::{sync::Arc, time::Duration};

use tonic::server::NamedService;
use tuan_eventstore::ProjectionSet;
use tuan_host::Host;
use tuan_messaging::ConsumerHandle;
use tuan_runtime::auth::{AuthInterceptor, TokenKeys};

use crate::{
    api::{GroupBuyApi, GroupBuyServiceServer},
    app::{DeadlineScanner, GroupBuyApp, ProgressHub, Settings},
    config::{GroupBuyConfig, SERVICE},
    consumers::SagaHandler,
    store::{GroupBuyProjection, external, queries::STUCK_SAGAS},
};

/// The consumer group of the saga (payments' answers) and the merchant projection (its id
/// carries the environment's prefix, see `Host::consume`).
pub const CONSUMER_GROUP: &str = "groupbuy";

/// The group-buy service, built and ready to serve.
pub struct Application {
    host: Host,
    app: GroupBuyApp,
    keys: TokenKeys,
    consumer: ConsumerHandle,
}

impl Application {
    pub async fn build(config: GroupBuyConfig) -> anyhow::Result<Self> {
        let projections = projections();
        let mut host = Host::start(SERVICE, &config.common, &projections).await?;
        external::install(&host.pool).await?;
        let keys = TokenKeys::new(&config.common.auth);
        let settings = Settings {
            hold_grace: Duration::from_secs(config.groupbuy.hold_grace_secs),
            progress_tick: Duration::from_millis(config.groupbuy.progress_tick_ms.max(100)),
        };
        let hub = ProgressHub::new();
        let app = GroupBuyApp::new(host.pool.clone(), projections, settings, hub.clone(), host.shutdown());

        let poll = Duration::from_millis(config.groupbuy.progress_poll_ms.max(10));
        host.spawn(hub.run(host.pool.clone(), poll, host.shutdown()));
        host.sample_gauges("sagas", Duration::from_secs(5), crate::app::gauges::sample);
        let scanner =
            DeadlineScanner::new(app.clone(), Duration::from_millis(config.groupbuy.deadline_scan_ms.max(50)));
        host.spawn(scanner.run(host.shutdown()));

        // Payments' answers and the users events; their topics are created if missing
        // (subscribing to a topic that does not exist yet would stall the group).
        let saga = SagaHandler::new(app.clone());
        let members = config.groupbuy.saga_consumers as usize;
        let consumers = host.consume(CONSUMER_GROUP, &["payments", "users"], members, saga);
        let consumer = consumers.first().cloned().expect("at least one consumer");
        host.stuck_sagas(&STUCK_SAGAS);
        Ok(Self { host, app, keys, consumer })
    }

    pub fn port(&self) -> u16 {
        self.host.port()
    }

    pub fn app(&self) -> &GroupBuyApp {
        &self.app
    }

    /// The first saga consumer (tests wait for its partitions before producing).
    pub fn consumer(&self) -> ConsumerHandle {
        self.consumer.clone()
    }

    /// Serves until `stop` resolves, then drains (watch streams end at shutdown).
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let (router, health) = Host::router(&[GroupBuyServiceServer::<GroupBuyApi>::NAME])?;
        health.set_serving::<GroupBuyServiceServer<GroupBuyApi>>().await;
        let api = GroupBuyServiceServer::with_interceptor(GroupBuyApi::new(self.app), AuthInterceptor::new(self.keys));
        self.host.serve(router.add_service(api), stop).await
    }
}

/// The read models kept inline with the group-buy event store.
pub fn projections() -> ProjectionSet {
    ProjectionSet::new(vec![Arc::new(GroupBuyProjection)])
}
