//! Address-book discovery: which salt is current, which hashes a request may use, and the
//! daily allowance. Pure: the caller passes the time.
//!
//! Clients hash numbers as hex SHA-256 of `salt || E.164`. The salt changes every period; the
//! salt of period `n` is HMAC-SHA256(secret, "tuan-discovery-salt:<period secs>:<n>"), so every
//! replica derives the same one with no table of salts, and nobody without the secret can
//! derive the next one. A request names the salt it used; the current and the previous period's
//! salts are accepted (a client that fetched a salt just before a rotation still works).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tuan_runtime::error::{Classify, ErrorKind};

/// Why a discovery request is refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DiscoveryError {
    #[error("at most {max} phone hashes per call, got {got}")]
    TooManyHashes { max: usize, got: usize },
    #[error("phone hash {0:?} is not a hex SHA-256 digest")]
    BadHash(String),
    #[error("salt {0} is not current; fetch the salt again (GetDiscoverySalt) and hash with it")]
    StaleSalt(i64),
    #[error("daily discovery limit of {limit} numbers reached; try again after midnight UTC")]
    DailyLimit { limit: u32, retry_after: Duration },
}

impl Classify for DiscoveryError {
    fn kind(&self) -> ErrorKind {
        match self {
            // Too many in one call can never succeed as sent: the client must split it.
            DiscoveryError::TooManyHashes { .. } | DiscoveryError::BadHash(_) => ErrorKind::InvalidArgument,
            DiscoveryError::StaleSalt(_) => ErrorKind::FailedPrecondition,
            DiscoveryError::DailyLimit { .. } => ErrorKind::LimitExceeded,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            DiscoveryError::DailyLimit { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// What address-book discovery matches: hex SHA-256 of `salt || number`.
pub fn phone_hash(salt: &str, e164: &str) -> String {
    hex::encode(Sha256::new().chain_update(salt.as_bytes()).chain_update(e164.as_bytes()).finalize())
}

/// The uploaded hashes, checked: at most `max`, each a hex SHA-256 digest; lower-cased and
/// without repeats.
pub fn parse_hashes(hashes: Vec<String>, max: usize) -> Result<Vec<String>, DiscoveryError> {
    if hashes.len() > max {
        return Err(DiscoveryError::TooManyHashes { max, got: hashes.len() });
    }
    let mut parsed = Vec::with_capacity(hashes.len());
    for hash in hashes {
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DiscoveryError::BadHash(hash));
        }
        parsed.push(hash);
    }
    parsed.sort();
    parsed.dedup();
    Ok(parsed)
}

/// One period's salt, as `GetDiscoverySalt` hands it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Salt {
    /// The period number: what a request names as its `salt_id`.
    pub id: i64,
    pub salt: String,
    /// When the next period's salt replaces this one.
    pub expires_at: DateTime<Utc>,
}

/// The rotating salts: a server secret and a period length.
#[derive(Clone)]
pub struct SaltSchedule {
    secret: SecretString,
    period_secs: i64,
}

impl std::fmt::Debug for SaltSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltSchedule").field("period_secs", &self.period_secs).finish_non_exhaustive()
    }
}

impl SaltSchedule {
    /// `period` is at least a second (the configuration is checked before).
    pub fn new(secret: SecretString, period: Duration) -> Self {
        Self { secret, period_secs: (period.as_secs() as i64).max(1) }
    }

    /// The period `at` falls in.
    pub fn period_at(&self, at: DateTime<Utc>) -> i64 {
        at.timestamp().div_euclid(self.period_secs)
    }

