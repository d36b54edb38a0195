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

/// Where a process runs. Conveniences that are unsafe anywhere but on a developer's machine
/// (the built-in JWT secret, simulated providers, senders that write codes to a table) are
/// allowed only in [`Environment::Development`], which `make run`, the tests and the benches
/// ask for explicitly (`TUAN_ENVIRONMENT=development`). Anything else is production: a
/// deployment that forgets the setting gets the strict checks, never the conveniences.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    #[default]
    Production,
}

impl Environment {
    pub fn is_development(self) -> bool {
        self == Environment::Development
    }

    /// Refuses `secret` (read from `variable`) when it is the built-in `development` value and
    /// this is not development, or when it is shorter than 32 characters; the message names
    /// the variable to set.
    pub fn check_secret(self, variable: &str, secret: &SecretString, development: &str) -> anyhow::Result<()> {
        use secrecy::ExposeSecret;
        if !self.is_development() && secret.expose_secret() == development {
            anyhow::bail!(
                "{variable} is not set: the built-in development secret is accepted only with \
                 TUAN_ENVIRONMENT=development (make run and the tests set it)"
            );
        }
        if secret.expose_secret().len() < 32 {
            anyhow::bail!("{variable} must have at least 32 characters");
        }
        Ok(())
    }
}

/// The JWT secret a service uses when none is configured; accepted in development only.
pub const DEVELOPMENT_JWT_SECRET: &str = "tuan-local-development-secret-change-me";

/// Settings every service has; a service's own config embeds it with `#[serde(flatten)]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CommonConfig {
    /// `development` or `production` (the default); see [`Environment`].
    #[serde(default)]
    pub environment: Environment,
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
    /// How this service proves who it is to the broker: `plaintext` (locally), or
    /// `sasl_plaintext` / `sasl_ssl` with the SCRAM user Strimzi's `KafkaUser` makes for it.
    #[serde(default)]
    pub security: KafkaSecurity,
}

/// The broker identity of a service (librdkafka's `security.protocol`, `sasl.*` and CA).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct KafkaSecurity {
    /// `plaintext` (empty), `ssl`, `sasl_plaintext` or `sasl_ssl`.
    #[serde(default)]
    pub protocol: String,
    /// e.g. `SCRAM-SHA-512`.
    #[serde(default)]
    pub sasl_mechanism: String,
    #[serde(default)]
    pub sasl_username: String,
    #[serde(default, serialize_with = "expose")]
    pub sasl_password: SecretString,
    /// The broker's CA certificate (PEM file), for `ssl` and `sasl_ssl`.
    #[serde(default)]
    pub ssl_ca_location: String,
}

impl KafkaSecurity {
    /// The librdkafka settings, in the order they are applied; none for plaintext.
    pub fn client_settings(&self) -> Vec<(&'static str, String)> {
        use secrecy::ExposeSecret;
        let mut settings = Vec::new();
        let mut set = |key: &'static str, value: &str| {
            if !value.is_empty() {
                settings.push((key, value.to_string()));
            }
        };
        set("security.protocol", &self.protocol);
        set("sasl.mechanism", &self.sasl_mechanism);
        set("sasl.username", &self.sasl_username);
        set("sasl.password", self.sasl_password.expose_secret());
        set("ssl.ca.location", &self.ssl_ca_location);
        settings
    }
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
    /// Refuses settings that are only safe on a developer's machine when the environment is
    /// not development, naming the variable to set. Every service calls it before it starts.
    ///
    /// It also parses what would otherwise fail only on first use: the database URL, the
    /// broker list, the OTLP endpoint. It connects to nothing (`--check-config` runs it alone).
    pub fn check(&self) -> anyhow::Result<()> {
        self.environment.check_secret("TUAN_AUTH__JWT_SECRET", &self.auth.jwt_secret, DEVELOPMENT_JWT_SECRET)?;
        self.check_database()?;
        let brokers_ok = !self.kafka.brokers.trim().is_empty()
            && self
                .kafka
                .brokers
                .split(',')
                .all(|b| b.trim().rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()));
        if !brokers_ok {
            anyhow::bail!("TUAN_KAFKA__BROKERS {:?} is not a list of host:port", self.kafka.brokers);
        }
        let otlp = &self.telemetry.otlp_endpoint;
        if !otlp.is_empty() && !otlp.parse::<http::Uri>().is_ok_and(|u| u.scheme().is_some() && u.host().is_some()) {
            anyhow::bail!("TUAN_TELEMETRY__OTLP_ENDPOINT {otlp:?} is not a URL like http://otel-collector:4317");
        }
        Ok(())
    }

    /// The database URL parses: all a migration needs (it reads no token key).
    pub fn check_database(&self) -> anyhow::Result<()> {
        use secrecy::ExposeSecret;
        let url = self.database.url.expose_secret();
        if url.parse::<sqlx::postgres::PgConnectOptions>().is_err() || !url.starts_with("postgres") {
            // The URL may carry a password: say what is wrong, not what it is.
            anyhow::bail!("TUAN_DATABASE__URL is not a PostgreSQL URL (postgres://user:password@host:5432/database)");
        }
        Ok(())
    }

    /// The same settings in development: what tests and benches run with.
    pub fn development(mut self) -> Self {
        self.environment = Environment::Development;
        self
    }

    /// Defaults for `service` (local addresses, the development secret), matching `make run`.
    /// The environment stays production: [`CommonConfig::check`] refuses the development
    /// secret until the environment says development.
    pub fn local(service: &str, grpc_port: u16) -> Self {
        Self {
            environment: Environment::Production,
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
                security: KafkaSecurity::default(),
            },
            telemetry: TelemetryConfig {
                log_format: "json".into(),
                log_filter: "info".into(),
                otlp_endpoint: String::new(),
            },
            auth: AuthConfig { jwt_secret: DEVELOPMENT_JWT_SECRET.to_string().into(), issuer: "tuan".into() },
        }
    }
}

