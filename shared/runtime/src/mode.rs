//! What a service binary was asked to do, from its command line: the same arguments for every
//! service, the gateway included (which has nothing to migrate).

/// What the binary was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The default: run the service.
    Serve,
    /// `--migrate-only`: install the event store schema and projection tables, then exit
    /// (the Kubernetes migration Job runs this before a rollout).
    MigrateOnly,
    /// `--health-check`: ask the local gRPC health service; exit 0 if serving (Docker HEALTHCHECK).
    HealthCheck,
    /// `--check-config`: load the settings and check them without connecting anywhere; exit 0
    /// if the service would start with them (`make k8s-check` runs it on every render).
    CheckConfig,
    /// `--check-config --migrate-only`: the same for what `--migrate-only` reads (the database).
    CheckMigrateConfig,
}

impl Mode {
    pub fn from_args() -> anyhow::Result<Self> {
        match std::env::args().nth(1).as_deref() {
            None => Ok(Mode::Serve),
            Some("--migrate-only") => Ok(Mode::MigrateOnly),
            Some("--health-check") => Ok(Mode::HealthCheck),
            Some("--check-config") => match std::env::args().nth(2).as_deref() {
                None => Ok(Mode::CheckConfig),
                Some("--migrate-only") => Ok(Mode::CheckMigrateConfig),
                Some(other) => anyhow::bail!("unknown argument {other} after --check-config; use --migrate-only"),
            },
            Some(other) => {
                anyhow::bail!("unknown argument {other}; use --migrate-only, --health-check or --check-config")
            }
        }
    }
}
