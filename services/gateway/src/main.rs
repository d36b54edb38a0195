use gateway::{Application, config::GatewayConfig, startup::health_check};
use tuan_runtime::mode::Mode;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = GatewayConfig::load()?;
    match Mode::from_args()? {
        Mode::Serve => {}
        // Nothing to migrate: the gateway has no database.
        Mode::MigrateOnly => return Ok(()),
        Mode::HealthCheck => return health_check(&config).await,
        Mode::CheckConfig => return config.check_deployment().map(|()| println!("gateway: settings OK")),
        Mode::CheckMigrateConfig => {
            println!("gateway: migration settings OK (it has nothing to migrate)");
            return Ok(());
        }
    }
    let telemetry = tuan_runtime::telemetry::init("gateway", &config.common.telemetry)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "gateway listening");
    let result = app.run_until_stopped(tuan_runtime::shutdown::signal()).await;
    telemetry.shutdown().await;
    result
}
