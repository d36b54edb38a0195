//! The short chaos run of `make test`: every service and a broker of its own as processes, at
//! least 500 sagas of a random workload with at least 10 faults (kill -9 and restart of a
//! service or the broker, SIGSTOP/SIGCONT), then every invariant (see `tuan_e2e::chaos`).
//!
//! The seed is random and printed; `TUAN_CHAOS_SEED=N` runs a given one again.

use tuan_e2e::chaos::{self, Config};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_sagas_under_faults_keep_every_invariant() {
    let seed = std::env::var("TUAN_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(chaos::random_seed);
    let report = chaos::run(Config::short(seed)).await;
    report.print();
    assert!(report.sagas_started >= 500, "only {} sagas started (seed {seed})", report.sagas_started);
    assert!(report.faults.len() >= 10, "only {} faults injected (seed {seed})", report.faults.len());
    assert!(report.passed(), "chaos run failed, seed {seed}: rerun with TUAN_CHAOS_SEED={seed}");
}
