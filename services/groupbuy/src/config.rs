//! Settings of the group-buy service (see `tuan_runtime::config` for layering).

use serde::{Deserialize, Serialize};
use tuan_runtime::config::CommonConfig;

pub const SERVICE: &str = "groupbuy";
pub const DEFAULT_PORT: u16 = 50053;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct GroupBuyConfig {
    #[serde(flatten)]
    pub common: CommonConfig,
    pub groupbuy: GroupBuySettings,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct GroupBuySettings {
    /// How often the deadline scanner looks for due team windows and campaign ends.
    pub deadline_scan_ms: u64,
    /// Holds expire at payments this long after our own deadline (a safety net only).
    pub hold_grace_secs: u64,
    /// Watchers get a "time left" update at most this often when nothing else changed.
    pub progress_tick_ms: u64,
    /// How often the process looks for changes to what its watchers watch: the most a live
    /// progress update lags the change.
    pub progress_poll_ms: u64,
    /// Members of the saga consumer group in this process (parallel over partitions).
    pub saga_consumers: u32,
}

impl Default for GroupBuyConfig {
    fn default() -> Self {
        let mut common = CommonConfig::local(SERVICE, DEFAULT_PORT);
        // Joins are short transactions on a pool: enough connections for 500 concurrent buyers.
        common.database.max_connections = 40;
        Self {
            common,
            groupbuy: GroupBuySettings {
                deadline_scan_ms: 500,
                hold_grace_secs: 3600,
                progress_tick_ms: 1000,
                progress_poll_ms: 100,
                saga_consumers: 2,
            },
        }
    }
}

impl GroupBuyConfig {
    pub fn load() -> anyhow::Result<Self> {
        tuan_runtime::config::load(SERVICE, Self::default())
    }

    /// What the service checks before it starts (`--check-config` runs only this).
    pub fn check(&self) -> anyhow::Result<()> {
        self.common.check()
    }
}
