//! Settings of the users service (see `tuan_runtime::config` for layering).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tuan_runtime::config::CommonConfig;

pub const SERVICE: &str = "users";
pub const DEFAULT_PORT: u16 = 50051;

/// The discovery secret used when none is configured: accepted only in development.
pub const DEVELOPMENT_DISCOVERY_SECRET: &str = "tuan-local-development-discovery-secret";
/// The phone-code secret used when none is configured: accepted only in development.
pub const DEVELOPMENT_PHONE_CODE_SECRET: &str = "tuan-local-development-phone-code-secret";

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
    /// The codes that prove a phone number (`TUAN_USERS__PHONE_CODES__*`).
    pub phone_codes: PhoneCodeSettings,
    /// How the codes are sent (`TUAN_USERS__SMS__*`).
    pub sms: SmsSettings,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PhoneCodeSettings {
    /// Keys the codes' hashes (HMAC-SHA256), so the table of live codes cannot be reversed by
    /// trying a million codes. `TUAN_USERS__PHONE_CODES__SECRET`.
    #[serde(serialize_with = "expose")]
    pub secret: SecretString,
    /// A code works this long...
    pub ttl_secs: u64,
    /// ...for this many tries.
    pub attempts: u32,
    /// A new code for the same number and purpose no sooner than this.
    pub resend_after_secs: u64,
    /// SMS per number per hour, and per client address per hour.
    pub per_phone_per_hour: u32,
    pub per_client_per_hour: u32,
}

