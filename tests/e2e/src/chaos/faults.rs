//! Faults at random points of the workload: a service or the broker killed with SIGKILL and
//! started again after a random outage, or a process (service or broker) frozen with SIGSTOP
//! for 1 to 5 s and then let go (SIGCONT). One fault at a time; they are spread over the run by
//! the saga count (fault k of F comes once (k+1)/(F+1) of the sagas started), so a run with
//! more sagas spreads the same number of faults thinner.

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use tokio::sync::Mutex;

use super::workload::Shared;
use crate::harness::Stack;

pub const SERVICES: [&str; 5] = ["users", "circles", "groupbuy", "payments", "gateway"];
/// The services with Kafka consumers (users only publishes; the gateway keeps no state).
const CONSUMING: [&str; 3] = ["circles", "groupbuy", "payments"];
/// What may be frozen: every service and the broker.
const PROCESSES: [&str; 6] = ["users", "circles", "groupbuy", "payments", "gateway", "broker"];

/// The consumers' session timeout (`session.timeout.ms` in `tuan_messaging::consumer_config`).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// What a quick restart of a consuming service trips over, and why `--wait-sessions` exists:
/// tansu 0.6.0's group coordinator mishandles a consumer that joins while its dead predecessor
/// is still a member. The newcomer joins as a follower of the dead leader; when the dead
/// leader's session expires (checked in the SyncGroup handler, before the request is handled),
/// the follower's SyncGroup, which carries no assignments, completes the generation
/// (`Inner<Forming>::sync`: with no leader, any member's sync forms the group). Every member
/// then holds 0 partitions and the group is stable. Apache Kafka (production) elects a leader
/// among the members that rejoined instead. The consumers' watchdog
/// (`tuan_messaging::watchdog`) rejoins such a group after 15 s; `--wait-sessions` restarts
/// killed consuming services only after their dead members expired, which avoids the wait.
pub const QUICK_RESTART_HAZARD: &str = "tansu 0.6.0 leaves a consumer group that a restarted \
    consumer joined within its dead predecessor's session with no partitions assigned";

/// One injected fault.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Since the workload began.
    pub at: Duration,
    /// Sagas started when it came.
    pub sagas: u64,
    pub what: String,
    /// Until everything was back (restarted and serving, or thawed).
    pub took: Duration,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "t={:>6.1}s sagas={:>5}  {} (back after {:.1}s)",
            self.at.as_secs_f64(),
            self.sagas,
            self.what,
            self.took.as_secs_f64()
        )
    }
}

/// Injects the run's faults while the workload runs; returns them in order.
pub async fn inject(stack: Arc<Mutex<Stack>>, shared: Arc<Shared>, started: Instant) -> Vec<Fault> {
    let config = &shared.config;
    let mut rng = StdRng::seed_from_u64(config.seed ^ 0xfa_17_fa_17);
    let mut faults = Vec::new();
    for k in 0..config.faults as u64 {
        let threshold = (k + 1) * config.sagas / (config.faults as u64 + 1);
        while shared.sagas.load(Ordering::Relaxed) < threshold {
            if shared.stop.load(Ordering::Relaxed) {
                return faults;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let at = started.elapsed();
        let sagas = shared.sagas.load(Ordering::Relaxed);
        let begun = Instant::now();
        let mut stack = stack.lock().await;
        // Drawn from all kinds, then mapped onto the allowed ones, so the draws (and the
        // seed's meaning) do not depend on the restriction.
        let draw = rng.gen_range(0..100);
        let kind = match draw {
            0..45 => "kill",
            45..60 => "broker",
            _ => "freeze",
        };
        let kind = if config.fault_kinds.iter().any(|k| k == kind) {
            kind
        } else {
            config.fault_kinds[draw as usize % config.fault_kinds.len()].as_str()
        };
        let what = match kind {
            "kill" => {
                let name = *SERVICES.choose(&mut rng).expect("a service");
                let quick = Duration::from_millis(rng.gen_range(0..3_000));
                // See QUICK_RESTART_HAZARD: with `wait_sessions`, a killed service with consumers
                // stays down until the broker has expired its dead consumers.
                let down = if config.wait_sessions && CONSUMING.contains(&name) {
                    SESSION_TIMEOUT + Duration::from_secs(1) + quick
                } else {
                    quick
                };
                stack.stop(name);
                tokio::time::sleep(down).await;
                stack.restart(name).await;
                format!("kill -9 {name}, down {:.1}s, restarted", down.as_secs_f64())
            }
            "broker" => {
                let down = Duration::from_millis(rng.gen_range(0..3_000));
                stack.stop_broker();
                tokio::time::sleep(down).await;
                stack.restart_broker();
                format!("kill -9 broker, down {:.1}s, restarted", down.as_secs_f64())
            }
            _ => {
                let target = *PROCESSES.choose(&mut rng).expect("a process");
                let frozen = Duration::from_millis(rng.gen_range(1_000..=5_000));
                if target == "broker" {
                    stack.freeze_broker();
                } else {
                    stack.freeze(target);
                }
                tokio::time::sleep(frozen).await;
                if target == "broker" {
                    stack.thaw_broker();
                } else {
                    stack.thaw(target);
                }
                format!("SIGSTOP {target} for {:.1}s, then SIGCONT", frozen.as_secs_f64())
            }
        };
        drop(stack);
        let fault = Fault { at, sagas, what, took: begun.elapsed() };
        eprintln!("chaos: fault {:>3}/{}: {fault}", k + 1, config.faults);
        faults.push(fault);
    }
    faults
}

/// Restarts the broker if it panicked on its own, as a liveness probe would: tansu 0.6.0 keeps
/// running after a task of its storage panicked, and answers every request with an error from
/// then on. Seen after the broker had been killed: `idempotent_message_check` ("more or less
/// than one row", tansu-storage's lite.rs) when a restarted service's producer sent its first
/// batch. Returns whether it did; the event goes into the report.
pub fn heal_broker(stack: &mut Stack, shared: &Shared, started: Instant) -> bool {
    let Some(panic) = stack.broker_panic() else { return false };
    let n = shared.healed.lock().expect("healed").len() + 1;
    stack.save_broker_log(&format!("broker-panic-{n}.log"));
    stack.stop_broker();
    stack.restart_broker();
    let event = format!(
        "t={:.1}s the broker panicked on its own ({}); killed and restarted by the harness (log: broker-panic-{n}.log)",
        started.elapsed().as_secs_f64(),
        panic.chars().take(200).collect::<String>()
    );
    eprintln!("chaos: {event}");
    shared.healed.lock().expect("healed").push(event);
    true
}

/// Watches the broker while the workload runs (see [`heal_broker`]).
pub async fn watch_broker(stack: Arc<Mutex<Stack>>, shared: Arc<Shared>, started: Instant) {
    while !shared.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        heal_broker(&mut *stack.lock().await, &shared, started);
    }
}