/// The services, whose own settings sit under their name (`TUAN_PAYMENTS__...`). One shared
/// environment may carry every service's section; each reads its own and leaves the others.
const SERVICES: [&str; 5] = ["users", "circles", "groupbuy", "payments", "gateway"];

/// `TUAN_*` variables that are not settings but the tools' own: the settings file, tuanctl's
/// credentials and addresses (`TUAN_USERS_ADDR`), the demo seed's (`TUAN_USERS_URL`), and what
/// `make run`, the tests and the benches read (`TUAN_TEST_*`, `TUAN_BROKER_PORT`, ...).
fn is_tool_variable(name: &str) -> bool {
    const OWN: [&str; 4] = ["CONFIG", "TOKEN", "PHONE", "PASSWORD"];
    const PREFIXES: [&str; 8] = ["TEST_", "E2E_", "BENCH_", "CHAOS_", "CONSOLE_", "BROKER", "PG_", "START_"];
    let service_address = SERVICES
        .iter()
        .any(|s| name.strip_prefix(&s.to_ascii_uppercase()).is_some_and(|rest| rest == "_ADDR" || rest == "_URL"));
    OWN.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p)) || service_address
}

/// The `TUAN_*` variables among `names` that set nothing in `service`'s settings (whose every
/// key `known` holds): misspelt, or meant for a setting that does not exist. Figment would
/// ignore them silently, and a deployment would run on defaults it never meant to.
pub fn unknown_variables(
    service: &str,
    known: &serde_json::Value,
    names: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let mut unknown: Vec<String> = names
        .into_iter()
        .filter(|name| {
            let Some(key) = name.strip_prefix("TUAN_") else { return false };
            if is_tool_variable(key) {
                return false;
            }
            let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
            let another_service = path.len() > 1 && path[0] != service && SERVICES.contains(&path[0].as_str());
            !another_service && path.iter().try_fold(known, |value, k| value.get(k)).is_none()
        })
        .collect();
    unknown.sort();
    unknown
}

/// A text setting as it was written, for `#[serde(deserialize_with = "...")]`: Figment reads
/// `TUAN_X=1900000109` as a number and `+15005550006` too, and would refuse them for a
/// `String` field (a merchant id, a phone number, a hex serial made of digits only).
pub fn text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Unsigned(u64),
        Signed(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Written::deserialize(deserializer)? {
        Written::Text(s) => s,
        Written::Unsigned(n) => n.to_string(),
        Written::Signed(n) => n.to_string(),
        Written::Float(n) => n.to_string(),
        Written::Bool(b) => b.to_string(),
    })
}

/// [`text`] for a secret.
pub fn secret_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<SecretString, D::Error> {
    text(deserializer).map(SecretString::from)
}

