//! Throwaway databases for integration tests: each test gets its own Postgres database,
//! MongoDB database and RabbitMQ vhost, named with a UUID, dropped when the handle is
//! dropped, so tests run in parallel and leave nothing behind.

use uuid::Uuid;

/// The local Postgres server tests use, overridable with `EMPORIUM_TEST_POSTGRES_URL`.
pub fn postgres_server_url() -> String {
    std::env::var("EMPORIUM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// The local MongoDB server tests use, overridable with `EMPORIUM_TEST_MONGODB_URL`.
pub fn mongodb_server_url() -> String {
    std::env::var("EMPORIUM_TEST_MONGODB_URL")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27017/?retryWrites=false".to_owned())
}

fn unique_name() -> String {
    format!("emporium_test_{}", Uuid::new_v4().simple())
}

/// A fresh, empty Postgres database.
pub struct TestPostgres {
    server: String,
    name: String,
}

impl TestPostgres {
    pub async fn create() -> Self {
        use sqlx::Connection;
        let server = postgres_server_url();
        let name = unique_name();
        let created = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                .await
                .expect(
                    "tests need Postgres on EMPORIUM_TEST_POSTGRES_URL (default 127.0.0.1:5432)",
                );
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .await
                .expect("create test database");
        })
        .await;
        assert!(
            created.is_ok(),
            "Postgres did not create the test database {name} within 60 s"
        );
        Self { server, name }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        // Drop runs inside a test's runtime; a fresh thread with its own runtime can block.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(bounded(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                    .await
                    .ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            }))
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// Clean-up that gets no answer within a minute is given up (with a warning) rather than
/// hanging the test that owns it.
async fn bounded<T>(cleanup: impl std::future::Future<Output = Option<T>>) -> Option<T> {
    tokio::time::timeout(std::time::Duration::from_secs(60), cleanup)
        .await
        .ok()
        .flatten()
}

/// A fresh MongoDB database name on the local server.
pub struct TestMongo {
    server: String,
    name: String,
}

impl TestMongo {
    pub fn create() -> Self {
        Self {
            server: mongodb_server_url(),
            name: unique_name(),
        }
    }

