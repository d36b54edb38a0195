//! Runs the whole system as real processes for one test: a fresh database per service, the
//! shared broker with a topic prefix of the test's own (or, with [`Options::own_broker`], a
//! broker of the stack's own that can be killed and frozen), every service binary on a free
//! port, and the gateway in front. Children are killed when the [`Stack`] is dropped. Logs go
//! to `target/e2e-logs/<test>/<service>.log`.

use std::{
    collections::BTreeMap,
    fs::File,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use tokio::sync::{Mutex, MutexGuard};
use tonic::{Request, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
use tuan_proto::gateway::v1::mobile_gateway_client::MobileGatewayClient;
use tuan_testkit::{OwnBroker, TestDb};

pub const SERVICES: [&str; 4] = ["users", "circles", "groupbuy", "payments"];
/// The one web origin the gateway of a test stack admits (CORS).
pub const CONSOLE_ORIGIN: &str = "http://console.localhost:5173";
pub const JWT_SECRET: &str = "tuan-e2e-secret-not-for-production";
/// The stack's operator, signed up (password `flows::PASSWORD`) and made operator from inside
/// the deployment (`users grant-operator`) when the stack starts.
pub const OPERATOR_PHONE: &str = "+8613800000000";

pub type Gateway = MobileGatewayClient<Channel>;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace dir")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
}

fn binary(name: &str) -> PathBuf {
    target_dir().join("debug").join(name)
}

/// Builds the service binaries once per test run (a no-op when they are fresh). Set
/// `TUAN_E2E_NO_BUILD=1` to use whatever is in target/debug.
fn ensure_binaries() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let all = || SERVICES.iter().chain(["gateway"].iter()).all(|s| binary(s).is_file());
        if std::env::var_os("TUAN_E2E_NO_BUILD").is_some() {
            assert!(all(), "service binaries missing: run `cargo build --workspace --bins`");
            return;
        }
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(workspace())
            .args(["build", "--workspace", "--bins"])
            .status();
        match status {
            Ok(s) if s.success() => {}
            _ if all() => eprintln!("e2e: building the services failed; using the binaries already in target/debug"),
            _ => panic!(
                "the service binaries are missing and could not be built: run \
                 `cargo build --workspace --bins`"
            ),
        }
    });
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// Tests take turns: each starts five services, and the machine is small.
pub async fn exclusive() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::const_new(());
    TURN.lock().await
}

struct Process {
    name: &'static str,
    port: u16,
    env: BTreeMap<String, String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = File::options().create(true).append(true).open(&self.log).expect("log file");
        let child = Command::new(binary(self.name))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(&self.env)
            .current_dir(self.log.parent().expect("log dir"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen process must be able to die.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn wait_serving(&mut self, timeout: Duration) {
        let start = Instant::now();
        let url = format!("http://127.0.0.1:{}", self.port);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("{} exited with {status} while starting:\n{}", self.name, self.log_tail());
            }
            if let Ok(channel) = Channel::from_shared(url.clone()).expect("url").connect().await
                && let Ok(reply) = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await
                && reply.get_ref().status() == ServingStatus::Serving
            {
                return;
            }
            assert!(start.elapsed() < timeout, "{} did not serve within {timeout:?}:\n{}", self.name, self.log_tail());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Settings a test may change.
#[derive(Clone, Debug)]
pub struct Options {
    /// Per-user rate limit of the gateway: per second, burst.
    pub user_rate: (u32, u32),
    /// The gateway's budget per backend call of a screen. Generous by default: debug builds
    /// on a small shared machine are slow, and a part missing for that would fail a test
    /// about something else.
    pub part_budget_ms: u64,
    /// Where every service exports its spans (OTLP/gRPC); none by default.
    pub otlp_endpoint: Option<String>,
    /// A broker of the stack's own (killed with it) instead of the shared one, so a test may
    /// kill, restart and freeze it ([`Stack::stop_broker`], [`Stack::freeze_broker`]).
    pub own_broker: bool,
    /// Extra settings per service, `(service, variable, value)`, applied after the harness's own.
    pub env: Vec<(&'static str, String, String)>,
    /// Leave out the stack's operator (for a test that makes its own, as the demo seed does).
    pub no_operator: bool,
    /// Money comes in through WeChat Pay: payments uses its adapter against a local server
    /// that speaks the protocol ([`Stack::wechat_pay`]), instead of the simulated provider.
    pub wechat_pay: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            user_rate: (50, 100),
            part_budget_ms: 3_000,
            otlp_endpoint: None,
            own_broker: false,
            env: Vec::new(),
            no_operator: false,
            wechat_pay: false,
        }
    }
}

/// One of the workspace's binaries with `args` and only `env` (and PATH).
fn command(bin: &str, env: &BTreeMap<String, String>, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(binary(bin));
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).envs(env).args(args);
    command
}

/// Runs [`command`]; answers (stdout, stderr), and fails the test if it failed.
async fn run_binary(bin: &str, env: &BTreeMap<String, String>, args: &[&str]) -> (String, String) {
    let output = command(bin, env, args).output().await.unwrap_or_else(|e| panic!("run {bin}: {e}"));
    let (stdout, stderr) =
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned());
    assert!(output.status.success(), "{bin} {args:?} failed: {stdout}{stderr}");
    (stdout, stderr)
}

