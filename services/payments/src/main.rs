use payments::{Application, config::PaymentsConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = PaymentsConfig::load()?;
    let telemetry = tuan_runtime::telemetry::init("payments", &config.common.telemetry)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "payments service listening");
    let result = app.run_until_stopped(tuan_runtime::shutdown::signal()).await;
    telemetry.shutdown().await;
    result
}
