//! `search`: on the demo catalog and on it replicated to about 100k products, how fast the
//! index fills (in bulk, and through the indexer's event handler with group commits), and the
//! p50/p99 latency of a fixed query mix run directly against tantivy and through the search
//! subgraph's GraphQL endpoint over HTTP, in the same run: the ratio is the service's overhead.

use std::time::Instant;

use chrono::Utc;
use emporium_kernel::events::consumer::Handler;
use emporium_kernel::events::contract::products::{self as contract, ProductCreated};
use emporium_kernel::events::EventDraft;
use emporium_search::events::{IndexerHandler, COMMIT_INTERVAL, INDEXER_TASKS};
use emporium_search::index::ProductSnapshot;
use emporium_search::query::{search, Filter, SearchRequest, Sort};
use emporium_search::SearchIndex;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::platform::{millis, percentile};

/// The query mix: (label, text, filter, sort, GraphQL filter, GraphQL sort).
fn mix() -> Vec<(
    &'static str,
    &'static str,
    Filter,
    Sort,
    serde_json::Value,
    &'static str,
)> {
    vec![
        (
            "exact",
            "samsung galaxy case",
            Filter::default(),
            Sort::Relevance,
            json!(null),
            "RELEVANCE",
        ),
        (
            "typo",
            "samsng galaxi",
            Filter::default(),
            Sort::Relevance,
            json!(null),
            "RELEVANCE",
        ),
        (
            "prefix",
            "otterbox def",
            Filter::default(),
            Sort::Relevance,
            json!(null),
            "RELEVANCE",
        ),
        (
            "filtered",
            "charger",
            Filter {
                min_price_cents: Some(1000),
                max_price_cents: Some(5000),
                in_stock: Some(false),
                ..Filter::default()
            },
            Sort::PriceAsc,
            json!({ "minPrice": "10", "maxPrice": "50", "inStock": false }),
            "PRICE_ASC",
        ),
        (
            "faceted",
            "",
            Filter {
                category: Some("Cell Phones > Cell Phone Accessories".into()),
                ..Filter::default()
            },
            Sort::Newest,
            json!({ "category": "Cell Phones > Cell Phone Accessories" }),
            "NEWEST",
        ),
    ]
}

fn catalog(replicas: usize) -> anyhow::Result<Vec<(u64, ProductSnapshot)>> {
    let base = emporium_products::seed::demo_catalog()?;
    let now = Utc::now();
    let mut out = Vec::with_capacity(base.len() * replicas);
    for copy in 0..replicas {
        for (i, p) in base.iter().enumerate() {
            let created = now - chrono::Duration::seconds((copy * base.len() + i) as i64);
            let snapshot = json!({
                "productId": format!("{copy:03}-{i:05}"),
                "name": p.name, "description": p.description, "category": p.category,
                "brand": p.brand, "price": { "amount": p.price.to_decimal_string(), "currency": "USD" },
                "popularity": p.popularity, "createdAt": created.to_rfc3339(),
            });
            out.push((1, serde_json::from_value(snapshot)?));
        }
    }
    Ok(out)
}

/// The `product.created` the products service would publish for `product`.
fn product_created(product: &ProductSnapshot) -> anyhow::Result<ProductCreated> {
    let created_at = product.created_at;
    let snapshot = contract::ProductSnapshot {
        product_id: product.product_id.clone(),
        sku: product.product_id.clone(),
        name: product.name.clone(),
        description: product.description.clone(),
        category: product.category.clone(),
        brand: product.brand.clone(),
        price: contract::Price {
            amount: product.price.amount.clone(),
            currency: product.price.currency.clone(),
        },
        attributes: vec![],
        image_url: None,
        popularity: product.popularity,
        created_at,
        updated_at: created_at,
        options: vec![],
        variants: vec![],
    };
    Ok(ProductCreated {
        product: snapshot,
        initial_stock: 0,
    })
}

pub async fn benchmark(replicas: usize, rounds: usize) -> anyhow::Result<()> {
    println!(
        "search benchmark: query mix {:?}, {rounds} rounds each",
        mix().iter().map(|m| m.0).collect::<Vec<_>>()
    );
    for copies in [1, replicas.max(1)] {
        one_size(copies, rounds).await?;
        if replicas <= 1 {
            break;
        }
    }
    Ok(())
}

