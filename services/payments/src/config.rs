//! Settings of the payments service (see `tuan_runtime::config` for layering).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tuan_runtime::config::CommonConfig;

pub const SERVICE: &str = "payments";
pub const DEFAULT_PORT: u16 = 50054;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PaymentsConfig {
    #[serde(flatten)]
    pub common: CommonConfig,
    pub payments: PaymentsSettings,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PaymentsSettings {
    /// Platform fee on captured holds, in basis points (100 = 1 %).
    pub fee_basis_points: u32,
    /// Lifetime of a hold whose request names no expiry.
    pub default_hold_ttl_secs: u64,
    /// How often the expiry scanner looks for holds past their deadline.
    pub expiry_scan_interval_ms: u64,
    /// Members of the group consuming hold requests in this process (parallel over partitions:
    /// a flash sale's holds are the payments service's bottleneck). 1 by default: each member's
    /// join makes the local broker rebalance the group, which took tens of seconds on a loaded
    /// machine.
    pub hold_consumers: u32,
    /// Which payment provider tops wallets up and pays withdrawals out (see [`ProviderKind`]).
    #[serde(default)]
    pub provider_kind: ProviderKind,
    pub provider: SimulatedProviderSettings,
    /// The WeChat Pay API v3 adapter's settings (`TUAN_PAYMENTS__WECHAT__*`), used when
    /// `provider_kind = "wechat"`.
    pub wechat: WeChatPaySettings,
    /// What one user may move per calendar day (UTC), per currency, in major units.
    pub daily_limits: DailyLimits,
}

/// The payment provider adapters.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Confirms every request after a random latency: money from nowhere. Development only
    /// (`TUAN_ENVIRONMENT=development`); anywhere else payments refuses to start with it.
    #[default]
    Simulated,
    /// WeChat Pay API v3 (`crate::wechat`): APP prepay orders, notifications, queries.
    Wechat,
}

/// The merchant's WeChat Pay account, as its merchant platform shows it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WeChatPaySettings {
    /// `https://api.mch.weixin.qq.com`.
    pub base_url: String,
    #[serde(deserialize_with = "tuan_runtime::config::text")]
    pub mchid: String,
    /// The app id (of the mobile app) the orders are paid in.
    #[serde(deserialize_with = "tuan_runtime::config::text")]
    pub app_id: String,
    /// The serial number of the merchant's API certificate, and its private key (PKCS#8 PEM).
    #[serde(deserialize_with = "tuan_runtime::config::text")]
    pub merchant_serial: String,
    #[serde(serialize_with = "expose")]
    pub merchant_private_key: SecretString,
    /// The 32-character APIv3 key that encrypts notifications.
    #[serde(serialize_with = "expose", deserialize_with = "tuan_runtime::config::secret_text")]
    pub api_v3_key: SecretString,
    /// The platform's public key (PEM; a WeChat Pay public key, or a platform certificate's
    /// `openssl x509 -pubkey`) and its id (`PUB_KEY_ID_...`, or the certificate's serial): what
    /// notifications are signed with.
    pub platform_public_key: String,
    #[serde(deserialize_with = "tuan_runtime::config::text")]
    pub platform_public_key_id: String,
    /// Where WeChat Pay posts notifications (this service's notify endpoint as the internet
    /// reaches it), and where payments listens for them.
    pub notify_url: String,
    pub notify_addr: String,
    /// How far a notification's timestamp may be from now (replays are refused).
    pub timestamp_tolerance_secs: u64,
    /// A top-up order unpaid this long is closed.
    pub order_ttl_secs: u64,
    pub description: String,
    pub timeout_ms: u64,
}

fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(secret.expose_secret())
}

/// Per-user daily limits (e-wallets cap a verified user at a few tens of thousands of yuan a
/// day). Decimal strings in the currency's major units, applied to each currency on its own.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DailyLimits {
    pub top_up: String,
    pub withdrawal: String,
    pub transfer: String,
}

impl PaymentsSettings {
    /// Refuses settings that only a developer's machine may run with.
    pub fn check(&self, environment: tuan_runtime::config::Environment) -> anyhow::Result<()> {
        if self.provider_kind == ProviderKind::Simulated && !environment.is_development() {
            anyhow::bail!(
                "TUAN_PAYMENTS__PROVIDER_KIND=simulated confirms every top-up without taking any money: it is \
                 accepted only with TUAN_ENVIRONMENT=development (make run and the tests set it); configure a \
                 real payment provider (TUAN_PAYMENTS__PROVIDER_KIND=wechat)"
            );
        }
        if self.provider_kind == ProviderKind::Wechat {
            self.check_wechat(environment)?;
        }
        Ok(())
    }

