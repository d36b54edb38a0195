//! Typed settings, layered: defaults -> `config/<service>.toml` or the file named by
//! `TUAN_CONFIG` -> environment variables `TUAN_*` (nested keys split by `__`, e.g.
//! `TUAN_DATABASE__URL`). Secrets are [`SecretString`]s so they never reach a log.

use std::net::SocketAddr;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Settings every service has; a service's own config embeds it with `#[serde(flatten)]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CommonConfig {
    /// Where the gRPC server listens. Port 0 picks a free port.
    pub grpc_addr: SocketAddr,
    /// Where Prometheus scrapes `/metrics`; none when unset.
    #[serde(default)]
    pub metrics_addr: Option<SocketAddr>,
    pub database: DatabaseConfig,
    pub kafka: KafkaConfig,
    pub telemetry: TelemetryConfig,
    pub auth: AuthConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DatabaseConfig {
    #[serde(serialize_with = "expose")]
    pub url: SecretString,
    pub max_connections: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct KafkaConfig {
    /// `host:port[,host:port]`.
    pub brokers: String,
    /// Partitions for topics this service creates.
    pub partitions: i32,
    pub replication_factor: i32,
    /// Prepended to every topic name; lets tests and environments share a broker.
    #[serde(default)]
    pub topic_prefix: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TelemetryConfig {
    /// `json` or `pretty`.
    pub log_format: String,
    /// An `EnvFilter` directive, e.g. `info,tuan=debug`. `RUST_LOG` wins when set.
    pub log_filter: String,
    /// OTLP/gRPC collector endpoint, e.g. `http://127.0.0.1:4317`. No export when empty.
    pub otlp_endpoint: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuthConfig {
    /// HMAC key for access tokens; every service verifies with it.
    #[serde(serialize_with = "expose")]
    pub jwt_secret: SecretString,
    pub issuer: String,
}

fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(secret.expose_secret())
}

impl CommonConfig {
    /// Local-development defaults for `service`, matching `make run`.
    pub fn local(service: &str, grpc_port: u16) -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], grpc_port)),
            // Locally, metrics sit 1000 above the gRPC port (users: 51051).
            metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], grpc_port + 1000))),
            database: DatabaseConfig {
                url: format!("postgres://postgres@127.0.0.1:5432/tuan_{service}").into(),
                max_connections: 20,
            },
            kafka: KafkaConfig {
                brokers: "127.0.0.1:9092".into(),
                partitions: 6,
                replication_factor: 1,
                topic_prefix: String::new(),
            },
            telemetry: TelemetryConfig {
                log_format: "json".into(),
                log_filter: "info".into(),
                otlp_endpoint: String::new(),
            },
            auth: AuthConfig {
                jwt_secret: "tuan-local-development-secret-change-me".to_string().into(),
                issuer: "tuan".into(),
            },
        }
    }
}

/// Loads `T` for `service`, starting from `defaults`.
pub fn load<T: Serialize + DeserializeOwned>(service: &str, defaults: T) -> anyhow::Result<T> {
    let file = std::env::var("TUAN_CONFIG").unwrap_or_else(|_| format!("config/{service}.toml"));
    Figment::from(Serialized::defaults(defaults))
        .merge(Toml::file(file))
        .merge(Env::prefixed("TUAN_").split("__"))
        .extract()
        .map_err(|e| anyhow::anyhow!("configuration of {service}: {e}"))
}
