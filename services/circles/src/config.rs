//! Settings of the circles service (see `tuan_runtime::config` for layering).

use serde::{Deserialize, Serialize};
use tuan_runtime::config::CommonConfig;

pub const SERVICE: &str = "circles";
pub const DEFAULT_PORT: u16 = 50052;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CirclesConfig {
    #[serde(flatten)]
    pub common: CommonConfig,
    pub circles: CirclesSettings,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CirclesSettings {
    /// Member cap of a new circle.
    pub default_member_cap: u32,
    /// The highest cap an owner with a premium plan may set.
    pub premium_member_cap: u32,
    /// Broadcasts a public account may send per calendar month (UTC).
    pub broadcast_quota_per_month: u32,
}

impl Default for CirclesConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::local(SERVICE, DEFAULT_PORT),
            circles: CirclesSettings {
                default_member_cap: 500,
                premium_member_cap: 2000,
                broadcast_quota_per_month: 20,
            },
        }
    }
}

impl CirclesConfig {
    pub fn load() -> anyhow::Result<Self> {
        tuan_runtime::config::load(SERVICE, Self::default())
    }

    /// What the service checks before it starts (`--check-config` runs only this).
    pub fn check(&self) -> anyhow::Result<()> {
        self.common.check()
    }
}
