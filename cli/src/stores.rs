//! Connecting to the stores and loading the keys the services are built from: each
//! Postgres database (created if missing, migrated), MongoDB, Redis, RabbitMQ, the search
//! index, the signing and payment token keys. Every failure names the setting to look at.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use emporium_kernel::auth::{Keyring, SigningKey, TokenVerifier};
use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::sealed::{OpeningKey, OpeningKeys, SealingKey};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::config::{read_pem, Settings};
use crate::services::Service;

/// Connects to the users database, creating it if it does not exist, and runs its migrations.
pub async fn postgres(settings: &Settings) -> anyhow::Result<PgPool> {
    migrated_pool(
        settings,
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
        settings,
        &settings.inventory_database_url,
        "EMPORIUM_INVENTORY_DATABASE_URL",
        &emporium_inventory::MIGRATOR,
        "inventory",
    )
    .await
}

async fn migrated_pool(
    settings: &Settings,
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
        .max_connections(settings.postgres_pool_size)
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
        settings,
        &settings.orders_database_url,
        "EMPORIUM_ORDERS_DATABASE_URL",
        &emporium_orders::MIGRATOR,
        "orders",
    )
    .await
}

/// The payments database, created if missing and migrated.
pub async fn payments_postgres(settings: &Settings) -> anyhow::Result<PgPool> {
    migrated_pool(
        settings,
        &settings.payments_database_url,
        "EMPORIUM_PAYMENTS_DATABASE_URL",
        &emporium_payments::MIGRATOR,
        "payments",
    )
    .await
}

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
        settings.url(Service::Payments).trim_end_matches('/'),
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