    /// The salt of period `id`.
    pub fn salt(&self, id: i64) -> Salt {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(format!("tuan-discovery-salt:{}:{id}", self.period_secs).as_bytes());
        let expires_at =
            DateTime::from_timestamp((id + 1).saturating_mul(self.period_secs), 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
        Salt { id, salt: hex::encode(mac.finalize().into_bytes()), expires_at }
    }

    /// The salt handed out at `now`.
    pub fn current(&self, now: DateTime<Utc>) -> Salt {
        self.salt(self.period_at(now))
    }

    /// Whether hashes made with salt `id` are accepted at `now`: the current and the previous
    /// period's only.
    pub fn accept(&self, id: i64, now: DateTime<Utc>) -> Result<Salt, DiscoveryError> {
        let current = self.period_at(now);
        if id == current || id == current - 1 { Ok(self.salt(id)) } else { Err(DiscoveryError::StaleSalt(id)) }
    }

    /// The periods whose hashes the server keeps at `now`: the previous (still accepted), the
    /// current, and the next (computed ahead, so a rotation finds it ready).
    pub fn kept_periods(&self, now: DateTime<Utc>) -> [i64; 3] {
        let current = self.period_at(now);
        [current - 1, current, current + 1]
    }
}

/// The calendar day (UTC) a daily allowance counts against, and how long until the next one.
pub fn allowance_day(now: DateTime<Utc>) -> (NaiveDate, Duration) {
    let day = now.date_naive();
    let next = day.succ_opt().unwrap_or(day).and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now);
    let wait = (next - now).max(TimeDelta::zero()).to_std().unwrap_or_default();
    (day, wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> SaltSchedule {
        SaltSchedule::new("a-discovery-secret-of-at-least-32-chars".to_string().into(), Duration::from_secs(7 * 86_400))
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn phone_hash_is_stable_and_salted() {
        assert_eq!(phone_hash("s1", "+8613800138000"), phone_hash("s1", "+8613800138000"));
        assert_ne!(phone_hash("s1", "+8613800138000"), phone_hash("s2", "+8613800138000"));
        assert_eq!(phone_hash("s1", "+8613800138000").len(), 64);
    }

    #[test]
    fn salts_change_every_period_and_every_replica_agrees() {
        let now = at("2026-12-03T08:00:00Z");
        let current = schedule().current(now);
        assert_eq!(current, schedule().current(now), "derived, not random");
        assert_eq!(current.salt.len(), 64);
        let next = schedule().current(current.expires_at);
        assert_eq!(next.id, current.id + 1);
        assert_ne!(next.salt, current.salt);
        assert_eq!(schedule().current(current.expires_at - TimeDelta::seconds(1)), current);
        let other =
            SaltSchedule::new("another-secret-another-secret-xx".to_string().into(), Duration::from_secs(7 * 86_400));
        assert_ne!(other.current(now).salt, current.salt, "the secret decides the salt");
    }

    #[test]
    fn the_current_and_previous_salts_are_accepted_no_other() {
        let now = at("2026-12-03T08:00:00Z");
        let id = schedule().period_at(now);
        assert!(schedule().accept(id, now).is_ok());
        assert!(schedule().accept(id - 1, now).is_ok());
        for stale in [id - 2, id + 1, 0, -1, i64::MAX, i64::MIN] {
            assert_eq!(schedule().accept(stale, now), Err(DiscoveryError::StaleSalt(stale)));
        }
        assert_eq!(schedule().kept_periods(now), [id - 1, id, id + 1]);
    }

    #[test]
    fn uploads_are_capped_checked_and_deduplicated() {
        let h = "AB".repeat(32);
        assert_eq!(
            parse_hashes(vec![h.clone(), format!(" {h} "), h.to_lowercase()], 3).unwrap(),
            vec!["ab".repeat(32)]
        );
        assert_eq!(parse_hashes(vec![h.clone(); 4], 3), Err(DiscoveryError::TooManyHashes { max: 3, got: 4 }));
        assert!(matches!(parse_hashes(vec!["xyz".into()], 3), Err(DiscoveryError::BadHash(_))));
        assert!(parse_hashes(vec![], 3).unwrap().is_empty());
    }

    #[test]
    fn the_allowance_renews_at_midnight_utc() {
        let (day, wait) = allowance_day(at("2026-12-03T23:59:30Z"));
        assert_eq!(day, NaiveDate::from_ymd_opt(2026, 12, 3).unwrap());
        assert_eq!(wait, Duration::from_secs(30));
        let (day, wait) = allowance_day(at("2026-12-04T00:00:00Z"));
        assert_eq!(day, NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
        assert_eq!(wait, Duration::from_secs(86_400));
    }
}
