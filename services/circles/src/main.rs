use circles::{Application, config::CirclesConfig, startup::projections};
use tuan_host::Mode;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = CirclesConfig::load()?;
    match Mode::from_args()? {
        Mode::MigrateOnly => {
            let pool = tuan_host::migrate(&config.common, &projections()).await?;
            return Ok(circles::store::feeds::install(&pool).await?);
        }
        Mode::HealthCheck => return tuan_host::health_check(&config.common).await,
        Mode::CheckConfig => return config.check().map(|()| println!("circles: settings OK")),
        Mode::CheckMigrateConfig => {
            return config.common.check_database().map(|()| println!("circles: migration settings OK"));
        }
        Mode::Serve => {}
    }
    let telemetry = tuan_runtime::telemetry::init("circles", &config.common.telemetry)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "circles service listening");
    let result = app.run_until_stopped(tuan_runtime::shutdown::signal()).await;
    telemetry.shutdown().await;
    result
}
