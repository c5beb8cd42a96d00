//! A whole platform (`emporium up`, the real binary) on its own Postgres databases, MongoDB
//! database, RabbitMQ vhost, Redis prefix, data directory and ports, torn down when the test
//! ends ([`Platform::start`], [`Platform::with_admin`]); also a second router, plain HTTP
//! requests to its pages, and admin commands (`emporium ...`, [`emporium_dlq`]) run against
//! its stores.
//!
//! Failing: a platform that does not start within 90 s, or exits while starting, fails the
//! test with its log; so does a test that panics while its platform runs (the log is printed
//! on drop), a page that does not answer, and an admin command that does not finish or (for
//! [`emporium_dlq`]) fails. A test still running after 15 minutes is reported on the real
//! stderr.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use emporium_kernel::testing::TestStores;
use serde_json::json;

use super::{Gql, Session};

pub const ADMIN_EMAIL: &str = "admin@emporium.test";
pub const ADMIN_PASSWORD: &str = "admin-password-123";
pub const PASSWORD: &str = "correct horse battery";
/// No request through the platform may hang a test: one that gets no answer within this
/// fails it (with the platform's log) instead of running until CI gives up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The same for an admin command (`emporium search reindex` waits for the service).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
/// A test whose platform is still up after this is reported (with the platform's log) on
/// the real stderr, which the test harness does not capture: if it then hangs, the run shows
/// which test and what its platform was doing.
const WATCHDOG: Duration = Duration::from_secs(15 * 60);

/// Reports the test that owns the returned sender if it is not dropped within [`WATCHDOG`].
fn watchdog(log: PathBuf) -> std::sync::mpsc::Sender<()> {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let test = std::thread::current()
        .name()
        .unwrap_or("an unnamed test")
        .to_owned();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(WATCHDOG) {
            use std::io::Write;
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(200)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            let _ = writeln!(
                std::io::stderr(),
                "\n--- {test} is still running after {WATCHDOG:?}; the end of its platform log ---\n{tail}\n---"
            );
        }
    });
    done
}

pub struct Platform {
    child: Child,
    pub router: String,
    /// The products subgraph, reached directly (its `/metrics`, `/ready`).
    pub products: String,
    /// Each subgraph's port.
    pub subgraph_ports: Vec<(&'static str, u16)>,
    pub database_url: String,
    pub data_dir: PathBuf,
    http: reqwest::Client,
    /// The platform's own stores: its RabbitMQ vhost (its events reach only this test's
    /// consumers), Redis key prefix, databases and data directory (removed with them).
    pub stores: TestStores,
    /// What `emporium` needs to find this platform's stores (also for admin commands).
    env: Vec<(&'static str, String)>,
    /// Dropped with the platform; until then a watchdog reports a test that runs too long.
    _watchdog: std::sync::mpsc::Sender<()>,
}

/// Options for starting a platform.
#[derive(Default)]
pub struct Options {
    pub seed_demo_catalog: bool,
    /// Environment for `emporium up` beyond the test's stores, overriding the defaults here
    /// (for example a small rate-limit budget).
    pub env: Vec<(&'static str, String)>,
    /// The platform's `RUST_LOG` (default: `TEST_LOG`, or `warn`).
    pub log_filter: Option<String>,
    /// Serve the built storefront (`storefront/dist`) at `/`; off otherwise, so no other test
    /// depends on a storefront build.
    pub storefront: bool,
    /// `EMPORIUM_ACCESS_TOKEN_TTL_SECS` (the platform's default when `None`).
    pub access_token_ttl_secs: Option<u64>,
}

impl Options {
    /// The demo catalogue seeded, the rest by default.
    pub fn demo_catalog() -> Self {
        Self {
            seed_demo_catalog: true,
            ..Self::default()
        }
    }
}

/// The `emporium` binary under test: Cargo's, unless `EMPORIUM_TEST_BINARY` names another
/// (a target directory shared by several worktrees holds one `debug/emporium` for all of
/// them, and the last build of any of them wins).
pub fn emporium_binary() -> PathBuf {
    std::env::var_os("EMPORIUM_TEST_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_emporium")))
}

/// Runs `emporium dlq <args>` against the broker at `amqp_url` alone; its standard output.
/// Fails the test unless the command succeeded.
pub async fn emporium_dlq(amqp_url: String, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new(emporium_binary())
            .arg("dlq")
            .args(&args)
            .env("EMPORIUM_AMQP_URL", amqp_url)
            .env_remove("EMPORIUM_SEARCH_REPLICA_ID")
            .env("RUST_LOG", "warn")
            .output()
            .expect("emporium dlq runs");
        assert!(
            output.status.success(),
            "emporium dlq {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8")
    })
    .await
    .expect("join")
}

