//! A flash sale: 1,000 units, 20,000 join attempts from 500 concurrent buyers, with the real
//! group-buy and payments services (in this process, own databases, own broker).
//!
//! Prints units sold (must be 1,000), accepted joins/s, saga completion (join accepted ->
//! hold placed -> join confirmed) p50/p99, and pgbench's single-row insert-commit TPS on the
//! same Postgres with the ratio, and where the sagas' time went, step by step. Then two paced
//! sales, for the saga latency at half the maximum rate: one at half the accepted-join rate,
//! one at half the rate the first sale's sagas were completed at.
//!
//! `cargo run --release -p tuan-bench --bin flash_sale [attempts] [clients]`

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use futures::future::join_all;
use groupbuy::config::GroupBuyConfig;
use payments::config::PaymentsConfig;
use tonic::{Code, Request, transport::Channel};
use tuan_bench::{percentile, pgbench, rate};
use tuan_proto::{
    groupbuy::v1::{self as gb, group_buy_service_client::GroupBuyServiceClient},
    payments::v1::{self as pay, payments_service_client::PaymentsServiceClient},
};
use tuan_runtime::auth::{Caller, TokenKeys};
use tuan_testkit::{OwnBroker, TestDb};
use uuid::Uuid;

const UNITS: u32 = 1_000;

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

struct Stack {
    groupbuy: GroupBuyServiceClient<Channel>,
    payments: PaymentsServiceClient<Channel>,
    gb_db: TestDb,
    pay_db: sqlx::PgPool,
    keys: TokenKeys,
}

impl Stack {
    fn token(&self, user: Uuid) -> String {
        let caller = Caller { user_id: user, session_id: Uuid::now_v7(), roles: vec![] };
        self.keys.issue(&caller, Utc::now(), chrono::Duration::hours(2)).unwrap().0
    }

    async fn launch(&self, merchant: &str) -> anyhow::Result<String> {
        let request = gb::LaunchCampaignRequest {
            title: "Flash sale".into(),
            description: "1,000 units at 8 pm".into(),
            list_price: "19.90".into(),
            group_price: "9.90".into(),
            currency: "CNY".into(),
            stock: UNITS,
            per_user_limit: 40,
            starts_at_micros: 0,
            ends_at_micros: (Utc::now() + chrono::Duration::hours(1)).timestamp_micros(),
            mode: Some(gb::launch_campaign_request::Mode::Tipping(gb::TippingSettings { min_buyers: 100 })),
        };
        Ok(self.groupbuy.clone().launch_campaign(authed(merchant, request)).await?.into_inner().campaign_id)
    }

    /// Saga completion (JoinRequested -> JoinConfirmed) of one campaign's joins.
    async fn sagas(&self, campaign: &str) -> anyhow::Result<Sagas> {
        let row: (Option<f64>, Option<f64>, i64, Option<f64>) = sqlx::query_as(
            "WITH j AS (SELECT stream_id, \
                 min(occurred_at) FILTER (WHERE event_type = 'tuan.groupbuy.v1.JoinRequested') AS requested, \
                 min(occurred_at) FILTER (WHERE event_type = 'tuan.groupbuy.v1.JoinConfirmed') AS confirmed \
               FROM events WHERE stream_type = 'join' GROUP BY stream_id), \
             c AS (SELECT j.* FROM j JOIN events e ON e.stream_type = 'join' AND e.stream_id = j.stream_id \
                   AND e.event_type = 'tuan.groupbuy.v1.JoinRequested' \
                   AND position($1::bytea in e.payload) > 0) \
             SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM confirmed - requested) * 1000), \
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM confirmed - requested) * 1000), \
                    count(confirmed), \
                    extract(epoch FROM max(confirmed) - min(requested))::float8 FROM c",
        )
        .bind(campaign.as_bytes())
        .fetch_one(&self.gb_db.pool)
        .await?;
        let (p50, p99, completed, seconds) = row;
        Ok(Sagas {
            p50: p50.unwrap_or_default(),
            p99: p99.unwrap_or_default(),
            completed,
            per_second: completed as f64 / seconds.unwrap_or(f64::INFINITY).max(0.001),
        })
    }

