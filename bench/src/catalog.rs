//! Catalog reads through the router on the whole platform (`emporium up`, release binary, the
//! demo catalog): a browse page (`products(first: 20)`), a product by id, and search with the
//! joined `product { name price stock }`, each with the catalog cache cold (its Redis keys
//! deleted just before) and warm, beside `search(first: 20)` alone through the same router,
//! measured in the same run.
//!
//! Every request's variables differ (a different page cursor, product id or search word), so
//! hive-router's deduplication of identical in-flight requests cannot flatter any phase. A
//! binary without the cache (an older `emporium`) simply ignores its settings: its cold and
//! warm phases measure the same thing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use emporium_kernel::testing::TestRedis;
use serde_json::{json, Value};

use crate::platform::{
    emporium_binary, free_port, load_graphql, repository, spawn, Figures, Stores, SUBGRAPHS,
};

const SEARCH: &str = "query($q: String!, $n: Int) { search(query: $q, first: $n) { edges { node { score product { id } } } } }";
const SEARCH_JOINED: &str = "query($q: String!, $n: Int) { search(query: $q, first: $n) { edges { node { score product { id name price { amount currency } stock { available inStock } } } } } }";
const LIST: &str = "query($after: String) { products(first: 20, after: $after) { pageInfo { hasNextPage endCursor } nodes { id name price { amount currency } } } }";
const GET: &str =
    "query($id: ID!) { product(id: $id) { id name description price { amount currency } } }";

/// What varies per request.
enum Variation {
    /// Search words (and `first` between 16 and 20).
    Words(Arc<Vec<String>>),
    /// Page cursors (`None`: the first page).
    Cursors(Arc<Vec<Option<String>>>),
    Ids(Arc<Vec<String>>),
}

impl Variation {
    fn variables(&self, n: usize) -> Value {
        match self {
            Self::Words(words) => {
                json!({ "q": words[n % words.len()], "n": 16 + (n / words.len()) % 5 })
            }
            Self::Cursors(cursors) => json!({ "after": cursors[n % cursors.len()] }),
            Self::Ids(ids) => json!({ "id": ids[n % ids.len()] }),
        }
    }
}

