//! Broadcast fan-out to 100,000 followers: deliveries/s beside a raw multi-row INSERT of the
//! same inbox rows, from one run; then timeline read latency (p50/p99) over 300,000 rows.
//!
//! `cargo run --release -p tuan-bench --bin fanout [followers]`

use std::time::{Duration, Instant};

use chrono::Utc;
use circles::{Application, config::CirclesConfig};
use futures::{StreamExt, stream};
use tonic::{Request, transport::Channel};
use tuan_bench::{percentile, rate, timed};
use tuan_proto::circles::v1::{self as pb, circles_service_client::CirclesServiceClient};
use tuan_runtime::auth::{Caller, TokenKeys};
use tuan_testkit::{OwnBroker, TestDb};
use uuid::Uuid;

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

async fn wait_rows(pool: &sqlx::PgPool, sql: &str, expected: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(pool).await?;
        if n >= expected {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "only {n} of {expected} rows after 300 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let followers: i64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let broker = OwnBroker::start();
    let db = TestDb::new().await;
    let mut config = CirclesConfig::default();
    config.common.environment = tuan_runtime::config::Environment::Development;
    config.common.grpc_addr = "127.0.0.1:0".parse()?;
    config.common.metrics_addr = None;
    config.common.database.url = db.url.clone().into();
    config.common.kafka.brokers = broker.address();
    config.common.kafka.topic_prefix = tuan_testkit::unique_prefix();
    let keys = TokenKeys::new(&config.common.auth);
    let token = |user: Uuid| {
        keys.issue(
            &Caller { user_id: user, session_id: Uuid::now_v7(), roles: vec![] },
            Utc::now(),
            chrono::Duration::hours(1),
        )
        .map(|t| t.0)
    };
    let app = Application::build(config).await?;
    let port = app.port();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let mut client: CirclesServiceClient<Channel> =
        CirclesServiceClient::connect(format!("http://127.0.0.1:{port}")).await?;

    let merchant = Uuid::now_v7();
    sqlx::query("INSERT INTO public.merchants (user_id, verified_at) VALUES ($1, now())")
        .bind(merchant)
        .execute(&db.pool)
        .await?;
    let merchant_token = token(merchant)?;
    let account = client
        .open_public_account(authed(
            &merchant_token,
            pb::OpenPublicAccountRequest { name: "Bench Fruit".into(), description: String::new() },
        ))
        .await?
        .into_inner();
    let account_id = Uuid::parse_str(&account.account_id)?;
    // Followers are inserted directly: following is not what is measured.
    sqlx::query(
        "INSERT INTO proj.follows (account_id, user_id, muted, since) \
         SELECT $1, gen_random_uuid(), false, now() FROM generate_series(1, $2)",
    )
    .bind(account_id)
    .bind(followers)
    .execute(&db.pool)
    .await?;

    let count_inbox = "SELECT count(*) FROM public.inbox";
    let (result, fanout) = timed(async {
        client
            .broadcast(authed(
                &merchant_token,
                pb::BroadcastRequest {
                    account_id: account.account_id.clone(),
                    text: "flash sale at 8".into(),
                    card: None,
                },
            ))
            .await?;
        wait_rows(&db.pool, count_inbox, followers).await
    })
    .await;
    result?;

    sqlx::raw_sql("CREATE TABLE raw_inbox (LIKE public.inbox INCLUDING ALL)").execute(&db.pool).await?;
    let owners: Vec<Uuid> = sqlx::query_scalar("SELECT user_id FROM proj.follows WHERE account_id = $1")
        .bind(account_id)
        .fetch_all(&db.pool)
        .await?;
    let (result, raw) = timed(
        sqlx::query(
            "INSERT INTO raw_inbox (owner_id, created_at, broadcast_id, account_id) \
             SELECT o, now(), $2, $3 FROM UNNEST($1::uuid[]) AS o",
        )
        .bind(&owners)
        .bind(Uuid::now_v7())
        .bind(account_id)
        .execute(&db.pool),
    )
    .await;
    result?;
    let (ours, baseline) = (rate(followers as u64, fanout), rate(followers as u64, raw));
    println!("broadcast fan-out to {followers} followers (request -> every inbox row committed)");
    println!("  fan-out: {:.2} s = {ours:.0} deliveries/s", fanout.as_secs_f64());
    println!("  raw multi-row INSERT of the same rows: {:.2} s = {baseline:.0} rows/s", raw.as_secs_f64());
    println!("  ratio: {:.2}", ours / baseline);

    // Timelines: one author with `followers` friends posts 3 moments.
    let author = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO public.friends (user_id, friend_id) SELECT $1, user_id FROM proj.follows WHERE account_id = $2",
    )
    .bind(author)
    .bind(account_id)
    .execute(&db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO public.friends (user_id, friend_id) SELECT user_id, $1 FROM proj.follows WHERE account_id = $2",
    )
    .bind(author)
    .bind(account_id)
    .execute(&db.pool)
    .await?;
    let author_token = token(author)?;
    for i in 0..3 {
        client
            .post_moment(authed(&author_token, pb::PostMomentRequest { text: format!("moment {i}"), card: None }))
            .await?;
    }
    wait_rows(&db.pool, "SELECT count(*) FROM public.timeline", 3 * followers).await?;
    // Fixtures were bulk-loaded a moment ago; give the planner the statistics autovacuum would.
    sqlx::raw_sql("ANALYZE").execute(&db.pool).await?;
    let readers: Vec<String> =
        owners.iter().step_by((owners.len() / 1000).max(1)).take(1000).map(|u| token(*u)).collect::<Result<_, _>>()?;
    let mut latencies: Vec<Duration> = stream::iter(readers)
        .map(|t| {
            let mut client = client.clone();
            async move {
                let start = Instant::now();
                let page = client
                    .get_timeline(authed(&t, pb::GetTimelineRequest { page: None }))
                    .await
                    .expect("timeline")
                    .into_inner();
                assert_eq!(page.moments.len(), 3);
                start.elapsed()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    println!(
        "timeline reads (1000 readers, 16 concurrent, {} timeline rows): p50 {:.2} ms, p99 {:.2} ms",
        3 * followers,
        percentile(&mut latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&mut latencies, 99.0).as_secs_f64() * 1e3
    );
    Ok(())
}