/// The running system of one test.
pub struct Stack {
    // Processes stop before their databases are dropped.
    processes: Vec<Process>,
    // Then the broker, if the stack has its own.
    own_broker: Option<OwnBroker>,
    dbs: BTreeMap<&'static str, TestDb>,
    pub gateway_url: String,
    metrics_ports: BTreeMap<&'static str, u16>,
    /// The local WeChat Pay, with [`Options::wechat_pay`]: payers pay there.
    pub wechat_pay: Option<payments::wechat::local::LocalWeChatPay>,
}

impl Stack {
    pub async fn start(test: &str, options: Options) -> Self {
        tuan_testkit::init_tracing();
        ensure_binaries();
        let own_broker = options.own_broker.then(|| tokio::task::block_in_place(OwnBroker::start));
        let broker = match &own_broker {
            Some(own) => own.address(),
            None => tuan_testkit::shared_broker(),
        };
        let prefix = tuan_testkit::unique_prefix();
        let log_dir = target_dir().join("e2e-logs").join(test);
        let _ = std::fs::remove_dir_all(&log_dir);
        std::fs::create_dir_all(&log_dir).expect("log dir");

        let mut dbs = BTreeMap::new();
        for service in SERVICES {
            dbs.insert(service, TestDb::new().await);
        }
        let ports: BTreeMap<&str, u16> = SERVICES.iter().chain(["gateway"].iter()).map(|s| (*s, free_port())).collect();
        let metrics_ports: BTreeMap<&'static str, u16> =
            SERVICES.iter().chain(["gateway"].iter()).map(|s| (*s, free_port())).collect();
        let common = |name: &str| -> BTreeMap<String, String> {
            let mut env = BTreeMap::new();
            let mut set = |k: &str, v: String| env.insert(k.to_string(), v);
            set("TUAN_CONFIG", log_dir.join("no-config.toml").display().to_string());
            set("TUAN_ENVIRONMENT", "development".into());
            set("TUAN_GRPC_ADDR", format!("127.0.0.1:{}", ports[name]));
            set("TUAN_METRICS_ADDR", format!("127.0.0.1:{}", metrics_ports[name]));
            set("TUAN_KAFKA__BROKERS", broker.clone());
            set("TUAN_KAFKA__TOPIC_PREFIX", prefix.clone());
            set("TUAN_KAFKA__PARTITIONS", "3".into());
            set("TUAN_AUTH__JWT_SECRET", JWT_SECRET.into());
            set("TUAN_TELEMETRY__LOG_FORMAT", "pretty".into());
            set("TUAN_TELEMETRY__LOG_FILTER", "info".into());
            set("NO_COLOR", "1".into());
            if let Some(endpoint) = &options.otlp_endpoint {
                set("TUAN_TELEMETRY__OTLP_ENDPOINT", endpoint.clone());
                // Export within a fraction of a second instead of every 5 s.
                set("OTEL_BSP_SCHEDULE_DELAY", "200".into());
            }
            if let Some(db) = dbs.get(name) {
                set("TUAN_DATABASE__URL", db.url.clone());
                set("TUAN_DATABASE__MAX_CONNECTIONS", "10".into());
            }
            env
        };
        let specific: [(&str, Vec<(&str, String)>); 5] = [
            // Every test signs its people up from one address, and the chaos workload asks
            // again within seconds for an SMS a kill lost.
            (
                "users",
                vec![
                    ("TUAN_USERS__PHONE_CODES__PER_CLIENT_PER_HOUR", "1000000".into()),
                    ("TUAN_USERS__PHONE_CODES__RESEND_AFTER_SECS", "1".into()),
                ],
            ),
            ("circles", vec![]),
            ("groupbuy", vec![("TUAN_GROUPBUY__DEADLINE_SCAN_MS", "200".into())]),
            (
                "payments",
                vec![
                    ("TUAN_PAYMENTS__FEE_BASIS_POINTS", "100".into()),
                    ("TUAN_PAYMENTS__PROVIDER__MIN_LATENCY_MS", "0".into()),
                    ("TUAN_PAYMENTS__PROVIDER__MAX_LATENCY_MS", "0".into()),
                    ("TUAN_PAYMENTS__PROVIDER__FAILURE_RATE", "0".into()),
                    ("TUAN_PAYMENTS__EXPIRY_SCAN_INTERVAL_MS", "200".into()),
                ],
            ),
            (
                "gateway",
                vec![
                    ("TUAN_GATEWAY__USERS_URL", format!("http://127.0.0.1:{}", ports["users"])),
                    ("TUAN_GATEWAY__CIRCLES_URL", format!("http://127.0.0.1:{}", ports["circles"])),
                    ("TUAN_GATEWAY__GROUPBUY_URL", format!("http://127.0.0.1:{}", ports["groupbuy"])),
                    ("TUAN_GATEWAY__PAYMENTS_URL", format!("http://127.0.0.1:{}", ports["payments"])),
                    ("TUAN_GATEWAY__USER_RATE_PER_SEC", options.user_rate.0.to_string()),
                    ("TUAN_GATEWAY__USER_BURST", options.user_rate.1.to_string()),
                    ("TUAN_GATEWAY__PART_BUDGET_MS", options.part_budget_ms.to_string()),
                    ("TUAN_GATEWAY__SCREEN_BUDGET_MS", (options.part_budget_ms * 3).to_string()),
                    // Every test client is on 127.0.0.1: keep the IP limit out of the way.
                    ("TUAN_GATEWAY__IP_RATE_PER_SEC", "10000".into()),
                    ("TUAN_GATEWAY__CORS_ORIGINS", format!("[\"{CONSOLE_ORIGIN}\"]")),
                    ("TUAN_GATEWAY__IP_BURST", "10000".into()),
                ],
            ),
        ];
        let wechat_pay = match options.wechat_pay {
            true => {
                let account = payments::wechat::local::LocalAccount::for_tests();
                let server =
                    payments::wechat::local::LocalWeChatPay::start(account.clone()).await.expect("local WeChat Pay");
                // A fixed port across restarts of payments, as the notify URL WeChat Pay keeps.
                let notify = free_port();
                let url = format!("http://127.0.0.1:{notify}/wechatpay/notify");
                Some((server.clone(), account.payments_env(&server.url, &url, &format!("127.0.0.1:{notify}"))))
            }
            false => None,
        };
        let mut processes = Vec::new();
        for (name, extra) in specific {
            let mut env = common(name);
            env.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
            if let (Some((_, wechat)), "payments") = (&wechat_pay, name) {
                env.extend(wechat.iter().cloned());
            }
            env.extend(options.env.iter().filter(|(s, _, _)| *s == name).map(|(_, k, v)| (k.clone(), v.clone())));
            let mut process =
                Process { name, port: ports[name], env, log: log_dir.join(format!("{name}.log")), child: None };
            process.spawn();
            processes.push(process);
        }
        let gateway_url = format!("http://127.0.0.1:{}", ports["gateway"]);
        let wechat_pay = wechat_pay.map(|(server, _)| server);
        let mut stack = Self { processes, own_broker, dbs, gateway_url, metrics_ports, wechat_pay };
        for process in &mut stack.processes {
            process.wait_serving(Duration::from_secs(60)).await;
        }
        if !options.no_operator {
            stack.make_operator().await;
        }
        stack
    }

