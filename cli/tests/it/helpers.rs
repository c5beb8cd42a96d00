//! Test support: a whole platform (`emporium up`, the real binary) on its own Postgres
//! database, MongoDB database, data directory and ports, torn down when the test ends.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use emporium_kernel::testing::TestStores;
use serde_json::{json, Value};

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

/// The `emporium` binary under test: Cargo's, unless `EMPORIUM_TEST_BINARY` names another
/// (a target directory shared by several worktrees holds one `debug/emporium` for all of
/// them, and the last build of any of them wins).
pub fn emporium_binary() -> PathBuf {
    std::env::var_os("EMPORIUM_TEST_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_emporium")))
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

    /// A GraphQL request straight to a subgraph (no router); the JSON body.
    pub async fn subgraph_gql(
        &self,
        service: &str,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> Value {
        let url = self.subgraph_graphql_url(service);
        let (status, body) = post_graphql(&self.http, &url, query, variables, token).await;
        assert!(status < 500, "HTTP {status} from {url}: {body}");
        body
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.router)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends a GraphQL request through the router and returns the HTTP status and JSON body.
    pub async fn post(&self, query: &str, variables: Value, token: Option<&str>) -> (u16, Value) {
        post_graphql(&self.http, &self.graphql_url(), query, variables, token).await
    }

    /// A GraphQL request through the router; the JSON body.
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let (status, body) = self.post(query, variables, token).await;
        assert!(status < 500, "HTTP {status}: {body}");
        body
    }

    pub async fn register(&self, email: &str, name: &str) -> Session {
        let body = self
            .gql(
                "mutation($input: RegisterInput!) { register(input: $input) {
                    accessToken refreshToken expiresIn user { id } userErrors { code message field } } }",
                json!({ "input": { "email": email, "password": PASSWORD, "name": name } }),
                None,
            )
            .await;
        Session::from_payload(&body["data"]["register"])
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        let body = self
            .gql(
                "mutation($input: LoginInput!) { login(input: $input) {
                    accessToken refreshToken expiresIn user { id email role } userErrors { code message field } } }",
                json!({ "input": { "email": email, "password": password } }),
                None,
            )
            .await;
        body["data"]["login"].clone()
    }

    pub async fn admin(&self) -> Session {
        Session::from_payload(&self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await)
    }

    /// A fresh customer with a unique email.
    pub async fn customer(&self) -> Session {
        self.register(&unique_email(), "Test Customer").await
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

pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

pub fn unique_sku() -> String {
    format!("TEST-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]).to_uppercase()
}

/// Sends a GraphQL request to `url` (with `token` as the bearer, if any) and returns the HTTP
/// status and the JSON body; no answer, or one that is not JSON, fails the test.
pub async fn post_graphql(
    http: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = http
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url} answers: {e}"));
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.expect("JSON body");
    (status, body)
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
}

impl Session {
    pub fn from_payload(payload: &Value) -> Self {
        assert_eq!(
            payload["userErrors"],
            json!([]),
            "expected success: {payload}"
        );
        Self {
            access_token: payload["accessToken"]
                .as_str()
                .expect("accessToken")
                .to_owned(),
            refresh_token: payload["refreshToken"]
                .as_str()
                .expect("refreshToken")
                .to_owned(),
            user_id: payload["user"]["id"].as_str().expect("user.id").to_owned(),
        }
    }

    pub fn token(&self) -> Option<&str> {
        Some(&self.access_token)
    }
}

/// The `extensions.code` of the first GraphQL error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a GraphQL error with a code: {body}"))
}

