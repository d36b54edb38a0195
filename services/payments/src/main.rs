use payments::{Application, config::PaymentsConfig, startup::projections};
use tuan_host::Mode;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = PaymentsConfig::load()?;
    match Mode::from_args()? {
        Mode::MigrateOnly => {
            let pool = tuan_host::migrate(&config.common, &projections()).await?;
            return Ok(payments::store::install_public(&pool).await?);
        }
        Mode::HealthCheck => return tuan_host::health_check(&config.common).await,
        Mode::CheckConfig => return config.check().map(|()| println!("payments: settings OK")),
        Mode::CheckMigrateConfig => {
            return config.common.check_database().map(|()| println!("payments: migration settings OK"));
        }
        Mode::Serve => {}
    }
    let telemetry = tuan_runtime::telemetry::init("payments", &config.common.telemetry)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "payments service listening");
    let result = app.run_until_stopped(tuan_runtime::shutdown::signal()).await;
    telemetry.shutdown().await;
    result
}
