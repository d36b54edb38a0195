//! Wallet transfers per second through the payments gRPC API, beside pgbench's TPC-B-like run
//! (also a balance transfer with a history row) on the same Postgres, from one run.
//!
//! `cargo run --release -p tuan-bench --bin transfers [seconds]`

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::join_all;
use payments::{Application, config::PaymentsConfig};
use tonic::{Request, transport::Channel};
use tuan_bench::{pgbench_tpcb, rate};
use tuan_proto::payments::v1::{self as pb, payments_service_client::PaymentsServiceClient};
use tuan_runtime::auth::{Caller, TokenKeys};
use tuan_testkit::{OwnBroker, TestDb};
use uuid::Uuid;

const PAIRS: usize = 32;

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

async fn transfers(
    client: &PaymentsServiceClient<Channel>,
    pairs: &[(String, Uuid)],
    clients: usize,
    secs: u64,
) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tasks = pairs.iter().take(clients).map(|(token, to)| {
        let mut client = client.clone();
        async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let request = pb::TransferRequest {
                    to_user_id: to.to_string(),
                    amount: "0.01".into(),
                    currency: "CNY".into(),
                    memo: String::new(),
                    idempotency_key: Uuid::now_v7().to_string(),
                };
                client.transfer(authed(token, request)).await.expect("transfer");
                done += 1;
            }
            done
        }
    });
    join_all(tasks).await.into_iter().sum()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs: u64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(10);
    let broker = OwnBroker::start();
    let db = TestDb::new().await;
    let mut config = PaymentsConfig::default();
    config.common.environment = tuan_runtime::config::Environment::Development;
    config.common.grpc_addr = "127.0.0.1:0".parse()?;
    config.common.metrics_addr = None;
    config.common.database.url = db.url.clone().into();
    config.common.database.max_connections = 40;
    config.common.kafka.brokers = broker.address();
    config.common.kafka.topic_prefix = tuan_testkit::unique_prefix();
    config.payments.provider.min_latency_ms = 0;
    config.payments.provider.max_latency_ms = 0;
    config.payments.provider.failure_rate = 0.0;
    let keys = TokenKeys::new(&config.common.auth);
    let app = Application::build(config).await?;
    let port = app.port();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = PaymentsServiceClient::connect(format!("http://127.0.0.1:{port}")).await?;

    // Pairs of friends; each sender gets a large balance.
    let mut pairs = Vec::new();
    for _ in 0..PAIRS {
        let (from, to) = (Uuid::now_v7(), Uuid::now_v7());
        sqlx::query("INSERT INTO public.friends (user_id, friend_id) VALUES ($1, $2), ($2, $1)")
            .bind(from)
            .bind(to)
            .execute(&db.pool)
            .await?;
        let token = keys
            .issue(
                &Caller { user_id: from, session_id: Uuid::now_v7(), roles: vec![] },
                Utc::now(),
                chrono::Duration::hours(1),
            )?
            .0;
        let top_up = pb::TopUpRequest {
            amount: "100000.00".into(),
            currency: "CNY".into(),
            idempotency_key: Uuid::now_v7().to_string(),
        };
        client.clone().top_up(authed(&token, top_up)).await?;
        pairs.push((token, to));
    }
    for (token, _) in &pairs {
        loop {
            let wallet = client.clone().get_wallet(authed(token, pb::GetWalletRequest::default())).await?.into_inner();
            if wallet.balances.iter().any(|b| b.currency == "CNY" && b.available == "100000.00") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    println!("transfers through gRPC vs pgbench tpcb-like on the same Postgres ({secs} s each)");
    println!("{:>8} {:>14} {:>14} {:>7}", "clients", "transfers/s", "pgbench tps", "ratio");
    for clients in [1, 32] {
        let done = transfers(&client, &pairs, clients, secs).await;
        let ours = rate(done, Duration::from_secs(secs));
        let baseline = tokio::task::spawn_blocking(move || pgbench_tpcb(clients, secs as u32)).await??;
        println!("{clients:>8} {ours:>14.0} {baseline:>14.0} {:>7.2}", ours / baseline);
    }
    let negative: i64 =
        sqlx::query_scalar("SELECT count(*) FROM proj.account_balances WHERE balance < 0 AND account LIKE 'wallet:%'")
            .fetch_one(&db.pool)
            .await?;
    println!("wallets below zero after the run: {negative}");
    Ok(())
}