    /// Every WeChat Pay setting present, the keys parse, and plain HTTP only in development.
    fn check_wechat(&self, environment: tuan_runtime::config::Environment) -> anyhow::Result<()> {
        use secrecy::ExposeSecret;
        let w = &self.wechat;
        let missing: Vec<&str> = [
            ("MCHID", w.mchid.is_empty()),
            ("APP_ID", w.app_id.is_empty()),
            ("MERCHANT_SERIAL", w.merchant_serial.is_empty()),
            ("MERCHANT_PRIVATE_KEY", w.merchant_private_key.expose_secret().is_empty()),
            ("API_V3_KEY", w.api_v3_key.expose_secret().is_empty()),
            ("PLATFORM_PUBLIC_KEY", w.platform_public_key.is_empty()),
            ("PLATFORM_PUBLIC_KEY_ID", w.platform_public_key_id.is_empty()),
            ("NOTIFY_URL", w.notify_url.is_empty()),
        ]
        .into_iter()
        .filter_map(|(name, empty)| empty.then_some(name))
        .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "TUAN_PAYMENTS__PROVIDER_KIND=wechat needs TUAN_PAYMENTS__WECHAT__{}",
                missing.join(", TUAN_PAYMENTS__WECHAT__")
            );
        }
        for (name, url) in [("BASE_URL", &w.base_url), ("NOTIFY_URL", &w.notify_url)] {
            let plain = url.starts_with("http://");
            if !(plain || url.starts_with("https://")) || (plain && !environment.is_development()) {
                anyhow::bail!("TUAN_PAYMENTS__WECHAT__{name} must be an https:// URL (http:// only in development)");
            }
        }
        crate::wechat::MerchantKey::from_pem(w.merchant_private_key.expose_secret(), &w.mchid, &w.merchant_serial)
            .map_err(|e| anyhow::anyhow!("TUAN_PAYMENTS__WECHAT__MERCHANT_PRIVATE_KEY: {e}"))?;
        crate::wechat::NotificationCheck::new(
            &w.platform_public_key,
            &w.platform_public_key_id,
            w.api_v3_key.expose_secret(),
            std::time::Duration::from_secs(w.timestamp_tolerance_secs),
        )
        .map_err(|e| anyhow::anyhow!("TUAN_PAYMENTS__WECHAT__PLATFORM_PUBLIC_KEY or __API_V3_KEY: {e}"))?;
        w.notify_addr
            .parse::<std::net::SocketAddr>()
            .map_err(|_| anyhow::anyhow!("TUAN_PAYMENTS__WECHAT__NOTIFY_ADDR must be host:port"))?;
        Ok(())
    }
}

/// The simulated payment provider: how long it takes to confirm and how often it refuses.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SimulatedProviderSettings {
    pub min_latency_ms: u64,
    pub max_latency_ms: u64,
    /// 0.0 = never fails, 1.0 = always fails.
    pub failure_rate: f64,
    /// A request not confirmed within this time is submitted again (the provider is idempotent).
    pub resubmit_after_secs: u64,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::local(SERVICE, DEFAULT_PORT),
            payments: PaymentsSettings {
                fee_basis_points: 100,
                default_hold_ttl_secs: 24 * 3600,
                expiry_scan_interval_ms: 1_000,
                hold_consumers: 1,
                provider_kind: ProviderKind::Simulated,
                provider: SimulatedProviderSettings {
                    min_latency_ms: 50,
                    max_latency_ms: 500,
                    failure_rate: 0.0,
                    resubmit_after_secs: 30,
                },
                wechat: WeChatPaySettings {
                    base_url: "https://api.mch.weixin.qq.com".into(),
                    mchid: String::new(),
                    app_id: String::new(),
                    merchant_serial: String::new(),
                    merchant_private_key: String::new().into(),
                    api_v3_key: String::new().into(),
                    platform_public_key: String::new(),
                    platform_public_key_id: String::new(),
                    notify_url: String::new(),
                    notify_addr: "0.0.0.0:8480".into(),
                    timestamp_tolerance_secs: 300,
                    order_ttl_secs: 2 * 3600,
                    description: "tuan wallet top-up".into(),
                    timeout_ms: 10_000,
                },
                daily_limits: DailyLimits {
                    top_up: "50000".into(),
                    withdrawal: "50000".into(),
                    transfer: "50000".into(),
                },
            },
        }
    }
}

impl PaymentsConfig {
    /// What the service checks before it starts (`--check-config` runs only this).
    pub fn check(&self) -> anyhow::Result<()> {
        self.common.check()?;
        self.payments.check(self.common.environment)
    }

    pub fn load() -> anyhow::Result<Self> {
        tuan_runtime::config::load(SERVICE, Self::default())
    }
}