/// The services `emporium serve` accepts, as its `--help` lists them.
pub fn services_of_the_cli() -> Vec<String> {
    let output = std::process::Command::new(emporium_binary())
        .args(["serve", "--help"])
        .output()
        .expect("the emporium binary runs");
    let help = String::from_utf8_lossy(&output.stdout);
    let start = help
        .find("[possible values: ")
        .unwrap_or_else(|| panic!("`emporium serve --help` lists no possible values:\n{help}"))
        + "[possible values: ".len();
    let end = start + help[start..].find(']').expect("the list closes");
    let services: Vec<String> = help[start..end]
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    assert!(services.len() >= 8, "too few services: {services:?}");
    services
}

/// Every consumer queue of the platform (README, Events).
pub const PLATFORM_QUEUES: [&str; 10] = [
    "inventory.catalog",
    "inventory.order-placed",
    "inventory.order-updates",
    "search.indexer",
    "orders.catalog",
    "orders.saga",
    "payments.order-placed",
    "payments.saga",
    "notifications.order-updates",
    "notifications.users",
];

/// The subgraphs `emporium up` runs, by name.
pub const SUBGRAPHS: &[&str] = &[
    "users",
    "products",
    "inventory",
    "search",
    "orders",
    "payments",
    "notifications",
];

