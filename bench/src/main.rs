//! `emporium-bench`: benchmarks that print figures, each beside a baseline measured in the
//! same run on the same machine, so the ratio is the figure to compare across machines.
//!
//! - `events`: events per second through the whole backbone (a producer's transaction with
//!   its outbox row → relay → RabbitMQ with publisher confirms → consumer with its inbox
//!   transaction), with the consumer handling one event at a time, several at once (one per
//!   aggregate), and several at once with their inbox writes sharing transactions (the batched
//!   inbox), against bare confirmed publishes to the same broker.
//!
//! - `catalog`: a browse page, a product by id and search joined with `product { name price
//!   stock }` through the router, with the catalog cache cold and warm, beside search alone.
//! - `inventory`: order reservations per second with the ledger on (Redis script + Postgres
//!   transaction with inbox, ledger and outbox), single-line and 5-line, against raw Redis
//!   round trips with the same number of clients.
//! - `router`: requests per second and p50/p99 of one search operation (varied variables)
//!   straight to the search subgraph, through the router with the cost and rate-limit plugins
//!   off, with only the cost estimate on, and with both on.
//! - `search`: indexing throughput, and query latency directly against tantivy and through
//!   the search subgraph, on the demo catalog and on it replicated to ~100k products.
//!
//! Run them in release mode: `cargo run --release -p emporium-bench -- events`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use clap::{Parser, Subcommand};
use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::events::consumer::{self, ConsumerSettings, Handler, HandlerError};
use emporium_kernel::events::inbox::{self, BatchedInbox};
use emporium_kernel::events::outbox::postgres::{self as pg_outbox, PgOutbox, OUTBOX_TABLES_SQL};
use emporium_kernel::events::outbox::{run_relay, Outbox, RelayPass, RelaySettings};
use emporium_kernel::events::{Envelope, EventDraft, PublishError, Publisher};
use emporium_kernel::testing::{TestPostgres, TestVhost};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

mod catalog;
mod inventory;
mod orders;
mod platform;
mod router;
mod search;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Events per second through outbox → relay → broker → consumer with inbox, beside bare
    /// confirmed publishes.
    Events {
        #[arg(long, default_value_t = 5000)]
        events: usize,
        /// Concurrent producers writing events in their own transactions.
        #[arg(long, default_value_t = 4)]
        producers: usize,
        /// Competing consumer tasks on the one queue.
        #[arg(long, default_value_t = 1)]
        consumers: usize,
    },
    /// Reservations per second (single-line and 5-line orders, ledger on), beside raw Redis
    /// operations per second with the same number of clients.
    Inventory {
        /// Orders per kind (single-line, 5-line).
        #[arg(long, default_value_t = 3000)]
        orders: usize,
        /// Concurrent clients (order handlers; Redis connections for the baseline).
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Products the orders draw their lines from.
        #[arg(long, default_value_t = 200)]
        products: usize,
    },
    /// Checkouts per second through the router on the whole platform (`emporium up` from the
    /// release build), checkout → CONFIRMED latency, and pgbench's commit rate as the ceiling.
    Orders {
        /// Concurrent customers, each checking out one product at a time.
        #[arg(long, default_value_t = 16)]
        customers: usize,
        /// Checkouts per customer.
        #[arg(long, default_value_t = 50)]
        checkouts: usize,
        /// The `emporium` binary (default: beside this one).
        #[arg(long)]
        emporium: Option<std::path::PathBuf>,
    },
    /// One search operation with varied variables: straight to the subgraph, through the router
    /// with the cost and rate-limit plugins off, and with them on.
    Router(Load),
    /// Catalog reads through the router (browse page, by id, search joined with product
    /// fields and stock), cache cold and warm, beside search alone.
    Catalog(Load),
    /// Indexing throughput and query latency (direct and through the subgraph) on the demo
    /// catalog and on it replicated.
    Search {
        /// Copies of the demo catalog for the large run (31 makes about 100k products).
        #[arg(long, default_value_t = 31)]
        replicas: usize,
        /// Times each query of the mix runs per size and path.
        #[arg(long, default_value_t = 200)]
        rounds: usize,
    },
}

