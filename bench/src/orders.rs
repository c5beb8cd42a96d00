//! Checkouts through the router on the whole platform (`emporium up`, the release binary, on
//! its own databases, vhost and Redis prefix), with the Postgres commit rate of the same
//! machine in the same run (`pgbench`) printed beside it as the ceiling.
//!
//! Each customer repeats: `addToCart`, then `checkout`. The time from sending `checkout` to
//! CONFIRMED is taken from the `order.status_changed` events themselves (the benchmark's own
//! queue on the platform's vhost), so measuring adds no polling load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::events::consumer::{self, ConsumerSettings, Handler, HandlerError};
use emporium_kernel::events::Envelope;
use emporium_kernel::testing::TestPostgres;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::platform::{
    emporium_binary, free_port, millis, percentile, repository, spawn, Process, Stores, SUBGRAPHS,
};

const ADMIN_EMAIL: &str = "bench-admin@emporium.test";
const ADMIN_PASSWORD: &str = "bench-admin-password";
const PRODUCTS: usize = 20;

/// When each order settled, by order id.
#[derive(Clone, Default)]
struct Settled(Arc<Mutex<HashMap<String, (Instant, String)>>>);

impl Handler for Settled {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let status = envelope.data["status"].as_str().unwrap_or_default();
        if matches!(status, "CONFIRMED" | "REJECTED") {
            let order = envelope.data["orderId"].as_str().unwrap_or_default();
            if let Ok(mut settled) = self.0.lock() {
                settled
                    .entry(order.to_owned())
                    .or_insert((Instant::now(), status.to_owned()));
            }
        }
        Ok(())
    }
}

/// `emporium up` on throwaway stores; killed when dropped (before its stores go).
struct Platform {
    _process: Process,
    router: String,
    http: reqwest::Client,
    stores: Stores,
}

