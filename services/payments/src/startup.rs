//! Wires the payments service together: host, provider, use cases, consumers, background
//! workers, gRPC API.

use std::{sync::Arc, time::Duration};

use tonic::server::NamedService;
use tuan_eventstore::ProjectionSet;
use tuan_host::{Host, admin::StuckQuery};
use tuan_messaging::{ConsumerHandle, IdempotentConsumer, social::SocialGraph};
use tuan_runtime::auth::{AuthInterceptor, TokenKeys};

use crate::{
    api::{PaymentsApi, PaymentsServiceServer},
    app::{PaymentsApp, Settings},
    config::{PaymentsConfig, PaymentsSettings, ProviderKind, SERVICE, WeChatPaySettings},
    consumers::{CirclesHandler, GroupBuyHandler},
    domain::{FeeRate, limits::DailyLimits},
    provider::{Confirmation, PaymentProvider, SimulatedProvider},
    store::{self, PaymentsProjection},
    wechat::{MerchantKey, NotificationCheck, WeChatPay, WeChatPayConfig, notify},
};
use secrecy::ExposeSecret;
use tokio::sync::mpsc::UnboundedReceiver;

/// Sagas the admin API reports when they have not moved for a while (see `tuan_host::admin`):
/// holds placed and past their expiry (the expiry scan should have released them), and top-ups
/// or withdrawals still waiting on the provider.
const STUCK_SAGAS: [StuckQuery; 2] = [
    StuckQuery {
        kind: "hold",
        sql: "SELECT h.hold_id::text AS id, h.status AS state, \
              EXTRACT(EPOCH FROM now() - h.expires_at)::float8 AS age_seconds, \
              (SELECT e.event_type FROM public.events e WHERE e.stream_type = 'hold' \
               AND e.stream_id = h.hold_id::text ORDER BY e.version DESC LIMIT 1) AS last_step, \
              'payer ' || h.user_id || ', ' || h.remaining || ' ' || h.currency || ' held, campaign ' \
              || h.campaign_id || ', expired ' || h.expires_at AS detail \
              FROM holds h WHERE h.status = 'placed' \
              AND h.expires_at < now() - make_interval(secs => $1) ORDER BY h.expires_at LIMIT $2",
    },
    StuckQuery {
        kind: "provider_request",
        sql: "SELECT r.request_id::text AS id, r.status AS state, \
              EXTRACT(EPOCH FROM now() - r.requested_at)::float8 AS age_seconds, \
              (SELECT e.event_type FROM public.events e WHERE e.stream_type = r.kind \
               AND e.stream_id = r.request_id::text ORDER BY e.version DESC LIMIT 1) AS last_step, \
              r.kind || ' of ' || r.amount || ' ' || r.currency || ' for ' || r.user_id || ', ' || r.attempts \
              || ' attempts' AS detail \
              FROM provider_requests r WHERE r.status = 'pending' \
              AND r.requested_at < now() - make_interval(secs => $1) ORDER BY r.requested_at LIMIT $2",
    },
];

/// The payments service, built and ready to serve.
pub struct Application {
    host: Host,
    app: PaymentsApp,
    keys: TokenKeys,
    /// Every consumer's handle, held while the service runs: a consumer whose handle is dropped
    /// finds its pause channel closed and polls it in a tight loop (a core's worth of CPU).
    _consumers: Vec<ConsumerHandle>,
    /// Where WeChat Pay notifications are received, with that provider.
    notify_port: Option<u16>,
}

/// The provider the settings name, and where its confirmations arrive.
fn provider(p: &PaymentsSettings) -> anyhow::Result<(Arc<dyn PaymentProvider>, UnboundedReceiver<Confirmation>)> {
    Ok(match p.provider_kind {
        ProviderKind::Simulated => {
            let (provider, confirmations) = SimulatedProvider::new(p.provider.clone());
            (provider, confirmations)
        }
        ProviderKind::Wechat => {
            let w = &p.wechat;
            let merchant = MerchantKey::from_pem(w.merchant_private_key.expose_secret(), &w.mchid, &w.merchant_serial)?;
            let (provider, confirmations) = WeChatPay::new(WeChatPayConfig {
                base_url: w.base_url.clone(),
                app_id: w.app_id.clone(),
                merchant,
                notify_url: w.notify_url.clone(),
                description: w.description.clone(),
                order_ttl: Duration::from_secs(w.order_ttl_secs),
                timeout: Duration::from_millis(w.timeout_ms),
            })?;
            (provider, confirmations)
        }
    })
}

/// Serves WeChat Pay's notifications (`wechat::notify`), applying each through `app`.
async fn serve_notifications(host: &mut Host, w: &WeChatPaySettings, app: &PaymentsApp) -> anyhow::Result<u16> {
    let check = NotificationCheck::new(
        &w.platform_public_key,
        &w.platform_public_key_id,
        w.api_v3_key.expose_secret(),
        Duration::from_secs(w.timestamp_tolerance_secs),
    )?;
    let applying = app.clone();
    let apply: notify::Apply = Arc::new(move |confirmation| {
        let app = applying.clone();
        Box::pin(async move { app.confirm(&confirmation).await.map_err(|e| e.message) })
    });
    let listener = tokio::net::TcpListener::bind(&w.notify_addr).await?;
    let port = listener.local_addr()?.port();
    let router = notify::router(check, &w.mchid, &w.app_id, apply);
    let mut shutdown = host.shutdown();
    host.spawn(async move {
        if let Err(e) = notify::serve(listener, router, async move { shutdown.wait().await }).await {
            tracing::error!(error = %e, "the WeChat Pay notify endpoint stopped");
        }
    });
    tracing::info!(port, "WeChat Pay notifications on {}", notify::PATH);
    Ok(port)
}