/// A closed-loop load on a platform it starts: how many connections, for how long a phase.
#[derive(clap::Args)]
struct Load {
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The `emporium` binary (default: beside this one).
    #[arg(long)]
    emporium: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Events {
            events,
            producers,
            consumers,
        } => events_benchmark(events, producers, consumers).await,
        Command::Inventory {
            orders,
            clients,
            products,
        } => inventory::benchmark(orders, clients, products).await,
        Command::Search { replicas, rounds } => search::benchmark(replicas, rounds).await,
        Command::Router(load) => {
            router::benchmark(load.connections, load.seconds, load.emporium).await
        }
        Command::Orders {
            customers,
            checkouts,
            emporium,
        } => orders::benchmark(customers, checkouts, emporium).await,
        Command::Catalog(load) => {
            catalog::benchmark(load.connections, load.seconds, load.emporium).await
        }
    }
}

async fn events_benchmark(events: usize, producers: usize, consumers: usize) -> anyhow::Result<()> {
    let vhost = TestVhost::create().await;
    let database = TestPostgres::create().await;
    let pool = PgPool::connect(&database.url())
        .await
        .context("connecting to Postgres")?;
    sqlx::raw_sql(OUTBOX_TABLES_SQL).execute(&pool).await?;
    sqlx::raw_sql(inbox::INBOX_TABLE_SQL).execute(&pool).await?;
    sqlx::raw_sql("CREATE TABLE changes (id uuid PRIMARY KEY); CREATE TABLE effects (event_id uuid PRIMARY KEY);")
        .execute(&pool)
        .await?;
    let broker = Broker::connect(BrokerSettings::new(vhost.amqp_url())).await?;

    let bare = bare_publishes(&broker, events).await?;
    let one_by_one = relay_drain(&OneByOne(&broker), &broker, &pool, events).await?;
    let pipelined = relay_drain(&broker, &broker, &pool, events).await?;
    let run = |concurrency, batched, wake| {
        pipeline(
            &broker,
            &pool,
            events,
            producers,
            consumers,
            Consuming {
                concurrency,
                batched,
            },
            wake,
        )
    };
    let serial = run(1, false, Wake::AfterCommit).await?;
    let pipeline = run(CONCURRENCY, false, Wake::AfterCommit).await?;
    let batched = run(CONCURRENCY, true, Wake::AfterCommit).await?;
    let batched_wide = run(WIDE, true, Wake::AfterCommit).await?;
    let notifying = run(WIDE, true, Wake::InTransaction).await?;

    let bare_rate = events as f64 / bare.as_secs_f64();
    let pipeline_rate = events as f64 / pipeline.end_to_end.as_secs_f64();
    println!("events benchmark: {events} events, {producers} producers, one relay, {consumers} consumer task(s)");
    println!(
        "  bare confirmed publishes (baseline):             {bare_rate:>9.0} events/s  ({:.2} s)",
        bare.as_secs_f64()
    );
    println!(
        "  relay draining the outbox, a confirm at a time:  {:>9.0} events/s  ({:.2} s)",
        events as f64 / one_by_one.as_secs_f64(),
        one_by_one.as_secs_f64()
    );
    println!(
        "  relay draining the outbox, confirms pipelined:   {:>9.0} events/s  ({:.2} s)",
        events as f64 / pipelined.as_secs_f64(),
        pipelined.as_secs_f64()
    );
    println!(
        "  ratio pipelined relay / bare publishes:          {:>9.2}",
        bare.as_secs_f64() / pipelined.as_secs_f64()
    );
    println!(
        "  producers' transactions with outbox rows:        {:>9.0} events/s  ({:.2} s)",
        events as f64 / pipeline.produced.as_secs_f64(),
        pipeline.produced.as_secs_f64()
    );
    let serial_rate = events as f64 / serial.end_to_end.as_secs_f64();
    println!(
        "  outbox → relay → broker → consumer with inbox,\n    \
         one event handled at a time:                     {serial_rate:>9.0} events/s  ({:.2} s end to end)",
        serial.end_to_end.as_secs_f64()
    );
    println!(
        "  ratio pipeline (one at a time) / bare:           {:>9.2}",
        serial_rate / bare_rate
    );
    println!(
        "  outbox → relay → broker → consumer with inbox,\n    \
         {CONCURRENCY} at once, one per aggregate:                  {pipeline_rate:>9.0} events/s  ({:.2} s end to end)",
        pipeline.end_to_end.as_secs_f64()
    );
    println!(
        "  ratio pipeline ({CONCURRENCY} at once) / bare:               {:>9.2}",
        pipeline_rate / bare_rate
    );
    for (concurrency, times) in [(CONCURRENCY, &batched), (WIDE, &batched_wide)] {
        let rate = events as f64 / times.end_to_end.as_secs_f64();
        println!(
            "  producers' transactions, batched inbox run:      {:>9.0} events/s  ({:.2} s)",
            events as f64 / times.produced.as_secs_f64(),
            times.produced.as_secs_f64()
        );
        println!(
            "  outbox → relay → broker → consumer with inbox,\n    \
             {concurrency:>2} at once, inbox writes batched:              {rate:>9.0} events/s  ({:.2} s end to end)",
            times.end_to_end.as_secs_f64()
        );
        println!(
            "  ratio pipeline ({concurrency:>2} at once, batched) / bare:     {:>9.2}",
            rate / bare_rate
        );
    }
    let notifying_rate = events as f64 / notifying.end_to_end.as_secs_f64();
    println!(
        "  producers' transactions, each NOTIFYing:         {:>9.0} events/s  ({:.2} s)",
        events as f64 / notifying.produced.as_secs_f64(),
        notifying.produced.as_secs_f64()
    );
    println!(
        "  the same {WIDE} at once, batched, with producers\n    \
         NOTIFYing in their transaction (as before):      {notifying_rate:>9.0} events/s  ({:.2} s end to end)",
        notifying.end_to_end.as_secs_f64()
    );
    println!(
        "  ratio pipeline ({WIDE} at once, NOTIFY in tx) / bare:   {:>9.2}",
        notifying_rate / bare_rate
    );
    broker.close().await;
    Ok(())
}

