use groupbuy::{Application, config::GroupBuyConfig, startup::projections};
use tuan_host::Mode;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = GroupBuyConfig::load()?;
    match Mode::from_args()? {
        Mode::MigrateOnly => {
            let pool = tuan_host::migrate(&config.common, &projections()).await?;
            return Ok(groupbuy::store::external::install(&pool).await?);
        }
        Mode::HealthCheck => return tuan_host::health_check(&config.common).await,
        Mode::CheckConfig => return config.check().map(|()| println!("groupbuy: settings OK")),
        Mode::CheckMigrateConfig => {
            return config.common.check_database().map(|()| println!("groupbuy: migration settings OK"));
        }
        Mode::Serve => {}
    }
    let telemetry = tuan_runtime::telemetry::init("groupbuy", &config.common.telemetry)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "groupbuy service listening");
    let result = app.run_until_stopped(tuan_runtime::shutdown::signal()).await;
    telemetry.shutdown().await;
    result
}
