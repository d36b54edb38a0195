use gateway::{Application, config::GatewayConfig, startup::health_check};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = GatewayConfig::load()?;
    match std::env::args().nth(1).as_deref() {
        None => {}
        // Nothing to migrate: the gateway has no database.
        Some("--migrate-only") => return Ok(()),
        Some("--health-check") => return health_check(&config).await,
        Some("--check-config") if std::env::args().nth(2).as_deref() == Some("--migrate-only") => {
            println!("gateway: migration settings OK (it has nothing to migrate)");
            return Ok(());
        }
        Some("--check-config") => return config.check_deployment().map(|()| println!("gateway: settings OK")),
        Some(other) => anyhow::bail!("unknown argument {other}; use --migrate-only, --health-check or --check-config"),
    }
    let telemetry = tuan_runtime::telemetry::init("gateway", &config.common.telemetry)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "gateway listening");
    let result = app.run_until_stopped(tuan_runtime::shutdown::signal()).await;
    telemetry.shutdown().await;
    result
}
