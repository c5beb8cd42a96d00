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
