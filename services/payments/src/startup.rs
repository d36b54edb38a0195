//! Wires the payments service together: host, provider, use cases, consumers, background
//! workers, gRPC API.

use std::{sync::Arc, time::Duration};

use tonic::server::NamedService;
use tuan_eventstore::ProjectionSet;
use tuan_host::Host;
use tuan_messaging::social::SocialGraph;
use tuan_runtime::auth::{AuthInterceptor, TokenKeys};

use crate::{
    api::{PaymentsApi, PaymentsServiceServer},
    app::{PaymentsApp, Settings},
    config::{PaymentsConfig, PaymentsSettings, ProviderKind, SERVICE, WeChatPaySettings},
    consumers::{CirclesHandler, GroupBuyHandler},
    domain::{FeeRate, limits::DailyLimits},
    provider::{Confirmation, PaymentProvider, SimulatedProvider},
    store::{self, PaymentsProjection, queries::STUCK_SAGAS},
    wechat::{MerchantKey, NotificationCheck, WeChatPay, WeChatPayConfig, notify},
};
use secrecy::ExposeSecret;
use tokio::sync::mpsc::UnboundedReceiver;

/// The payments service, built and ready to serve.
pub struct Application {
    host: Host,
    app: PaymentsApp,
    keys: TokenKeys,
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

        // The users, circles and group-buy topics are created if missing (those services may
        // not run yet), so subscribing works.
        host.consume("payments.users", &["users"], 1, SocialGraph);
        host.consume("payments.circles", &["circles"], 1, CirclesHandler);
        let holds = GroupBuyHandler { app: app.clone() };
        host.consume("payments.groupbuy", &["groupbuy"], p.hold_consumers as usize, holds);
        let shutdown = host.shutdown();
        host.spawn(app.clone().run_dispatcher(shutdown));
        host.sample_gauges("sagas and holds", Duration::from_secs(5), crate::app::gauges::sample);
        let shutdown = host.shutdown();
        host.spawn(app.clone().run_confirmations(confirmations, shutdown));
        let shutdown = host.shutdown();
        host.spawn(app.clone().run_expiry(Duration::from_millis(p.expiry_scan_interval_ms), shutdown));
        host.stuck_sagas(&STUCK_SAGAS);
        Ok(Self { host, app, keys, notify_port })
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
