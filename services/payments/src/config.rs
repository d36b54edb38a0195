//! Settings of the payments service (see `tuan_runtime::config` for layering).

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
                 real payment provider"
            );
        }
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
