//! A circuit breaker per backend: closed -> open after `failure_threshold` consecutive
//! failures -> half-open after `cool_down` (one probe at a time) -> closed on a successful
//! probe, open again on a failed one.
//!
//! Time is passed in, so the machine is tested without sleeping.

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSettings {
    pub failure_threshold: u32,
    pub cool_down: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; others are refused until it reports (or a cool-down passes without
    /// a report, e.g. because the caller gave up on it).
    HalfOpen {
        probe_started: Instant,
    },
}

#[derive(Debug)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    state: BreakerState,
}

impl CircuitBreaker {
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings: BreakerSettings { failure_threshold: settings.failure_threshold.max(1), ..settings },
            state: BreakerState::Closed { failures: 0 },
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a call may go out now. A call let through must report [`Self::on_success`] or
    /// [`Self::on_failure`].
    pub fn admit(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen { probe_started: now };
                true
            }
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { probe_started }
                if now.duration_since(probe_started) >= self.settings.cool_down =>
            {
                self.state = BreakerState::HalfOpen { probe_started: now };
                true
            }
            BreakerState::HalfOpen { .. } => false,
        }
    }

    pub fn on_success(&mut self) {
        self.state = BreakerState::Closed { failures: 0 };
    }

    pub fn on_failure(&mut self, now: Instant) {
        self.state = match self.state {
            BreakerState::Closed { failures } if failures + 1 < self.settings.failure_threshold => {
                BreakerState::Closed { failures: failures + 1 }
            }
            // The threshold reached, or the probe failed: open (again).
            BreakerState::Closed { .. } | BreakerState::HalfOpen { .. } => {
                BreakerState::Open { until: now + self.settings.cool_down }
            }
            // A call admitted before the circuit opened reports late: keep the earlier opening.
            open @ BreakerState::Open { .. } => open,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerSettings { failure_threshold: 3, cool_down: Duration::from_secs(5) })
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let (mut b, t0) = (breaker(), Instant::now());
        b.on_failure(t0);
        b.on_failure(t0);
        b.on_success();
        b.on_failure(t0);
        b.on_failure(t0);
        assert!(b.admit(t0), "two failures after a success keep it closed");
        b.on_failure(t0);
        assert_eq!(b.state(), BreakerState::Open { until: t0 + Duration::from_secs(5) });
        assert!(!b.admit(t0 + Duration::from_secs(4)));
    }

    #[test]
    fn half_open_lets_one_probe_through_and_closes_on_success() {
        let (mut b, t0) = (breaker(), Instant::now());
        (0..3).for_each(|_| b.on_failure(t0));
        let later = t0 + Duration::from_secs(5);
        assert!(b.admit(later), "the probe");
        assert!(!b.admit(later), "a second call waits for the probe");
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        assert!(b.admit(later));
    }

    #[test]
    fn a_failed_probe_opens_again_for_a_full_cool_down() {
        let (mut b, t0) = (breaker(), Instant::now());
        (0..3).for_each(|_| b.on_failure(t0));
        let probe = t0 + Duration::from_secs(6);
        assert!(b.admit(probe));
        b.on_failure(probe);
        assert!(!b.admit(probe + Duration::from_secs(4)));
        assert!(b.admit(probe + Duration::from_secs(5)));
    }

    #[test]
    fn a_probe_that_never_reports_does_not_block_forever() {
        let (mut b, t0) = (breaker(), Instant::now());
        (0..3).for_each(|_| b.on_failure(t0));
        let probe = t0 + Duration::from_secs(5);
        assert!(b.admit(probe));
        assert!(!b.admit(probe + Duration::from_secs(1)));
        assert!(b.admit(probe + Duration::from_secs(5)), "another probe after a cool-down");
    }

    #[test]
    fn late_failures_do_not_extend_an_open_circuit() {
        let (mut b, t0) = (breaker(), Instant::now());
        (0..3).for_each(|_| b.on_failure(t0));
        b.on_failure(t0 + Duration::from_secs(4));
        assert!(b.admit(t0 + Duration::from_secs(5)));
    }
}
