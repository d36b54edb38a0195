use tuan_host::Mode;
use users::{Application, app::roles, config::UsersConfig, startup::projections};

const USAGE: &str = "users [--migrate-only | --health-check | grant-operator <phone>]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = UsersConfig::load()?;
    // `users grant-operator +8613800000000`: the first operator is made from inside the
    // deployment (kubectl exec), with database access; later ones by an operator (GrantRole).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some("grant-operator") = args.first().map(String::as_str) {
        let [_, phone] = &args[..] else { anyhow::bail!("usage: {USAGE}") };
        let pool = tuan_host::migrate(&config.common, &projections()).await?;
        users::store::install(&pool).await?;
        let user_id = roles::grant_operator_in_deployment(&pool, projections(), phone)
            .await
            .map_err(|e| anyhow::anyhow!("grant-operator {phone}: {}", e.message))?;
        println!("{phone} (user {user_id}) is an operator");
        return Ok(());
    }
    match Mode::from_args()? {
        Mode::MigrateOnly => {
            let pool = tuan_host::migrate(&config.common, &projections()).await?;
            return Ok(users::store::install(&pool).await?);
        }
        Mode::HealthCheck => return tuan_host::health_check(&config.common).await,
        Mode::CheckConfig => return config.check().map(|()| println!("users: settings OK")),
        Mode::CheckMigrateConfig => {
            return config.common.check_database().map(|()| println!("users: migration settings OK"));
        }
        Mode::Serve => {}
    }
    let telemetry = tuan_runtime::telemetry::init("users", &config.common.telemetry)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "users service listening");
    let result = app.run_until_stopped(tuan_runtime::shutdown::signal()).await;
    telemetry.shutdown().await;
    result
}
