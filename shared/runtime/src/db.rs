//! Postgres pools, set up the same way in every service.

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions, PgSslMode},
};

/// Opens a pool whose connections find projection tables first (`search_path = proj, public`).
///
/// A server on this host (loopback address or Unix socket) is reached without TLS unless a
/// TLS mode is asked for (the URL's `sslmode`/`ssl-mode`, or `PGSSLMODE`): sqlx's default (`prefer`) encrypts whenever the server
/// offers it (Debian's PostgreSQL does), and on loopback the encryption protects nothing
/// while costing both sides CPU on every statement (about a tenth of the database's CPU in
/// the flash-sale bench). Remote servers keep the default, or whatever the URL says.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let mut options = PgConnectOptions::from_str(url)?.options([("search_path", "proj,public")]);
    let mode_asked = url_names_ssl_mode(url) || std::env::var_os("PGSSLMODE").is_some();
    if !mode_asked && is_local(options.get_host()) {
        options = options.ssl_mode(PgSslMode::Disable);
    }
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
}

/// Whether the URL sets a TLS mode itself (sqlx reads both spellings).
fn url_names_ssl_mode(url: &str) -> bool {
    url.contains("sslmode=") || url.contains("ssl-mode=")
}

/// Whether `host` (as sqlx parsed it from a URL) is this machine: a loopback name or address,
/// or a Unix socket directory.
fn is_local(host: &str) -> bool {
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_counts_as_local() {
        for host in ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost", "/var/run/postgresql"] {
            assert!(is_local(host), "{host}");
        }
        for host in ["10.0.0.5", "db.internal", "postgres.tuan.svc.cluster.local", "2001:db8::1"] {
            assert!(!is_local(host), "{host}");
        }
    }

    #[test]
    fn a_url_that_names_a_tls_mode_keeps_it() {
        assert!(url_names_ssl_mode("postgres://postgres@127.0.0.1/tuan?sslmode=require"));
        assert!(url_names_ssl_mode("postgres://postgres@127.0.0.1/tuan?ssl-mode=verify-full"));
        assert!(!url_names_ssl_mode("postgres://postgres@127.0.0.1:5432/tuan"));
    }

    #[test]
    fn a_loopback_url_without_sslmode_is_read_as_such() {
        let options = PgConnectOptions::from_str("postgres://postgres@127.0.0.1:5432/tuan").unwrap();
        assert!(is_local(options.get_host()));
    }
}
