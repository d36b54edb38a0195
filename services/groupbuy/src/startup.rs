//! Wires the group-buy service together: host, use cases, saga consumers, deadline scanner,
//! progress listener, gRPC API.

use std::{sync::Arc, time::Duration};

use tonic::server::NamedService;
use tuan_eventstore::ProjectionSet;
use tuan_host::Host;
use tuan_messaging::{ConsumerHandle, IdempotentConsumer, topics};
use tuan_runtime::auth::{AuthInterceptor, TokenKeys};

use crate::{
    api::{GroupBuyApi, GroupBuyServiceServer},
    app::{DeadlineScanner, GroupBuyApp, ProgressHub, SagaHandler, Settings},
    config::{GroupBuyConfig, SERVICE},
    store::{GroupBuyProjection, external, queries::STUCK_SAGAS},
};

/// The consumer group of the saga (payments' answers) and the merchant projection.
pub const CONSUMER_GROUP: &str = "groupbuy";

/// The group-buy service, built and ready to serve.
pub struct Application {
    host: Host,
    app: GroupBuyApp,
    keys: TokenKeys,
    consumer: ConsumerHandle,
    /// Every consumer's handle, held while the service runs: a consumer whose handle is dropped
    /// finds its pause channel closed and polls it in a tight loop (a core's worth of CPU).
    _consumers: Vec<ConsumerHandle>,
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

        // Subscribing to a topic that does not exist yet would stall the group, so make sure
        // they exist (payments and users create them too; creation is idempotent).
        let sources = vec![host.topic_of("payments"), host.topic_of("users")];
        let kafka = &config.common.kafka;
        if let Err(e) = topics::ensure_topics(
            &kafka.brokers,
            &sources,
            kafka.partitions,
            kafka.replication_factor,
            Duration::from_secs(10),
        )
        .await
        {
            tracing::warn!(error = %e, "cannot create source topics yet; the consumers will find them later");
        }
        let mut handles = Vec::new();
        // Prefixed like the topics, so environments sharing a broker do not share a group.
        let group = format!("{}{CONSUMER_GROUP}", config.common.kafka.topic_prefix);
        for _ in 0..config.groupbuy.saga_consumers.max(1) {
            let (consumer, handle) = IdempotentConsumer::new(
                &group,
                &sources,
                host.dead_letter_topic(),
                host.pool.clone(),
                host.kafka.clone(),
                SagaHandler::new(app.clone()),
            )?;
            host.spawn(consumer.run(host.shutdown()));
            handles.push(handle);
        }
        let consumer = handles.first().cloned().expect("at least one consumer");
        host.track_consumer(&group, &sources);
        host.stuck_sagas(&STUCK_SAGAS);
        Ok(Self { host, app, keys, consumer, _consumers: handles })
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
