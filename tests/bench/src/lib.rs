//! Helpers the benchmark binaries share: timing and percentiles.

use std::time::{Duration, Instant};

/// Runs `f` and returns its result with the elapsed wall time.
pub async fn timed<T>(f: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}

/// Items per second.
pub fn rate(items: u64, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64()
}

/// The `p`-th percentile (0..=100) of `samples`, which it sorts.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

/// Runs pgbench's built-in TPC-B-like script on a scratch database of the same server and
/// returns its transactions per second (connection time excluded).
pub fn pgbench_tpcb(clients: usize, seconds: u32) -> anyhow::Result<f64> {
    let db = format!("bench_pgbench_{}", uuid::Uuid::new_v4().simple());
    let psql =
        |sql: &str| std::process::Command::new("psql").args(["-h", "127.0.0.1", "-U", "postgres", "-qc", sql]).status();
    psql(&format!("CREATE DATABASE {db}"))?;
    let run = || -> anyhow::Result<f64> {
        let init = std::process::Command::new("pgbench")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-i", "-q", "-s", "10", &db])
            .output()?;
        anyhow::ensure!(init.status.success(), "pgbench -i failed: {}", String::from_utf8_lossy(&init.stderr));
        pgbench(&db, &["-b", "tpcb-like"], clients, seconds)
    };
    let result = run();
    psql(&format!("DROP DATABASE {db} WITH (FORCE)"))?;
    result
}

/// Runs pgbench with `args` against `db` and parses its tps figure.
pub fn pgbench(db: &str, args: &[&str], clients: usize, seconds: u32) -> anyhow::Result<f64> {
    let (c, t) = (clients.to_string(), seconds.to_string());
    let threads = clients.clamp(1, 2).to_string();
    let out = std::process::Command::new("pgbench")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-n", "-c", &c, "-j", &threads, "-T", &t])
        .args(args)
        .arg(db)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output: {text} {}", String::from_utf8_lossy(&out.stderr)))
}

/// What an open-loop run measured.
#[derive(Debug, Default)]
pub struct OpenLoop {
    /// From each request's scheduled start to its answer.
    pub latencies: Vec<Duration>,
    pub errors: u64,
    /// Requests scheduled, and the wall time from the first scheduled start to the last answer.
    pub sent: u64,
    pub elapsed: Duration,
    /// The first error seen, to say what went wrong.
    pub first_error: Option<String>,
}

/// Starts `rate` requests per second for `duration`, each `call(i)`, whether or not earlier
/// ones have answered (open loop: a slow server gets more concurrent requests, as it would
/// from real users). A plain thread paces the starts (a Tokio timer has 1 ms resolution) and
/// spawns each call on the current runtime; latency counts from the scheduled start, so time a
/// request waited for the runtime is counted too.
pub async fn open_loop<F, Fut>(rate: u32, duration: Duration, call: F) -> OpenLoop
where
    F: Fn(usize) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let total = (f64::from(rate) * duration.as_secs_f64()).round() as usize;
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runtime = tokio::runtime::Handle::current();
    let start = Instant::now() + Duration::from_millis(5);
    let pacer = std::thread::spawn(move || {
        for i in 0..total {
            let at = start + period.mul_f64(i as f64);
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            let (future, tx) = (call(i), tx.clone());
            runtime.spawn(async move {
                let result = future.await;
                let _ = tx.send((at.elapsed(), result));
            });
        }
    });
    let mut out = OpenLoop { latencies: Vec::with_capacity(total), sent: total as u64, ..OpenLoop::default() };
    while out.latencies.len() < total {
        let Some((latency, result)) = rx.recv().await else { break };
        out.latencies.push(latency);
        if let Err(e) = result {
            out.errors += 1;
            out.first_error.get_or_insert(e);
        }
    }
    out.elapsed = start.elapsed();
    let _ = pacer.join();
    out
}
