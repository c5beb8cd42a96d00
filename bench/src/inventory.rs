//! `inventory`: how fast orders are reserved with everything a real reservation does (the
//! atomic Redis script, then one Postgres transaction with the inbox row, a ledger movement
//! and level per line, the reservation, and the events in the outbox), next to the raw Redis
//! round trips the same number of clients manage in the same run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use emporium_inventory::domain::{normalise_lines, Line};
use emporium_inventory::events::ORDER_PLACED_QUEUE;
use emporium_inventory::service::OrderOutcome;
use emporium_inventory::{HotStock, Inventory};
use emporium_kernel::events::{Envelope, EventDraft};
use emporium_kernel::ids::{OrderId, VariantId};
use emporium_kernel::testing::{TestPostgres, TestRedis};
use emporium_kernel::trace::TraceContext;

pub async fn benchmark(orders: usize, clients: usize, products: usize) -> anyhow::Result<()> {
    ensure!(products >= 5, "5-line orders need at least 5 products");
    let clients = clients.max(1);
    let database = TestPostgres::create().await;
    let redis = TestRedis::create();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(clients as u32 + 2)
        .connect(&database.url())
        .await
        .context("connecting to Postgres")?;
    emporium_inventory::MIGRATOR.run(&pool).await?;
    let hot = HotStock::connect(redis.url(), redis.prefix()).await?;
    let inventory = Inventory::new(pool, hot);
    inventory.rebuild().await?;
    let product_ids: Vec<String> = (0..products)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    for id in &product_ids {
        let stock_id = VariantId::parse(id.as_str()).context("a stock id")?;
        inventory
            .set_stock(&stock_id, 1_000_000_000, &TraceContext::new_root())
            .await?;
    }

    let raw = raw_redis(&redis, orders * 5, clients).await?;
    let script_only = scripts_alone(&inventory, &product_ids, orders, clients).await?;
    let single = reservations(&inventory, &product_ids, orders, clients, 1).await?;
    let five = reservations(&inventory, &product_ids, orders, clients, 5).await?;
    // The script-only orders hold reservations the ledger never saw; drop them before checking.
    inventory.rebuild().await?;
    let drift = inventory.reconcile().await?;
    ensure!(
        drift.is_empty(),
        "Redis and the ledger disagree after the run: {drift:?}"
    );

    println!(
        "inventory benchmark: {orders} orders per kind, {clients} clients, {products} products"
    );
    println!("  raw Redis HINCRBY round trips (baseline):   {raw:>9.0} ops/s");
    println!(
        "  reserve script alone, 1-line, no ledger:    {script_only:>9.0} orders/s   ratio to raw {:.3}",
        script_only / raw
    );
    println!(
        "  reservations, 1-line orders, ledger on:     {single:>9.0} orders/s   ratio to raw {:.3}",
        single / raw
    );
    println!(
        "  reservations, 5-line orders, ledger on:     {five:>9.0} orders/s   ratio to raw {:.3}  ({:.0} lines/s)",
        five / raw,
        five * 5.0
    );
    println!("  reconcile after the run: no drift");
    Ok(())
}

/// Sequential HINCRBY round trips from `clients` connections at once.
async fn raw_redis(redis: &TestRedis, ops: usize, clients: usize) -> anyhow::Result<f64> {
    let client = redis::Client::open(redis.url())?;
    let remaining = Arc::new(AtomicUsize::new(ops));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..clients {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let key = format!("{}bench:{n}", redis.prefix());
        let remaining = remaining.clone();
        tasks.push(tokio::spawn(async move {
            while take_one(&remaining) {
                redis::cmd("HINCRBY")
                    .arg(&key)
                    .arg("reserved")
                    .arg(1)
                    .query_async::<i64>(&mut conn)
                    .await?;
            }
            Ok::<(), redis::RedisError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(ops as f64 / started.elapsed().as_secs_f64())
}

fn take_one(remaining: &AtomicUsize) -> bool {
    remaining
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

/// The Redis reservation script alone (what the ledger costs is the difference).
async fn scripts_alone(
    inventory: &Inventory,
    product_ids: &[String],
    orders: usize,
    clients: usize,
) -> anyhow::Result<f64> {
    let prepared: Arc<Vec<(Envelope, Vec<Line>)>> = Arc::new(
        (0..orders)
            .map(|n| order(product_ids, n, 1))
            .collect::<anyhow::Result<_>>()?,
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let hot = inventory.hot().clone();
        let prepared = prepared.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            while let Some((envelope, lines)) = prepared.get(next.fetch_add(1, Ordering::Relaxed)) {
                hot.reserve(&envelope.subject, lines).await?;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(orders as f64 / started.elapsed().as_secs_f64())
}

fn order(product_ids: &[String], n: usize, lines: usize) -> anyhow::Result<(Envelope, Vec<Line>)> {
    let order_id = uuid::Uuid::now_v7().to_string();
    // Distinct products per order, spread over the catalog.
    let picked: Vec<(String, i64)> = (0..lines)
        .map(|i| (product_ids[(n * 7 + i * 13) % product_ids.len()].clone(), 1))
        .collect();
    let lines = normalise_lines(picked)?;
    let envelope = EventDraft::new(
        "order.placed",
        order_id.clone(),
        serde_json::json!({ "orderId": order_id, "items": lines }),
    )
    .into_envelope("/bench", 1, chrono::Utc::now());
    Ok((envelope, lines))
}

/// Orders/s through `reserve_order` from `clients` tasks at once.
async fn reservations(
    inventory: &Inventory,
    product_ids: &[String],
    orders: usize,
    clients: usize,
    lines: usize,
) -> anyhow::Result<f64> {
    let prepared: Vec<(Envelope, Vec<Line>)> = (0..orders)
        .map(|n| order(product_ids, n, lines))
        .collect::<anyhow::Result<_>>()?;
    let prepared = Arc::new(prepared);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let inventory = inventory.clone();
        let prepared = prepared.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some((envelope, lines)) = prepared.get(n) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let order_id: OrderId = envelope.subject.parse()?;
                let outcome = inventory
                    .reserve_order(ORDER_PLACED_QUEUE, envelope, order_id, lines)
                    .await?;
                ensure!(outcome == OrderOutcome::Reserved, "order {n}: {outcome:?}");
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().max(Duration::from_micros(1));
    Ok(orders as f64 / elapsed.as_secs_f64())
}
