//! `make chaos`: the long chaos run (10,000 sagas, 60 faults by default), or any other size.
//!
//! ```text
//! chaos [--seed N] [--sagas N] [--faults N] [--workers N] [--users N] [--kinds kill,broker,freeze] [--wait-sessions|--quick-restarts] [--short] [--keep]
//! ```
//! `--short` starts from the `make test` variant; `--keep` leaves the databases of a failed
//! run in place; `--kinds` restricts the faults; `--wait-sessions` restarts killed consuming
//! services only after their consumers' sessions expired (the short run's default), and
//! `--quick-restarts` within 3 s (the long run's; see `chaos::faults`). Exits 1 if an invariant was violated. Needs `cargo build --workspace --bins`
//! first (set `TUAN_E2E_NO_BUILD=1` to skip the harness's own build).

use tuan_e2e::chaos::{self, Config};

fn usage() -> ! {
    eprintln!(
        "usage: chaos [--seed N] [--sagas N] [--faults N] [--workers N] [--users N] [--kinds kill,broker,freeze] [--wait-sessions|--quick-restarts] [--short] [--keep]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed = args
        .iter()
        .position(|a| a == "--seed")
        .map(|i| args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or_else(|| usage()))
        .unwrap_or_else(chaos::random_seed);
    let mut config = if args.iter().any(|a| a == "--short") { Config::short(seed) } else { Config::long(seed) };
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).and_then(|s| s.parse::<u64>().ok()).unwrap_or_else(|| usage());
        match args[i].as_str() {
            "--seed" => i += 1,
            "--sagas" => (config.sagas, i) = (value(), i + 1),
            "--faults" => (config.faults, i) = (value() as u32, i + 1),
            "--workers" => (config.workers, i) = (value() as usize, i + 1),
            "--users" => (config.users, i) = (value() as usize, i + 1),
            "--kinds" => {
                let kinds: Vec<String> =
                    args.get(i + 1).unwrap_or_else(|| usage()).split(',').map(String::from).collect();
                if kinds.is_empty() || kinds.iter().any(|k| !["kill", "broker", "freeze"].contains(&k.as_str())) {
                    usage();
                }
                config.fault_kinds = kinds;
                i += 1;
            }
            "--wait-sessions" => config.wait_sessions = true,
            "--quick-restarts" => config.wait_sessions = false,
            "--short" => {}
            "--keep" => config.keep_databases_on_failure = true,
            _ => usage(),
        }
        i += 1;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime");
    let report = runtime.block_on(chaos::run(config));
    report.print();
    // Children and databases go with the report's stack, dropped inside run().
    drop(runtime);
    std::process::exit(if report.passed() { 0 } else { 1 });
}