    /// Where a saga's time goes, step by step (p50/p99 ms over the sagas begun since `since`):
    /// the join's own transaction; hold request committed -> payments starts applying it;
    /// payments applying it; its answer committed -> group-buy starts applying it; group-buy
    /// applying it. Events are linked by causation id; times are the services' clocks (one
    /// machine) and `processed_at`, the applying transaction's start.
    async fn steps(&self, since: chrono::DateTime<Utc>) -> anyhow::Result<String> {
        type At = chrono::DateTime<Utc>;
        async fn events(pool: &sqlx::PgPool, kind: &str, since: At) -> anyhow::Result<Vec<(Uuid, String, String, At)>> {
            Ok(sqlx::query_as(
                "SELECT event_id, stream_id, causation_id, occurred_at FROM public.events \
                 WHERE event_type = $1 AND occurred_at >= $2",
            )
            .bind(kind)
            .bind(since)
            .fetch_all(pool)
            .await?)
        }
        async fn processed(pool: &sqlx::PgPool) -> anyhow::Result<std::collections::HashMap<String, At>> {
            let rows: Vec<(Uuid, At)> =
                sqlx::query_as("SELECT event_id, processed_at FROM public.processed_events").fetch_all(pool).await?;
            Ok(rows.into_iter().map(|(id, at)| (id.to_string(), at)).collect())
        }
        let (gb, pay) = (&self.gb_db.pool, &self.pay_db);
        let requested: std::collections::HashMap<String, At> = events(gb, "tuan.groupbuy.v1.JoinRequested", since)
            .await?
            .into_iter()
            .map(|(_, stream, _, at)| (stream, at))
            .collect();
        let hold_requests = events(gb, "tuan.groupbuy.v1.HoldRequested", since).await?;
        let placed: std::collections::HashMap<String, (Uuid, At)> = events(pay, "tuan.payments.v1.HoldPlaced", since)
            .await?
            .into_iter()
            .map(|(id, _, cause, at)| (cause, (id, at)))
            .collect();
        let confirmed: std::collections::HashMap<String, At> = events(gb, "tuan.groupbuy.v1.JoinConfirmed", since)
            .await?
            .into_iter()
            .map(|(_, _, cause, at)| (cause, at))
            .collect();
        let (pay_applied, gb_applied) = (processed(pay).await?, processed(gb).await?);
        let mut steps: [Vec<Duration>; 5] = Default::default();
        for (hold_request, join, _, t1) in &hold_requests {
            let hold_request = hold_request.to_string();
            let chain = (|| {
                let t0 = requested.get(join)?;
                let t2 = pay_applied.get(&hold_request)?;
                let (answer, t3) = placed.get(&hold_request)?;
                let answer = answer.to_string();
                let t4 = gb_applied.get(&answer)?;
                let t5 = confirmed.get(&answer)?;
                Some([*t0, *t1, *t2, *t3, *t4, *t5])
            })();
            if let Some(t) = chain {
                for (i, step) in steps.iter_mut().enumerate() {
                    step.push((t[i + 1] - t[i]).to_std().unwrap_or_default());
                }
            }
        }
        let names = ["join", "-> payments", "payments applies", "-> group-buy", "group-buy applies"];
        Ok(names
            .iter()
            .zip(steps.iter_mut())
            .map(|(name, waits)| {
                let (p50, p99) = (percentile(waits, 50.0), percentile(waits, 99.0));
                format!("{name} {}/{}", p50.as_millis(), p99.as_millis())
            })
            .collect::<Vec<_>>()
            .join(", "))
    }