/// Loads `T` for `service`, starting from `defaults`. A `TUAN_*` variable that names no setting
/// is refused, naming it (see [`unknown_variables`]).
pub fn load<T: Serialize + DeserializeOwned>(service: &str, defaults: T) -> anyhow::Result<T> {
    let known = serde_json::to_value(&defaults)?;
    let unknown = unknown_variables(service, &known, std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()));
    if !unknown.is_empty() {
        anyhow::bail!(
            "configuration of {service}: {} set(s) nothing {service} reads: misspelt, or a setting that does not \
             exist (the settings are the fields of {service}'s config.rs and shared/runtime/src/config.rs)",
            unknown.join(", ")
        );
    }
    let file = std::env::var("TUAN_CONFIG").unwrap_or_else(|_| format!("config/{service}.toml"));
    Figment::from(Serialized::defaults(defaults))
        .merge(Toml::file(file))
        .merge(Env::prefixed("TUAN_").split("__"))
        .extract()
        .map_err(|e| anyhow::anyhow!("configuration of {service}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_secret_is_refused_outside_development() {
        let production = CommonConfig::local("users", 0);
        let err = production.check().unwrap_err().to_string();
        assert!(err.contains("TUAN_AUTH__JWT_SECRET"), "{err}");
        assert!(production.clone().development().check().is_ok());

        let mut configured = production;
        configured.auth.jwt_secret = "a-secret-of-at-least-thirty-two-characters".to_string().into();
        assert!(configured.check().is_ok());
        configured.auth.jwt_secret = "short".to_string().into();
        assert!(configured.check().unwrap_err().to_string().contains("32 characters"));
    }

    #[test]
    fn text_settings_keep_what_looks_like_a_number() {
        #[derive(Deserialize)]
        struct Account {
            #[serde(deserialize_with = "text")]
            id: String,
        }
        // What Figment makes of an environment variable's value: digits are a number.
        for (value, kept) in [("1900000109", "1900000109"), ("wx1", "wx1"), ("\"+15005550006\"", "+15005550006")] {
            let written: figment::value::Value = value.parse().unwrap();
            let figment = Figment::new().merge(Serialized::default("id", written));
            assert_eq!(figment.extract::<Account>().unwrap().id, kept);
        }
    }

    #[test]
    fn a_variable_that_sets_nothing_is_named() {
        let known = serde_json::json!({
            "environment": "production", "database": { "url": "postgres://", "max_connections": 20 },
            "gateway": { "users_url": "http://127.0.0.1:50051", "cors_origins": [] },
        });
        let names = [
            "TUAN_ENVIRONMENT",
            "TUAN_DATABASE__URL",
            "TUAN_GATEWAY__USERS_URL",
            "TUAN_GATEWAY__CORS_ORIGINS",
            // The mistakes: a section that does not exist, a misspelt key, a misspelt top level.
            "TUAN_GATEWAY__UPSTREAMS__USERS",
            "TUAN_DATABASE__MAX_CONECTIONS",
            "TUAN_ENVIROMENT",
            // Not settings: the tools' own, another service's section, another prefix.
            "TUAN_CONFIG",
            "TUAN_TOKEN",
            "TUAN_USERS_ADDR",
            "TUAN_PAYMENTS_URL",
            "TUAN_TEST_BROKERS",
            "TUAN_BROKER_PORT",
            "TUAN_PAYMENTS__FEE_BASIS_POINTS",
            "PATH",
            "RUST_LOG",
        ]
        .map(String::from);
        assert_eq!(
            unknown_variables("gateway", &known, names),
            ["TUAN_DATABASE__MAX_CONECTIONS", "TUAN_ENVIROMENT", "TUAN_GATEWAY__UPSTREAMS__USERS"]
        );
        // Its own section is checked as strictly as the common keys.
        assert_eq!(unknown_variables("users", &known, ["TUAN_USERS__NOPE".to_string()]), ["TUAN_USERS__NOPE"]);
    }

    #[test]
    fn the_environment_is_production_unless_asked() {
        let parsed: Environment = serde_json::from_str("\"development\"").unwrap();
        assert!(parsed.is_development());
        assert_eq!(Environment::default(), Environment::Production);
        assert!(serde_json::from_str::<Environment>("\"dev\"").is_err());
    }
}
