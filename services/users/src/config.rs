//! Settings of the users service (see `tuan_runtime::config` for layering).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tuan_runtime::config::CommonConfig;

pub const SERVICE: &str = "users";
pub const DEFAULT_PORT: u16 = 50051;

/// The discovery secret used when none is configured: accepted only in development.
pub const DEVELOPMENT_DISCOVERY_SECRET: &str = "tuan-local-development-discovery-secret";

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UsersConfig {
    #[serde(flatten)]
    pub common: CommonConfig,
    pub users: UsersSettings,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UsersSettings {
    /// How long an access token is good for. Tokens are verified without a database read, so
    /// a revoked role or ended session still acts this long.
    pub access_ttl_secs: u64,
    /// The sliding session lifetime: each refresh extends the session by this much...
    pub refresh_ttl_secs: u64,
    /// ...never past this long after login (`TUAN_USERS__SESSION_MAX_LIFETIME_SECS`).
    pub session_max_lifetime_secs: u64,
    /// Derives each period's discovery salt (HMAC-SHA256 over the period number); whoever has
    /// it can compute every salt, past and future. `TUAN_USERS__DISCOVERY_SECRET`.
    #[serde(serialize_with = "expose")]
    pub discovery_secret: SecretString,
    /// How long one discovery salt is current; hashes made with it are accepted one period more.
    pub discovery_period_secs: u64,
    /// At most this many phone hashes in one `DiscoverFriends` call.
    pub discovery_max_per_request: u32,
    /// At most this many phone hashes per user per calendar day (UTC).
    pub discovery_daily_limit: u32,
    /// Failed logins in a row per phone number that cost nothing but the answer; each one
    /// after locks the number for twice as long as the last...
    pub login_free_attempts: u32,
    /// ...starting at this...
    pub login_lock_base_ms: u64,
    /// ...up to this. A count whose last failure is older than 4x this starts again.
    pub login_lock_max_ms: u64,
    /// Password hashes (argon2, 19 MiB each) running at once; 0: twice the CPUs, at most 16.
    pub password_hash_concurrency: u32,
    /// How long a login waits for a hashing turn before RESOURCE_EXHAUSTED.
    pub password_hash_wait_ms: u64,
}

fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

impl Default for UsersConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::local(SERVICE, DEFAULT_PORT),
            users: UsersSettings {
                access_ttl_secs: 15 * 60,
                refresh_ttl_secs: 30 * 24 * 3600,
                session_max_lifetime_secs: 90 * 24 * 3600,
                discovery_secret: DEVELOPMENT_DISCOVERY_SECRET.to_string().into(),
                discovery_period_secs: 7 * 24 * 3600,
                discovery_max_per_request: 1_000,
                discovery_daily_limit: 5_000,
                login_free_attempts: 5,
                login_lock_base_ms: 1_000,
                login_lock_max_ms: 15 * 60 * 1_000,
                password_hash_concurrency: 0,
                password_hash_wait_ms: 500,
            },
        }
    }
}

impl UsersConfig {
    pub fn load() -> anyhow::Result<Self> {
        tuan_runtime::config::load(SERVICE, Self::default())
    }

    /// Refuses what is only safe on a developer's machine outside development (as
    /// [`CommonConfig::check`] does), and limits that make no sense.
    pub fn check(&self) -> anyhow::Result<()> {
        self.common.check()?;
        let users = &self.users;
        self.common.environment.check_secret(
            "TUAN_USERS__DISCOVERY_SECRET",
            &users.discovery_secret,
            DEVELOPMENT_DISCOVERY_SECRET,
        )?;
        if users.discovery_period_secs < 60 {
            anyhow::bail!("TUAN_USERS__DISCOVERY_PERIOD_SECS must be at least 60");
        }
        if users.discovery_max_per_request == 0 || users.discovery_max_per_request > users.discovery_daily_limit {
            anyhow::bail!(
                "TUAN_USERS__DISCOVERY_MAX_PER_REQUEST must be between 1 and TUAN_USERS__DISCOVERY_DAILY_LIMIT"
            );
        }
        if users.login_lock_base_ms == 0 || users.login_lock_base_ms > users.login_lock_max_ms {
            anyhow::bail!("TUAN_USERS__LOGIN_LOCK_BASE_MS must be between 1 and TUAN_USERS__LOGIN_LOCK_MAX_MS");
        }
        if users.session_max_lifetime_secs == 0 {
            anyhow::bail!("TUAN_USERS__SESSION_MAX_LIFETIME_SECS must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_discovery_secret_is_refused_outside_development() {
        let mut config = UsersConfig::default();
        config.common.auth.jwt_secret = "a-jwt-secret-of-at-least-thirty-two-chars".to_string().into();
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("TUAN_USERS__DISCOVERY_SECRET"), "{err}");

        let mut development = config.clone();
        development.common = development.common.development();
        assert!(development.check().is_ok());

        config.users.discovery_secret = "a-discovery-secret-of-32-characters".to_string().into();
        assert!(config.check().is_ok());
        config.users.discovery_secret = "short".to_string().into();
        assert!(config.check().unwrap_err().to_string().contains("at least 32"));
    }

    #[test]
    fn limits_must_make_sense() {
        let mut config = UsersConfig::default();
        config.common = config.common.development();
        config.users.discovery_max_per_request = config.users.discovery_daily_limit + 1;
        assert!(config.check().unwrap_err().to_string().contains("MAX_PER_REQUEST"));
        config.users.discovery_max_per_request = 0;
        assert!(config.check().is_err());
        let mut config = UsersConfig::default();
        config.common = config.common.development();
        config.users.login_lock_base_ms = config.users.login_lock_max_ms + 1;
        assert!(config.check().unwrap_err().to_string().contains("LOGIN_LOCK_BASE_MS"));
    }
}