    async fn wait_sold(&self, merchant: &str, campaign: &str) -> anyhow::Result<gb::CampaignStats> {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let stats = self
                .groupbuy
                .clone()
                .get_campaign_stats(authed(merchant, gb::CampaignRef { campaign_id: campaign.into() }))
                .await?
                .into_inner();
            if stats.units_sold >= UNITS || Instant::now() > deadline {
                return Ok(stats);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// How one campaign's sagas went: completion percentiles in ms, how many completed, and how
/// many per second over the whole sale (first join accepted -> last confirmed): what the saga
/// pipeline sustains, as opposed to the rate at which joins are accepted (which a burst can
/// push far above it).
struct Sagas {
    p50: f64,
    p99: f64,
    completed: i64,
    per_second: f64,
}

/// What a sale did: joins accepted and refused, how long all attempts took, and how long it
/// took to accept the last unit (the sell-out; the whole run if it never sold out).
struct SaleOutcome {
    accepted: u64,
    refused: u64,
    elapsed: Duration,
    sold_out_after: Duration,
}

/// Every buyer tries `per_buyer` times, `gap` apart. With a gap, the buyers' first tries are
/// spread evenly over the first gap, so attempts arrive at a steady rate rather than in
/// bursts of every buyer at once.
async fn sale(stack: &Stack, campaign: &str, buyers: &[String], per_buyer: usize, gap: Duration) -> SaleOutcome {
    let (accepted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let sold_out_micros = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let spread = gap / buyers.len().max(1) as u32;
    let tasks = buyers.iter().enumerate().map(|(i, token)| {
        let (mut client, accepted, refused) = (stack.groupbuy.clone(), accepted.clone(), refused.clone());
        let sold_out_micros = sold_out_micros.clone();
        let campaign = campaign.to_string();
        async move {
            tokio::time::sleep(spread * i as u32).await;
            for _ in 0..per_buyer {
                match client
                    .join_campaign(authed(
                        token,
                        gb::JoinCampaignRequest {
                            campaign_id: campaign.clone(),
                            idempotency_key: uuid::Uuid::now_v7().to_string(),
                        },
                    ))
                    .await
                {
                    Ok(_) => {
                        let n = accepted.fetch_add(1, Ordering::Relaxed) + 1;
                        if n == u64::from(UNITS) {
                            sold_out_micros.store(start.elapsed().as_micros() as u64, Ordering::Relaxed);
                        }
                        n
                    }
                    Err(s)
                        if matches!(s.code(), Code::FailedPrecondition | Code::ResourceExhausted | Code::Aborted) =>
                    {
                        refused.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(s) => panic!("join failed: {s}"),
                };
                if !gap.is_zero() {
                    tokio::time::sleep(gap).await;
                }
            }
        }
    });
    join_all(tasks).await;
    let elapsed = start.elapsed();
    let sold_out = sold_out_micros.load(Ordering::Relaxed);
    SaleOutcome {
        accepted: accepted.load(Ordering::Relaxed),
        refused: refused.load(Ordering::Relaxed),
        elapsed,
        sold_out_after: if sold_out == 0 { elapsed } else { Duration::from_micros(sold_out) },
    }
}

/// With TUAN_BENCH_PROGRESS set: every 2 s, the joins by state, both outboxes and the consumer
/// lag, to see where a slow saga waits.
async fn progress(gb: sqlx::PgPool, pay: sqlx::PgPool) {
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let joins: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, count(*) FROM proj.joins GROUP BY status ORDER BY 1")
                .fetch_all(&gb)
                .await
                .unwrap_or_default();
        let outbox = |pool: &sqlx::PgPool| {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM public.outbox").fetch_one(&pool).await.unwrap_or(-1)
            }
        };
        let lag: Vec<String> = tuan_runtime::metrics::render()
            .lines()
            .filter(|l| l.starts_with("tuan_consumer_lag{") && !l.ends_with(" 0"))
            .map(|l| {
                let consumer = l.split("consumer=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("?");
                let consumer = consumer.split_once('.').map_or(consumer, |(_, name)| name);
                format!("{consumer}:{}", l.rsplit(' ').next().unwrap_or("?"))
            })
            .collect();
        println!(
            "  [{:>5.1} s] joins {joins:?} outbox gb {} pay {} lag {lag:?}",
            start.elapsed().as_secs_f64(),
            outbox(&gb).await,
            outbox(&pay).await
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tuan_testkit::init_tracing();
    let mut args = std::env::args().skip(1);
    let attempts: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20_000);
    let clients: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let broker = OwnBroker::start();
    let prefix = tuan_testkit::unique_prefix();
    let (gb_db, pay_db) = (TestDb::new().await, TestDb::new().await);

    let mut pay_config = PaymentsConfig::default();
    pay_config.common.environment = tuan_runtime::config::Environment::Development;
    pay_config.common.grpc_addr = "127.0.0.1:0".parse()?;
    pay_config.common.metrics_addr = None;
    pay_config.common.database.url = pay_db.url.clone().into();
    pay_config.common.kafka.brokers = broker.address();
    pay_config.common.kafka.topic_prefix = prefix.clone();
    pay_config.payments.provider.min_latency_ms = 0;
    pay_config.payments.provider.max_latency_ms = 0;
    let mut gb_config = GroupBuyConfig::default();
    gb_config.common.environment = tuan_runtime::config::Environment::Development;
    gb_config.common.grpc_addr = "127.0.0.1:0".parse()?;
    gb_config.common.metrics_addr = None;
    gb_config.common.database.url = gb_db.url.clone().into();
    gb_config.common.kafka.brokers = broker.address();
    gb_config.common.kafka.topic_prefix = prefix.clone();
    let keys = TokenKeys::new(&gb_config.common.auth);
    // Topic partitions (default: the services' local default); tansu fetches one partition far
    // faster than several.
    if let Some(p) = std::env::var("TUAN_BENCH_PARTITIONS").ok().and_then(|p| p.parse().ok()) {
        gb_config.common.kafka.partitions = p;
        pay_config.common.kafka.partitions = p;
    }
    if let Some(n) = std::env::var("TUAN_BENCH_HOLD_CONSUMERS").ok().and_then(|n| n.parse().ok()) {
        pay_config.payments.hold_consumers = n;
    }
    println!(
        "topic partitions: {}; hold consumers in payments: {}",
        gb_config.common.kafka.partitions, pay_config.payments.hold_consumers
    );

    let pay_app = payments::Application::build(pay_config).await?;
    let pay_port = pay_app.port();
    tokio::spawn(pay_app.run_until_stopped(std::future::pending()));
    let gb_app = groupbuy::Application::build(gb_config).await?;
    let gb_port = gb_app.port();
    tokio::spawn(gb_app.run_until_stopped(std::future::pending()));
    let stack = Stack {
        groupbuy: GroupBuyServiceClient::connect(format!("http://127.0.0.1:{gb_port}")).await?,
        payments: PaymentsServiceClient::connect(format!("http://127.0.0.1:{pay_port}")).await?,
        gb_db,
        pay_db: pay_db.pool.clone(),
        keys,
    };

    // The merchant is verified (fixture) and the buyers have money.
    let merchant_id = Uuid::now_v7();
    sqlx::query("INSERT INTO public.merchants (user_id, verified_at) VALUES ($1, now())")
        .bind(merchant_id)
        .execute(&stack.gb_db.pool)
        .await?;
    let merchant = stack.token(merchant_id);
    let buyers: Vec<String> = (0..clients).map(|_| stack.token(Uuid::now_v7())).collect();
    for token in &buyers {
        let top_up = pay::TopUpRequest {
            amount: "1000.00".into(),
            currency: "CNY".into(),
            idempotency_key: Uuid::now_v7().to_string(),
        };
        stack.payments.clone().top_up(authed(token, top_up)).await?;
    }
    for token in &buyers {
        loop {
            let wallet =
                stack.payments.clone().get_wallet(authed(token, pay::GetWalletRequest::default())).await?.into_inner();
            if wallet.balances.iter().any(|b| b.available == "1000.00") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    if std::env::var_os("TUAN_BENCH_PROGRESS").is_some() {
        tokio::spawn(progress(stack.gb_db.pool.clone(), pay_db.pool.clone()));
    }
    let campaign = stack.launch(&merchant).await?;
    let first_sale = Utc::now();
    let SaleOutcome { accepted, refused, elapsed, sold_out_after } =
        sale(&stack, &campaign, &buyers, attempts / clients, Duration::ZERO).await;
    let stats = stack.wait_sold(&merchant, &campaign).await?;
    let Sagas { p50, p99, completed: sagas, per_second: sustained } = stack.sagas(&campaign).await?;
    // Accepted joins per second while there was stock to accept: up to the sell-out.
    let accepted_rate = rate(accepted, sold_out_after);
    println!("flash sale: {UNITS} units, {} attempts from {clients} concurrent buyers", attempts / clients * clients);
    println!(
        "  accepted {accepted}, refused {refused} in {:.2} s; sold out after {:.2} s",
        elapsed.as_secs_f64(),
        sold_out_after.as_secs_f64()
    );
    println!(
        "  units sold {} (captured), pending {}, stock left {}",
        stats.units_sold, stats.units_pending, stats.stock_left
    );
    println!(
        "  accepted joins/s {accepted_rate:.0} (until the sell-out); attempts/s {:.0}",
        rate(accepted + refused, elapsed)
    );
    println!(
        "  saga completion (accepted -> hold placed -> confirmed) over {sagas} joins: p50 {p50:.0} ms, p99 {p99:.0} ms"
    );

    println!("  saga steps, p50/p99 ms: {}", stack.steps(first_sale).await?);
    println!("  sagas completed/s over the sale (first join accepted -> last confirmed): {sustained:.0}");

    // Baseline: single-row insert-commit at the buyers' concurrency (capped below the server's
    // max_connections, which infra/postgres.sh sets to 300 and the services share).
    let pg_clients = clients.min(200);
    let baseline = tokio::task::spawn_blocking(move || -> anyhow::Result<f64> {
        let db = format!("bench_insert_{}", Uuid::new_v4().simple());
        let psql = |sql: &str| {
            std::process::Command::new("psql").args(["-h", "127.0.0.1", "-U", "postgres", "-qc", sql]).status()
        };
        psql(&format!("CREATE DATABASE {db}"))?;
        std::process::Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                &db,
                "-qc",
                "CREATE TABLE t (id bigserial PRIMARY KEY, v int)",
            ])
            .status()?;
        let script = std::env::temp_dir().join(format!("{db}.sql"));
        std::fs::write(&script, "INSERT INTO t (v) VALUES (1);\n")?;
        let tps = pgbench(&db, &["-f", script.to_str().unwrap_or_default()], pg_clients, 10);
        psql(&format!("DROP DATABASE {db} WITH (FORCE)"))?;
        tps
    })
    .await??;
    println!(
        "  pgbench single-row insert-commit, {pg_clients} clients: {baseline:.0} tps; ratio accepted joins/s : tps = {:.2}",
        accepted_rate / baseline
    );

    // Half the maximum rate, paced: first half of the accepted-join rate (the issue's reading
    // of "maximum"), then half of the rate the sagas were completed at (what the pipeline
    // sustains; the accepted-join rate of a burst is far above it on a small machine).
    for (label, max_rate) in [("half the accepted rate", accepted_rate), ("half the saga rate", sustained)] {
        let campaign = stack.launch(&merchant).await?;
        let since = Utc::now();
        let per_buyer = (UNITS as usize).div_ceil(clients) + 1;
        let gap = Duration::from_secs_f64(clients as f64 / (max_rate / 2.0).max(1.0));
        let SaleOutcome { accepted, sold_out_after, .. } = sale(&stack, &campaign, &buyers, per_buyer, gap).await;
        stack.wait_sold(&merchant, &campaign).await?;
        let Sagas { p50, p99, completed: sagas, .. } = stack.sagas(&campaign).await?;
        println!(
            "{label}: {accepted} accepted at {:.0} joins/s (until the sell-out); saga completion over {sagas} joins: p50 {p50:.0} ms, p99 {p99:.0} ms",
            rate(accepted, sold_out_after)
        );
        println!("  saga steps, p50/p99 ms: {}", stack.steps(since).await?);
    }
    Ok(())
}