    /// Runs `make run`'s demo seed (the `seed` binary) against this stack, as `make run` does.
    pub async fn seed(&mut self) -> String {
        self.run_as_users("seed", &[]).await
    }

    /// Asks the gateway `gw` for a sign-up code for `phone` (E.164) and reads it from the SMS
    /// the users service's development sender wrote, as its owner would read their phone.
    pub async fn sign_up_code(&self, gw: &mut Gateway, phone: &str) -> String {
        let ask = tuan_proto::users::v1::RequestPhoneCodeRequest {
            phone: phone.into(),
            purpose: tuan_proto::users::v1::PhoneCodePurpose::SignUp as i32,
        };
        tuan_testkit::sms::code_for(&self.db("users").pool, phone, gw.request_phone_code(ask)).await
    }

    /// Signs up [`OPERATOR_PHONE`] and makes it an operator as an SRE would, by running
    /// `users grant-operator` with the users service's settings (its database).
    async fn make_operator(&mut self) {
        use tuan_proto::users::v1::{self as pb, users_service_client::UsersServiceClient};
        let port = self.process("users").port;
        let mut client = UsersServiceClient::connect(format!("http://127.0.0.1:{port}")).await.expect("connect users");
        let ask =
            pb::RequestPhoneCodeRequest { phone: OPERATOR_PHONE.into(), purpose: pb::PhoneCodePurpose::SignUp as i32 };
        let users_db = &self.db("users").pool;
        let code = tuan_testkit::sms::code_for(users_db, OPERATOR_PHONE, client.request_phone_code(ask)).await;
        let sign_up = pb::SignUpRequest {
            phone: OPERATOR_PHONE.into(),
            password: crate::flows::PASSWORD.into(),
            display_name: "Operator".into(),
            region: "CN-31".into(),
            code,
        };
        client.sign_up(sign_up).await.expect("operator signs up");
        self.run_as_users("users", &["grant-operator", OPERATOR_PHONE]).await;
    }

