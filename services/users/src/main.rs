use users::{Application, config::UsersConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = UsersConfig::load()?;
    let telemetry = tuan_runtime::telemetry::init("users", &config.common.telemetry)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "users service listening");
    let result = app.run_until_stopped(tuan_runtime::shutdown::signal()).await;
    telemetry.shutdown().await;
    result
}
