use tuan_host::Mode;
use users::{Application, config::UsersConfig, startup::projections};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = UsersConfig::load()?;
    match Mode::from_args()? {
        Mode::MigrateOnly => {
            let pool = tuan_host::migrate(&config.common, &projections()).await?;
            return Ok(users::store::discovery::install(&pool).await?);
        }
        Mode::HealthCheck => return tuan_host::health_check(&config.common).await,
        Mode::Serve => {}
    }
    let telemetry = tuan_runtime::telemetry::init("users", &config.common.telemetry)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "users service listening");
    let result = app.run_until_stopped(tuan_runtime::shutdown::signal()).await;
    telemetry.shutdown().await;
    result
}
