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
