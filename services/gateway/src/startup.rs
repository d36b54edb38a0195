//! Wires the gateway together: backend channels, the API behind its auth and rate-limit
//! layers (and gRPC-Web with CORS in front of them), health and reflection. No database, no
//! Kafka.

use std::time::Duration;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic_web::GrpcWebLayer;
use tower::ServiceBuilder;
use tower_http::cors::CorsLayer;
use tuan_runtime::auth::TokenKeys;

use crate::{
    api::{
        GatewayApi, MobileGatewayServer,
        auth::AuthLayer,
        console::Console,
        limits::{ClientAddress, Limits, Rate, RateLimitLayer},
        web,
    },
    app::GatewayApp,
    config::GatewayConfig,
};

/// How often idle rate-limit keys are forgotten.
const LIMITS_SWEEP: Duration = Duration::from_secs(60);

/// The gateway, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    app: GatewayApp,
    keys: TokenKeys,
    limits: Limits,
    client: ClientAddress,
    cors: CorsLayer,
    console: Option<Console>,
}

impl Application {
    pub async fn build(config: GatewayConfig) -> anyhow::Result<Self> {
        config.check()?;
        // RPC metrics come from the shared router's layer; this serves them.
        tuan_runtime::metrics::install(crate::config::SERVICE, config.common.metrics_addr)?;
        let app = GatewayApp::new(&config.gateway)?;
        let settings = &config.gateway;
        let limits = Limits::new(
            Rate { per_second: settings.ip_rate_per_sec, burst: settings.ip_burst },
            Rate { per_second: settings.user_rate_per_sec, burst: settings.user_burst },
        );
        let client = ClientAddress::new(&settings.trusted_proxies)?;
        let cors = web::cors(&settings.cors_origins)?;
        let console = (!settings.console_dir.is_empty()).then(|| Console::new(&settings.console_dir));
        let listener = TcpListener::bind(config.common.grpc_addr).await?;
        Ok(Self { listener, app, keys: TokenKeys::new(&config.common.auth), limits, client, cors, console })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// Serves until `stop` resolves, then lets in-flight calls finish.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        // HTTP/1.1 too, for gRPC-Web from browsers.
        let (router, health) = tuan_runtime::grpc::router_accepting_http1(&[MobileGatewayServer::<GatewayApi>::NAME])?;
        health.set_serving::<MobileGatewayServer<GatewayApi>>().await;
        let api = ServiceBuilder::new()
            .layer(AuthLayer::new(self.keys))
            .layer(RateLimitLayer::new(self.limits.clone(), self.client))
            .service(MobileGatewayServer::new(GatewayApi::new(self.app)));
        // CORS answers preflights before auth; grpc-web is translated to gRPC before auth sees it.
        let api = web::named(ServiceBuilder::new().layer(self.cors).layer(GrpcWebLayer::new()), api);
        let limits = self.limits;
        let sweeper = tokio::spawn(async move {
            loop {
                tokio::time::sleep(LIMITS_SWEEP).await;
                limits.forget_idle();
            }
        });
        // The console's static files under /console/ (plain GETs, no auth: they hold no data).
        let router = router.add_service(api).add_optional_service(self.console);
        let result = tuan_runtime::grpc::serve(router, self.listener, stop).await;
        sweeper.abort();
        tracing::info!("gateway stopped");
        Ok(result?)
    }
}

/// `--health-check`: asks the gateway on this machine's `grpc_addr` port whether it serves.
pub async fn health_check(config: &GatewayConfig) -> anyhow::Result<()> {
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
    let url = format!("http://127.0.0.1:{}", config.common.grpc_addr.port());
    let channel =
        tonic::transport::Endpoint::from_shared(url)?.connect_timeout(Duration::from_secs(2)).connect().await?;
    let reply = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await?.into_inner();
    anyhow::ensure!(reply.status() == ServingStatus::Serving, "not serving: {:?}", reply.status());
    Ok(())
}
