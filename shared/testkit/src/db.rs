use sqlx::AssertSqlSafe;
use sqlx::{Connection, PgConnection, PgPool};

/// The server tests use; override with `TUAN_TEST_DATABASE_URL` (no database name in it).
fn server_url() -> String {
    std::env::var("TUAN_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database created for one test and dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    /// Creates `tuan_test_<uuid>` with the event store schema installed.
    pub async fn new() -> Self {
        let server = server_url();
        let name = format!("tuan_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&format!("{server}/postgres")).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach PostgreSQL at {server} ({e}). Start it: `infra/postgres.sh ensure` \
                 (or pg_ctlcluster <version> main start)"
            )
        });
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = format!("{server}/{name}");
        // Small: the test itself only inspects; the service under test has its own pool.
        let pool = tuan_runtime::db::connect(&url, 5).await.expect("connect to test database");
        tuan_eventstore::install_schema(&pool).await.expect("install event store schema");
        Self { name, url, pool }
    }

    /// A second pool on the same database (e.g. for a second service replica).
    pub async fn another_pool(&self, max_connections: u32) -> PgPool {
        tuan_runtime::db::connect(&self.url, max_connections).await.expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let server = server_url();
        // Drop runs outside async context; use a short-lived runtime on a plain thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                let mut admin = PgConnection::connect(&format!("{server}/postgres")).await.ok()?;
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// Events in the event store of `pool`'s database.
pub async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await.unwrap()
}

/// Events appended by API requests (caused by `request:<correlation id>`): not by consumers of
/// other services' events, sagas or scanners, which may append at any moment.
pub async fn request_event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE causation_id LIKE 'request:%'").fetch_one(pool).await.unwrap()
}
