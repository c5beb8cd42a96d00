//! Wiring: connecting to the stores, loading keys, and starting each subgraph's server.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use emporium_kernel::auth::{Keyring, SigningKey, TokenVerifier};
use emporium_kernel::http::ReadinessCheck;
use emporium_kernel::sealed::{OpeningKey, OpeningKeys, SealingKey};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::events::consumer::{self, ConsumerSettings};
use emporium_kernel::events::outbox::mongo::MongoOutbox;
use emporium_kernel::events::outbox::postgres::PgOutbox;
use emporium_kernel::events::outbox::{run_relay, RelaySettings};

use crate::config::{read_pem, Settings};

/// Connects to the users database, creating it if it does not exist, and runs its migrations.
pub async fn postgres(settings: &Settings) -> anyhow::Result<PgPool> {
    migrated_pool(
        &settings.database_url,
        "EMPORIUM_DATABASE_URL",
        &emporium_users::MIGRATOR,
        "users",
    )
    .await
}

/// The inventory's database, created if missing and migrated.
pub async fn inventory_postgres(settings: &Settings) -> anyhow::Result<PgPool> {
    migrated_pool(
        &settings.inventory_database_url,
        "EMPORIUM_INVENTORY_DATABASE_URL",
        &emporium_inventory::MIGRATOR,
        "inventory",
    )
    .await
}

async fn migrated_pool(
    url: &str,
    variable: &str,
    migrator: &sqlx::migrate::Migrator,
    service: &str,
) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .with_context(|| format!("{variable} is not a Postgres URL"))?
        // A store that hangs fails the request instead of holding a connection and a worker:
        // no statement runs longer than this, and no transaction idles open past the second.
        .options([
            ("statement_timeout", "10s"),
            ("idle_in_transaction_session_timeout", "60s"),
        ]);
    create_database_if_missing(&options).await?;
    // Few connections: a subgraph's queries are short, and Postgres is shared by every service.
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to the {service} database ({variable})"))?;
    migrator
        .run(&pool)
        .await
        .with_context(|| format!("running the {service} migrations"))?;
    Ok(pool)
}

/// The orders database, created if missing and migrated.
pub async fn orders_postgres(settings: &Settings) -> anyhow::Result<PgPool> {
    migrated_pool(
        &settings.orders_database_url,
        "EMPORIUM_ORDERS_DATABASE_URL",
        &emporium_orders::MIGRATOR,
        "orders",
    )
    .await
}

/// The orders service's queues.
pub fn orders_queues() -> Vec<ConsumerSettings> {
    settings_of(&emporium_orders::queues())
}

const ORDERS_CONSUMERS_PER_QUEUE: usize = 4;