/// Events a consumer task handles at once in the concurrent pipeline (the runtime's default).
const CONCURRENCY: u16 = 8;
/// Events a consumer task handles at once in the widest batched run: the whole prefetch, which
/// costs no connections when their inbox writes share a transaction.
const WIDE: u16 = 32;
/// The most events one transaction of the batched inbox holds.
const BATCH: usize = 64;

fn envelope(n: usize) -> Envelope {
    EventDraft::new(
        "bench.event",
        format!("aggregate-{}", n % 100),
        serde_json::json!({ "n": n }),
    )
    .into_envelope("/bench", n as i64 + 1, chrono::Utc::now())
}

/// Sequential publishes, each waiting for its confirm: what the relay does per entry.
async fn bare_publishes(broker: &Broker, events: usize) -> anyhow::Result<Duration> {
    // A bound queue, so the broker stores every message as it does for real consumers.
    let channel = broker.channel().await?;
    channel
        .queue_declare("bench.bare".into(), Default::default(), Default::default())
        .await?;
    channel
        .queue_bind(
            "bench.bare".into(),
            "ecommerce-events".into(),
            "bench.event".into(),
            Default::default(),
            Default::default(),
        )
        .await?;
    let envelopes: Vec<Envelope> = (0..events).map(envelope).collect();
    let started = Instant::now();
    for envelope in &envelopes {
        broker.publish(envelope).await?;
    }
    let elapsed = started.elapsed();
    channel
        .queue_delete("bench.bare".into(), Default::default())
        .await?;
    Ok(elapsed)
}