    /// Runs `bin` with `args` and the users service's settings (its database), plus every
    /// service's address (`TUAN_<SERVICE>_URL`), as an SRE or `make run` would; answers what
    /// it printed, and fails the test if it failed.
    async fn run_as_users(&mut self, bin: &str, args: &[&str]) -> String {
        let mut env = self.process("users").env.clone();
        for p in &self.processes {
            env.insert(format!("TUAN_{}_URL", p.name.to_uppercase()), format!("http://127.0.0.1:{}", p.port));
        }
        let (stdout, stderr) = run_binary(bin, &env, args).await;
        format!("{stdout}{stderr}")
    }

    /// Runs `tuanctl` with `args` as the stack's operator would: every service's address, the
    /// operator's credentials, and the broker and topic prefix the services use. Answers what
    /// it printed on stdout, and fails the test if it failed.
    pub async fn tuanctl(&mut self, args: &[&str]) -> String {
        run_binary("tuanctl", &self.tuanctl_env(), args).await.0
    }

    /// Starts `tuanctl` as [`Stack::tuanctl`] does, its stdout piped, without waiting for it.
    pub fn spawn_tuanctl(&mut self, args: &[&str]) -> tokio::process::Child {
        command("tuanctl", &self.tuanctl_env(), args)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start tuanctl")
    }

    fn tuanctl_env(&mut self) -> BTreeMap<String, String> {
        let users = self.process("users").env.clone();
        let mut env: BTreeMap<String, String> = ["TUAN_KAFKA__BROKERS", "TUAN_KAFKA__TOPIC_PREFIX"]
            .into_iter()
            .map(|k| (k.to_string(), users[k].clone()))
            .collect();
        for p in &self.processes {
            env.insert(format!("TUAN_{}_ADDR", p.name.to_uppercase()), format!("127.0.0.1:{}", p.port));
        }
        env.insert("TUAN_PHONE".into(), OPERATOR_PHONE.into());
        env.insert("TUAN_PASSWORD".into(), crate::flows::PASSWORD.into());
        env
    }

    fn process(&mut self, name: &str) -> &mut Process {
        self.processes.iter_mut().find(|p| p.name == name).unwrap_or_else(|| panic!("no service {name}"))
    }

    /// Kills one service (SIGKILL, as a crash would).
    pub fn stop(&mut self, name: &str) {
        self.process(name).kill();
    }

    /// Freezes one service (SIGSTOP): it accepts connections and never answers, as a hung
    /// process would. [`Stack::thaw`] lets it go on.
    pub fn freeze(&mut self, name: &str) {
        self.signal(name, "-STOP");
    }

    pub fn thaw(&mut self, name: &str) {
        self.signal(name, "-CONT");
    }

    fn signal(&mut self, name: &str, signal: &str) {
        let pid = self.process(name).child.as_ref().unwrap_or_else(|| panic!("{name} is not running")).id();
        let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("kill");
        assert!(status.success(), "kill {signal} {name}");
    }

    /// Starts a stopped service again on the same port and database, and waits for it.
    pub async fn restart(&mut self, name: &str) {
        let process = self.process(name);
        process.spawn();
        process.wait_serving(Duration::from_secs(60)).await;
    }

    /// Kills the stack's own broker (SIGKILL, as a crash would). Panics without
    /// [`Options::own_broker`].
    pub fn stop_broker(&mut self) {
        self.broker_mut().kill();
    }