    /// The server URL (database given separately).
    pub fn server_url(&self) -> &str {
        &self.server
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestMongo {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(bounded(async {
                let client = mongodb::Client::with_uri_str(&server).await.ok()?;
                client.database(&name).drop().await.ok()
            }))
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// The local RabbitMQ server tests use (no vhost), overridable with `EMPORIUM_TEST_AMQP_URL`.
/// Vhosts are managed with `rabbitmqctl`, so the server must be the local node.
pub fn amqp_server_url() -> String {
    std::env::var("EMPORIUM_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".to_owned())
}

/// A fresh RabbitMQ vhost, deleted (with everything in it) when the handle is dropped, so
/// tests declare the real exchange and queue names without seeing each other.
pub struct TestVhost {
    name: String,
}

impl TestVhost {
    pub async fn create() -> Self {
        let name = unique_name();
        let vhost = name.clone();
        // rabbitmqctl takes most of a second; keep it off the runtime's threads.
        tokio::task::spawn_blocking(move || {
            rabbitmqctl(&["add_vhost", &vhost]);
            rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
        })
        .await
        .expect("rabbitmqctl add_vhost");
        Self { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The AMQP URL of this vhost (its name needs no percent-encoding).
    pub fn amqp_url(&self) -> String {
        format!("{}/{}", amqp_server_url(), self.name)
    }

    /// Has the broker close every connection to this vhost, as a broker restart would.
    pub async fn close_connections(&self) {
        let vhost = self.name.clone();
        tokio::task::spawn_blocking(move || {
            rabbitmqctl(&[
                "close_all_connections",
                "--vhost",
                &vhost,
                "--limit",
                "1000",
                "closed by a test",
            ]);
        })
        .await
        .expect("rabbitmqctl close_all_connections");
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let deleted = bounded_command(std::process::Command::new("rabbitmqctl").args([
            "--quiet",
            "delete_vhost",
            &self.name,
        ]));
        if !matches!(&deleted, Ok(output) if output.status.success()) {
            eprintln!("warning: could not delete test vhost {}", self.name);
        }
    }
}

/// Runs `command` to its end, or kills it after a minute (an error then): `rabbitmqctl` waits
/// forever by default when the node does not answer.
fn bounded_command(command: &mut std::process::Command) -> std::io::Result<std::process::Output> {
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait()?.is_none() {
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{command:?} did not finish within 60 s"),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Finished: what it printed is small and already in the pipes.
    child.wait_with_output()
}

fn rabbitmqctl(args: &[&str]) {
    let output = bounded_command(
        std::process::Command::new("rabbitmqctl")
            .arg("--quiet")
            .args(args),
    )
    .expect("tests need rabbitmqctl on the PATH and the local RabbitMQ node running");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The local Redis server tests use, overridable with `EMPORIUM_TEST_REDIS_URL`.
pub fn redis_server_url() -> String {
    std::env::var("EMPORIUM_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A fresh key prefix on the local Redis: every key under it is deleted when the handle is
/// dropped, so tests share the one Redis database without seeing each other's keys.
pub struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    pub fn create() -> Self {
        Self {
            url: redis_server_url(),
            prefix: format!("{}:", unique_name()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Ends with `:`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Deletes every key under the prefix, as a Redis restart that kept nothing would.
    pub fn flush(&self) {
        if let Err(err) = delete_prefixed(&self.url, &self.prefix) {
            panic!("flushing the test keys of {}: {err}", self.prefix);
        }
    }
}

fn delete_prefixed(url: &str, prefix: &str) -> redis::RedisResult<()> {
    use redis::Commands;
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let keys = conn
        .scan_match::<_, String>(format!("{prefix}*"))?
        .collect::<redis::RedisResult<Vec<String>>>()?;
    for chunk in keys.chunks(500) {
        let _: () = conn.del(chunk)?;
    }
    Ok(())
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Err(err) = delete_prefixed(&self.url, &self.prefix) {
            eprintln!(
                "warning: could not delete the test keys {}*: {err}",
                self.prefix
            );
        }
    }
}

/// A Redis Cluster of three masters of its own: Debian's `redis-server` with
/// `--cluster-enabled yes` on ports of its own, keeping nothing on disk, in a temporary
/// directory, joined with `redis-cli --cluster create`. The servers are killed and the
/// directory removed when the handle is dropped. `scripts/ensure-test-tools.sh` installs both
/// programs; without them this panics with that advice (a test never skips itself).
pub struct TestRedisCluster {
    dir: std::path::PathBuf,
    servers: Vec<std::process::Child>,
    ports: Vec<u16>,
    prefix: String,
}

/// Ports for cluster nodes (each with its bus port), handed out from a counter in
/// 10000–19999, below Linux's ephemeral range and away from the platform tests' 20000+.
fn cluster_port_pair() -> (u16, u16) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let _ = NEXT.compare_exchange(
        0,
        (std::process::id() % 50) * 100,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst) % 5000;
        let port = 10_000 + u16::try_from(n).expect("below 5000");
        let bus = port + 5000;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(bus) {
            return (port, bus);
        }
    }
}

impl TestRedisCluster {
    pub fn start() -> Self {
        for tool in ["redis-server", "redis-cli"] {
            let found = std::process::Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "{tool} is missing: run scripts/ensure-test-tools.sh (installs Debian's redis-server and redis-tools)"
            );
        }
        // A port can be taken between the check and the server binding it: start again then.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start() {
                Ok(cluster) => return cluster,
                Err(err) if attempt < 5 => {
                    eprintln!("starting a test Redis Cluster: {err}; once more")
                }
                Err(err) => panic!("starting a test Redis Cluster: {err}"),
            }
        }
    }

    fn try_start() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(unique_name());
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut cluster = Self {
            dir,
            servers: Vec::new(),
            ports: Vec::new(),
            prefix: format!("{}:", unique_name()),
        };
        for _ in 0..3 {
            let (port, bus) = cluster_port_pair();
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string()])
                .args(["--cluster-port", &bus.to_string()])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-node-timeout", "5000"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .arg("--dir")
                .arg(&cluster.dir)
                .args(["--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--logfile", &format!("redis-{port}.log")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|e| format!("redis-server: {e}"))?;
            cluster.servers.push(child);
            cluster.ports.push(port);
        }
        for (i, port) in cluster.ports.clone().into_iter().enumerate() {
            cluster.wait_until(&format!("node {port} answers"), |c| {
                if let Ok(Some(status)) = c.servers[i].try_wait() {
                    return Err(format!("redis-server on {port} exited: {status}"));
                }
                Ok(c.query(port, &["PING"]).is_some_and(|r| r.trim() == "PONG"))
            })?;
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = std::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .map_err(|e| format!("redis-cli: {e}"))?;
        if !created.status.success() {
            return Err(format!(
                "redis-cli --cluster create: {}",
                String::from_utf8_lossy(&created.stdout)
            ));
        }
        // Every node must see every slot served and every other node before keys go in.
        for port in cluster.ports.clone() {
            cluster.wait_until(&format!("node {port} reports the cluster ok"), |c| {
                Ok(c.query(port, &["CLUSTER", "INFO"]).is_some_and(|info| {
                    info.contains("cluster_state:ok")
                        && info.contains("cluster_slots_ok:16384")
                        && info.contains("cluster_known_nodes:3")
                }))
            })?;
        }
        Ok(cluster)
    }

    fn wait_until(
        &mut self,
        what: &str,
        mut check: impl FnMut(&mut Self) -> Result<bool, String>,
    ) -> Result<(), String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if check(self)? {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(format!("waited a minute for: {what}"))
    }

    /// A command through `redis-cli` to one node; `None` when it does not answer.
    fn query(&self, port: u16, args: &[&str]) -> Option<String> {
        let out = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Every master's URL (any one finds the rest).
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// A key prefix (ends with `:`), as [`TestRedis::prefix`].
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Empties every master, as a cluster restarted without persistence would be.
    pub fn flush(&self) {
        for port in &self.ports {
            let answer = self.query(*port, &["FLUSHALL"]);
            assert!(
                answer.as_deref().is_some_and(|a| a.trim() == "OK"),
                "FLUSHALL on cluster node {port}: {answer:?}"
            );
        }
    }
}

impl Drop for TestRedisCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The Python interpreter of the venv `scripts/ensure-aiosmtpd.sh` installs aiosmtpd into
/// (`EMPORIUM_TEST_AIOSMTPD_PYTHON` names another).
fn aiosmtpd_python() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("EMPORIUM_TEST_AIOSMTPD_PYTHON") {
        return python.into();
    }
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = repo.join("tests/smtp/.venv/bin/python");
    // Installed on first use in this process (idempotent, and locked against other
    // processes), so a test never skips for want of it.
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let status = std::process::Command::new(repo.join("scripts/ensure-aiosmtpd.sh"))
            .status()
            .expect("running scripts/ensure-aiosmtpd.sh");
        assert!(status.success(), "scripts/ensure-aiosmtpd.sh failed");
    });
    python
}

/// A real SMTP server on 127.0.0.1 (Python's `aiosmtpd`, its `Mailbox` handler) that keeps
/// every message it accepts in a Maildir of its own; stopped and deleted when dropped.
pub struct TestSmtp {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

/// A message as the test SMTP server received it, its body decoded.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub body: String,
}

impl ReceivedMail {
    /// The first `http(s)://` link in the body that contains `fragment`.
    pub fn link_containing(&self, fragment: &str) -> Option<String> {
        self.body
            .split_whitespace()
            .find(|word| word.starts_with("http") && word.contains(fragment))
            .map(str::to_owned)
    }

    /// The `token` query parameter of the first link containing `fragment`.
    pub fn token_in_link(&self, fragment: &str) -> Option<String> {
        let link = self.link_containing(fragment)?;
        let (_, query) = link.split_once('?')?;
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .map(str::to_owned)
    }
}

impl TestSmtp {
    /// Starts the server on `port` and waits until it accepts connections.
    pub fn start(port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("emporium-smtp-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("creating the test SMTP directory");
        let log = std::fs::File::create(dir.join("server.log")).expect("SMTP server log");
        let child = std::process::Command::new(aiosmtpd_python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("maildir"))
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("starting aiosmtpd");
        let mut server = Self { child, port, dir };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "aiosmtpd exited ({status}) before accepting connections:\n{}",
                    server.log()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd did not accept connections on port {port}:\n{}",
                server.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// `smtp://127.0.0.1:<port>`, for `EMPORIUM_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(self.dir.join("maildir").join(sub)).ok())
            .flatten()
            .filter_map(Result::ok)
            .map(|entry| {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (modified, entry.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read_to_string(path).ok())
            .map(|raw| parse_mail(&raw))
            .collect()
    }

    /// The messages to `to` (compared case-insensitively).
    pub fn messages_to(&self, to: &str) -> Vec<ReceivedMail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.to_lowercase().contains(&to.to_lowercase()))
            .collect()
    }

    /// Waits (up to two minutes, then panics with the server's log) until `count` messages
    /// to `to` arrived; returns them.
    pub async fn wait_for_messages_to(&self, to: &str, count: usize) -> Vec<ReceivedMail> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let messages = self.messages_to(to);
            if messages.len() >= count {
                return messages;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {count} mails to {to} arrived:\n{}",
                messages.len(),
                self.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestSmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Parses a raw RFC 5322 message (headers unfolded; a quoted-printable or 7/8-bit body).
pub fn parse_mail(raw: &str) -> ReceivedMail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        unfolded
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let body = if header("Content-Transfer-Encoding").eq_ignore_ascii_case("quoted-printable") {
        decode_quoted_printable(body)
    } else {
        body.to_owned()
    };
    ReceivedMail {
        to: header("To"),
        from: header("From"),
        subject: header("Subject"),
        body,
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TestRedis {
    /// Deletes every key under the prefix in one atomic step (a Lua script), as a Redis that
    /// restarted empty or was flushed looks to the keys of this test: nothing is half gone.
    pub fn flush_at_once(&self) {
        let deleted = redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .and_then(|mut conn| {
                redis::Script::new(
                    r"
                    local keys = redis.call('KEYS', ARGV[1])
                    for i = 1, #keys, 500 do
                      redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
                    end
                    return #keys",
                )
                .arg(format!("{}*", self.prefix))
                .invoke::<i64>(&mut conn)
            });
        if let Err(err) = deleted {
            panic!("flushing the test keys of {}: {err}", self.prefix);
        }
    }
}

/// Every command the local Redis executes while this runs (Redis `MONITOR`), to count a test's
/// round trips. Filter by the test's key prefix: other tests share the server.
pub struct RedisMonitor {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    url: String,
    /// Shut down on drop, which ends the reader thread.
    stream: std::net::TcpStream,
}

impl Drop for RedisMonitor {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

impl RedisMonitor {
    /// Starts monitoring; commands sent after this returns are seen.
    pub fn start(url: &str) -> Self {
        use std::io::{BufRead, BufReader, Write};
        let address = url
            .trim_start_matches("redis://")
            .split(['/', '?'])
            .next()
            .unwrap_or("127.0.0.1:6379")
            .to_owned();
        let mut stream = std::net::TcpStream::connect(&address)
            .unwrap_or_else(|e| panic!("connecting to Redis at {address} to monitor it: {e}"));
        stream.write_all(b"MONITOR\r\n").expect("sending MONITOR");
        let handle = stream
            .try_clone()
            .expect("a handle on the monitor's connection");
        let mut reader = BufReader::new(stream);
        let mut ok = String::new();
        reader.read_line(&mut ok).expect("MONITOR's answer");
        assert_eq!(ok.trim_end(), "+OK", "MONITOR refused: {ok}");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { return };
                let Ok(mut lines) = sink.lock() else { return };
                lines.push(line);
            }
        });
        Self {
            lines,
            url: url.to_owned(),
            stream: handle,
        }
    }

    /// The commands clients sent so far (one per round trip, or several in a pipeline; not the
    /// commands a script runs, which MONITOR shows as from `lua`) whose text contains `needle`
    /// (a key prefix), once every command sent before this call has arrived.
    pub fn commands_containing(&self, needle: &str) -> Vec<String> {
        let marker = format!("monitor-marker-{}", Uuid::new_v4().simple());
        let mut conn = redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .expect("a Redis connection for the monitor's marker");
        redis::cmd("ECHO")
            .arg(&marker)
            .query::<String>(&mut conn)
            .expect("ECHO");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            {
                let lines = self.lines.lock().expect("monitor lines");
                if lines.iter().any(|l| l.contains(&marker)) {
                    return lines
                        .iter()
                        .filter(|l| l.contains(needle) && !l.contains(" lua] "))
                        .cloned()
                        .collect();
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the monitor did not see its marker"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