/// The broker seen through [`Publisher::publish`] only, so a relay batch takes the trait's
/// default: one confirm awaited before the next publish (the relay before confirms were
/// pipelined), measured in the same run as the pipelined relay.
struct OneByOne<'a>(&'a Broker);

impl Publisher for OneByOne<'_> {
    async fn publish(&self, envelope: &Envelope) -> Result<(), PublishError> {
        self.0.publish(envelope).await
    }
}

/// Fills the outbox with `events` entries (100 aggregates, interleaved), then times the relay
/// publishing all of them to a bound queue in passes of the relay's default batch size.
async fn relay_drain<P: Publisher>(
    publisher: &P,
    broker: &Broker,
    pool: &PgPool,
    events: usize,
) -> anyhow::Result<Duration> {
    let channel = broker.channel().await?;
    channel
        .queue_declare("bench.relay".into(), Default::default(), Default::default())
        .await?;
    channel
        .queue_bind(
            "bench.relay".into(),
            "ecommerce-events".into(),
            "bench.relay".into(),
            Default::default(),
            Default::default(),
        )
        .await?;
    let mut tx = pool.begin().await?;
    for n in 0..events {
        let draft = EventDraft::new(
            "bench.relay",
            format!("aggregate-{}", n % 100),
            serde_json::json!({ "n": n }),
        );
        pg_outbox::enqueue(&mut tx, "/bench", draft).await?;
    }
    tx.commit().await?;
    let outbox = PgOutbox::new(pool.clone(), "bench-relay");
    let batch = RelaySettings::default().batch_size;
    let started = Instant::now();
    let mut published = 0;
    while published < events {
        match outbox.relay_batch(publisher, batch).await? {
            RelayPass::Published(0) => {
                anyhow::bail!("the relay found nothing with {published} of {events} published")
            }
            RelayPass::Published(n) => published += n,
            RelayPass::NotLeader => anyhow::bail!("another relay holds the bench outbox's lease"),
        }
    }
    let elapsed = started.elapsed();
    let queued = channel
        .queue_declare(
            "bench.relay".into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await?
        .message_count();
    ensure!(
        queued as usize == events,
        "{queued} messages queued for {events} events"
    );
    channel
        .queue_delete("bench.relay".into(), Default::default())
        .await?;
    sqlx::raw_sql("DELETE FROM outbox; DELETE FROM outbox_sequences;")
        .execute(pool)
        .await?;
    Ok(elapsed)
}

struct PipelineTimes {
    produced: Duration,
    end_to_end: Duration,
}

/// Counts events applied once, through the inbox, as a real consumer's effect would be: in a
/// transaction of its own, or in the batched inbox's shared one.
struct CountingHandler {
    pool: PgPool,
    batched: Option<BatchedInbox>,
    applied: Arc<AtomicUsize>,
}

impl Handler for CountingHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let event_id = envelope.id;
        let applied = match &self.batched {
            Some(inbox) => inbox
                .apply_once("bench.pipeline", event_id, move |conn| {
                    Box::pin(async move { record_effect(conn, event_id).await })
                })
                .await?
                .is_some(),
            None => match inbox::begin_once(&self.pool, "bench.pipeline", event_id).await? {
                Some(mut tx) => {
                    record_effect(&mut tx, event_id).await?;
                    tx.commit().await?;
                    true
                }
                None => false,
            },
        };
        if applied {
            self.applied.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

async fn record_effect(conn: &mut PgConnection, event_id: uuid::Uuid) -> Result<(), HandlerError> {
    sqlx::query("INSERT INTO effects (event_id) VALUES ($1)")
        .bind(event_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// How the pipeline's producers wake the relay.
#[derive(Clone, Copy)]
enum Wake {
    /// An [`pg_outbox::OutboxWaker`] after the commit (what the services do).
    AfterCommit,
    /// A `NOTIFY` inside the producer's transaction (what `enqueue` did before), which
    /// Postgres serialises with every other notifying commit.
    InTransaction,
}

/// How the pipeline's consumer handles events.
#[derive(Clone, Copy)]
struct Consuming {
    /// Events a consumer task handles at once.
    concurrency: u16,
    /// Whether their inbox writes share a transaction ([`BatchedInbox`]).
    batched: bool,
}

async fn pipeline(
    broker: &Broker,
    pool: &PgPool,
    events: usize,
    producers: usize,
    consumers: usize,
    consuming: Consuming,
    wake: Wake,
) -> anyhow::Result<PipelineTimes> {
    sqlx::raw_sql("TRUNCATE changes, effects, inbox, outbox, outbox_sequences")
        .execute(pool)
        .await?;
    let shutdown = CancellationToken::new();
    let applied = Arc::new(AtomicUsize::new(0));
    let handler = Arc::new(CountingHandler {
        pool: pool.clone(),
        batched: consuming
            .batched
            .then(|| BatchedInbox::start(pool.clone(), BATCH)),
        applied: applied.clone(),
    });
    let consumer_tasks: Vec<_> = (0..consumers.max(1))
        .map(|_| {
            let settings = ConsumerSettings {
                concurrency: consuming.concurrency,
                ..ConsumerSettings::new("bench.pipeline", ["bench.event"])
            };
            tokio::spawn(consumer::run(
                broker.clone(),
                settings,
                handler.clone(),
                shutdown.clone(),
            ))
        })
        .collect();
    wait_for_queue(broker, "bench.pipeline").await?;
    let relay = tokio::spawn(run_relay(
        "bench",
        PgOutbox::new(pool.clone(), "bench"),
        broker.clone(),
        RelaySettings::default(),
        shutdown.clone(),
    ));

    let started = Instant::now();
    let mut writers = Vec::new();
    let waker = pg_outbox::OutboxWaker::new(pool.clone());
    for producer in 0..producers {
        let pool = pool.clone();
        let waker = waker.clone();
        writers.push(tokio::spawn(async move {
            for n in (producer..events).step_by(producers) {
                let mut tx = pool.begin().await?;
                let id = uuid::Uuid::now_v7();
                sqlx::query("INSERT INTO changes (id) VALUES ($1)")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let draft = EventDraft::new(
                    "bench.event",
                    format!("aggregate-{}", n % 100),
                    serde_json::json!({ "n": n }),
                );
                pg_outbox::enqueue(&mut tx, "/bench", draft).await?;
                if let Wake::InTransaction = wake {
                    sqlx::query("SELECT pg_notify($1, '')")
                        .bind(pg_outbox::WAKE_CHANNEL)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                if let Wake::AfterCommit = wake {
                    waker.wake();
                }
            }
            Ok::<(), sqlx::Error>(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    let produced = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    while applied.load(Ordering::Relaxed) < events {
        ensure!(
            Instant::now() < deadline,
            "only {} of {events} events arrived",
            applied.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let end_to_end = started.elapsed();
    shutdown.cancel();
    let _ = relay.await;
    for consumer in consumer_tasks {
        let _ = consumer.await;
    }
    let effects: i64 = sqlx::query_scalar("SELECT count(*) FROM effects")
        .fetch_one(pool)
        .await?;
    ensure!(
        effects as usize == events,
        "{effects} effects for {events} events"
    );
    Ok(PipelineTimes {
        produced,
        end_to_end,
    })
}

async fn wait_for_queue(broker: &Broker, queue: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let declared = emporium_kernel::events::dlq::list(broker, &[queue.to_owned()]).await?;
        if declared.first().and_then(|(_, depth)| *depth).is_some() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the consumer did not declare {queue}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
