use circles::{Application, config::CirclesConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = CirclesConfig::load()?;
    let telemetry = tuan_runtime::telemetry::init("circles", &config.common.telemetry)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "circles service listening");
    let result = app.run_until_stopped(tuan_runtime::shutdown::signal()).await;
    telemetry.shutdown().await;
    result
}
