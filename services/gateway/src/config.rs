//! Settings of the gateway (see `tuan_runtime::config` for layering).
//!
//! The gateway has no database and publishes nothing: of the common settings it uses
//! `grpc_addr`, `auth` and `telemetry`; `database` and `kafka` are ignored.

use serde::{Deserialize, Serialize};
use tuan_runtime::config::CommonConfig;

pub const SERVICE: &str = "gateway";
pub const DEFAULT_PORT: u16 = 50050;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct GatewayConfig {
    #[serde(flatten)]
    pub common: CommonConfig,
    pub gateway: GatewaySettings,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct GatewaySettings {
    /// Backends, e.g. `http://127.0.0.1:50051` (env `TUAN_GATEWAY__USERS_URL`).
    pub users_url: String,
    pub circles_url: String,
    pub groupbuy_url: String,
    pub payments_url: String,
    /// TCP connect timeout to a backend.
    pub connect_timeout_ms: u64,
    /// Budget of one backend call made for a screen part (cut further by the client's deadline).
    pub part_budget_ms: u64,
    /// The longest a screen waits when the client sets no deadline.
    pub screen_budget_ms: u64,
    /// Budget of a passed-through call when the client sets no shorter deadline.
    pub command_budget_ms: u64,
    /// Per-user limit: sustained requests per second and burst.
    pub user_rate_per_sec: u32,
    pub user_burst: u32,
    /// Per-client-IP limit (applies to sign-up and login too).
    pub ip_rate_per_sec: u32,
    pub ip_burst: u32,
    /// Consecutive failures of a backend that open its circuit.
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before letting one probe through.
    pub breaker_cool_down_ms: u64,
    /// How long `Home` reuses the list of active campaigns, which is the same for every user,
    /// instead of asking group-buy again; 0: every `Home` asks.
    pub active_campaigns_ttl_ms: u64,
    /// The proxies in front of the gateway (addresses or networks, e.g. the ingress pods'
    /// `["10.0.0.0/8"]`): only from them is `X-Forwarded-For` believed, for the per-IP limit.
    /// Empty: every client is its TCP peer.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// `WatchCampaign`/`WatchTeam` streams one user may hold open at once; past it a new
    /// watch is RESOURCE_EXHAUSTED.
    pub watches_per_user: u32,
    /// The longest a watch stays open; then it ends and the app opens another if it still cares.
    pub watch_lifetime_secs: u64,
    /// Origins whose pages may call the gateway over gRPC-Web (CORS), env
    /// `TUAN_GATEWAY__CORS_ORIGINS='["https://console.example"]'`. Empty means any origin, which
    /// only development accepts (a page from anywhere could then call with a user's token).
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// The merchant console's build directory, served at `/console/index.html` on the gRPC
    /// port; empty: not served (env `TUAN_GATEWAY__CONSOLE_DIR`). Relative to the working
    /// directory (`make run` starts the gateway at the repository root).
    #[serde(default)]
    pub console_dir: String,
}

impl GatewaySettings {
    /// Refuses settings that only a developer's machine may run with.
    pub fn check(&self, environment: tuan_runtime::config::Environment) -> anyhow::Result<()> {
        if self.cors_origins.is_empty() && !environment.is_development() {
            anyhow::bail!(
                "TUAN_GATEWAY__CORS_ORIGINS is empty: list the origins of the web pages that may call the \
                 gateway (e.g. '[\"https://console.example.com\"]'); any origin is accepted only with \
                 TUAN_ENVIRONMENT=development"
            );
        }
        Ok(())
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::local(SERVICE, DEFAULT_PORT),
            gateway: GatewaySettings {
                users_url: "http://127.0.0.1:50051".into(),
                circles_url: "http://127.0.0.1:50052".into(),
                groupbuy_url: "http://127.0.0.1:50053".into(),
                payments_url: "http://127.0.0.1:50054".into(),
                connect_timeout_ms: 500,
                part_budget_ms: 800,
                screen_budget_ms: 2_500,
                command_budget_ms: 10_000,
                user_rate_per_sec: 20,
                user_burst: 40,
                ip_rate_per_sec: 200,
                ip_burst: 400,
                breaker_failures: 5,
                breaker_cool_down_ms: 5_000,
                active_campaigns_ttl_ms: 1_000,
                trusted_proxies: Vec::new(),
                watches_per_user: 10,
                watch_lifetime_secs: 1_800,
                cors_origins: Vec::new(),
                console_dir: "services/gateway/console/dist".into(),
            },
        }
    }
}

impl GatewayConfig {
    pub fn load() -> anyhow::Result<Self> {
        tuan_runtime::config::load(SERVICE, Self::default())
    }

    /// What the gateway checks before it starts: the common settings, the edge's, backend URLs
    /// that parse, proxies that parse.
    pub fn check(&self) -> anyhow::Result<()> {
        self.common.check()?;
        let g = &self.gateway;
        g.check(self.common.environment)?;
        for (key, url) in [
            ("USERS", &g.users_url),
            ("CIRCLES", &g.circles_url),
            ("GROUPBUY", &g.groupbuy_url),
            ("PAYMENTS", &g.payments_url),
        ] {
            let parsed: Result<http::Uri, _> = url.parse();
            if !parsed.as_ref().is_ok_and(|u| u.scheme().is_some() && u.host().is_some()) {
                anyhow::bail!("TUAN_GATEWAY__{key}_URL {url:?} is not a URL like http://users:50051");
            }
        }
        crate::api::limits::ClientAddress::new(&g.trusted_proxies)?;
        Ok(())
    }

    /// `--check-config`: [`GatewayConfig::check`], and the console directory exists if one is
    /// named (at start-up a missing one only means no console: `make run` without npm).
    pub fn check_deployment(&self) -> anyhow::Result<()> {
        self.check()?;
        let dir = &self.gateway.console_dir;
        if !dir.is_empty() && !std::path::Path::new(dir).is_dir() {
            anyhow::bail!("TUAN_GATEWAY__CONSOLE_DIR {dir:?} is not a directory (empty: no console)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tuan_runtime::config::Environment;

    use super::*;

    #[test]
    fn any_origin_is_refused_outside_development() {
        let mut settings = GatewayConfig::default().gateway;
        let err = settings.check(Environment::Production).unwrap_err().to_string();
        assert!(err.contains("TUAN_GATEWAY__CORS_ORIGINS"), "{err}");
        assert!(settings.check(Environment::Development).is_ok());
        settings.cors_origins = vec!["https://console.example.com".into()];
        assert!(settings.check(Environment::Production).is_ok());
    }
}