async fn one_size(copies: usize, rounds: usize) -> anyhow::Result<()> {
    let products = catalog(copies)?;
    let count = products.len();
    let dir = std::env::temp_dir().join(format!(
        "emporium-bench-search-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let index = SearchIndex::open(&dir)?;

    // Bulk: the reindex path (one commit).
    let started = Instant::now();
    index.replace_all(products.clone()).await?;
    let bulk = started.elapsed();

    // Through the indexer: the base catalog as product.created events, 32 handlers, group commits.
    let events_dir = std::env::temp_dir().join(format!(
        "emporium-bench-search-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let events_index = SearchIndex::open(&events_dir)?;
    let stop = CancellationToken::new();
    let committer = {
        let index = events_index.clone();
        let stop = stop.clone();
        tokio::spawn(async move { index.run_committer(COMMIT_INTERVAL, stop).await })
    };
    let sample: Vec<_> = products.iter().take(3291.min(count)).cloned().collect();
    let handler = IndexerHandler::new(events_index.clone());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in sample.chunks(sample.len().div_ceil(INDEXER_TASKS)) {
        let handler = handler.clone();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            for (_, product) in chunk {
                let envelope = EventDraft::of(&product_created(&product)?).into_envelope(
                    "/bench",
                    1,
                    Utc::now(),
                );
                handler
                    .handle(&envelope)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let through_events = started.elapsed();
    stop.cancel();
    committer.await?;

    // The subgraph over HTTP, on a free port, with a verifier for a throwaway key.
    let key = emporium_kernel::auth::SigningKey::generate()?;
    let keyring = emporium_kernel::auth::Keyring::new(key, vec![]);
    let verifier = emporium_kernel::auth::TokenVerifier::from_jwks(&keyring.jwks())?;
    let app = emporium_search::router(index.clone(), verifier, vec![]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/graphql", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(emporium_kernel::http::serve(
        listener,
        app,
        shutdown.clone(),
    ));
    let http = reqwest::Client::new();

    println!("\n{count} products ({copies}x the demo catalog)");
    println!(
        "  indexing, bulk (reindex, one commit):          {:>9.0} docs/s  ({:.2} s)",
        count as f64 / bulk.as_secs_f64(),
        bulk.as_secs_f64()
    );
    println!(
        "  indexing, {} product.created events, {INDEXER_TASKS} handlers, group commits every {} ms: {:>6.0} events/s  ({:.2} s)",
        sample.len(),
        COMMIT_INTERVAL.as_millis(),
        sample.len() as f64 / through_events.as_secs_f64(),
        through_events.as_secs_f64()
    );
    println!(
        "  {:<9} {:>10} {:>10} {:>12} {:>12} {:>8}",
        "query", "direct p50", "direct p99", "service p50", "service p99", "p50 ratio"
    );
    let mut all_direct = Vec::new();
    let mut all_service = Vec::new();
    for (label, text, filter, sort, gql_filter, gql_sort) in mix() {
        let request = SearchRequest {
            text: text.to_owned(),
            filter,
            sort,
            offset: 0,
            limit: 20,
        };
        let mut direct = Vec::with_capacity(rounds);
        let mut total = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            let page = search(&index, &request)?;
            direct.push(started.elapsed());
            total = page.total;
        }
        let body = json!({
            "query": "query($q: String!, $f: SearchFilter, $s: SearchSort) { search(query: $q, filter: $f, sort: $s, first: 20) { totalCount facets { field values { value count } } edges { cursor node { score product { id } highlights { field snippet } } } } }",
            "variables": { "q": text, "f": gql_filter, "s": gql_sort },
        });
        let mut service = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let started = Instant::now();
            let response: serde_json::Value =
                http.post(&url).json(&body).send().await?.json().await?;
            service.push(started.elapsed());
            anyhow::ensure!(response["errors"].is_null(), "{label}: {response}");
            anyhow::ensure!(
                response["data"]["search"]["totalCount"] == total,
                "{label}: totals differ"
            );
        }
        direct.sort();
        service.sort();
        println!(
            "  {label:<9} {:>8.2}ms {:>8.2}ms {:>10.2}ms {:>10.2}ms {:>8.2}   ({total} hits)",
            millis(percentile(&direct, 0.5)),
            millis(percentile(&direct, 0.99)),
            millis(percentile(&service, 0.5)),
            millis(percentile(&service, 0.99)),
            percentile(&service, 0.5).as_secs_f64() / percentile(&direct, 0.5).as_secs_f64()
        );
        all_direct.extend(direct);
        all_service.extend(service);
    }
    all_direct.sort();
    all_service.sort();
    println!(
        "  {:<9} {:>8.2}ms {:>8.2}ms {:>10.2}ms {:>10.2}ms {:>8.2}",
        "all",
        millis(percentile(&all_direct, 0.5)),
        millis(percentile(&all_direct, 0.99)),
        millis(percentile(&all_service, 0.5)),
        millis(percentile(&all_service, 0.99)),
        percentile(&all_service, 0.5).as_secs_f64() / percentile(&all_direct, 0.5).as_secs_f64()
    );
    shutdown.cancel();
    let _ = server.await;
    drop(index);
    drop(events_index);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&events_dir);
    Ok(())
}