/// Who sends the SMS.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmsSenderKind {
    /// Sends nothing: each SMS goes to the users database (`public.dev_sms`) and the log, for
    /// `make run`, the tests and `tuanctl sms`. Development only.
    Development,
    /// An SMS gateway speaking Twilio's Messages API over HTTP.
    Http,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SmsSettings {
    pub sender: SmsSenderKind,
    /// The gateway's base URL (`https://api.twilio.com`, or a compatible gateway's).
    pub url: String,
    /// The account (Twilio's account SID) and its token: HTTP basic auth. `TUAN_USERS__SMS__TOKEN`.
    #[serde(deserialize_with = "tuan_runtime::config::text")]
    pub account: String,
    #[serde(serialize_with = "expose", deserialize_with = "tuan_runtime::config::secret_text")]
    pub token: SecretString,
    /// The sender number or name the SMS come from. A leading `+` needs quotes in the
    /// environment (`TUAN_USERS__SMS__FROM='"+15005550006"'`): unquoted, it reads as a number.
    #[serde(deserialize_with = "tuan_runtime::config::text")]
    pub from: String,
    pub timeout_ms: u64,
    /// Tries per SMS when the gateway fails for a reason worth another try; the wait before the
    /// second try, doubling after each.
    pub attempts: u32,
    pub backoff_ms: u64,
    /// SMS waiting to be sent at most; beyond, a code request is refused (RESOURCE_EXHAUSTED).
    pub queue: usize,
    /// The words; `{code}` and `{minutes}` are filled in.
    pub sign_up_template: String,
    pub reset_password_template: String,
    pub already_registered_template: String,
    pub not_registered_template: String,
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
                phone_codes: PhoneCodeSettings {
                    secret: DEVELOPMENT_PHONE_CODE_SECRET.to_string().into(),
                    ttl_secs: 5 * 60,
                    attempts: 5,
                    resend_after_secs: 60,
                    per_phone_per_hour: 5,
                    per_client_per_hour: 20,
                },
                sms: SmsSettings {
                    sender: SmsSenderKind::Development,
                    url: String::new(),
                    account: String::new(),
                    token: String::new().into(),
                    from: String::new(),
                    timeout_ms: 5_000,
                    attempts: 4,
                    backoff_ms: 500,
                    queue: 1_000,
                    sign_up_template: "{code} is your tuan sign-up code. It works for {minutes} minutes; \
                                       never share it."
                        .into(),
                    reset_password_template: "{code} is your tuan password reset code. It works for {minutes} \
                                              minutes. If you did not ask for it, ignore this message."
                        .into(),
                    already_registered_template: "Someone asked to sign up to tuan with this number, which \
                                                  already has an account. Forgot your password? Reset it from \
                                                  the login screen."
                        .into(),
                    not_registered_template: "Someone asked to reset a tuan password for this number, which \
                                              has no account. If it was you, sign up instead."
                        .into(),
                },
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
        self.check_phone_codes()
    }

    fn check_phone_codes(&self) -> anyhow::Result<()> {
        let (codes, sms) = (&self.users.phone_codes, &self.users.sms);
        let environment = self.common.environment;
        environment.check_secret("TUAN_USERS__PHONE_CODES__SECRET", &codes.secret, DEVELOPMENT_PHONE_CODE_SECRET)?;
        if codes.ttl_secs == 0 || codes.attempts == 0 || codes.per_phone_per_hour == 0 || codes.per_client_per_hour == 0
        {
            anyhow::bail!(
                "TUAN_USERS__PHONE_CODES__TTL_SECS, __ATTEMPTS, __PER_PHONE_PER_HOUR and __PER_CLIENT_PER_HOUR \
                 must be at least 1"
            );
        }
        match sms.sender {
            SmsSenderKind::Development if !environment.is_development() => anyhow::bail!(
                "TUAN_USERS__SMS__SENDER=development sends no SMS (it writes the codes to the database) and is \
                 accepted only with TUAN_ENVIRONMENT=development: set TUAN_USERS__SMS__SENDER=http with \
                 TUAN_USERS__SMS__URL, __ACCOUNT, __TOKEN and __FROM"
            ),
            SmsSenderKind::Development => Ok(()),
            SmsSenderKind::Http => {
                let missing: Vec<&str> = [
                    ("TUAN_USERS__SMS__URL", sms.url.is_empty()),
                    ("TUAN_USERS__SMS__ACCOUNT", sms.account.is_empty()),
                    ("TUAN_USERS__SMS__TOKEN", sms.token.expose_secret().is_empty()),
                    ("TUAN_USERS__SMS__FROM", sms.from.is_empty()),
                ]
                .into_iter()
                .filter_map(|(name, empty)| empty.then_some(name))
                .collect();
                if !missing.is_empty() {
                    anyhow::bail!("TUAN_USERS__SMS__SENDER=http needs {}", missing.join(", "));
                }
                let plain = sms.url.starts_with("http://");
                if !(plain || sms.url.starts_with("https://")) || (plain && !environment.is_development()) {
                    anyhow::bail!("TUAN_USERS__SMS__URL must be an https:// URL (http:// only in development)");
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings a production deployment could run with.
    fn production() -> UsersConfig {
        let mut config = UsersConfig::default();
        config.common.auth.jwt_secret = "a-jwt-secret-of-at-least-thirty-two-chars".to_string().into();
        config.users.discovery_secret = "a-discovery-secret-of-32-characters".to_string().into();
        config.users.phone_codes.secret = "a-phone-code-secret-of-32-characters".to_string().into();
        let sms = &mut config.users.sms;
        (sms.sender, sms.url, sms.account, sms.from) =
            (SmsSenderKind::Http, "https://sms.example".into(), "AC123".into(), "tuan".into());
        sms.token = "token".to_string().into();
        config
    }

    #[test]
    fn the_development_discovery_secret_is_refused_outside_development() {
        let mut config = production();
        assert!(config.check().is_ok());
        config.users.discovery_secret = DEVELOPMENT_DISCOVERY_SECRET.to_string().into();
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("TUAN_USERS__DISCOVERY_SECRET"), "{err}");

        let mut development = config.clone();
        development.common = development.common.development();
        assert!(development.check().is_ok());

        config.users.discovery_secret = "short".to_string().into();
        assert!(config.check().unwrap_err().to_string().contains("at least 32"));
    }

    #[test]
    fn outside_development_codes_need_a_secret_and_a_real_sender() {
        let mut config = production();
        config.users.phone_codes.secret = DEVELOPMENT_PHONE_CODE_SECRET.to_string().into();
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("TUAN_USERS__PHONE_CODES__SECRET"), "{err}");

        let mut config = production();
        config.users.sms.sender = SmsSenderKind::Development;
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("TUAN_USERS__SMS__SENDER=development") && err.contains("TUAN_ENVIRONMENT"), "{err}");

        let mut config = production();
        (config.users.sms.url, config.users.sms.token) = (String::new(), String::new().into());
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("TUAN_USERS__SMS__URL") && err.contains("TUAN_USERS__SMS__TOKEN"), "{err}");
        config.users.sms.token = "token".to_string().into();
        config.users.sms.url = "http://sms.example".into();
        assert!(config.check().unwrap_err().to_string().contains("https://"), "no plain HTTP outside development");

        let mut development = UsersConfig::default();
        development.common = development.common.development();
        assert!(development.check().is_ok(), "make run and the tests keep the development sender");
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
