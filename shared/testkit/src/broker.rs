use std::{
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const SHARED_BROKER: &str = "127.0.0.1:9092";

fn reachable(addr: &str) -> bool {
    let addr: SocketAddr = addr.parse().expect("broker address");
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

fn tansu_binary() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("tansu")).collect())
        .unwrap_or_default();
    candidates.push(home.join(".cargo/bin/tansu"));
    candidates.into_iter().find(|p| p.is_file())
}

fn workspace_dir() -> PathBuf {
    // CARGO_MANIFEST_DIR is shared/testkit; the workspace is two levels up.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn spawn_tansu(port: u16, dir: &PathBuf, authentication: bool) -> Child {
    let binary = tansu_binary().unwrap_or_else(|| {
        panic!(
            "no Kafka broker at the test address and tansu is not installed: run `make broker` \
             (infra/broker.sh install && infra/broker.sh start), or set TUAN_TEST_BROKERS"
        )
    });
    std::fs::create_dir_all(dir).expect("broker data directory");
    let log = std::fs::File::create(dir.join("tansu.log")).expect("broker log");
    let url = format!("tcp://127.0.0.1:{port}");
    Command::new(binary)
        .current_dir(dir)
        .args(["broker", "--storage-engine", "sqlite://tansu.db"])
        .args(["--kafka-listener-url", &url, "--kafka-advertised-listener-url", &url])
        .args(authentication.then_some("--authentication"))
        .stdout(Stdio::from(log.try_clone().expect("log handle")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start tansu")
}

/// The index tansu 0.6.0's sqlite schema lacks: its fetch reads each record's headers with a
/// query on `header (topition, offset_id)`, which without it scans every header ever stored,
/// so the broker's CPU per message grew with its history (flash-sale bench, half rate: saga
/// p50 5.7 s -> 1.8 s with it). Same statement as `infra/broker.sh`. Needs the `sqlite3`
/// command; without it the broker still works, only slower, so that is a warning.
pub const HEADER_INDEX_SQL: &str = "CREATE INDEX IF NOT EXISTS tuan_header_record ON header (topition, offset_id)";

fn index_headers(dir: &std::path::Path) {
    let db = dir.join("tansu.db");
    // tansu creates its tables on start; retry briefly until they are there.
    for _ in 0..50 {
        match Command::new("sqlite3").arg("-cmd").arg(".timeout 5000").arg(&db).arg(HEADER_INDEX_SQL).output() {
            Ok(out) if out.status.success() => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                eprintln!("warning: cannot index tansu's headers ({e}); install sqlite3 for a faster broker");
                return;
            }
        }
    }
    eprintln!("warning: tansu's header table was not indexed ({}); the broker will be slower", db.display());
}

fn wait_reachable(addr: &str, timeout: Duration) {
    let start = Instant::now();
    while !reachable(addr) {
        assert!(start.elapsed() < timeout, "broker at {addr} did not come up within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The broker all tests share: `TUAN_TEST_BROKERS` if set, else 127.0.0.1:9092, started here
/// (durably, under `target/test-broker/`) if nothing listens there yet.
pub fn shared_broker() -> String {
    if let Ok(brokers) = std::env::var("TUAN_TEST_BROKERS") {
        assert!(
            brokers.split(',').any(reachable),
            "TUAN_TEST_BROKERS={brokers} is not reachable: start the broker with `make broker`"
        );
        return brokers;
    }
    if !reachable(SHARED_BROKER) {
        // Detached on purpose: later tests (and test binaries) reuse it.
        let dir = workspace_dir().join("target/test-broker");
        let child = spawn_tansu(9092, &dir, false);
        std::mem::forget(child);
        wait_reachable(SHARED_BROKER, Duration::from_secs(30));
        index_headers(&dir);
    }
    SHARED_BROKER.to_string()
}

/// Where brokers of a test's own keep their storage: `TUAN_TEST_BROKER_DIR` if set (e.g. a
/// tmpfs such as /dev/shm: tansu's sqlite storage syncs every write, and on a slow disk the
/// broker then waits on I/O more than it works), else `target/`.
fn own_broker_base() -> PathBuf {
    std::env::var_os("TUAN_TEST_BROKER_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_dir().join("target"))
}

/// A broker of the test's own, on a free port, with durable storage it can kill and restart.
pub struct OwnBroker {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// Clients must authenticate (SASL/SCRAM) with one of the users it was started with.
    authentication: bool,
}

impl OwnBroker {
    pub fn start() -> Self {
        let port = crate::free_port();
        let dir = own_broker_base().join(format!("test-broker-{}", uuid::Uuid::new_v4().simple()));
        let mut broker = Self { port, dir, child: None, authentication: false };
        broker.resume();
        broker
    }

    /// A broker that admits only clients authenticating with SASL/SCRAM-SHA-512 as one of
    /// `users` (name, password). tansu keeps users in its storage and creates them over the
    /// Kafka protocol unauthenticated, so they are made first, then the broker restarts with
    /// `--authentication`.
    pub fn with_users(users: &[(&str, &str)]) -> Self {
        let mut broker = Self::start();
        let binary = tansu_binary().expect("tansu");
        for (name, password) in users {
            let url = format!("tcp://{}", broker.address());
            let done = Command::new(&binary)
                .args(["user", "create", "--broker", &url, "--mechanism", "scram512", name, password])
                .output()
                .expect("tansu user create");
            assert!(done.status.success(), "tansu user create {name}: {}", String::from_utf8_lossy(&done.stderr));
        }
        broker.kill();
        broker.authentication = true;
        broker.resume();
        broker
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker process's id while it runs (to freeze it with SIGSTOP, say).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the broker with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and storage.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        self.child = Some(spawn_tansu(self.port, &self.dir, self.authentication));
        wait_reachable(&self.address(), Duration::from_secs(30));
        index_headers(&self.dir);
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
