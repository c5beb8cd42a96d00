//! `emporium`: the one binary. `up` runs the whole platform in one process; `serve` runs one
//! service (what each container does); the rest are admin tasks.

mod compose;
mod config;
mod contract;
mod services;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::config::{Settings, DEFAULT_LOG_FILTER};

#[derive(Parser)]
#[command(name = "emporium", version, about = "Emporium e-commerce platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, seed the demo catalog, ensure the admin, and run the router and every subgraph.
    Up,
    /// Run one service.
    Serve {
        #[arg(value_enum)]
        service: Service,
    },
    /// Create the databases if missing and run every migration.
    Migrate,
    /// Load the demo catalog (products already present by SKU, or deleted, are left alone;
    /// nothing when EMPORIUM_SEED_DEMO_CATALOG is off).
    Seed,
    /// Create an admin account, or (with --promote) make an existing account an admin.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// The new admin's password; read from EMPORIUM_NEW_ADMIN_PASSWORD so it stays out of
        /// shell history and `ps`. Not used with --promote (the account keeps its own).
        #[arg(long, env = "EMPORIUM_NEW_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long, default_value = "Admin")]
        name: String,
        /// Promote the existing account with this email, keeping its password. Start-up
        /// never does this: only run it once you know who owns the address.
        #[arg(long)]
        promote: bool,
    },
    /// Write a new token signing key (ES256, PKCS#8 PEM, mode 0600) for a key rotation.
    NewSigningKey {
        /// Where to write it; must not exist yet.
        out: std::path::PathBuf,
    },
    /// Inspect and redrive dead letters (messages a consumer gave up on).
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Stock counts: rebuild Redis from the ledger, or check that the two agree.
    Inventory {
        #[command(subcommand)]
        action: InventoryAction,
    },
    /// The search index.
    Search {
        #[command(subcommand)]
        action: SearchAction,
    },
    /// Compose the supergraph from the subgraphs' schemas and write it (or check it is current).
    Compose {
        #[arg(long, default_value = "schema.graphql")]
        out: std::path::PathBuf,
        /// Fail instead of writing when the file differs from the composition.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
enum DlqAction {
    /// How many dead letters each named consumer queue has (e.g. `search.indexer`).
    List {
        #[arg(required = true)]
        queues: Vec<String>,
    },
    /// Print up to `limit` dead letters of a queue as JSON lines, leaving them in place.
    Show {
        queue: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Move up to `limit` dead letters back into their queue (only that queue) to be consumed again.
    Redrive {
        queue: String,
        #[arg(long, default_value_t = usize::MAX)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum InventoryAction {
    /// Replace the Redis counts and reservations with the ledger's (writers wait meanwhile).
    Rebuild,
    /// Print every difference between Redis and the ledger; exit with 1 when there is any.
    Reconcile,
}

#[derive(Subcommand)]
enum SearchAction {
    /// Rebuild the index from the products store. With the search service running, it does
    /// the work (searches keep using the old index until the new one is committed) and this
    /// waits for it; otherwise the index directory is rebuilt here.
    Reindex {
        /// How long to wait for a running service to finish.
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Service {
    Router,
    Users,
    Products,
    Inventory,
    Search,
    Orders,
    Payments,
    Notifications,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    // In a process that embeds the router, hive-router owns the global tracing subscriber.
    match cli.command {
        Command::Up => return up(settings),
        Command::Serve {
            service: Service::Router,
        } => return serve_router(settings),
        _ => emporium_kernel::telemetry::init(
            "emporium",
            DEFAULT_LOG_FILTER,
            settings.log_json,
            std::io::stderr,
        ),
    }
    match cli.command {
        Command::Up
        | Command::Serve {
            service: Service::Router,
        } => unreachable!("handled above"),
        Command::Compose { out, check } => compose_command(&out, check),
        Command::NewSigningKey { out } => {
            let kid = services::new_signing_key(&out)?;
            println!("wrote {} (kid {kid})", out.display());
            Ok(())
        }
        Command::Dlq { action } => runtime()?.block_on(dlq_command(&settings, action)),
        Command::Search {
            action: SearchAction::Reindex { timeout_secs },
        } => runtime()?.block_on(search_reindex(&settings, timeout_secs)),
        Command::Inventory { action } => {
            let clean = runtime()?.block_on(inventory_command(&settings, action))?;
            if !clean {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Serve { service } => runtime()?.block_on(serve(settings, service)),
        Command::Migrate => runtime()?.block_on(async {
            services::postgres(&settings).await?;
            services::inventory_postgres(&settings).await?;
            services::orders_postgres(&settings).await?;
            services::payments_postgres(&settings).await?;
            services::mongodb(&settings).await?;
            services::notifications_store(&settings).await?;
            Ok(())
        }),
        Command::Seed => runtime()?.block_on(async {
            if !settings.seed_demo_catalog {
                tracing::info!("EMPORIUM_SEED_DEMO_CATALOG is off: the demo catalog is not loaded");
                return Ok(());
            }
            let db = services::mongodb(&settings).await?;
            let inserted = emporium_products::seed::seed_demo_catalog(
                &emporium_products::store::ProductStore::new(&db),
            )
            .await?;
            if inserted > 0 {
                // A running products service lists them once its browse order is rebuilt.
                services::catalog_cache(&settings)
                    .await?
                    .forget_browse_order()
                    .await
                    .context("marking the catalog cache's browse order incomplete")?;
            }
            Ok(())
        }),
        Command::CreateAdmin {
            email,
            password,
            name,
            promote,
        } => runtime()?.block_on(create_admin(&settings, &email, password, &name, promote)),
    }
}

async fn create_admin(
    settings: &Settings,
    email: &str,
    password: Option<String>,
    name: &str,
    promote: bool,
) -> anyhow::Result<()> {
    let pool = services::postgres(settings).await?;
    let store = emporium_users::store::UserStore::new(pool);
    if promote {
        let user = emporium_users::promote_to_admin(&store, email).await?;
        println!(
            "account {} is now an ADMIN (its password is unchanged; it takes effect at its next sign-in)",
            user.id
        );
        return Ok(());
    }
    let password = password
        .context("give the new admin's password in EMPORIUM_NEW_ADMIN_PASSWORD (or --password)")?;
    let (user, outcome) = emporium_users::ensure_admin(&store, email, &password, name).await?;
    match outcome {
        emporium_users::AdminBootstrap::Created => println!("created admin account {}", user.id),
        emporium_users::AdminBootstrap::AlreadyAdmin => println!(
            "account {} is already an ADMIN; left unchanged (its password too)",
            user.id
        ),
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn dlq_command(settings: &Settings, action: DlqAction) -> anyhow::Result<()> {
    use emporium_kernel::events::dlq;
    use secrecy::ExposeSecret;
    let settings =
        emporium_kernel::events::broker::BrokerSettings::new(settings.amqp_url.expose_secret());
    let broker = emporium_kernel::events::broker::Broker::connect(settings)
        .await
        .context("connecting to RabbitMQ")?;
    match action {
        DlqAction::List { queues } => {
            for (queue, depth) in dlq::list(&broker, &queues).await? {
                match depth {
                    Some(depth) => println!("{queue}\t{depth}"),
                    None => println!("{queue}\t(no dead-letter queue: the consumer never ran)"),
                }
            }
        }
        DlqAction::Show { queue, limit } => {
            for dead_letter in dlq::show(&broker, &queue, limit).await? {
                let body = match dead_letter.body {
                    dlq::DeadLetterBody::Envelope(envelope) => serde_json::to_value(*envelope)?,
                    dlq::DeadLetterBody::Raw(text) => serde_json::Value::String(text),
                };
                let line = serde_json::json!({
                    "reason": dead_letter.reason,
                    "attempts": dead_letter.attempts,
                    "type": dead_letter.original_routing_key,
                    "message": body,
                });
                println!("{line}");
            }
        }
        DlqAction::Redrive { queue, limit } => {
            let moved = dlq::redrive(&broker, &queue, limit).await?;
            println!("moved {moved} dead letters back into {queue}");
        }
    }
    broker.close().await;
    Ok(())
}

/// `emporium search reindex`: here when no service holds the index, else by the service.
async fn search_reindex(settings: &Settings, timeout_secs: u64) -> anyhow::Result<()> {
    use emporium_search::events::{reindex, REINDEX_COMMAND};
    use emporium_search::index::{reindex_status_path, IndexError};
    let status_path = reindex_status_path(&settings.search_index_dir);
    let request_id = uuid::Uuid::now_v7().to_string();
    match emporium_search::SearchIndex::open(&settings.search_index_dir) {
        Ok(index) => {
            let db = services::mongodb(settings).await?;
            let catalog = services::catalog_source(db);
            let count = reindex(&index, &catalog, &request_id, &status_path)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            println!("rebuilt the search index from the products store: {count} products");
            Ok(())
        }
        Err(IndexError::Busy) => {
            use emporium_kernel::events::Publisher;
            use secrecy::ExposeSecret;
            let broker = emporium_kernel::events::broker::Broker::connect(
                emporium_kernel::events::broker::BrokerSettings::new(
                    settings.amqp_url.expose_secret(),
                ),
            )
            .await
            .context("connecting to RabbitMQ")?;
            let envelope = emporium_kernel::events::EventDraft::new(
                REINDEX_COMMAND,
                "search-index".to_owned(),
                serde_json::json!({ "requestId": request_id }),
            )
            .into_envelope("/cli", 1, chrono::Utc::now());
            broker
                .publish(&envelope)
                .await
                .context("asking the search service to reindex")?;
            broker.close().await;
            println!("the search service is rebuilding the index (searches keep using the old one meanwhile)");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout_secs);
            loop {
                if let Ok(bytes) = std::fs::read(&status_path) {
                    if let Ok(status) =
                        serde_json::from_slice::<emporium_search::events::ReindexStatus>(&bytes)
                    {
                        if status.request_id == request_id {
                            println!(
                                "rebuilt the search index from the products store: {} products",
                                status.products
                            );
                            return Ok(());
                        }
                    }
                }
                anyhow::ensure!(
                    std::time::Instant::now() < deadline,
                    "the search service did not finish within {timeout_secs} s (is its indexer consuming? see `emporium dlq list search.indexer`)"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
        Err(err) => Err(err).context("opening the search index"),
    }
}

/// Runs an inventory admin task; false when `reconcile` found drift.
async fn inventory_command(settings: &Settings, action: InventoryAction) -> anyhow::Result<bool> {
    let inventory = services::inventory(settings, false).await?;
    match action {
        InventoryAction::Rebuild => {
            let rebuilt = inventory.rebuild().await?;
            println!(
                "rebuilt the Redis stock counts from the ledger: {} products, {} standing reservations",
                rebuilt.products, rebuilt.reservations
            );
            Ok(true)
        }
        InventoryAction::Reconcile => {
            let drift = inventory.reconcile().await?;
            if drift.not_loaded {
                println!("Redis has lost the stock counts (run `emporium inventory rebuild`)");
            }
            for (product, redis, ledger, movements) in &drift.products {
                println!(
                    "product {product}: redis onHand={} reserved={}; ledger onHand={} reserved={}; movements onHand={} reserved={}",
                    redis.on_hand, redis.reserved, ledger.on_hand, ledger.reserved, movements.on_hand, movements.reserved
                );
            }
            for (order, redis, ledger) in &drift.orders {
                let show = |lines: &[emporium_inventory::domain::Line]| {
                    lines
                        .iter()
                        .map(|l| format!("{}x{}", l.quantity, l.product_id))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                println!(
                    "order {order}: redis holds [{}]; ledger reserved [{}]",
                    show(redis),
                    show(ledger)
                );
            }
            if drift.is_empty() {
                println!("no drift: Redis and the ledger agree");
            }
            Ok(drift.is_empty())
        }
    }
}

fn compose_command(out: &std::path::Path, check: bool) -> anyhow::Result<()> {
    let supergraph = compose::supergraph()?;
    if check {
        let current =
            std::fs::read_to_string(out).with_context(|| format!("reading {}", out.display()))?;
        anyhow::ensure!(
            current == supergraph,
            "{} is stale: run `emporium compose`",
            out.display()
        );
        println!("{} is current", out.display());
        return Ok(());
    }
    std::fs::write(out, supergraph).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

/// Everything in one process: the subgraphs on a tokio runtime, the router on this thread.
fn up(settings: Settings) -> anyhow::Result<()> {
    // Refused before anything starts (checked again where the provider is built).
    services::payment_provider(&settings)?;
    let startup_log = emporium_kernel::telemetry::subscriber(
        DEFAULT_LOG_FILTER,
        settings.log_json,
        std::io::stderr,
    );
    let shutdown = CancellationToken::new();
    let (runtime, servers, router) =
        tracing::subscriber::with_default(startup_log, || -> anyhow::Result<_> {
            // The router's configuration is written, and its environment variable set, before any
            // other thread exists (see `emporium_router::prepare`); so the subgraphs' ports are
            // bound first (port 0 picks free ones) and the runtime starts after.
            let users = services::bind_std(settings.users_addr())?;
            let products = services::bind_std(settings.products_addr())?;
            let inventory = services::bind_std(settings.inventory_addr())?;
            let search = services::bind_std(settings.search_addr())?;
            let orders = services::bind_std(settings.orders_addr())?;
            let payments = services::bind_std(settings.payments_addr())?;
            let notifications = services::bind_std(settings.notifications_addr())?;
            let keyring = services::keyring(&settings)?;
            let jwks = services::write_jwks(&settings.data_dir, &keyring)?;
            let subgraph_urls = vec![
                (
                    "users".to_owned(),
                    format!("http://{}/graphql", users.local_addr()?),
                ),
                (
                    "products".to_owned(),
                    format!("http://{}/graphql", products.local_addr()?),
                ),
                (
                    "inventory".to_owned(),
                    format!("http://{}/graphql", inventory.local_addr()?),
                ),
                (
                    "search".to_owned(),
                    format!("http://{}/graphql", search.local_addr()?),
                ),
                (
                    "orders".to_owned(),
                    format!("http://{}/graphql", orders.local_addr()?),
                ),
                (
                    "payments".to_owned(),
                    format!("http://{}/graphql", payments.local_addr()?),
                ),
                (
                    "notifications".to_owned(),
                    format!("http://{}/graphql", notifications.local_addr()?),
                ),
            ];
            let router = emporium_router::prepare(
                settings.router_settings(subgraph_urls, emporium_router::JwksSource::File(jwks)),
            )?;
            let runtime = runtime()?;
            let servers = runtime.block_on(start_subgraphs(
                &settings,
                keyring,
                Listeners {
                    users,
                    products,
                    inventory,
                    search,
                    orders,
                    payments,
                    notifications,
                },
                shutdown.clone(),
            ))?;
            Ok((runtime, servers, router))
        })?;
    let served = router.run();
    shutdown.cancel();
    runtime.block_on(async {
        for server in servers {
            if tokio::time::timeout(std::time::Duration::from_secs(30), server)
                .await
                .is_err()
            {
                tracing::warn!("a subgraph did not stop within 30 s");
            }
        }
    });
    served.context("the router stopped with an error")
}

/// The subgraphs' listeners, bound before the runtime starts.
struct Listeners {
    users: std::net::TcpListener,
    products: std::net::TcpListener,
    inventory: std::net::TcpListener,
    search: std::net::TcpListener,
    orders: std::net::TcpListener,
    payments: std::net::TcpListener,
    notifications: std::net::TcpListener,
}

async fn start_subgraphs(
    settings: &Settings,
    keyring: emporium_kernel::auth::Keyring,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    // First: production refuses the test provider before anything is touched.
    let provider = services::payment_provider(settings)?;
    let token_keys = services::payment_token_keys(settings)?;
    let pool = services::postgres(settings).await?;
    let db = services::mongodb(settings).await?;
    let inventory = services::inventory(settings, true).await?;
    let broker = services::broker(settings);
    let search = services::search_index(settings)?;
    let catalog = services::catalog_source(db.clone());
    let orders = services::orders_postgres(settings).await?;
    let payments = services::payments_postgres(settings).await?;
    let notifications = services::notifications_store(settings).await?;
    // Before any relay starts: the admin's `user.registered` must find the welcome's queue.
    let queues = [
        services::inventory_queues(),
        services::search_queues(settings),
        services::orders_queues(),
        services::payments_queues(),
        services::notifications_queues(),
    ];
    services::declare_queues(&broker, queues.concat()).await?;
    services::ensure_admin_from_settings(settings, &pool).await?;
    if settings.seed_demo_catalog {
        emporium_products::seed::seed_demo_catalog(&emporium_products::store::ProductStore::new(
            &db,
        ))
        .await?;
    }
    let verifier = emporium_kernel::auth::TokenVerifier::from_jwks(&keyring.jwks())?;
    let mut tasks = services::start_users(
        settings,
        pool,
        keyring,
        &broker,
        tokio::net::TcpListener::from_std(listeners.users)?,
        shutdown.clone(),
    )?;
    tasks.extend(services::start_products(
        settings,
        db,
        services::catalog_cache(settings).await?,
        verifier.clone(),
        &broker,
        tokio::net::TcpListener::from_std(listeners.products)?,
        shutdown.clone(),
    ));
    tasks.extend(services::start_inventory(
        settings,
        inventory,
        verifier.clone(),
        &broker,
        tokio::net::TcpListener::from_std(listeners.inventory)?,
        shutdown.clone(),
    ));
    tasks.extend(services::start_search(
        settings,
        search,
        catalog,
        verifier.clone(),
        &broker,
        tokio::net::TcpListener::from_std(listeners.search)?,
        shutdown.clone(),
    ));
    tasks.extend(services::start_orders(
        settings,
        orders,
        verifier.clone(),
        token_keys.sealing_key().clone(),
        &broker,
        tokio::net::TcpListener::from_std(listeners.orders)?,
        shutdown.clone(),
    ));
    tasks.extend(services::start_payments(
        settings,
        payments,
        verifier.clone(),
        provider,
        token_keys,
        &broker,
        tokio::net::TcpListener::from_std(listeners.payments)?,
        shutdown.clone(),
    ));
    let mailer = settings.mailer()?;
    // Printed whatever the log level: where to look for reset and verification links.
    eprintln!("[emporium] mail goes to {}", mailer.destination());
    tasks.extend(services::start_notifications(
        notifications,
        mailer,
        verifier,
        &broker,
        tokio::net::TcpListener::from_std(listeners.notifications)?,
        shutdown,
    ));
    Ok(tasks)
}

/// The router alone, reaching the subgraphs and the JWKS over the network (containers).
fn serve_router(settings: Settings) -> anyhow::Result<()> {
    let url = |base: &str| format!("{}/graphql", base.trim_end_matches('/'));
    let subgraph_urls = vec![
        ("users".to_owned(), url(&settings.users_url)),
        ("products".to_owned(), url(&settings.products_url)),
        ("inventory".to_owned(), url(&settings.inventory_url)),
        ("search".to_owned(), url(&settings.search_url)),
        ("orders".to_owned(), url(&settings.orders_url)),
        ("payments".to_owned(), url(&settings.payments_url)),
        ("notifications".to_owned(), url(&settings.notifications_url)),
    ];
    let jwks = emporium_router::JwksSource::Url(settings.jwks_url());
    emporium_router::prepare(settings.router_settings(subgraph_urls, jwks))?.run()?;
    Ok(())
}

async fn serve(settings: Settings, service: Service) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let tasks = match service {
        Service::Router => unreachable!("the router runs outside a tokio runtime"),
        Service::Users => {
            let pool = services::postgres(&settings).await?;
            let broker = services::broker(&settings);
            services::declare_queues(&broker, services::user_event_queues()).await?;
            services::ensure_admin_from_settings(&settings, &pool).await?;
            let keyring = services::keyring(&settings)?;
            let listener = services::bind(settings.users_addr()).await?;
            services::start_users(
                &settings,
                pool,
                keyring,
                &broker,
                listener,
                shutdown.clone(),
            )?
        }
        Service::Products => {
            let db = services::mongodb(&settings).await?;
            let cache = services::catalog_cache(&settings).await?;
            let broker = services::broker(&settings);
            let verifier = services::verifier_following_rotations(&settings, &shutdown).await?;
            let listener = services::bind(settings.products_addr()).await?;
            services::start_products(
                &settings,
                db,
                cache,
                verifier,
                &broker,
                listener,
                shutdown.clone(),
            )
        }
        Service::Inventory => {
            let inventory = services::inventory(&settings, true).await?;
            let broker = services::broker(&settings);
            services::declare_queues(&broker, services::inventory_queues()).await?;
            let verifier = services::verifier_following_rotations(&settings, &shutdown).await?;
            let listener = services::bind(settings.inventory_addr()).await?;
            services::start_inventory(
                &settings,
                inventory,
                verifier,
                &broker,
                listener,
                shutdown.clone(),
            )
        }
        Service::Orders => {
            // Checkout accepts the test provider's tokens only: not in production either.
            services::payment_provider(&settings)?;
            let pool = services::orders_postgres(&settings).await?;
            let broker = services::broker(&settings);
            let queues = [services::orders_queues(), services::order_event_queues()];
            services::declare_queues(&broker, queues.concat()).await?;
            let verifier = services::verifier_following_rotations(&settings, &shutdown).await?;
            let payment_token_key = services::fetch_payment_token_key(&settings).await?;
            let listener = services::bind(settings.orders_addr()).await?;
            services::start_orders(
                &settings,
                pool,
                verifier,
                payment_token_key,
                &broker,
                listener,
                shutdown.clone(),
            )
        }
        Service::Payments => {
            let provider = services::payment_provider(&settings)?;
            let token_keys = services::payment_token_keys(&settings)?;
            let pool = services::payments_postgres(&settings).await?;
            let broker = services::broker(&settings);
            services::declare_queues(&broker, services::payments_queues()).await?;
            let verifier = services::verifier_following_rotations(&settings, &shutdown).await?;
            let listener = services::bind(settings.payments_addr()).await?;
            services::start_payments(
                &settings,
                pool,
                verifier,
                provider,
                token_keys,
                &broker,
                listener,
                shutdown.clone(),
            )
        }
        Service::Notifications => {
            let store = services::notifications_store(&settings).await?;
            let broker = services::broker(&settings);
            services::declare_queues(&broker, services::notifications_queues()).await?;
            let verifier = services::verifier_following_rotations(&settings, &shutdown).await?;
            let listener = services::bind(settings.notifications_addr()).await?;
            let mailer = settings.mailer()?;
            tracing::info!(destination = %mailer.destination(), "mail transport");
            services::start_notifications(
                store,
                mailer,
                verifier,
                &broker,
                listener,
                shutdown.clone(),
            )
        }
        Service::Search => {
            let broker = services::broker(&settings);
            let index = services::search_index(&settings)?;
            services::declare_queues(&broker, services::search_queues(&settings)).await?;
            let catalog = services::catalog_source(services::mongodb(&settings).await?);
            let verifier = services::verifier_following_rotations(&settings, &shutdown).await?;
            let listener = services::bind(settings.search_addr()).await?;
            services::start_search(
                &settings,
                index,
                catalog,
                verifier,
                &broker,
                listener,
                shutdown.clone(),
            )
        }
    };
    services::shutdown_signal().await;
    shutdown.cancel();
    for task in tasks {
        task.await.context("a service task panicked")?;
    }
    Ok(())
}