/// Starts the orders subgraph on `listener`, with its outbox relay, its consumers (the
/// catalog projection and the saga's replies), its live feed and its time-out sweeper.
/// `payment_token_key` is the payments service's public key: payment tokens leave checkout
/// sealed to it.
pub fn start_orders(
    settings: &Settings,
    pool: PgPool,
    verifier: TokenVerifier,
    payment_token_key: SealingKey,
    broker: &Broker,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    use emporium_orders::catalog::{CatalogHandler, CATALOG_QUEUE};
    use emporium_orders::saga::SagaHandler;
    use emporium_orders::{LiveFeed, OrderStore, Orders};
    let store = OrderStore::new(pool.clone());
    let orders = Orders::new(pool.clone(), payment_token_key);
    let live = LiveFeed::new();
    let schema = emporium_orders::schema(
        store.clone(),
        orders.clone(),
        live.clone(),
        emporium_payments::provider::is_test_token,
    );
    let app = emporium_orders::router(schema, pool.clone(), verifier, vec![broker_check(broker)]);
    let mut tasks = vec![spawn_server("orders", listener, app, shutdown.clone())];
    tasks.push(spawn_relay(
        settings,
        "orders",
        PgOutbox::new(pool, "orders"),
        broker,
        &shutdown,
    ));
    let catalog = std::sync::Arc::new(CatalogHandler::new(store));
    let saga = std::sync::Arc::new(SagaHandler::new(orders.clone()));
    // The projection is idempotent by sequence and the saga's transitions lock their order,
    // so competing consumers are safe.
    for (queue, bindings) in emporium_orders::queues() {
        let consumers = if queue == CATALOG_QUEUE {
            spawn_consumers(
                ORDERS_CONSUMERS_PER_QUEUE,
                queue,
                bindings,
                &catalog,
                broker,
                &shutdown,
            )
        } else {
            spawn_consumers(
                ORDERS_CONSUMERS_PER_QUEUE,
                queue,
                bindings,
                &saga,
                broker,
                &shutdown,
            )
        };
        tasks.extend(consumers);
    }
    tasks.push(tokio::spawn(live.run(
        broker.clone(),
        CancellationToken::new(),
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(
        orders.run_sweeper(settings.order_pending_timeout, shutdown),
    ));
    tasks
}

/// The payments database, created if missing and migrated.
pub async fn payments_postgres(settings: &Settings) -> anyhow::Result<PgPool> {
    migrated_pool(
        &settings.payments_database_url,
        "EMPORIUM_PAYMENTS_DATABASE_URL",
        &emporium_payments::MIGRATOR,
        "payments",
    )
    .await
}

/// The payments service's queues.
pub fn payments_queues() -> Vec<ConsumerSettings> {
    settings_of(&emporium_payments::events::queues())
}

const PAYMENTS_CONSUMERS_PER_QUEUE: usize = 4;

/// The payment provider: the test provider, which [`TestProvider::for_environment`] refuses in
/// production. A real provider is chosen here (see the README's "Payments").
///
/// [`TestProvider::for_environment`]: emporium_payments::TestProvider::for_environment
pub fn payment_provider(settings: &Settings) -> anyhow::Result<emporium_payments::TestProvider> {
    Ok(emporium_payments::TestProvider::for_environment(
        settings.is_production,
    )?)
}

/// The payments service's token keys. Without a key file, one is generated and saved there
/// (mode 0600): tokens sealed to it must still open after a restart.
pub fn payment_token_keys(settings: &Settings) -> anyhow::Result<OpeningKeys> {
    let path = &settings.payment_token_key_file;
    let read = |path: &std::path::PathBuf| -> anyhow::Result<OpeningKey> {
        OpeningKey::from_pem(&read_pem(path)?)
            .with_context(|| format!("{} is not a P-256 PKCS#8 key", path.display()))
    };
    let active = if path.exists() {
        read(path)?
    } else {
        let key = OpeningKey::generate();
        write_private(path, &key.to_pem()?)?;
        tracing::info!(path = %path.display(), kid = key.kid(), "generated a new payment token key");
        key
    };
    let retired = settings
        .payment_token_retired_key_files
        .iter()
        .map(read)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(OpeningKeys::new(active, retired))
}

/// The payments service's public token key, fetched from it (orders in its own process).
/// Orders cannot seal a token without it, so it waits for payments, about a minute at most.
pub async fn fetch_payment_token_key(settings: &Settings) -> anyhow::Result<SealingKey> {
    let url = format!(
        "{}{}",
        settings.payments_url.trim_end_matches('/'),
        emporium_payments::TOKEN_KEY_PATH
    );
    let client = reqwest::Client::new();
    let mut delay = std::time::Duration::from_millis(100);
    for attempt in 1.. {
        let fetched = async {
            client
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .json::<emporium_payments::PublishedTokenKey>()
                .await
        }
        .await;
        match fetched {
            Ok(published) => return Ok(SealingKey::decode(&published.key)?),
            Err(err) if attempt >= 40 => {
                return Err(err)
                    .with_context(|| format!("fetching the payment token key from {url}"))
            }
            Err(err) => {
                tracing::warn!(%url, attempt, error = %err, "payment token key not reachable yet, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
        }
    }
    unreachable!("the loop returns")
}

/// Starts the payments subgraph on `listener` with `provider`, its outbox relay and its
/// consumers, and publishes the public half of `token_keys`.
#[allow(clippy::too_many_arguments)]
pub fn start_payments(
    settings: &Settings,
    pool: PgPool,
    verifier: TokenVerifier,
    provider: emporium_payments::TestProvider,
    token_keys: OpeningKeys,
    broker: &Broker,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    use emporium_payments::{PaymentStore, Payments, PaymentsHandler};
    let store = PaymentStore::new(pool.clone());
    let app = emporium_payments::router(store.clone(), verifier, vec![broker_check(broker)]).merge(
        emporium_payments::token_key_routes(token_keys.sealing_key()),
    );
    let mut tasks = vec![spawn_server("payments", listener, app, shutdown.clone())];
    tasks.push(spawn_relay(
        settings,
        "payments",
        PgOutbox::new(pool, emporium_payments::events::OUTBOX_NAME),
        broker,
        &shutdown,
    ));
    let handler = std::sync::Arc::new(PaymentsHandler::new(Payments::new(
        store, provider, token_keys,
    )));
    // Every step is guarded by the payment's status and the provider is idempotent per key,
    // so competing consumers are safe.
    tasks.extend(spawn_all_consumers(
        PAYMENTS_CONSUMERS_PER_QUEUE,
        &emporium_payments::events::queues(),
        &handler,
        broker,
        &shutdown,
    ));
    tasks
}

/// The notifications service's queues.
pub fn notifications_queues() -> Vec<ConsumerSettings> {
    settings_of(&emporium_notifications::events::queues())
}

/// The queues of the users' events (`user.registered`): declared by the users service too,
/// so a welcome published before the notifications service ever started (the admin's, at
/// the first start of a deployment) waits in its queue instead of being dropped.
pub fn user_event_queues() -> Vec<ConsumerSettings> {
    notifications_queues()
        .into_iter()
        .filter(|settings| settings.bindings.iter().any(|b| b.starts_with("user.")))
        .collect()
}

/// The queues of the orders' events (`order.placed`, `order.status_changed`) in inventory,
/// payments and notifications: declared by the orders service too, so an order placed before
/// one of them ever started waits in its queue instead of being dropped (and timing out).
pub fn order_event_queues() -> Vec<ConsumerSettings> {
    [
        inventory_queues(),
        payments_queues(),
        notifications_queues(),
    ]
    .concat()
    .into_iter()
    .filter(|settings| settings.bindings.iter().any(|b| b.starts_with("order.")))
    .collect()
}

const NOTIFICATIONS_CONSUMERS_PER_QUEUE: usize = 2;

/// Starts the notifications subgraph on `listener`, with its consumers (mailing a copy of
/// each notification through `mailer`).
pub fn start_notifications(
    store: emporium_notifications::NotificationStore,
    mailer: emporium_kernel::mail::Mailer,
    verifier: TokenVerifier,
    broker: &Broker,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    use emporium_notifications::{MailDelivery, NotificationsHandler, Notifier};
    let app = emporium_notifications::router(store.clone(), verifier, vec![broker_check(broker)]);
    let mut tasks = vec![spawn_server(
        "notifications",
        listener,
        app,
        shutdown.clone(),
    )];
    // Deliveries the first attempt did not send go out again when due, from any replica.
    let delivery = MailDelivery::new(mailer);
    let resender = Notifier::new(store.clone(), delivery.clone());
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        resender
            .run_resender(emporium_notifications::notifier::RESEND_INTERVAL, stop)
            .await
    }));
    let handler = std::sync::Arc::new(NotificationsHandler::new(Notifier::new(store, delivery)));
    // Notifications are keyed by their event's id and the feed is ordered by it, so
    // competing consumers neither duplicate nor reorder anything.
    tasks.extend(spawn_all_consumers(
        NOTIFICATIONS_CONSUMERS_PER_QUEUE,
        &emporium_notifications::events::queues(),
        &handler,
        broker,
        &shutdown,
    ));
    tasks
}

/// Consumer settings (with the defaults) for a service's `(queue, bindings)` list.
fn settings_of(queues: &[(&'static str, &'static [&'static str])]) -> Vec<ConsumerSettings> {
    queues
        .iter()
        .map(|(queue, bindings)| ConsumerSettings::new(*queue, bindings.iter().copied()))
        .collect()
}

/// `count` competing consumers of each of `queues`, all sharing `handler`, until `shutdown`.
fn spawn_all_consumers<H: consumer::Handler>(
    count: usize,
    queues: &[(&'static str, &'static [&'static str])],
    handler: &std::sync::Arc<H>,
    broker: &Broker,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    queues
        .iter()
        .flat_map(|(queue, bindings)| {
            spawn_consumers(count, queue, bindings, handler, broker, shutdown)
        })
        .collect()
}

/// `count` competing consumers of `queue`, sharing `handler`, until `shutdown`.
fn spawn_consumers<H: consumer::Handler>(
    count: usize,
    queue: &'static str,
    bindings: &'static [&'static str],
    handler: &std::sync::Arc<H>,
    broker: &Broker,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    (0..count)
        .map(|_| {
            let settings = ConsumerSettings::new(queue, bindings.iter().copied());
            let (broker, shutdown, handler) = (broker.clone(), shutdown.clone(), handler.clone());
            tokio::spawn(async move {
                if let Err(err) = consumer::run(broker, settings, handler, shutdown).await {
                    tracing::error!(queue, error = %err, "a consumer stopped");
                }
            })
        })
        .collect()
}

/// Runs the outbox relay of `service` until `shutdown`.
fn spawn_relay<O>(
    settings: &Settings,
    service: &'static str,
    outbox: O,
    broker: &Broker,
    shutdown: &CancellationToken,
) -> JoinHandle<()>
where
    O: emporium_kernel::events::outbox::Outbox + Send + 'static,
{
    let (broker, shutdown, relay) = (broker.clone(), shutdown.clone(), relay_settings(settings));
    tokio::spawn(async move { run_relay(service, outbox, broker, relay, shutdown).await })
}

/// How every outbox relay runs.
fn relay_settings(settings: &Settings) -> RelaySettings {
    RelaySettings {
        retention: settings.outbox_retention,
        ..RelaySettings::default()
    }
}

/// The inventory: its database and its Redis counts. With `load`, counts Redis lost are
/// rebuilt from the ledger first (a service starting); without, Redis is left as it is (an
/// admin looking at it).
pub async fn inventory(
    settings: &Settings,
    load: bool,
) -> anyhow::Result<emporium_inventory::Inventory> {
    use secrecy::ExposeSecret;
    let pool = inventory_postgres(settings).await?;
    use emporium_inventory::hot::RedisNodes;
    let (nodes, source) = match &settings.redis_cluster {
        Some(nodes) => (
            RedisNodes::Cluster(
                nodes
                    .expose_secret()
                    .split(',')
                    .map(|url| url.trim().to_owned())
                    .filter(|url| !url.is_empty())
                    .collect(),
            ),
            "EMPORIUM_REDIS_CLUSTER",
        ),
        None => (
            RedisNodes::Single(settings.redis_url.expose_secret().to_owned()),
            "EMPORIUM_REDIS_URL",
        ),
    };
    let hot = emporium_inventory::HotStock::connect_to(&nodes, &settings.redis_prefix)
        .await
        .with_context(|| format!("connecting to Redis ({source}, EMPORIUM_REDIS_PREFIX)"))?;
    let inventory = emporium_inventory::Inventory::new(pool, hot);
    if load {
        inventory
            .rebuild_if_unloaded()
            .await
            .context("loading the stock counts into Redis")?;
    }
    Ok(inventory)
}

async fn create_database_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    // The database itself first: a role that may not connect to `postgres` (a managed server,
    // a password-protected one with per-database grants) still starts when its database exists.
    match options.connect().await {
        Ok(conn) => {
            conn.close().await.ok();
            return Ok(());
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {}
        Err(e) => {
            return Err(e).with_context(|| format!("connecting to Postgres (database {name})"))
        }
    }
    let mut conn = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .context("connecting to Postgres (database postgres) to create a missing database")?;
    let quoted = name.replace('"', "\"\"");
    match sqlx::query(&format!("CREATE DATABASE \"{quoted}\""))
        .execute(&mut conn)
        .await
    {
        Ok(_) => tracing::info!(database = %name, "created the Postgres database"),
        // Another process created it between the check and now.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
        Err(e) => return Err(e).context("creating the Postgres database"),
    }
    conn.close().await.ok();
    Ok(())
}

/// The platform's MongoDB database, once it answers.
async fn mongo_database(settings: &Settings) -> anyhow::Result<mongodb::Database> {
    let mut options = mongodb::options::ClientOptions::parse(&settings.mongodb_url)
        .await
        .context("EMPORIUM_MONGODB_URL is not a MongoDB URL")?;
    // A MongoDB that is down fails requests within seconds instead of the driver's 30 s,
    // unless the URL says otherwise.
    let fail_fast = std::time::Duration::from_secs(5);
    options.server_selection_timeout.get_or_insert(fail_fast);
    options.connect_timeout.get_or_insert(fail_fast);
    let client = mongodb::Client::with_options(options)
        .context("EMPORIUM_MONGODB_URL is not a usable MongoDB URL")?;
    let db = client.database(&settings.mongodb_database);
    db.run_command(mongodb::bson::doc! { "ping": 1 })
        .await
        .with_context(|| "MongoDB does not answer at EMPORIUM_MONGODB_URL".to_owned())?;
    Ok(db)
}

/// The products service's MongoDB database, with its indexes.
pub async fn mongodb(settings: &Settings) -> anyhow::Result<mongodb::Database> {
    let db = mongo_database(settings).await?;
    emporium_products::store::ProductStore::new(&db)
        .ensure_indexes()
        .await
        .context("creating the products indexes")?;
    Ok(db)
}

/// The catalog's Redis cache.
pub async fn catalog_cache(
    settings: &Settings,
) -> anyhow::Result<emporium_products::store::CatalogCache> {
    use secrecy::ExposeSecret;
    emporium_products::store::CatalogCache::connect(
        settings.redis_url.expose_secret(),
        &settings.catalog_cache_prefix,
        settings.catalog_cache_ttl,
    )
    .await
    .context("connecting to Redis for the catalog cache (EMPORIUM_REDIS_URL)")
}

/// The notifications store (its own collections in the platform's MongoDB database), with
/// the feed's indexes.
pub async fn notifications_store(
    settings: &Settings,
) -> anyhow::Result<emporium_notifications::NotificationStore> {
    let store = emporium_notifications::NotificationStore::new(&mongo_database(settings).await?);
    store
        .ensure_indexes()
        .await
        .context("creating the notifications indexes")?;
    Ok(store)
}

/// The users service's signing keys. Without a key file, one is generated and saved there
/// (mode 0600), so tokens survive restarts.
pub fn keyring(settings: &Settings) -> anyhow::Result<Keyring> {
    let path = &settings.jwt_private_key_file;
    let active = if path.exists() {
        SigningKey::from_pem(&read_pem(path)?)
            .with_context(|| format!("{} is not an ES256 PKCS#8 key", path.display()))?
    } else {
        let key = SigningKey::generate()?;
        write_private(path, key.to_pem())?;
        tracing::info!(path = %path.display(), kid = key.kid(), "generated a new token signing key");
        key
    };
    let retired = settings
        .jwt_retired_key_files
        .iter()
        .map(|p| {
            SigningKey::from_pem(&read_pem(p)?)
                .with_context(|| format!("{} is not an ES256 PKCS#8 key", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let keyring = Keyring::new(active, retired);
    let Some(path) = &settings.jwt_next_key_file else {
        return Ok(keyring);
    };
    let next = SigningKey::from_pem(&read_pem(path)?).with_context(|| {
        format!(
            "{} (EMPORIUM_JWT_NEXT_KEY_FILE) is not an ES256 PKCS#8 key",
            path.display()
        )
    })?;
    tracing::info!(kid = next.kid(), "publishing the next signing key");
    Ok(keyring.with_next(&next))
}

/// Writes a new ES256 signing key (PKCS#8 PEM, mode 0600) to `path`, which must not exist.
pub fn new_signing_key(path: &Path) -> anyhow::Result<String> {
    let key = SigningKey::generate()?;
    write_private(path, key.to_pem())?;
    Ok(key.kid().to_owned())
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// The users service's public keys fetched over the network (a service in its own
/// process), and fetched again every few minutes so key rotations need no restart.
pub async fn verifier_following_rotations(
    settings: &Settings,
    shutdown: &CancellationToken,
) -> anyhow::Result<TokenVerifier> {
    let url = settings.jwks_url();
    let verifier = TokenVerifier::fetch(&url, 30).await?;
    tokio::spawn(verifier.clone().keep_refreshed(
        url,
        std::time::Duration::from_secs(300),
        shutdown.clone(),
    ));
    Ok(verifier)
}

/// Binds a listener before any runtime exists; it is handed to tokio later.
pub fn bind_std(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Writes the public keys as a JWKS file for the router in the same process.
pub fn write_jwks(data_dir: &Path, keyring: &Keyring) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let path = data_dir.join("jwks.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&keyring.jwks())?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

/// A readiness check that the broker connection is up.
pub fn broker_check(broker: &Broker) -> (&'static str, ReadinessCheck) {
    let broker = broker.clone();
    let check: ReadinessCheck = std::sync::Arc::new(move || {
        let is_connected = broker.is_connected();
        Box::pin(async move {
            if is_connected {
                Ok(())
            } else {
                Err("not connected".to_owned())
            }
        })
    });
    ("rabbitmq", check)
}

/// Serves `app` on `listener` until `shutdown`, logging a failure instead of returning it.
fn spawn_server(
    service: &'static str,
    listener: TcpListener,
    app: axum::Router,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    log_listening(service, &listener);
    tokio::spawn(async move {
        if let Err(err) = emporium_kernel::http::serve(listener, app, shutdown).await {
            tracing::error!(service, error = %err, "the server failed");
        }
    })
}

/// How often ended logins' refresh tokens are deleted.
const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Starts the users subgraph on `listener`, with its outbox relay and the pruning of ended
/// logins.
pub fn start_users(
    settings: &Settings,
    pool: PgPool,
    keyring: Keyring,
    broker: &Broker,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    // Reset and verification mails, sent in the background with retries.
    let mail = emporium_kernel::mail::MailQueue::start(
        settings.mailer()?,
        emporium_kernel::mail::RetryPolicy::default(),
        shutdown.clone(),
    );
    let state =
        emporium_users::UsersState::new(pool.clone(), keyring, settings.users_settings(), mail);
    let app = emporium_users::router(state.clone(), vec![broker_check(broker)])?;
    Ok(vec![
        spawn_server("users", listener, app, shutdown.clone()),
        tokio::spawn(emporium_users::prune_periodically(
            state,
            PRUNE_INTERVAL,
            shutdown.clone(),
        )),
        start_users_relay(settings, pool, broker.clone(), shutdown),
    ])
}

/// Starts the products subgraph on `listener`, with its outbox relay.
pub fn start_products(
    settings: &Settings,
    db: mongodb::Database,
    cache: emporium_products::store::CatalogCache,
    verifier: TokenVerifier,
    broker: &Broker,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let state = emporium_products::ProductsState::new(&db, cache);
    // The browse order is rebuilt at every start: products may have been written by other
    // means (seeding) meanwhile. Pages come from MongoDB until it is done.
    let catalog = state.catalog.clone();
    let rebuild = tokio::spawn(async move {
        if let Err(err) = catalog.rebuild_browse_order().await {
            tracing::warn!(error = %err, "building the catalog browse order failed; pages come from MongoDB until a page read retries it");
        }
    });
    let app = emporium_products::router(state, db.clone(), verifier, vec![broker_check(broker)]);
    vec![
        rebuild,
        spawn_server("products", listener, app, shutdown.clone()),
        start_products_relay(settings, db, broker.clone(), shutdown),
    ]
}

const INVENTORY_CONSUMERS_PER_QUEUE: usize = 4;

/// Starts the inventory subgraph on `listener`, with its outbox relay and its consumers.
pub fn start_inventory(
    settings: &Settings,
    inventory: emporium_inventory::Inventory,
    verifier: TokenVerifier,
    broker: &Broker,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    use emporium_inventory::events::{InventoryHandler, OUTBOX_NAME};
    let app = emporium_inventory::router(inventory.clone(), verifier, vec![broker_check(broker)]);
    let mut tasks = vec![spawn_server("inventory", listener, app, shutdown.clone())];
    tasks.push(spawn_relay(
        settings,
        "inventory",
        PgOutbox::new(inventory.pool().clone(), OUTBOX_NAME),
        broker,
        &shutdown,
    ));
    // A few competing consumers per queue: events of different products and orders proceed in
    // parallel, and the per-product locks order those of one product.
    for (queue, bindings) in emporium_inventory::events::queues() {
        let handler = std::sync::Arc::new(InventoryHandler::new(inventory.clone(), queue));
        tasks.extend(spawn_consumers(
            INVENTORY_CONSUMERS_PER_QUEUE,
            queue,
            bindings,
            &handler,
            broker,
            &shutdown,
        ));
    }
    tasks
}

/// The inventory's queues.
pub fn inventory_queues() -> Vec<ConsumerSettings> {
    settings_of(&emporium_inventory::events::queues())
}

/// The search indexer's queue.
pub fn search_queues(settings: &Settings) -> Vec<ConsumerSettings> {
    vec![indexer_settings(settings)]
}

/// Declares consumers' queues before anything publishes: the exchange drops an event no
/// queue is bound for, so a first start would otherwise lose the catalog's `product.created`
/// events published while the consumers were still connecting. A broker that is down only
/// delays this (one wait for the connection, not one per queue): the consumers declare
/// their queues when it is back. A queue the broker refuses (one of another type than
/// EMPORIUM_QUEUE_TYPE) stops start-up with the reason.
pub async fn declare_queues(broker: &Broker, queues: Vec<ConsumerSettings>) -> anyhow::Result<()> {
    for settings in queues {
        match consumer::declare(broker, &settings).await {
            Ok(()) => {}
            Err(err @ consumer::ConsumerError::Unavailable { .. }) => {
                tracing::warn!(queue = %settings.queue, error = %err, "could not declare the queues at start-up; the consumers will when the broker answers");
                return Ok(());
            }
            Err(err) => return Err(err).context("declaring the consumers' queues"),
        }
    }
    Ok(())
}

/// Opens the search index.
pub fn search_index(settings: &Settings) -> anyhow::Result<emporium_search::SearchIndex> {
    let index = emporium_search::SearchIndex::open(&settings.search_index_dir).with_context(|| {
        format!(
            "opening the search index in {} (EMPORIUM_SEARCH_INDEX_DIR; one search process per directory)",
            settings.search_index_dir.display()
        )
    })?;
    Ok(index)
}

/// The indexer's queue: this replica's own (`EMPORIUM_SEARCH_REPLICA_ID`), so that every
/// replica indexes every event.
fn indexer_settings(settings: &Settings) -> ConsumerSettings {
    use emporium_search::events::{indexer_queue, BINDINGS};
    // A small prefetch per task: the tasks together fill one group commit.
    let queue = indexer_queue(settings.search_replica_id.as_deref());
    let mut settings = ConsumerSettings::new(queue, BINDINGS);
    settings.prefetch = 4;
    settings
}

/// The products store as the source of a search reindex.
pub fn catalog_source(db: mongodb::Database) -> emporium_search::events::CatalogSource {
    std::sync::Arc::new(move || {
        let store = emporium_products::store::ProductStore::new(&db);
        Box::pin(async move {
            let values = store.snapshots().await.map_err(|e| e.to_string())?;
            emporium_search::index::snapshots_from(values).map_err(|e| e.to_string())
        })
    })
}

/// Starts the search subgraph on `listener`, with its indexer (consumer tasks and committer).
/// `catalog` serves reindex requests.
pub fn start_search(
    settings: &Settings,
    index: emporium_search::SearchIndex,
    catalog: emporium_search::events::CatalogSource,
    verifier: TokenVerifier,
    broker: &Broker,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    use emporium_search::events::{IndexerHandler, COMMIT_INTERVAL, INDEXER_TASKS};
    let app = emporium_search::router(index.clone(), verifier, vec![broker_check(broker)]);
    let mut tasks = vec![spawn_server("search", listener, app, shutdown.clone())];
    let handler = std::sync::Arc::new(IndexerHandler::new(index.clone()).with_reindex(
        catalog.clone(),
        emporium_search::index::reindex_status_path(&settings.search_index_dir),
    ));
    for _ in 0..INDEXER_TASKS {
        let broker = broker.clone();
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        let consumer_settings = indexer_settings(settings);
        tasks.push(tokio::spawn(async move {
            if let Err(err) = consumer::run(broker, consumer_settings, handler, shutdown).await {
                tracing::error!(error = %err, "a search indexer consumer stopped");
            }
        }));
    }
    // An empty index (a new directory, a lost volume) is filled from the products store;
    // events arriving meanwhile wait for it and then apply by their sequences.
    if index.product_count().unwrap_or(0) == 0 {
        let (index, catalog) = (index.clone(), catalog.clone());
        let status_path = emporium_search::index::reindex_status_path(&settings.search_index_dir);
        tasks.push(tokio::spawn(async move {
            if let Err(err) =
                emporium_search::events::reindex(&index, &catalog, "start-up", &status_path).await
            {
                tracing::error!(error = %err, "filling the empty search index from the products store failed");
            }
        }));
    }
    tasks.push(tokio::spawn(async move {
        index.run_committer(COMMIT_INTERVAL, shutdown).await
    }));
    tasks
}

fn log_listening(service: &str, listener: &TcpListener) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(service, %addr, "subgraph listening");
    }
}

/// Creates the admin account from `EMPORIUM_ADMIN_EMAIL` / `EMPORIUM_ADMIN_PASSWORD` if no
/// account has that email; an existing admin is left unchanged, and any other existing
/// account stops start-up (promoting it takes `emporium create-admin --promote`).
pub async fn ensure_admin_from_settings(settings: &Settings, pool: &PgPool) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let (Some(email), Some(password)) = (&settings.admin_email, &settings.admin_password) else {
        return Ok(());
    };
    let store = emporium_users::store::UserStore::new(pool.clone());
    emporium_users::ensure_admin(
        &store,
        email,
        password.expose_secret(),
        &settings.admin_name,
    )
    .await
    .context("EMPORIUM_ADMIN_EMAIL: ensuring the admin account")?;
    Ok(())
}

/// The RabbitMQ connection, made in the background (and re-made after every drop, declaring
/// the shared exchanges each time): a service starts, and reports not ready, while the broker
/// is down, and its outbox simply waits.
pub fn broker(settings: &Settings) -> Broker {
    use secrecy::ExposeSecret;
    Broker::start(BrokerSettings {
        queue_type: settings.queue_type,
        ..BrokerSettings::new(settings.amqp_url.expose_secret())
    })
}

/// The users outbox's relay.
pub fn start_users_relay(
    settings: &Settings,
    pool: PgPool,
    broker: Broker,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    spawn_relay(
        settings,
        "users",
        PgOutbox::new(pool, emporium_users::events::OUTBOX_NAME),
        &broker,
        &shutdown,
    )
}

/// The products outbox's relay.
pub fn start_products_relay(
    settings: &Settings,
    db: mongodb::Database,
    broker: Broker,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let outbox = MongoOutbox::new(db);
    let relay = relay_settings(settings);
    tokio::spawn(async move {
        if let Err(err) = outbox.ensure_indexes().await {
            tracing::warn!(error = %err, "creating the products outbox index failed");
        }
        run_relay("products", outbox, broker, relay, shutdown).await
    })
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
