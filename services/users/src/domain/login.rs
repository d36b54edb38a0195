//! How failed logins slow a guesser down: a few attempts are free, then every further failure
//! locks the account for twice as long as the one before, up to a ceiling. The count resets at
//! the next successful login.

use std::time::Duration;

/// The throttle's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Failures in a row that cost nothing but the answer.
    pub free_attempts: u32,
    /// The lock after the first failure past the free ones.
    pub base_lock: Duration,
    /// No lock is longer.
    pub max_lock: Duration,
}

impl LoginThrottle {
    /// How long the account is locked after `failures` failures in a row (None: not locked).
    pub fn lock_after(&self, failures: u32) -> Option<Duration> {
        let doublings = failures.checked_sub(self.free_attempts.saturating_add(1))?;
        Some(self.base_lock.saturating_mul(1u32 << doublings.min(31)).min(self.max_lock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_attempts_then_doubling_locks_up_to_the_ceiling() {
        let throttle =
            LoginThrottle { free_attempts: 3, base_lock: Duration::from_secs(1), max_lock: Duration::from_secs(60) };
        assert_eq!((0..=3).map(|n| throttle.lock_after(n)).collect::<Vec<_>>(), vec![None; 4]);
        let locks: Vec<u64> = (4..11).map(|n| throttle.lock_after(n).unwrap().as_secs()).collect();
        assert_eq!(locks, vec![1, 2, 4, 8, 16, 32, 60]);
        assert_eq!(throttle.lock_after(u32::MAX), Some(Duration::from_secs(60)), "no overflow");
    }
}