/// The codes of a payload's userErrors.
pub fn user_error_codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected userErrors: {payload}"))
        .iter()
        .map(|e| e["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub const PRODUCT_FIELDS: &str = "id sku name description category brand price { amount currency } attributes { name value } imageUrl createdAt updatedAt";

pub fn product_input(sku: &str) -> Value {
    json!({
        "sku": sku,
        "name": "Sony WH-1000XM5 Wireless Headphones",
        "description": "Industry-leading noise cancelling.",
        "category": "Audio > Headphones",
        "brand": "Sony",
        "price": "349.99",
        "attributes": [{ "name": "Color", "value": "Black" }],
        "imageUrl": "https://example.com/wh1000xm5.jpg"
    })
}

pub async fn create_product(platform: &Platform, admin: &Session, input: Value) -> Value {
    let body = platform
        .gql(
            &format!("mutation($input: ProductInput!) {{ createProduct(input: $input) {{ product {{ {PRODUCT_FIELDS} }} userErrors {{ code message field }} }} }}"),
            json!({ "input": input }),
            admin.token(),
        )
        .await;
    body["data"]["createProduct"].clone()
}

/// Creates a product (the demo input with a fresh SKU, overridden by `changes`) and returns
/// its id; panics with the response unless it succeeded.
pub async fn new_product(platform: &Platform, admin: &Session, changes: Value) -> String {
    let mut input = product_input(&unique_sku());
    if let (Some(input), Some(changes)) = (input.as_object_mut(), changes.as_object()) {
        input.extend(changes.clone());
    }
    // The whole response on failure: a GraphQL error leaves the payload null.
    let body = platform
        .gql(
            "mutation($input: ProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }",
            json!({ "input": input }),
            admin.token(),
        )
        .await;
    body["data"]["createProduct"]["product"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createProduct: {body}"))
        .to_owned()
}

/// A running platform with a signed-in admin and customer, and one product (the demo input)
/// at `price` with `stock` units.
pub struct Shop {
    pub platform: Platform,
    pub admin: Session,
    pub customer: Session,
    pub product: String,
}

impl Shop {
    pub async fn open(price: &str, stock: u32) -> Self {
        let platform = Platform::start().await;
        let admin = platform.admin().await;
        let customer = platform.customer().await;
        let product = new_product(
            &platform,
            &admin,
            json!({ "price": price, "initialStock": stock }),
        )
        .await;
        Self {
            platform,
            admin,
            customer,
            product,
        }
    }
}

/// `updateProduct` as the admin; panics unless it succeeded.
pub async fn update_product(platform: &Platform, admin: &Session, id: &str, input: Value) {
    let body = platform
        .gql(
            "mutation($id: ID!, $input: ProductUpdateInput!) { updateProduct(id: $id, input: $input) { userErrors { code message } } }",
            json!({ "id": id, "input": input }),
            admin.token(),
        )
        .await;
    assert_eq!(
        body["data"]["updateProduct"]["userErrors"],
        json!([]),
        "{body}"
    );
}

/// `deleteProduct` as the admin; panics unless it succeeded.
pub async fn delete_product(platform: &Platform, admin: &Session, id: &str) {
    let body = platform
        .gql(
            "mutation($id: ID!) { deleteProduct(id: $id) { deletedId userErrors { code message } } }",
            json!({ "id": id }),
            admin.token(),
        )
        .await;
    assert_eq!(body["data"]["deleteProduct"]["deletedId"], id, "{body}");
}

/// A WebSocket connection to the router.
pub type WsSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection to the router's `graphql_url`, initialised with
/// `payload` (e.g. `{"authorization": "Bearer ..."}`) and acknowledged.
pub async fn graphql_ws(graphql_url: &str, payload: Option<Value>) -> WsSocket {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let mut request = graphql_url
        .replace("http://", "ws://")
        .into_client_request()
        .expect("ws request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket to the router");
    let mut init = json!({ "type": "connection_init" });
    if let Some(payload) = payload {
        init["payload"] = payload;
    }
    socket
        .send(Message::text(init.to_string()))
        .await
        .expect("send connection_init");
    loop {
        let frame = tokio::time::timeout(REQUEST_TIMEOUT, socket.next())
            .await
            .expect("connection_ack in time")
            .expect("the socket is open")
            .expect("a frame");
        let Message::Text(text) = frame else {
            assert!(!frame.is_close(), "closed before connection_ack: {frame:?}");
            continue;
        };
        let message: Value = serde_json::from_str(&text).expect("JSON message");
        match message["type"].as_str() {
            Some("connection_ack") => return socket,
            Some("ping") => continue,
            _ => panic!("expected connection_ack: {message}"),
        }
    }
}
