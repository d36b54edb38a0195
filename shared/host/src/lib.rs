//! Boots a tuan service the same way every time:
//! database pool -> event store schema -> projection tables -> Kafka clients -> outbox relay
//! -> consumers ([`Host::consume`]) -> listener bound (port 0 allowed) -> serve until stopped
//! -> drain background tasks.

pub mod admin;

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::{net::TcpListener, task::JoinSet};
use tuan_eventstore::ProjectionSet;
use tuan_messaging::{
    ConsumerHandle, EventHandler, IdempotentConsumer, KafkaClients, OutboxRelay, dead_letter_topic, service_topic,
    topics,
};
use tuan_runtime::{
    auth::{AuthInterceptor, TokenKeys},
    config::CommonConfig,
    shutdown::{Shutdown, ShutdownTrigger},
};

use crate::admin::{AdminApi, AdminServer, StuckQuery, TrackedConsumer};

/// How long background tasks get to finish after the server stopped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

pub use tuan_runtime::mode::Mode;

/// Installs the event store schema and projection tables: what `--migrate-only` does. Returns
/// the pool so the service can install its own tables (e.g. those fed by other services).
pub async fn migrate(config: &CommonConfig, projections: &ProjectionSet) -> anyhow::Result<PgPool> {
    let pool = tuan_runtime::db::connect(config.database.url.expose_secret(), 2).await?;
    tuan_eventstore::install_schema(&pool).await?;
    projections.install(&pool).await?;
    Ok(pool)
}

/// Asks the service listening on `config.grpc_addr` (on loopback) whether it is serving.
pub async fn health_check(config: &CommonConfig) -> anyhow::Result<()> {
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
    let url = format!("http://127.0.0.1:{}", config.grpc_addr.port());
    let channel =
        tonic::transport::Endpoint::from_shared(url)?.connect_timeout(Duration::from_secs(2)).connect().await?;
    let reply = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await?.into_inner();
    anyhow::ensure!(reply.status() == ServingStatus::Serving, "not serving: {:?}", reply.status());
    Ok(())
}

/// A started service, before it serves.
pub struct Host {
    pub service: &'static str,
    pub pool: PgPool,
    pub kafka: KafkaClients,
    pub config: CommonConfig,
    listener: TcpListener,
    trigger: ShutdownTrigger,
    tasks: JoinSet<()>,
    projections: ProjectionSet,
    consumers: Vec<TrackedConsumer>,
    stuck: Vec<StuckQuery>,
}

impl Host {
    /// Connects, installs schemas and binds the listener. The outbox relay starts at once.
    pub async fn start(
        service: &'static str,
        config: &CommonConfig,
        projections: &ProjectionSet,
    ) -> anyhow::Result<Self> {
        config.check()?;
        tuan_runtime::metrics::install(service, config.metrics_addr)?;
        let pool =
            tuan_runtime::db::connect(config.database.url.expose_secret(), config.database.max_connections).await?;
        tuan_eventstore::install_schema(&pool).await?;
        projections.install(&pool).await?;
        let purged = tuan_messaging::purge_private_copies(&pool).await?;
        if purged > 0 {
            tracing::info!(purged, "dead letters holding private events deleted");
        }
        tuan_messaging::use_identity(&config.kafka.security);
        let kafka = KafkaClients::new(&config.kafka.brokers)?;
        let listener = TcpListener::bind(config.grpc_addr).await?;
        let (trigger, _) = Shutdown::new();
        let mut host = Self {
            service,
            pool,
            kafka,
            config: config.clone(),
            listener,
            trigger,
            tasks: JoinSet::new(),
            projections: projections.clone(),
            consumers: Vec::new(),
            stuck: Vec::new(),
        };
        let relay = OutboxRelay::new(host.pool.clone(), host.kafka.clone(), host.topic(), service);
        let (partitions, replication) = (config.kafka.partitions, config.kafka.replication_factor);
        let topics = vec![host.topic(), host.dead_letter_topic()];
        let brokers = config.kafka.brokers.clone();
        let shutdown = host.shutdown();
        host.sample_gauges("store", Duration::from_secs(2), report_store_gauges);
        host.spawn(async move {
            if topics::ensure_topics_eventually(&brokers, &topics, partitions, replication, shutdown.clone()).await {
                relay.run(shutdown).await;
            }
        });
        Ok(host)
    }

