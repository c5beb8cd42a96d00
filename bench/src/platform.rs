//! What the whole-platform benchmarks share: throwaway stores for `emporium up`, the binary to
//! run, the child process (killed when dropped), ports, and the figures of a load phase.
//!
//! Every store is created for the run and removed when its handle drops (databases, the
//! MongoDB database, the Redis prefix's keys, the data directory); a failure to start anything
//! is an error naming it, never a panic.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use emporium_kernel::testing::TestStores;

/// The subgraphs `emporium up` runs, by the name their port variables use.
pub(crate) const SUBGRAPHS: &[&str] = &[
    "users",
    "products",
    "inventory",
    "search",
    "orders",
    "payments",
    "notifications",
];

/// A child process killed when dropped.
pub(crate) struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free now (the platform binds it moments later; a benchmark is run alone).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The repository (the platform runs there, for its migrations and supergraph).
pub(crate) fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `emporium` binary: `given`, or the one beside this benchmark's binary.
pub(crate) fn emporium_binary(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let binary = match given {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .context("the benchmark binary has a directory")?
            .join("emporium"),
    };
    anyhow::ensure!(
        binary.exists(),
        "{} not found: build it with `cargo build --release -p emporium` (or pass --emporium)",
        binary.display()
    );
    Ok(binary)
}

/// Starts `binary args` in `repo` with `env`, its output into `log`.
pub(crate) fn spawn(
    binary: &Path,
    repo: &Path,
    args: &[&str],
    env: impl Iterator<Item = (String, String)>,
    log: std::fs::File,
) -> anyhow::Result<Process> {
    let child = Command::new(binary)
        .args(args)
        .current_dir(repo)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    Ok(Process(child))
}

/// The throwaway stores of one platform (`kernel::testing::TestStores`, removed when dropped)
/// and what the benchmarks add to their variables.
pub(crate) struct Stores(pub TestStores);

impl Stores {
    pub async fn create() -> anyhow::Result<Self> {
        Ok(Self(TestStores::create("bench").await))
    }

    /// The variables that put `emporium up` on these stores, with the checkout's supergraph,
    /// no storefront and quiet logs, and the production pool size (the tests' smaller one is
    /// for many platforms at once, not for measuring one).
    pub fn env(&self) -> Vec<(String, String)> {
        self.0
            .env()
            .into_iter()
            .filter(|(name, _)| *name != "EMPORIUM_POSTGRES_POOL_SIZE")
            .chain([
                (
                    "EMPORIUM_SUPERGRAPH",
                    repository().join("schema.graphql").display().to_string(),
                ),
                ("EMPORIUM_STOREFRONT_DIR", "off".to_owned()),
                ("RUST_LOG", "warn".to_owned()),
            ])
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }

    /// Waits until none of `queues` in the platform's vhost holds a message ready, twice in a
    /// row a second apart: the platform has caught up with what it was given (the seed's
    /// catalogue events, say) and measuring it now measures the load alone.
    pub async fn wait_for_drained(&self, queues: &[&str], within: Duration) -> anyhow::Result<()> {
        let connection = lapin::Connection::connect(
            &self.0.vhost.amqp_url(),
            lapin::ConnectionProperties::default(),
        )
        .await
        .context("connecting to the platform's vhost")?;
        let deadline = Instant::now() + within;
        let mut quiet_looks = 0;
        while quiet_looks < 2 {
            let mut waiting = 0;
            for queue in queues {
                // A passive declare only reads the queue; one that does not exist yet closes the
                // channel, so each look has its own.
                let channel = connection.create_channel().await?;
                let declared = channel
                    .queue_declare(
                        (*queue).into(),
                        lapin::options::QueueDeclareOptions {
                            passive: true,
                            ..Default::default()
                        },
                        Default::default(),
                    )
                    .await;
                waiting += match declared {
                    Ok(queue) => queue.message_count(),
                    Err(_) => 1,
                };
                let _ = channel.close(200, "looked".into()).await;
            }
            quiet_looks = if waiting == 0 { quiet_looks + 1 } else { 0 };
            if Instant::now() > deadline {
                anyhow::bail!("{queues:?} still held {waiting} messages after {within:?}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let _ = connection.close(200, "done".into()).await;
        Ok(())
    }

    /// The platform's log file.
    pub fn log(&self) -> anyhow::Result<std::fs::File> {
        let path = self.0.data_dir.join("platform.log");
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))
    }
}

/// Requests per second and latency percentiles of one phase.
pub(crate) struct Figures {
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl Figures {
    /// One line: the phase's figures and its ratio to `baseline`.
    pub fn print(&self, name: &str, baseline: &Figures) {
        println!(
            "{name:<52} {:>8.0} req/s  p50 {:>8.2} ms  p99 {:>8.2} ms  ratio {:.3}",
            self.per_second,
            millis(self.p50),
            millis(self.p99),
            self.per_second / baseline.per_second,
        );
    }
}

/// The `p` quantile (0 to 1) of `sorted` latencies; zero for none.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `connections` clients sending `query` to `url` for `duration`, request `n` of client `c` with
/// `variables(c, n)` (`n` counts across clients, so every request can differ and hive-router's
/// deduplication of identical in-flight requests flatters nothing). Every answer must be a 200
/// without errors; the first that is not ends the phase with an error saying what came back.
pub(crate) async fn load_graphql(
    http: &reqwest::Client,
    url: &str,
    query: &'static str,
    variables: impl Fn(usize, usize) -> serde_json::Value + Clone + Send + 'static,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Figures> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..connections {
        let (http, url, counter, variables) = (
            http.clone(),
            url.to_owned(),
            counter.clone(),
            variables.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < duration {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::json!({ "query": query, "variables": variables(client, n) });
                let sent = Instant::now();
                let response = http.post(&url).json(&body).send().await?;
                let status = response.status();
                let body: serde_json::Value = response.json().await?;
                if !status.is_success() || !body["errors"].is_null() {
                    anyhow::bail!("HTTP {status}: {body}");
                }
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    })
}
