//! What the router's public edge costs: the same search operation sent straight to the search
//! subgraph, through a router with the cost and rate-limit plugins on, and through a router with
//! them off, one after the other on one machine in one run.
//!
//! One `emporium up` (the release binary, on throwaway stores) serves the subgraphs and the
//! router with the plugins on (a budget large enough never to refuse, so what is measured is
//! the check itself: the cost estimate, the Redis round trip and the refund); a second router
//! (`emporium serve router`) in front of the same subgraphs runs with demand control and rate
//! limiting off, and a third with only demand control on, which separates the estimate's cost
//! from the budget's. Every request's variables differ, so hive-router's deduplication of identical
//! in-flight requests cannot flatter the router.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;

use crate::platform::{
    emporium_binary, free_port, load_graphql, repository, spawn, Figures, Process, Stores,
    SUBGRAPHS,
};

const QUERY: &str =
    "query($q: String!, $n: Int) { search(query: $q, first: $n) { totalCount pageInfo { hasNextPage } } }";

/// `connections` clients sending the query to `url` for `duration`, each request with its own
/// variables; every answer must be a 200 without errors.
async fn load(url: &str, connections: usize, duration: Duration) -> anyhow::Result<Figures> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let variables =
        |client: usize, n: usize| json!({ "q": format!("bench{client}x{n}"), "n": 1 + n % 20 });
    load_graphql(&http, url, QUERY, variables, connections, duration).await
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

pub async fn benchmark(
    connections: usize,
    seconds: u64,
    emporium: Option<PathBuf>,
) -> anyhow::Result<()> {
    let binary = emporium_binary(emporium)?;
    let stores = Stores::create().await?;
    let data_dir = stores.0.data_dir.clone();
    let repo = repository();
    let mut ports = Vec::new();
    for name in SUBGRAPHS {
        ports.push((*name, free_port()?));
    }
    let mut env = stores.env();
    env.extend([
        ("EMPORIUM_RATE_LIMIT_CAPACITY".into(), "1000000000".into()),
        (
            "EMPORIUM_RATE_LIMIT_RESTORE_PER_SEC".into(),
            "1000000000".into(),
        ),
        ("EMPORIUM_SEED_DEMO_CATALOG".into(), "false".into()),
    ]);
    let with_plugins = free_port()?;
    let log = stores.log()?;
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

    // A `serve router` beside the platform's, given the subgraphs' URLs and its own data
    // directory, with the cost and rate-limit settings of one phase.
    let extra_router =
        |name: &str, cost: &str, rate_limit: &str| -> anyhow::Result<(Process, String)> {
            let port = free_port()?;
            let dir = data_dir.join(name);
            std::fs::create_dir_all(&dir)?;
            let log = std::fs::File::create(data_dir.join(format!("{name}.log")))?;
            let process = spawn(
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
                        ("EMPORIUM_DATA_DIR".into(), dir.display().to_string()),
                        ("EMPORIUM_ROUTER_PORT".into(), port.to_string()),
                        ("EMPORIUM_RATE_LIMIT".into(), rate_limit.into()),
                        ("EMPORIUM_COST_LIMIT".into(), cost.into()),
                    ]),
                log,
            )?;
            Ok((process, format!("http://127.0.0.1:{port}/graphql")))
        };
    let (_bare, router_off) = extra_router("bare-router", "false", "false")?;
    wait_until_answering(&router_off).await?;
    let (_cost_only, router_cost) = extra_router("cost-router", "true", "false")?;
    wait_until_answering(&router_cost).await?;
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
    for url in [&direct, &router_off, &router_cost, &router_on] {
        load(url, connections, Duration::from_secs(2)).await?;
    }
    let subgraph = load(&direct, connections, duration).await?;
    let off = load(&router_off, connections, duration).await?;
    let cost_only = load(&router_cost, connections, duration).await?;
    let on = load(&router_on, connections, duration).await?;
    subgraph.print("straight to the search subgraph (baseline)", &subgraph);
    off.print("router, cost and rate-limit plugins off", &subgraph);
    cost_only.print("router, cost estimate on, rate limit off", &subgraph);
    on.print("router, cost and rate-limit plugins on", &subgraph);
    println!(
        "the cost estimate's share: cost-only/off = {:.3}",
        cost_only.per_second / off.per_second
    );
    println!(
        "the plugins' share of the router's throughput: on/off = {:.3}",
        on.per_second / off.per_second
    );
    Ok(())
}