    /// The topic this service publishes on.
    pub fn topic(&self) -> String {
        service_topic(&self.config.kafka.topic_prefix, self.service)
    }

    /// Where this service's consumers put what they cannot apply.
    pub fn dead_letter_topic(&self) -> String {
        dead_letter_topic(&self.config.kafka.topic_prefix)
    }

    /// Another service's topic, with this environment's prefix.
    pub fn topic_of(&self, service: &str) -> String {
        service_topic(&self.config.kafka.topic_prefix, service)
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// A shutdown flag for a background task.
    pub fn shutdown(&self) -> Shutdown {
        self.trigger.subscribe()
    }

    /// Runs a background task (consumer, scanner) until shutdown; it must watch [`Host::shutdown`].
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// Samples service-specific gauges (saga states, open holds) every `every` until shutdown.
    /// A failed sample is logged and retried at the next tick; the gauges keep their last value.
    pub fn sample_gauges<F, Fut>(&mut self, name: &'static str, every: Duration, sample: F)
    where
        F: Fn(PgPool) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send,
    {
        let (pool, mut shutdown) = (self.pool.clone(), self.shutdown());
        self.spawn(async move {
            loop {
                if let Err(e) = sample(pool.clone()).await {
                    tracing::debug!(error = %e, gauges = name, "sampling gauges failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.wait() => return,
                }
            }
        });
    }

    /// Runs consumer group `group` of this service: `members` members in this process (at least
    /// one), each applying the events on the topics of the services `sources` with a clone of
    /// `handler`, exactly once in effect (see [`IdempotentConsumer`]). The group id carries this
    /// environment's prefix, like the topics (`payments.users` is `<prefix>payments.users`), so
    /// environments sharing a broker do not share a group; it is also the key of the members'
    /// processed-event records. The members are made once their topics and the dead-letter
    /// topic exist (created here if missing: a subscription to a missing topic would not see
    /// it for a while, and the service it belongs to may not run yet), and run until
    /// shutdown; the service serves meanwhile. The group is reported in the admin API's
    /// backlog. Returns a handle per member, usable at once: to wait for partitions, to pause.
    /// Dropping the handles is fine.
    pub fn consume<H: EventHandler + Clone>(
        &mut self,
        group: &str,
        sources: &[&str],
        members: usize,
        handler: H,
    ) -> Vec<ConsumerHandle> {
        let group = format!("{}{group}", self.config.kafka.topic_prefix);
        let topics: Vec<String> = sources.iter().map(|source| self.topic_of(source)).collect();
        self.track_consumer(&group, &topics);
        let (handles, links): (Vec<_>, Vec<_>) = (0..members.max(1)).map(|_| ConsumerHandle::detached()).unzip();
        let (pool, kafka, dead_letters, shutdown) =
            (self.pool.clone(), self.kafka.clone(), self.dead_letter_topic(), self.shutdown());
        let (partitions, replication) = (self.config.kafka.partitions, self.config.kafka.replication_factor);
        self.spawn(async move {
            let mut needed = topics.clone();
            needed.push(dead_letters.clone());
            if !topics::ensure_topics_eventually(&kafka.brokers, &needed, partitions, replication, shutdown.clone())
                .await
            {
                return;
            }
            // Each member a task of its own (they apply side by side), all ended with this one.
            let mut running = JoinSet::new();
            for link in links {
                let made = IdempotentConsumer::linked(
                    &group,
                    &topics,
                    dead_letters.clone(),
                    pool.clone(),
                    kafka.clone(),
                    handler.clone(),
                    link,
                );
                match made {
                    Ok(consumer) => {
                        running.spawn(consumer.run(shutdown.clone()));
                    }
                    Err(e) => tracing::error!(consumer = %group, error = %e, "cannot create consumer"),
                }
            }
            while running.join_next().await.is_some() {}
        });
        handles
    }

    /// Reports consumer group `group` (reading `topics`) in the admin API's backlog.
    fn track_consumer(&mut self, group: &str, topics: &[String]) {
        if !self.consumers.iter().any(|c| c.group == group) {
            self.consumers.push(TrackedConsumer { group: group.to_string(), topics: topics.to_vec() });
        }
    }

    /// How the admin API finds this service's sagas that stopped moving.
    pub fn stuck_sagas(&mut self, queries: &[StuckQuery]) {
        self.stuck.extend_from_slice(queries);
    }

    /// The gRPC router a hosted service serves: health, and reflection (v1 and v1alpha) listing
    /// the service's APIs (`api_names`) and the admin API that [`Host::serve`] mounts, so
    /// grpcurl and other reflection clients see `tuan.admin.v1.Admin` too (its descriptor is in
    /// `tuan_proto::FILE_DESCRIPTOR_SET`, registered with both). Pass the result to
    /// [`Host::serve`].
    pub fn router(
        api_names: &[&str],
    ) -> anyhow::Result<(tuan_runtime::grpc::ServiceRouter, tonic_health::server::HealthReporter)> {
        let mut names = api_names.to_vec();
        names.push(<AdminServer<AdminApi> as tonic::server::NamedService>::NAME);
        tuan_runtime::grpc::router(&names)
    }

    /// Serves `router` (from [`Host::router`]) until `stop` resolves, then stops accepting
    /// calls, lets in-flight calls finish, and gives background tasks [`DRAIN_TIMEOUT`] to
    /// commit and exit.
    pub async fn serve(
        self,
        router: tuan_runtime::grpc::ServiceRouter,
        stop: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let Host { service, listener, trigger, mut tasks, pool, kafka, config, projections, consumers, stuck, .. } =
            self;
        // Every service with a database serves the operator-only admin API (see [`admin`]).
        let admin = AdminApi::new(service, pool, kafka, projections, consumers, stuck);
        let keys = TokenKeys::new(&config.auth);
        let router = router.add_service(AdminServer::with_interceptor(admin, AuthInterceptor::new(keys)));
        let mut server_shutdown = trigger.subscribe();
        let server = tuan_runtime::grpc::serve(router, listener, async move { server_shutdown.wait().await });
        tokio::pin!(server);
        let result = tokio::select! {
            r = &mut server => r,
            _ = stop => {
                trigger.trigger();
                server.await
            }
        };
        trigger.trigger();
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(service, "background tasks did not finish in time");
        }
        tracing::info!(service, "stopped");
        Ok(result?)
    }
}

/// The outbox backlog, the dead letters waiting and the connection pool: every service's gauges.
async fn report_store_gauges(pool: PgPool) -> anyhow::Result<()> {
    // Each figure on its own: with the database down, the pool figures still tell why.
    let (size, idle) = (pool.size(), pool.num_idle() as u32);
    metrics::gauge!("tuan_db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("tuan_db_pool_connections", "state" => "used").set(f64::from(size.saturating_sub(idle)));
    let store = tuan_eventstore::EventStore::new(pool);
    if let Ok((rows, age)) = store.outbox_backlog().await {
        metrics::gauge!("tuan_outbox_backlog").set(rows as f64);
        metrics::gauge!("tuan_outbox_oldest_age_seconds").set(age);
    }
    let waiting = store.dead_letters_waiting().await?;
    metrics::gauge!("tuan_dead_letters_waiting").set(waiting as f64);
    Ok(())
}