    /// Starts the stack's own broker again on the same port and storage, and waits for its port.
    pub fn restart_broker(&mut self) {
        let broker = self.broker_mut();
        tokio::task::block_in_place(|| broker.resume());
    }

    /// Freezes the stack's own broker (SIGSTOP); [`Stack::thaw_broker`] lets it go on.
    pub fn freeze_broker(&mut self) {
        let pid = self.broker_mut().pid().expect("the broker is not running");
        let status = Command::new("kill").args(["-STOP", &pid.to_string()]).status().expect("kill");
        assert!(status.success(), "kill -STOP broker");
    }

    pub fn thaw_broker(&mut self) {
        let pid = self.broker_mut().pid().expect("the broker is not running");
        let status = Command::new("kill").args(["-CONT", &pid.to_string()]).status().expect("kill");
        assert!(status.success(), "kill -CONT broker");
    }

    fn broker_mut(&mut self) -> &mut OwnBroker {
        self.own_broker.as_mut().expect("the stack has no broker of its own (Options::own_broker)")
    }

    /// Copies the stack's own broker's log next to the services' logs (as `name`): its
    /// storage, log included, is deleted with the broker, and a restart starts a new log.
    pub fn save_broker_log(&self, name: &str) {
        let Some(pid) = self.own_broker.as_ref().and_then(OwnBroker::pid) else { return };
        let Some(dir) = self.processes.first().and_then(|p| p.log.parent().map(PathBuf::from)) else { return };
        let _ = std::fs::copy(format!("/proc/{pid}/cwd/tansu.log"), dir.join(name));
    }

    /// Where the stack's own broker panicked since it started, if it did (tansu survives a
    /// panicking task but may serve nothing afterwards).
    pub fn broker_panic(&self) -> Option<String> {
        let pid = self.own_broker.as_ref().and_then(OwnBroker::pid)?;
        let log = std::fs::read(format!("/proc/{pid}/cwd/tansu.log")).ok()?;
        let log = String::from_utf8_lossy(&log);
        let at = log.find("panicked at")?;
        let line_end = log[at..].find("\n\n").map_or(log.len(), |i| at + i);
        Some(log[at..line_end].replace('\n', " "))
    }

    /// The names of the services' processes, gateway included.
    pub fn service_names(&self) -> Vec<&'static str> {
        self.processes.iter().map(|p| p.name).collect()
    }

    /// Where a service's log goes.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.processes.iter().find(|p| p.name == name).map(|p| p.log.clone()).unwrap_or_default()
    }

    /// Leaves the databases in place when the stack is dropped (to look into a failure) and
    /// returns their names by service.
    pub fn keep_databases(&mut self) -> BTreeMap<&'static str, String> {
        std::mem::take(&mut self.dbs)
            .into_iter()
            .map(|(service, db)| {
                let name = db.name.clone();
                std::mem::forget(db);
                (service, name)
            })
            .collect()
    }

    pub async fn gateway(&self) -> Gateway {
        let channel = Channel::from_shared(self.gateway_url.clone()).expect("url").connect().await.expect("gateway");
        MobileGatewayClient::new(channel)
    }

    /// What a service's Prometheus endpoint (`/metrics`) shows now.
    pub async fn scrape_metrics(&self, service: &str) -> String {
        tuan_testkit::scrape_metrics(self.metrics_ports[service]).await
    }

    /// [`Stack::scrape_metrics`], or why it could not be read.
    pub async fn try_scrape_metrics(&self, service: &str) -> std::io::Result<String> {
        tuan_testkit::try_scrape_metrics(self.metrics_ports[service]).await
    }

    /// A service's database (for the few facts no RPC exposes).
    pub fn db(&self, service: &str) -> &TestDb {
        &self.dbs[service]
    }
}

impl Drop for Stack {
    /// Stops every service as a deployment would (SIGTERM, drain), so their consumers leave
    /// their groups on the shared broker instead of stalling the next test's rebalance; what
    /// has not exited after a few seconds is killed.
    fn drop(&mut self) {
        for process in &self.processes {
            if let Some(child) = &process.child {
                let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(8);
        for process in &mut self.processes {
            while let Some(child) = process.child.as_mut() {
                match child.try_wait() {
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                    Ok(Some(_)) => {
                        process.child = None;
                    }
                    _ => process.kill(),
                }
            }
        }
    }
}

/// A request carrying `token` as the caller's identity.
pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("token"));
    request
}