/// A port no other test of this process was given, free when this returns.
///
/// Ports are handed out from a counter in 20000–32767, below Linux's ephemeral range, so
/// neither a parallel test nor an outgoing connection gets the same one between this check and
/// the platform binding it. (Port 0 answers from the ephemeral range and gives a port just
/// released by another test right back: two platforms then raced for one port, and a test
/// talked to another test's server.)
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        20_000 + (std::process::id() % 100) as u16 * 120,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 20_000 + (port - 20_000) % 12_768;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Platform {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// A default platform and its admin, signed in.
    pub async fn with_admin() -> (Self, Session) {
        let platform = Self::start().await;
        let admin = platform.admin().await;
        (platform, admin)
    }

    pub async fn start_with(options: Options) -> Self {
        let stores = TestStores::create("it").await;
        let data_dir = stores.data_dir.clone();
        let router_port = free_port();
        let products_port = free_port();
        // Every subgraph on a known port, so that a second router (`emporium serve router`)
        // can be pointed at them.
        let subgraph_ports: Vec<(&'static str, u16)> = SUBGRAPHS
            .iter()
            .map(|name| {
                let port = if *name == "products" {
                    products_port
                } else {
                    free_port()
                };
                (*name, port)
            })
            .collect();
        let log = std::fs::File::create(data_dir.join("platform.log")).expect("log file");
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let env = stores.env();
        let storefront_dir = if options.storefront {
            repo.join("storefront/dist").display().to_string()
        } else {
            "off".to_owned()
        };
        let child = Command::new(emporium_binary())
            .arg("up")
            .env("EMPORIUM_STOREFRONT_DIR", storefront_dir)
            .envs(
                options
                    .access_token_ttl_secs
                    .map(|ttl| ("EMPORIUM_ACCESS_TOKEN_TTL_SECS", ttl.to_string())),
            )
            .current_dir(&repo)
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .env("EMPORIUM_ROUTER_PORT", router_port.to_string())
            .envs(subgraph_ports.iter().map(|(name, port)| {
                (
                    format!("EMPORIUM_{}_PORT", name.to_uppercase()),
                    port.to_string(),
                )
            }))
            .env("EMPORIUM_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("EMPORIUM_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env(
                "EMPORIUM_SEED_DEMO_CATALOG",
                options.seed_demo_catalog.to_string(),
            )
            .env("EMPORIUM_SUPERGRAPH", repo.join("schema.graphql"))
            .env(
                "RUST_LOG",
                options.log_filter.clone().unwrap_or_else(|| {
                    std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".to_owned())
                }),
            )
            // The rate limiter's buckets live under the test's Redis prefix (deleted with it,
            // in the stores' variables), and a budget no functional test exhausts; the edge
            // tests set a small one.
            .env("EMPORIUM_RATE_LIMIT_CAPACITY", "100000000")
            .env("EMPORIUM_RATE_LIMIT_RESTORE_PER_SEC", "100000000")
            .envs(options.env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn emporium up");
        let watchdog = watchdog(data_dir.join("platform.log"));
        let mut platform = Self {
            child,
            router: format!("http://127.0.0.1:{router_port}"),
            products: format!("http://127.0.0.1:{products_port}"),
            subgraph_ports,
            database_url: stores.users.url(),
            data_dir,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("http client"),
            stores,
            env,
            _watchdog: watchdog,
        };
        platform.wait_until_serving().await;
        platform
    }

    async fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            // A platform that could not bind its ports has exited; whatever answers on them is
            // not this test's.
            if !self.is_running() {
                panic!(
                    "the platform exited while starting; its log:\n{}",
                    self.log()
                );
            }
            let answered = self
                .http
                .post(self.graphql_url())
                .json(&json!({ "query": "{ __typename }" }))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the platform did not start within 90 s; its log:\n{}",
            self.log()
        );
    }

    /// Sends SIGTERM and waits for the process to exit; `None` if it is still running after
    /// `patience` (a hang, not a slow shutdown: graceful shutdown takes well under a second).
    pub fn terminate(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM delivered");
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Runs `emporium <args>` (an admin command) against this platform's stores.
    pub async fn emporium(&self, args: &[&str]) -> std::process::Output {
        self.emporium_with(args, &[]).await
    }

    /// [`Self::emporium`] with more environment variables (which win over the platform's).
    pub async fn emporium_with_env(
        &self,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> std::process::Output {
        self.emporium_with(args, extra).await
    }

    /// Runs `emporium <args>` against this platform's stores with more environment variables.
    pub async fn emporium_with(
        &self,
        args: &[&str],
        more_env: &[(&str, &str)],
    ) -> std::process::Output {
        let mut command = Command::new(emporium_binary());
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .env("RUST_LOG", "warn")
            .envs(more_env.iter().copied());
        let shown = args.join(" ");
        tokio::task::spawn_blocking(move || {
            let mut child = command
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("emporium runs");
            // Its output is read on other threads so a full pipe cannot stall it.
            let mut stdout = child.stdout.take().expect("piped stdout");
            let mut stderr = child.stderr.take().expect("piped stderr");
            let out = std::thread::spawn(move || read_all(&mut stdout));
            let err = std::thread::spawn(move || read_all(&mut stderr));
            let deadline = Instant::now() + COMMAND_TIMEOUT;
            let status = loop {
                if let Some(status) = child.try_wait().expect("wait for emporium") {
                    break status;
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "`emporium {shown}` did not finish within {COMMAND_TIMEOUT:?}; it printed:\n{}\n{}",
                        String::from_utf8_lossy(&out.join().unwrap_or_default()),
                        String::from_utf8_lossy(&err.join().unwrap_or_default()),
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            std::process::Output {
                status,
                stdout: out.join().expect("stdout reader"),
                stderr: err.join().expect("stderr reader"),
            }
        })
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }

    /// A subgraph's `/graphql`, reached directly, by service name (`users`, `orders` ...).
    pub fn subgraph_graphql_url(&self, service: &str) -> String {
        self.subgraph_url(service)
    }

    /// The URL of a subgraph's GraphQL endpoint, reached directly.
    pub fn subgraph_url(&self, name: &str) -> String {
        let port = self
            .subgraph_ports
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, port)| *port)
            .unwrap_or_else(|| panic!("no subgraph {name}"));
        format!("http://127.0.0.1:{port}/graphql")
    }

    /// A second router (`emporium serve router`) in front of this platform's subgraphs, with
    /// `env` overriding its settings (for example one subgraph's URL).
    pub async fn spawn_router(&self, env: &[(&str, String)]) -> RouterProcess {
        let port = free_port();
        let work_dir = self.data_dir.join(format!("router-{port}"));
        std::fs::create_dir_all(&work_dir).expect("router dir");
        let log = std::fs::File::create(work_dir.join("router.log")).expect("log file");
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut command = Command::new(emporium_binary());
        command
            .args(["serve", "router"])
            .current_dir(&repo)
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .env("EMPORIUM_DATA_DIR", &work_dir)
            .env("EMPORIUM_ROUTER_PORT", port.to_string())
            .env("EMPORIUM_SUPERGRAPH", repo.join("schema.graphql"))
            .env("EMPORIUM_RATE_LIMIT_CAPACITY", "100000000")
            .env("EMPORIUM_RATE_LIMIT_RESTORE_PER_SEC", "100000000")
            .env("RUST_LOG", "warn");
        for name in SUBGRAPHS {
            command.env(
                format!("EMPORIUM_{}_URL", name.to_uppercase()),
                self.subgraph_url(name).trim_end_matches("/graphql"),
            );
        }
        command.envs(env.iter().map(|(k, v)| (*k, v)));
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn emporium serve router");
        let router = RouterProcess {
            child,
            url: format!("http://127.0.0.1:{port}/graphql"),
            log: work_dir.join("router.log"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let answered = self
                .http
                .post(&router.url)
                .json(&json!({ "query": "{ __typename }" }))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                return router;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the second router did not start within 60 s; its log:\n{}",
            std::fs::read_to_string(&router.log).unwrap_or_default()
        );
    }

    /// The process id of `emporium up`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether `emporium up` is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Every Postgres database of the platform: users, inventory, orders, payments.
    pub fn postgres_urls(&self) -> Vec<String> {
        let stores = &self.stores;
        [
            &stores.users,
            &stores.inventory,
            &stores.orders,
            &stores.payments,
        ]
        .iter()
        .map(|db| db.url())
        .collect()
    }

    /// The platform's MongoDB server and database name.
    pub fn mongo(&self) -> (&str, &str) {
        (self.stores.mongo.server_url(), self.stores.mongo.name())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("platform.log")).unwrap_or_default()
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.router)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `GET url` (the router's or a subgraph's); the response, or a failed test if nothing
    /// answers.
    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// The body of `GET url` as text.
    pub async fn get_text(&self, url: &str) -> String {
        self.get(url).await.text().await.expect("a text body")
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- platform log ---\n{}", self.log());
        }
    }
}

/// A router started by [`Platform::spawn_router`]; killed when dropped.
pub struct RouterProcess {
    child: Child,
    /// Its GraphQL endpoint.
    pub url: String,
    log: PathBuf,
}

impl RouterProcess {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- second router's log ---\n{}", self.log());
        }
    }
}

fn read_all(from: &mut impl std::io::Read) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = from.read_to_end(&mut bytes);
    bytes
}
