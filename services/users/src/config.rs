//! Settings of the users service (see `tuan_runtime::config` for layering).

use serde::{Deserialize, Serialize};
use tuan_runtime::config::CommonConfig;

pub const SERVICE: &str = "users";
pub const DEFAULT_PORT: u16 = 50051;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UsersConfig {
    #[serde(flatten)]
    pub common: CommonConfig,
    pub users: UsersSettings,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UsersSettings {
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    pub discovery_salt: String,
    /// E.164 numbers that become operators (the bootstrap for the back office).
    pub operator_phones: Vec<String>,
}

impl Default for UsersConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::local(SERVICE, DEFAULT_PORT),
            users: UsersSettings {
                access_ttl_secs: 15 * 60,
                refresh_ttl_secs: 30 * 24 * 3600,
                discovery_salt: "tuan-discovery-v1".into(),
                operator_phones: vec!["+8613800000000".into()],
            },
        }
    }
}

impl UsersConfig {
    pub fn load() -> anyhow::Result<Self> {
        tuan_runtime::config::load(SERVICE, Self::default())
    }
}
