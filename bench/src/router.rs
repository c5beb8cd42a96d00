//! What the router's public edge costs: the same search operation sent straight to the search
//! subgraph, through a router with the cost and rate-limit plugins on, and through a router with
//! them off, one after the other on one machine in one run.
//!
//! One `emporium up` (the release binary, on throwaway stores) serves the subgraphs and the
//! router with the plugins on (a budget large enough never to refuse, so what is measured is
//! the check itself: the cost estimate, the Redis round trip and the refund); a second router
//! (`emporium serve router`) in front of the same subgraphs runs with demand control and rate
//! limiting off. Every request's variables differ, so hive-router's deduplication of identical
//! in-flight requests cannot flatter the router.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use emporium_kernel::testing::{TestMongo, TestPostgres, TestRedis, TestVhost};
use serde_json::json;

pub(crate) const SUBGRAPHS: &[&str] = &[
    "users",
    "products",
    "inventory",
    "search",
    "orders",
    "payments",
    "notifications",
];

const QUERY: &str =
    "query($q: String!, $n: Int) { search(query: $q, first: $n) { totalCount pageInfo { hasNextPage } } }";

/// A child process killed when dropped.
pub(crate) struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Requests per second and latency percentiles of one phase.
pub(crate) struct Figures {
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// `connections` clients sending the query to `url` for `duration`, each request with its own
/// variables; every answer must be a 200 without errors.
async fn load(url: &str, connections: usize, duration: Duration) -> anyhow::Result<Figures> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..connections {
        let (http, url, counter) = (http.clone(), url.to_owned(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < duration {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let variables = json!({ "q": format!("bench{client}x{n}"), "n": 1 + n % 20 });
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .json(&json!({ "query": QUERY, "variables": variables }))
                    .send()
                    .await?;
                let status = response.status();
                let body: serde_json::Value = response.json().await?;
                if !status.is_success() || !body["errors"].is_null() {
                    bail!("HTTP {status}: {body}");
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

async fn wait_until_answering(url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answered = http
            .post(url)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if answered {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn print(name: &str, figures: &Figures, baseline: &Figures) {
    println!(
        "{name:<44} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ratio {:.3}",
        figures.per_second,
        figures.p50.as_secs_f64() * 1000.0,
        figures.p99.as_secs_f64() * 1000.0,
        figures.per_second / baseline.per_second,
    );
}

pub async fn benchmark(
    connections: usize,
    seconds: u64,
    emporium: Option<PathBuf>,
) -> anyhow::Result<()> {
    let binary = match emporium {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .context("the benchmark binary has a directory")?
            .join("emporium"),
    };
    let vhost = TestVhost::create().await;
    let mut databases = Vec::new();
    for _ in 0..4 {
        databases.push(TestPostgres::create().await);
    }
    let mongo = TestMongo::create();
    let redis = TestRedis::create();
    let data_dir =
        std::env::temp_dir().join(format!("emporium-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir)?;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut ports = Vec::new();
    for name in SUBGRAPHS {
        ports.push((*name, free_port()?));
    }
    let env: Vec<(String, String)> = vec![
        ("EMPORIUM_DATABASE_URL".into(), databases[0].url()),
        ("EMPORIUM_INVENTORY_DATABASE_URL".into(), databases[1].url()),
        ("EMPORIUM_ORDERS_DATABASE_URL".into(), databases[2].url()),
        ("EMPORIUM_PAYMENTS_DATABASE_URL".into(), databases[3].url()),
        ("EMPORIUM_MONGODB_URL".into(), mongo.server_url().to_owned()),
        ("EMPORIUM_MONGODB_DATABASE".into(), mongo.name().to_owned()),
        ("EMPORIUM_AMQP_URL".into(), vhost.amqp_url()),
        ("EMPORIUM_REDIS_URL".into(), redis.url().to_owned()),
        ("EMPORIUM_REDIS_PREFIX".into(), redis.prefix().to_owned()),
        (
            "EMPORIUM_RATE_LIMIT_PREFIX".into(),
            format!("{}ratelimit:", redis.prefix()),
        ),
        ("EMPORIUM_RATE_LIMIT_CAPACITY".into(), "1000000000".into()),
        (
            "EMPORIUM_RATE_LIMIT_RESTORE_PER_SEC".into(),
            "1000000000".into(),
        ),
        ("EMPORIUM_SEED_DEMO_CATALOG".into(), "false".into()),
        ("EMPORIUM_STOREFRONT_DIR".into(), "off".into()),
        (
            "EMPORIUM_SUPERGRAPH".into(),
            repo.join("schema.graphql").display().to_string(),
        ),
        ("RUST_LOG".into(), "warn".into()),
    ];
    let with_plugins = free_port()?;
    let log = std::fs::File::create(data_dir.join("platform.log"))?;
    let _platform = spawn(
        &binary,
        &repo,
        &["up"],
        env.iter()
            .cloned()
            .chain(ports.iter().map(|(name, port)| {
                (
                    format!("EMPORIUM_{}_PORT", name.to_uppercase()),
                    port.to_string(),
                )
            }))
            .chain([
                ("EMPORIUM_DATA_DIR".into(), data_dir.display().to_string()),
                ("EMPORIUM_ROUTER_PORT".into(), with_plugins.to_string()),
                ("EMPORIUM_ADMIN_EMAIL".into(), "bench@emporium.test".into()),
                (
                    "EMPORIUM_ADMIN_PASSWORD".into(),
                    "bench-password-123".into(),
                ),
            ]),
        log,
    )?;
    let router_on = format!("http://127.0.0.1:{with_plugins}/graphql");
    wait_until_answering(&router_on).await?;

    let without_plugins = free_port()?;
    let bare_dir = data_dir.join("bare-router");
    std::fs::create_dir_all(&bare_dir)?;
    let log = std::fs::File::create(data_dir.join("bare-router.log"))?;
    let _bare = spawn(
        &binary,
        &repo,
        &["serve", "router"],
        env.iter()
            .cloned()
            .chain(ports.iter().map(|(name, port)| {
                (
                    format!("EMPORIUM_{}_URL", name.to_uppercase()),
                    format!("http://127.0.0.1:{port}"),
                )
            }))
            .chain([
                ("EMPORIUM_DATA_DIR".into(), bare_dir.display().to_string()),
                ("EMPORIUM_ROUTER_PORT".into(), without_plugins.to_string()),
                ("EMPORIUM_RATE_LIMIT".into(), "false".into()),
                ("EMPORIUM_COST_LIMIT".into(), "false".into()),
            ]),
        log,
    )?;
    let router_off = format!("http://127.0.0.1:{without_plugins}/graphql");
    wait_until_answering(&router_off).await?;
    let search_port = ports
        .iter()
        .find(|(name, _)| *name == "search")
        .map(|(_, port)| *port)
        .context("the search subgraph's port")?;
    let direct = format!("http://127.0.0.1:{search_port}/graphql");

    let duration = Duration::from_secs(seconds);
    println!(
        "router: search(query: $q, first: $n) with varied variables, {connections} connections, {seconds} s per phase"
    );
    // A warm-up of each path, then the measured phases.
    for url in [&direct, &router_off, &router_on] {
        load(url, connections, Duration::from_secs(2)).await?;
    }
    let subgraph = load(&direct, connections, duration).await?;
    let off = load(&router_off, connections, duration).await?;
    let on = load(&router_on, connections, duration).await?;
    print(
        "straight to the search subgraph (baseline)",
        &subgraph,
        &subgraph,
    );
    print("router, cost and rate-limit plugins off", &off, &subgraph);
    print("router, cost and rate-limit plugins on", &on, &subgraph);
    println!(
        "the plugins' share of the router's throughput: on/off = {:.3}",
        on.per_second / off.per_second
    );
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}

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