impl Platform {
    async fn start(binary: &Path) -> anyhow::Result<Self> {
        let stores = Stores::create().await?;
        let router_port = free_port()?;
        let mut env = stores.env();
        env.extend([
            ("EMPORIUM_ROUTER_PORT".into(), router_port.to_string()),
            ("EMPORIUM_ADMIN_EMAIL".into(), ADMIN_EMAIL.into()),
            ("EMPORIUM_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            ("EMPORIUM_SEED_DEMO_CATALOG".into(), "false".into()),
        ]);
        // Ports the platform picks itself: nothing connects to a subgraph directly.
        for name in SUBGRAPHS {
            env.push((format!("EMPORIUM_{}_PORT", name.to_uppercase()), "0".into()));
        }
        let process = spawn(
            binary,
            &repository(),
            &["up"],
            env.into_iter(),
            stores.log()?,
        )?;
        let platform = Self {
            _process: process,
            router: format!("http://127.0.0.1:{router_port}/graphql"),
            http: reqwest::Client::new(),
            stores,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while platform
            .gql("{ __typename }", json!({}), None)
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!(
                    "the platform did not answer within 120 s; see {}",
                    platform.stores.0.data_dir.join("platform.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(platform)
    }

    async fn gql(
        &self,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .post(&self.router)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request.send().await?.error_for_status()?.json().await?;
        if !body["errors"].is_null() {
            bail!("GraphQL errors: {}", body["errors"]);
        }
        Ok(body["data"].clone())
    }

    async fn token(&self, mutation: &str, input: Value) -> anyhow::Result<String> {
        let data = self
            .gql(
                &format!("mutation($input: {}Input!) {{ {mutation}(input: $input) {{ accessToken userErrors {{ code }} }} }}",
                    if mutation == "login" { "Login" } else { "Register" }),
                json!({ "input": input }),
                None,
            )
            .await?;
        data[mutation]["accessToken"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("{mutation} failed: {data}"))
    }
}

/// pgbench's simple-update transactions per second (8 clients, 2 threads, 10 s) on a
/// throwaway database: how many small write transactions this Postgres commits.
async fn pgbench_ceiling() -> anyhow::Result<f64> {
    let database = TestPostgres::create().await;
    let url = database.url();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || Command::new("pgbench").args(args).output())
    };
    let init = run(vec![
        "-i".into(),
        "-s".into(),
        "8".into(),
        "-q".into(),
        url.clone(),
    ])
    .await?
    .context("running pgbench (Debian package postgresql-contrib)")?;
    if !init.status.success() {
        bail!(
            "pgbench -i failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
    }
    let bench = run(vec![
        "-N".into(),
        "-c".into(),
        "8".into(),
        "-j".into(),
        "2".into(),
        "-T".into(),
        "10".into(),
        url,
    ])
    .await??;
    let out = String::from_utf8_lossy(&bench.stdout);
    out.lines()
        .find_map(|line| {
            let rest = line.strip_prefix("tps = ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .ok_or_else(|| anyhow!("no tps in pgbench's output: {out}"))
}

pub async fn benchmark(
    customers: usize,
    checkouts: usize,
    binary: Option<PathBuf>,
) -> anyhow::Result<()> {
    let binary = emporium_binary(binary)?;
    let ceiling = pgbench_ceiling().await?;

    let platform = Platform::start(&binary).await?;
    let settled = Settled::default();
    let broker = Broker::start(BrokerSettings::new(platform.stores.0.vhost.amqp_url()));
    let stop = CancellationToken::new();
    let settings = ConsumerSettings::new("bench.order-status", ["order.status_changed"]);
    consumer::declare(&broker, &settings).await?;
    let listener = tokio::spawn(consumer::run(
        broker.clone(),
        settings,
        settled.clone(),
        stop.clone(),
    ));

    let admin = platform
        .token(
            "login",
            json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }),
        )
        .await?;
    let mut products = Vec::new();
    for n in 0..PRODUCTS {
        let data = platform
            .gql(
                "mutation($input: ProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }",
                json!({ "input": {
                    "sku": format!("BENCH-{}-{n}", uuid::Uuid::new_v4().simple()),
                    "name": format!("Benchmark product {n}"),
                    "description": "A product for the checkout benchmark.",
                    "category": "Benchmarks",
                    "price": "19.99",
                    "initialStock": 1_000_000,
                } }),
                Some(&admin),
            )
            .await?;
        products.push(
            data["createProduct"]["product"]["id"]
                .as_str()
                .ok_or_else(|| anyhow!("createProduct failed: {data}"))?
                .to_owned(),
        );
    }
    let mut tokens = Vec::new();
    for n in 0..customers {
        tokens.push(
            platform
                .token(
                    "register",
                    json!({ "email": format!("bench-{n}-{}@example.com", uuid::Uuid::new_v4().simple()),
                            "password": "benchmark password", "name": "Bench Customer" }),
                )
                .await?,
        );
    }
    // The orders service learns the products from the catalog's events.
    let known = Instant::now() + Duration::from_secs(60);
    for product in &products {
        loop {
            let data = platform
                .gql(
                    "mutation($id: ID!) { addToCart(productId: $id, quantity: 1) { userErrors { code } } }",
                    json!({ "id": product }),
                    Some(&tokens[0]),
                )
                .await?;
            if data["addToCart"]["userErrors"] == json!([]) {
                break;
            }
            if Instant::now() > known {
                bail!("the orders service never learned product {product}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    platform
        .gql(
            "mutation { clearCart { userErrors { code } } }",
            json!({}),
            Some(&tokens[0]),
        )
        .await?;

    let platform = Arc::new(platform);
    let products = Arc::new(products);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, token) in tokens.into_iter().enumerate() {
        let (platform, products) = (platform.clone(), products.clone());
        tasks.push(tokio::spawn(async move {
            let mut placed = Vec::new();
            for round in 0..checkouts {
                let product = &products[(n + round) % products.len()];
                platform
                    .gql(
                        "mutation($id: ID!) { addToCart(productId: $id, quantity: 1) { userErrors { code } } }",
                        json!({ "id": product }),
                        Some(&token),
                    )
                    .await?;
                let sent = Instant::now();
                let data = platform
                    .gql(
                        "mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } userErrors { code message } } }",
                        json!({ "input": {
                            "shippingAddress": { "line1": "1 Bench St", "city": "Load", "postalCode": "1", "country": "US" },
                            "paymentToken": "tok_visa",
                            "idempotencyKey": uuid::Uuid::new_v4().to_string(),
                        } }),
                        Some(&token),
                    )
                    .await?;
                let answered = sent.elapsed();
                let id = data["checkout"]["order"]["id"]
                    .as_str()
                    .ok_or_else(|| anyhow!("checkout failed: {data}"))?
                    .to_owned();
                placed.push((id, sent, answered));
            }
            anyhow::Ok(placed)
        }));
    }
    let mut placed = Vec::new();
    for task in tasks {
        placed.extend(task.await??);
    }
    let placing = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = settled.0.lock().map(|s| s.len()).unwrap_or(0);
        if done >= placed.len() {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "only {done} of {} orders settled within 120 s",
                placed.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_settled = started.elapsed();
    stop.cancel();
    let _ = listener.await;

    let settled = settled.0.lock().map_err(|_| anyhow!("poisoned"))?.clone();
    let mut answer = Vec::new();
    let mut to_confirmed = Vec::new();
    let mut rejected = 0;
    for (id, sent, answered) in &placed {
        answer.push(*answered);
        match settled.get(id) {
            Some((at, status)) if status == "CONFIRMED" => {
                to_confirmed.push(at.duration_since(*sent))
            }
            _ => rejected += 1,
        }
    }
    answer.sort();
    to_confirmed.sort();
    let rate = placed.len() as f64 / placing.as_secs_f64();
    println!(
        "orders benchmark: {customers} customers × {checkouts} checkouts through the router ({} orders, {PRODUCTS} products)",
        placed.len()
    );
    println!(
        "  Postgres commit ceiling (pgbench -N, 8 clients, 10 s):  {ceiling:>8.0} transactions/s"
    );
    println!(
        "  checkouts (each after an addToCart):                    {rate:>8.1} checkouts/s  ({:.2} s)",
        placing.as_secs_f64()
    );
    println!(
        "  orders settled (CONFIRMED or REJECTED):                 {:>8.1} orders/s     ({:.2} s until the last)",
        placed.len() as f64 / all_settled.as_secs_f64(),
        all_settled.as_secs_f64()
    );
    println!(
        "  checkout answer p50 / p99:                              {:>8.2} / {:.2} ms",
        millis(percentile(&answer, 0.5)),
        millis(percentile(&answer, 0.99))
    );
    println!(
        "  checkout sent → CONFIRMED p50 / p99:                    {:>8.2} / {:.2} ms ({} confirmed, {rejected} not)",
        millis(percentile(&to_confirmed, 0.5)),
        millis(percentile(&to_confirmed, 0.99)),
        to_confirmed.len()
    );
    println!(
        "  ratio checkouts/s ÷ pgbench transactions/s:             {:>8.4}",
        rate / ceiling
    );
    broker.close().await;
    Ok(())
}
