//! Wires the circles service together: host, consumers, use cases, gRPC API.

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;
use tonic::server::NamedService;
use tuan_eventstore::ProjectionSet;
use tuan_host::Host;
use tuan_messaging::{ConsumerHandle, IdempotentConsumer, topics};
use tuan_runtime::auth::{AuthInterceptor, TokenKeys};

use crate::{
    api::{CirclesApi, CirclesServiceServer},
    app::{CirclesApp, Settings},
    config::{CirclesConfig, SERVICE},
    store::{CardsFeed, CirclesProjection, FanoutFeed, UsersFeed, cards, feeds},
};

/// The circles service, built and ready to serve.
pub struct Application {
    host: Host,
    app: CirclesApp,
    keys: TokenKeys,
    consumers: watch::Receiver<Vec<ConsumerHandle>>,
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
        let consumers = start_consumers(&mut host, &config);
        Ok(Self { host, app, keys, consumers })
    }

    pub fn port(&self) -> u16 {
        self.host.port()
    }

    pub fn app(&self) -> &CirclesApp {
        &self.app
    }

    /// The consumers (users events, own fan-out events, group-buy and payments events for the
    /// live cards), once all are running.
    pub fn consumers(&self) -> watch::Receiver<Vec<ConsumerHandle>> {
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

/// Starts the users-events consumer, the fan-out consumer and the live-cards consumer (of the
/// group-buy and payments topics) once their topics exist (a subscription to a missing topic
/// would not see it for minutes). The service serves meanwhile; the handles appear in the
/// returned channel when all are running.
fn start_consumers(host: &mut Host, config: &CirclesConfig) -> watch::Receiver<Vec<ConsumerHandle>> {
    let (tx, rx) = watch::channel(Vec::new());
    let (users_topic, own_topic, dlq) = (host.topic_of("users"), host.topic(), host.dead_letter_topic());
    let card_topics = vec![host.topic_of("groupbuy"), host.topic_of("payments")];
    let prefix = config.common.kafka.topic_prefix.clone();
    let (partitions, replication) = (config.common.kafka.partitions, config.common.kafka.replication_factor);
    host.track_consumer(&format!("{prefix}circles.users"), std::slice::from_ref(&users_topic));
    host.track_consumer(&format!("{prefix}circles.fanout"), std::slice::from_ref(&own_topic));
    host.track_consumer(&format!("{prefix}circles.cards"), &card_topics);
    let (pool, kafka, shutdown) = (host.pool.clone(), host.kafka.clone(), host.shutdown());
    host.spawn(async move {
        let mut topics = vec![users_topic.clone(), own_topic.clone(), dlq.clone()];
        topics.extend(card_topics.iter().cloned());
        if !topics::ensure_topics_eventually(&kafka.brokers, &topics, partitions, replication, shutdown.clone()).await {
            return;
        }
        let users = IdempotentConsumer::new(
            &format!("{prefix}circles.users"),
            &[users_topic],
            dlq.clone(),
            pool.clone(),
            kafka.clone(),
            UsersFeed,
        );
        let fanout = IdempotentConsumer::new(
            &format!("{prefix}circles.fanout"),
            &[own_topic],
            dlq.clone(),
            pool.clone(),
            kafka.clone(),
            FanoutFeed,
        );
        let cards =
            IdempotentConsumer::new(&format!("{prefix}circles.cards"), &card_topics, dlq, pool, kafka, CardsFeed);
        let ((users, users_handle), (fanout, fanout_handle), (cards, cards_handle)) = match (users, fanout, cards) {
            (Ok(u), Ok(f), Ok(c)) => (u, f, c),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                tracing::error!(error = %e, "cannot create consumers");
                return;
            }
        };
        let _ = tx.send(vec![users_handle, fanout_handle, cards_handle]);
        tokio::join!(users.run(shutdown.clone()), fanout.run(shutdown.clone()), cards.run(shutdown));
    });
    rx
}

/// Waits (up to `timeout`) until every consumer in `consumers` has partitions assigned.
pub async fn wait_consumers_assigned(mut consumers: watch::Receiver<Vec<ConsumerHandle>>, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    let handles = match tokio::time::timeout_at(deadline, consumers.wait_for(|h| !h.is_empty())).await {
        Ok(Ok(handles)) => handles.clone(),
        _ => return false,
    };
    for mut handle in handles {
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