impl Application {
    pub async fn build(config: PaymentsConfig) -> anyhow::Result<Self> {
        config.check()?;
        let projections = projections();
        let mut host = Host::start(SERVICE, &config.common, &projections).await?;
        store::install_public(&host.pool).await?;
        let keys = TokenKeys::new(&config.common.auth);
        let p = &config.payments;
        let settings = Settings {
            fee_rate: FeeRate::from_basis_points(p.fee_basis_points)?,
            default_hold_ttl: Duration::from_secs(p.default_hold_ttl_secs),
            resubmit_after: Duration::from_secs(p.provider.resubmit_after_secs),
            daily_limits: DailyLimits::parse(
                &p.daily_limits.top_up,
                &p.daily_limits.withdrawal,
                &p.daily_limits.transfer,
            )?,
        };
        let (provider, confirmations) = provider(p)?;
        let app = PaymentsApp::new(host.pool.clone(), projections, provider, settings);
        let notify_port = match p.provider_kind {
            ProviderKind::Wechat => Some(serve_notifications(&mut host, &p.wechat, &app).await?),
            ProviderKind::Simulated => None,
        };

        let prefix = &config.common.kafka.topic_prefix;
        let (users, users_handle) = IdempotentConsumer::new(
            &format!("{prefix}payments.users"),
            &[host.topic_of("users")],
            host.dead_letter_topic(),
            host.pool.clone(),
            host.kafka.clone(),
            SocialGraph,
        )?;
        let (circles, circles_handle) = IdempotentConsumer::new(
            &format!("{prefix}payments.circles"),
            &[host.topic_of("circles")],
            host.dead_letter_topic(),
            host.pool.clone(),
            host.kafka.clone(),
            CirclesHandler,
        )?;
        let (hold_consumers, mut handles): (Vec<_>, Vec<_>) = (0..p.hold_consumers.max(1))
            .map(|_| {
                IdempotentConsumer::new(
                    &format!("{prefix}payments.groupbuy"),
                    &[host.topic_of("groupbuy")],
                    host.dead_letter_topic(),
                    host.pool.clone(),
                    host.kafka.clone(),
                    GroupBuyHandler { app: app.clone() },
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        handles.push(users_handle);
        handles.push(circles_handle);
        // Topics of services that may not run yet are created here, so subscribing works.
        let topics = vec![host.topic_of("users"), host.topic_of("circles"), host.topic_of("groupbuy")];
        let (brokers, partitions, replication) = (
            config.common.kafka.brokers.clone(),
            config.common.kafka.partitions,
            config.common.kafka.replication_factor,
        );
        let shutdown = host.shutdown();
        host.spawn(async move {
            if tuan_messaging::topics::ensure_topics_eventually(
                &brokers,
                &topics,
                partitions,
                replication,
                shutdown.clone(),
            )
            .await
            {
                let holds = futures::future::join_all(hold_consumers.into_iter().map(|c| c.run(shutdown.clone())));
                tokio::join!(users.run(shutdown.clone()), circles.run(shutdown.clone()), holds);
            }
        });
        let shutdown = host.shutdown();
        host.spawn(app.clone().run_dispatcher(shutdown));
        host.sample_gauges("sagas and holds", Duration::from_secs(5), crate::app::gauges::sample);
        let shutdown = host.shutdown();
        host.spawn(app.clone().run_confirmations(confirmations, shutdown));
        let shutdown = host.shutdown();
        host.spawn(app.clone().run_expiry(Duration::from_millis(p.expiry_scan_interval_ms), shutdown));
        host.track_consumer(&format!("{prefix}payments.users"), &[host.topic_of("users")]);
        host.track_consumer(&format!("{prefix}payments.circles"), &[host.topic_of("circles")]);
        host.track_consumer(&format!("{prefix}payments.groupbuy"), &[host.topic_of("groupbuy")]);
        host.stuck_sagas(&STUCK_SAGAS);
        Ok(Self { host, app, keys, _consumers: handles, notify_port })
    }

    pub fn port(&self) -> u16 {
        self.host.port()
    }

    /// The port of the WeChat Pay notify endpoint, with that provider.
    pub fn notify_port(&self) -> Option<u16> {
        self.notify_port
    }

    pub fn app(&self) -> &PaymentsApp {
        &self.app
    }

    /// Serves until `stop` resolves, then drains.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let (router, health) = Host::router(&[PaymentsServiceServer::<PaymentsApi>::NAME])?;
        health.set_serving::<PaymentsServiceServer<PaymentsApi>>().await;
        let api = PaymentsServiceServer::with_interceptor(PaymentsApi::new(self.app), AuthInterceptor::new(self.keys));
        self.host.serve(router.add_service(api), stop).await
    }
}

/// The read models kept inline with the payments event store.
pub fn projections() -> ProjectionSet {
    ProjectionSet::new(vec![Arc::new(PaymentsProjection)])
}