async fn load(
    http: &reqwest::Client,
    url: &str,
    query: &'static str,
    variation: &Variation,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Figures> {
    let variables: Arc<Vec<Value>> = Arc::new((0..4096).map(|n| variation.variables(n)).collect());
    let vary = move |_client: usize, n: usize| variables[n % variables.len()].clone();
    load_graphql(http, url, query, vary, connections, duration).await
}

async fn gql(
    http: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let body: Value = http
        .post(url)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?
        .json()
        .await?;
    if !body["errors"].is_null() {
        bail!("{body}");
    }
    Ok(body["data"].clone())
}

/// Waits until the platform answers with the whole demo catalog indexed.
async fn wait_for_catalog(
    http: &reqwest::Client,
    url: &str,
    expected: usize,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let indexed = gql(
            http,
            url,
            "{ search(query: \"\", first: 1) { totalCount } }",
            json!({}),
        )
        .await
        .ok()
        .and_then(|d| d["search"]["totalCount"].as_u64())
        .unwrap_or(0);
        if indexed as usize >= expected {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the demo catalog was not indexed within 900 s ({indexed} of {expected})");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Every page cursor and product id of the catalog, paging through it once.
async fn cursors_and_ids(
    http: &reqwest::Client,
    url: &str,
) -> anyhow::Result<(Vec<Option<String>>, Vec<String>)> {
    let mut cursors = vec![None];
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = gql(
            http,
            url,
            "query($after: String) { products(first: 100, after: $after) { pageInfo { hasNextPage } edges { cursor node { id } } } }",
            json!({ "after": after }),
        )
        .await?;
        let page = &data["products"];
        for edge in page["edges"].as_array().context("edges")? {
            ids.push(edge["node"]["id"].as_str().context("id")?.to_owned());
            cursors.push(edge["cursor"].as_str().map(str::to_owned));
        }
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            // A cursor near the end gives a short last page; keep those with 20 after them.
            cursors.truncate(cursors.len().saturating_sub(20));
            return Ok((cursors, ids));
        }
        after = cursors.last().cloned().flatten();
    }
}

/// Deletes the catalog cache's keys in one step, as a Redis restart would.
fn flush_catalog_cache(redis: &TestRedis, prefix: &str) -> anyhow::Result<()> {
    let mut conn = redis::Client::open(redis.url())?.get_connection()?;
    redis::Script::new(
        r"
        local keys = redis.call('KEYS', ARGV[1])
        for i = 1, #keys, 500 do
          redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
        end
        return #keys",
    )
    .arg(format!("{prefix}*"))
    .invoke::<i64>(&mut conn)?;
    Ok(())
}

pub async fn benchmark(
    connections: usize,
    seconds: u64,
    emporium: Option<PathBuf>,
) -> anyhow::Result<()> {
    let binary = emporium_binary(emporium)?;
    let stores = Stores::create().await?;
    let redis = &stores.0.redis;
    let cache_prefix = format!("{}catalog:", redis.prefix());
    let repo = repository();
    let router_port = free_port()?;
    let mut env = stores.env();
    env.extend([
        ("EMPORIUM_RATE_LIMIT".into(), "false".into()),
        ("EMPORIUM_SEED_DEMO_CATALOG".into(), "true".into()),
        ("EMPORIUM_ROUTER_PORT".into(), router_port.to_string()),
        ("EMPORIUM_ADMIN_EMAIL".into(), "bench@emporium.test".into()),
        (
            "EMPORIUM_ADMIN_PASSWORD".into(),
            "bench-password-123".into(),
        ),
    ]);
    for name in SUBGRAPHS {
        env.push((
            format!("EMPORIUM_{}_PORT", name.to_uppercase()),
            free_port()?.to_string(),
        ));
    }
    let log = stores.log()?;
    let _platform = spawn(&binary, &repo, &["up"], env.into_iter(), log)?;
    let url = format!("http://127.0.0.1:{router_port}/graphql");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(60))
        .build()?;
    let demo = emporium_products::seed::demo_catalog()?;
    wait_for_catalog(&http, &url, demo.len()).await?;
    // Inventory and orders take the seed's catalogue events in after search has indexed them;
    // measuring before they finish would measure them too.
    stores
        .wait_for_drained(
            &[
                emporium_inventory::events::CATALOG_QUEUE,
                emporium_orders::catalog::CATALOG_QUEUE,
            ],
            Duration::from_secs(900),
        )
        .await?;
    let (cursors, ids) = cursors_and_ids(&http, &url).await?;
    let mut words: Vec<String> = demo
        .iter()
        .filter_map(|p| p.name.split_whitespace().next())
        .map(|w| w.to_lowercase())
        .filter(|w| w.len() > 2 && w.chars().all(char::is_alphanumeric))
        .collect();
    words.sort();
    words.dedup();
    let words = Variation::Words(Arc::new(words));
    let cursors = Variation::Cursors(Arc::new(cursors));
    let ids = Variation::Ids(Arc::new(ids));

    let duration = Duration::from_secs(seconds);
    println!(
        "catalog: through the router, {connections} connections, {seconds} s per phase, {} products, {}",
        demo.len(),
        binary.display()
    );
    // A warm-up of every path (and of the cache), then the measured phases.
    for (query, variation) in [
        (SEARCH, &words),
        (LIST, &cursors),
        (GET, &ids),
        (SEARCH_JOINED, &words),
    ] {
        load(
            &http,
            &url,
            query,
            variation,
            connections,
            Duration::from_secs(3),
        )
        .await?;
    }
    let search = load(&http, &url, SEARCH, &words, connections, duration).await?;
    let mut phases = Vec::new();
    for (name, query, variation) in [
        ("products(first: 20)", LIST, &cursors),
        ("product(id)", GET, &ids),
        (
            "search(first: 20) joined product { name price stock }",
            SEARCH_JOINED,
            &words,
        ),
    ] {
        flush_catalog_cache(redis, &cache_prefix)?;
        let cold = load(&http, &url, query, variation, connections, duration).await?;
        let warm = load(&http, &url, query, variation, connections, duration).await?;
        phases.push((name, cold, warm));
    }
    search.print("search(first: 20) alone (baseline)", &search);
    for (name, cold, warm) in &phases {
        cold.print(&format!("{name}, cache cold"), &search);
        warm.print(&format!("{name}, cache warm"), &search);
    }
    Ok(())
}
