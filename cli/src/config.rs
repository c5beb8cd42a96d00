//! Settings from `EMPORIUM_*` environment variables, with defaults that point at the local
//! services. Everything is parsed at start-up; the first bad value stops the process.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{anyhow, Context};
use secrecy::SecretString;

use crate::services::Service;

/// What is logged when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,mongodb=warn,hyper=warn";

#[derive(Debug, Clone)]
pub struct Settings {
    /// Address every server binds to (`0.0.0.0` in containers).
    pub bind_host: IpAddr,
    /// Each service's port and where it is reached (the variables of [`Service::spec`]),
    /// indexed by [`Service`].
    endpoints: Vec<Endpoint>,
    /// The search index's directory (one search process per directory).
    pub search_index_dir: PathBuf,
    /// The users database.
    pub database_url: String,
    /// The inventory's database (its ledger, reservations and outbox).
    pub inventory_database_url: String,
    /// The orders service's database (carts, its catalog projection, orders).
    pub orders_database_url: String,
    /// The payments service's database (payments and their outbox).
    pub payments_database_url: String,
    /// `EMPORIUM_POSTGRES_POOL_SIZE`: the most connections each service keeps to its database
    /// (default 10; Postgres's `max_connections` must cover every service of every replica).
    pub postgres_pool_size: u32,
    /// How long an order may stay PENDING (waiting for inventory and payments) before it is
    /// rejected as timed out.
    pub order_pending_timeout: std::time::Duration,
    /// `EMPORIUM_PRICES_INCLUDE_TAX`: the shop's prices include tax (EU style: the tax is
    /// contained and shown) instead of tax being added (US style, the default).
    pub prices_include_tax: bool,
    /// How long outboxes keep events after publishing them.
    pub outbox_retention: std::time::Duration,
    /// The Redis holding the hot stock counts.
    pub redis_url: SecretString,
    /// Every inventory key starts with this, so several shops (or tests) can share one Redis.
    pub redis_prefix: String,
    /// `EMPORIUM_REDIS_CLUSTER`: the inventory's counts on a Redis Cluster found through these
    /// nodes (comma-separated URLs) instead of the one server at `redis_url`. Secret: URLs can
    /// carry a password.
    pub redis_cluster: Option<SecretString>,
    /// `EMPORIUM_SEARCH_REPLICA_ID`: names this search replica's own queue of catalogue events,
    /// so that every replica indexes every event (none when there is one replica).
    pub search_replica_id: Option<String>,
    /// Every key of the catalog cache (product documents, the browse order) starts with this.
    pub catalog_cache_prefix: String,
    /// How long a cached product document lives without being read again from MongoDB.
    pub catalog_cache_ttl: std::time::Duration,
    pub mongodb_url: String,
    pub mongodb_database: String,
    /// RabbitMQ, with the vhost: `amqp://user:pass@host:5672/%2f`. A secret (it holds the password).
    pub amqp_url: SecretString,
    /// What the consumers' durable queues are declared as: classic (the default) or quorum.
    pub queue_type: emporium_kernel::events::broker::QueueType,
    /// Generated files: the signing key when none is given, the router's config, its JWKS copy.
    pub data_dir: PathBuf,
    pub jwt_private_key_file: PathBuf,
    /// The key the next rotation promotes: published in the JWKS, not signing.
    pub jwt_next_key_file: Option<PathBuf>,
    pub jwt_retired_key_files: Vec<PathBuf>,
    /// The payments service's private key that opens the card tokens orders seals to it.
    pub payment_token_key_file: PathBuf,
    /// Older payment token keys, still opening tokens sealed before a rotation.
    pub payment_token_retired_key_files: Vec<PathBuf>,
    /// `EMPORIUM_ENV=production`: refuse what only suits development (the test payment
    /// provider).
    pub is_production: bool,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_days: i64,
    pub session_max_age_days: i64,
    pub admin_email: Option<String>,
    pub admin_password: Option<SecretString>,
    pub admin_name: String,
    pub seed_demo_catalog: bool,
    pub supergraph_path: PathBuf,
    pub log_json: bool,
    pub max_body_bytes: usize,
    pub max_query_depth: usize,
    pub max_query_aliases: usize,
    pub max_document_chars: usize,
    /// The router's public edge: further limits, cost, timeouts and rate limits.
    pub edge: EdgeSettings,
    /// Where mail goes: an SMTP server (`EMPORIUM_SMTP_URL`, a secret: it may hold a password),
    /// else `.eml` files in `<data dir>/mail`.
    pub smtp_url: Option<SecretString>,
    /// The sender of every mail (`EMPORIUM_MAIL_FROM`).
    pub mail_from: String,
    /// The storefront's public address, which mailed links point at (`EMPORIUM_PUBLIC_URL`).
    pub public_url: String,
    /// The built storefront the router serves at `/` (`EMPORIUM_STOREFRONT_DIR`; by default
    /// `storefront/dist` when it holds a build, else none).
    pub storefront_dir: Option<PathBuf>,
}

/// Where a service listens and is reached.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub port: u16,
    /// Its base URL (`http://127.0.0.1:<port>` by default).
    pub url: String,
}

/// What the router enforces at the public edge beyond the body, document, depth and alias
/// limits (see `emporium_router::RouterSettings` for what each means).
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    pub max_tokens: usize,
    pub max_directives: usize,
    pub max_fields: usize,
    pub max_json_depth: usize,
    pub introspection: bool,
    pub playground: bool,
    pub metrics: bool,
    pub metrics_port: Option<u16>,
    pub cors_origins: Vec<String>,
    pub cost_limit: bool,
    pub max_cost: u64,
    pub default_list_size: usize,
    pub request_timeout: std::time::Duration,
    pub subgraph_timeout: std::time::Duration,
    pub breaker_error_percent: u8,
    pub breaker_volume: usize,
    pub breaker_reset: std::time::Duration,
    /// `None`: no rate limiting.
    pub rate_limit: Option<RateLimit>,
}

/// Each client's cost budget (a leaky bucket in the Redis of `EMPORIUM_REDIS_URL`).
#[derive(Debug, Clone)]
pub struct RateLimit {
    /// The Redis of the buckets, when not the one of `EMPORIUM_REDIS_URL`.
    pub redis_url: Option<SecretString>,
    pub key_prefix: String,
    pub capacity: u64,
    pub restore_per_second: u64,
    pub admin_multiplier: u64,
    pub trusted_proxies: Vec<emporium_router::IpNetwork>,
}

/// A comma-separated list; empty items are dropped.
fn list(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn millis(name: &str, default_ms: u64) -> anyhow::Result<std::time::Duration> {
    Ok(std::time::Duration::from_millis(parsed(name, default_ms)?))
}

impl EdgeSettings {
    fn from_env() -> anyhow::Result<Self> {
        let rate_limit = if flag("EMPORIUM_RATE_LIMIT", true)? {
            Some(RateLimit {
                redis_url: var("EMPORIUM_RATE_LIMIT_REDIS_URL").map(SecretString::from),
                key_prefix: var("EMPORIUM_RATE_LIMIT_PREFIX")
                    .unwrap_or_else(|| "emporium:ratelimit:".to_owned()),
                capacity: parsed("EMPORIUM_RATE_LIMIT_CAPACITY", 5_000)?,
                restore_per_second: parsed("EMPORIUM_RATE_LIMIT_RESTORE_PER_SEC", 500)?,
                admin_multiplier: parsed("EMPORIUM_RATE_LIMIT_ADMIN_MULTIPLIER", 4)?,
                trusted_proxies: list("EMPORIUM_TRUSTED_PROXIES")
                    .iter()
                    .map(|raw| {
                        emporium_router::IpNetwork::parse(raw)
                            .map_err(|e| anyhow!("EMPORIUM_TRUSTED_PROXIES: {e}"))
                    })
                    .collect::<anyhow::Result<_>>()?,
            })
        } else {
            None
        };
        Ok(Self {
            max_tokens: parsed("EMPORIUM_MAX_QUERY_TOKENS", 3_000)?,
            max_directives: parsed("EMPORIUM_MAX_QUERY_DIRECTIVES", 50)?,
            max_fields: parsed("EMPORIUM_MAX_QUERY_FIELDS", 1_000)?,
            max_json_depth: parsed("EMPORIUM_MAX_JSON_DEPTH", 32)?,
            introspection: flag("EMPORIUM_INTROSPECTION", true)?,
            playground: flag("EMPORIUM_PLAYGROUND", true)?,
            metrics: flag("EMPORIUM_METRICS", true)?,
            metrics_port: var("EMPORIUM_METRICS_PORT")
                .map(|raw| {
                    raw.parse()
                        .map_err(|e| anyhow!("EMPORIUM_METRICS_PORT={raw:?} is invalid: {e}"))
                })
                .transpose()?,
            cors_origins: list("EMPORIUM_CORS_ORIGINS"),
            cost_limit: flag("EMPORIUM_COST_LIMIT", true)?,
            max_cost: parsed("EMPORIUM_MAX_QUERY_COST", 1_000)?,
            default_list_size: parsed("EMPORIUM_DEFAULT_LIST_SIZE", 20)?,
            request_timeout: millis("EMPORIUM_REQUEST_TIMEOUT_MS", 30_000)?,
            subgraph_timeout: millis("EMPORIUM_SUBGRAPH_TIMEOUT_MS", 10_000)?,
            breaker_error_percent: parsed("EMPORIUM_BREAKER_ERROR_PERCENT", 50)?,
            breaker_volume: parsed("EMPORIUM_BREAKER_VOLUME", 10)?,
            breaker_reset: millis("EMPORIUM_BREAKER_RESET_MS", 10_000)?,
            rate_limit,
        })
    }
}

/// A pool size Postgres can serve: 1 to 100.
fn pool_size(size: u32) -> anyhow::Result<u32> {
    if (1..=100).contains(&size) {
        Ok(size)
    } else {
        anyhow::bail!("EMPORIUM_POSTGRES_POOL_SIZE must be 1 to 100, not {size}")
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| anyhow!("{name}={raw:?} is invalid: {e}")),
    }
}

/// `EMPORIUM_STOREFRONT_DIR` (`off` for none), else `storefront/dist` if it holds a build.
fn storefront_dir() -> Option<PathBuf> {
    match var("EMPORIUM_STOREFRONT_DIR") {
        Some(dir) if dir.eq_ignore_ascii_case("off") => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            let default = PathBuf::from("storefront/dist");
            default.join("index.html").is_file().then_some(default)
        }
    }
}

fn flag(name: &str, default: bool) -> anyhow::Result<bool> {
    match var(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(anyhow!("{name}={other:?} is not a boolean")),
    }
}

/// A comma-separated list of paths.
fn paths(name: &str) -> Vec<PathBuf> {
    var(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Every service's endpoint, in the order of [`Service::all`]: its port variable (by default
/// the list's port) and a subgraph's URL variable (by default on 127.0.0.1 at that port).
fn endpoints() -> anyhow::Result<Vec<Endpoint>> {
    Service::all()
        .iter()
        .map(|service| {
            let spec = service.spec();
            let port = parsed(spec.port_variable, spec.default_port)?;
            let default_url = format!("http://127.0.0.1:{port}");
            let url = match spec.subgraph {
                Some(subgraph) => var(subgraph.url_variable).unwrap_or(default_url),
                None => default_url,
            };
            Ok(Endpoint { port, url })
        })
        .collect()
}

/// `EMPORIUM_SEARCH_REPLICA_ID` (a pod name, say): letters, digits, `-`, `_` and `.`, at most
/// 100 of them, since it becomes part of a RabbitMQ queue name. Empty or unset: none.
fn search_replica_id() -> anyhow::Result<Option<String>> {
    parse_search_replica_id(var("EMPORIUM_SEARCH_REPLICA_ID"))
}

fn parse_search_replica_id(raw: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(id) = raw.map(|id| id.trim().to_owned()) else {
        return Ok(None);
    };
    if id.is_empty() {
        return Ok(None);
    }
    let fits = id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !fits {
        return Err(anyhow!(
            "EMPORIUM_SEARCH_REPLICA_ID={id:?} is invalid: use at most 100 letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(Some(id))
}

/// `EMPORIUM_ENV`: `development` (the default) or `production`; whether it is production.
fn environment() -> anyhow::Result<bool> {
    match var("EMPORIUM_ENV").as_deref().map(str::trim) {
        None | Some("development") => Ok(false),
        Some("production") => Ok(true),
        Some(other) => Err(anyhow!(
            "EMPORIUM_ENV={other:?} is invalid: use development or production"
        )),
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let data_dir =
            PathBuf::from(var("EMPORIUM_DATA_DIR").unwrap_or_else(|| ".emporium".to_owned()));
        let endpoints = endpoints()?;
        let pending_timeout_secs: u64 = parsed("EMPORIUM_ORDER_PENDING_TIMEOUT_SECS", 900)?;
        if pending_timeout_secs == 0 {
            return Err(anyhow!(
                "EMPORIUM_ORDER_PENDING_TIMEOUT_SECS must be at least 1"
            ));
        }
        let outbox_retention_secs: u64 = parsed(
            "EMPORIUM_OUTBOX_RETENTION_SECS",
            emporium_kernel::events::outbox::DEFAULT_RETENTION.as_secs(),
        )?;
        let catalog_cache_ttl_secs: u64 = parsed("EMPORIUM_CATALOG_CACHE_TTL_SECS", 3600)?;
        if catalog_cache_ttl_secs == 0 {
            return Err(anyhow!(
                "EMPORIUM_CATALOG_CACHE_TTL_SECS must be at least 1"
            ));
        }
        let settings = Self {
            bind_host: parsed("EMPORIUM_BIND_HOST", IpAddr::from([127, 0, 0, 1]))?,
            search_index_dir: var("EMPORIUM_SEARCH_INDEX_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("search-index")),
            database_url: var("EMPORIUM_DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/emporium".to_owned()),
            inventory_database_url: var("EMPORIUM_INVENTORY_DATABASE_URL").unwrap_or_else(|| {
                "postgres://postgres@127.0.0.1:5432/emporium_inventory".to_owned()
            }),
            orders_database_url: var("EMPORIUM_ORDERS_DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/emporium_orders".to_owned()),
            payments_database_url: var("EMPORIUM_PAYMENTS_DATABASE_URL").unwrap_or_else(|| {
                "postgres://postgres@127.0.0.1:5432/emporium_payments".to_owned()
            }),
            postgres_pool_size: pool_size(parsed("EMPORIUM_POSTGRES_POOL_SIZE", 10)?)?,
            order_pending_timeout: std::time::Duration::from_secs(pending_timeout_secs),
            prices_include_tax: flag("EMPORIUM_PRICES_INCLUDE_TAX", false)?,
            outbox_retention: std::time::Duration::from_secs(outbox_retention_secs),
            redis_url: SecretString::from(
                var("EMPORIUM_REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned()),
            ),
            redis_prefix: var("EMPORIUM_REDIS_PREFIX")
                .unwrap_or_else(|| "emporium:inventory:".to_owned()),
            redis_cluster: var("EMPORIUM_REDIS_CLUSTER")
                .filter(|nodes| !nodes.trim().is_empty())
                .map(SecretString::from),
            search_replica_id: search_replica_id()?,
            catalog_cache_prefix: var("EMPORIUM_CATALOG_CACHE_PREFIX")
                .unwrap_or_else(|| "emporium:catalog:".to_owned()),
            catalog_cache_ttl: std::time::Duration::from_secs(catalog_cache_ttl_secs),
            mongodb_url: var("EMPORIUM_MONGODB_URL")
                .unwrap_or_else(|| "mongodb://127.0.0.1:27017/?retryWrites=false".to_owned()),
            amqp_url: SecretString::from(
                var("EMPORIUM_AMQP_URL")
                    .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()),
            ),
            queue_type: parsed(
                "EMPORIUM_QUEUE_TYPE",
                emporium_kernel::events::broker::QueueType::Classic,
            )?,
            mongodb_database: var("EMPORIUM_MONGODB_DATABASE")
                .unwrap_or_else(|| "emporium".to_owned()),
            jwt_private_key_file: var("EMPORIUM_JWT_PRIVATE_KEY_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("jwt-signing-key.pem")),
            jwt_next_key_file: var("EMPORIUM_JWT_NEXT_KEY_FILE").map(PathBuf::from),
            jwt_retired_key_files: paths("EMPORIUM_JWT_RETIRED_KEY_FILES"),
            payment_token_key_file: var("EMPORIUM_PAYMENT_TOKEN_KEY_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("payment-token-key.pem")),
            payment_token_retired_key_files: paths("EMPORIUM_PAYMENT_TOKEN_RETIRED_KEY_FILES"),
            is_production: environment()?,
            data_dir,
            access_token_ttl_secs: parsed("EMPORIUM_ACCESS_TOKEN_TTL_SECS", 900)?,
            refresh_token_ttl_days: parsed("EMPORIUM_REFRESH_TOKEN_TTL_DAYS", 30)?,
            session_max_age_days: parsed("EMPORIUM_SESSION_MAX_AGE_DAYS", 90)?,
            admin_email: var("EMPORIUM_ADMIN_EMAIL"),
            admin_password: var("EMPORIUM_ADMIN_PASSWORD").map(SecretString::from),
            admin_name: var("EMPORIUM_ADMIN_NAME").unwrap_or_else(|| "Admin".to_owned()),
            seed_demo_catalog: flag("EMPORIUM_SEED_DEMO_CATALOG", true)?,
            supergraph_path: PathBuf::from(
                var("EMPORIUM_SUPERGRAPH").unwrap_or_else(|| "schema.graphql".to_owned()),
            ),
            log_json: var("EMPORIUM_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
            max_body_bytes: parsed("EMPORIUM_MAX_BODY_BYTES", 256 * 1024)?,
            // 15 lets GraphiQL's own introspection query (9 nested `ofType`s) through.
            max_query_depth: parsed("EMPORIUM_MAX_QUERY_DEPTH", 15)?,
            max_query_aliases: parsed("EMPORIUM_MAX_QUERY_ALIASES", 30)?,
            max_document_chars: parsed("EMPORIUM_MAX_DOCUMENT_CHARS", 20_000)?,
            edge: EdgeSettings::from_env()?,
            storefront_dir: storefront_dir(),
            smtp_url: var("EMPORIUM_SMTP_URL").map(SecretString::from),
            mail_from: var("EMPORIUM_MAIL_FROM")
                .unwrap_or_else(|| "Emporium <no-reply@emporium.local>".to_owned()),
            public_url: var("EMPORIUM_PUBLIC_URL")
                .unwrap_or_else(|| endpoints[Service::Router as usize].url.clone()),
            endpoints,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.access_token_ttl_secs < 30 {
            return Err(anyhow!(
                "EMPORIUM_ACCESS_TOKEN_TTL_SECS must be at least 30"
            ));
        }
        if self.refresh_token_ttl_days < 1 {
            return Err(anyhow!(
                "EMPORIUM_REFRESH_TOKEN_TTL_DAYS must be at least 1"
            ));
        }
        if self.session_max_age_days < self.refresh_token_ttl_days {
            return Err(anyhow!(
                "EMPORIUM_SESSION_MAX_AGE_DAYS must be at least EMPORIUM_REFRESH_TOKEN_TTL_DAYS"
            ));
        }
        if self.admin_email.is_some() != self.admin_password.is_some() {
            return Err(anyhow!(
                "set both EMPORIUM_ADMIN_EMAIL and EMPORIUM_ADMIN_PASSWORD, or neither"
            ));
        }
        Ok(())
    }

    /// The mail transport: SMTP at `EMPORIUM_SMTP_URL`, else `.eml` files in
    /// `<data dir>/mail`.
    pub fn mailer(&self) -> anyhow::Result<emporium_kernel::mail::Mailer> {
        use secrecy::ExposeSecret;
        let mailer = match &self.smtp_url {
            Some(url) => emporium_kernel::mail::Mailer::smtp(url.expose_secret(), &self.mail_from)
                .context("EMPORIUM_SMTP_URL / EMPORIUM_MAIL_FROM")?,
            None => emporium_kernel::mail::Mailer::directory(&self.mail_dir(), &self.mail_from)
                .context("the mail directory / EMPORIUM_MAIL_FROM")?,
        };
        Ok(mailer)
    }

    /// Where mail is written when no SMTP server is configured.
    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// Where `service` listens and is reached.
    pub fn endpoint(&self, service: Service) -> &Endpoint {
        // Built from `Service::all()`, whose order is the variants' (see `endpoints`).
        &self.endpoints[service as usize]
    }

    /// The address `service` binds to.
    pub fn addr(&self, service: Service) -> SocketAddr {
        SocketAddr::new(self.bind_host, self.endpoint(service).port)
    }

    /// Where `service` is reached.
    pub fn url(&self, service: Service) -> &str {
        &self.endpoint(service).url
    }

    /// How every outbox relay runs.
    pub fn relay(&self) -> emporium_kernel::events::outbox::RelaySettings {
        emporium_kernel::events::outbox::RelaySettings {
            retention: self.outbox_retention,
            ..Default::default()
        }
    }

    /// The router's settings, given where it reaches each subgraph and the JWKS.
    pub fn router_settings(
        &self,
        subgraph_urls: Vec<(String, String)>,
        jwks: emporium_router::JwksSource,
    ) -> emporium_router::RouterSettings {
        emporium_router::RouterSettings {
            listen: self.addr(Service::Router),
            supergraph_path: self.supergraph_path.clone(),
            subgraph_urls,
            jwks,
            work_dir: self.data_dir.join("router"),
            max_body_bytes: self.max_body_bytes,
            max_document_chars: self.max_document_chars,
            max_depth: self.max_query_depth,
            max_aliases: self.max_query_aliases,
            max_tokens: self.edge.max_tokens,
            max_directives: self.edge.max_directives,
            max_fields: self.edge.max_fields,
            max_json_depth: self.edge.max_json_depth,
            introspection: self.edge.introspection,
            playground: self.edge.playground,
            metrics: self.edge.metrics,
            metrics_port: self.edge.metrics_port,
            cors_origins: self.edge.cors_origins.clone(),
            cost: emporium_router::CostSettings {
                enabled: self.edge.cost_limit,
                max_cost: self.edge.max_cost,
                default_list_size: self.edge.default_list_size,
            },
            timeouts: emporium_router::TimeoutSettings {
                request: self.edge.request_timeout,
                subgraph: self.edge.subgraph_timeout,
                breaker_error_percent: self.edge.breaker_error_percent,
                breaker_volume: self.edge.breaker_volume,
                breaker_reset: self.edge.breaker_reset,
            },
            rate_limit: self.edge.rate_limit.as_ref().map(|limit| {
                emporium_router::RateLimitSettings {
                    redis_url: limit
                        .redis_url
                        .clone()
                        .unwrap_or_else(|| self.redis_url.clone()),
                    key_prefix: limit.key_prefix.clone(),
                    capacity: limit.capacity,
                    restore_per_second: limit.restore_per_second,
                    admin_multiplier: limit.admin_multiplier,
                    trusted_proxies: limit.trusted_proxies.clone(),
                }
            }),
            log: emporium_router::RouterLog {
                level: emporium_router::LogLevel::Info,
                filter: Some(var("RUST_LOG").unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned())),
                format: if self.log_json {
                    emporium_router::LogFormat::Json
                } else {
                    emporium_router::LogFormat::Text
                },
            },
            storefront_dir: self.storefront_dir.clone(),
        }
    }

    pub fn jwks_url(&self) -> String {
        format!(
            "{}/.well-known/jwks.json",
            self.url(Service::Users).trim_end_matches('/')
        )
    }

    pub fn users_settings(&self) -> emporium_users::Settings {
        emporium_users::Settings {
            access_token_ttl: chrono_secs(self.access_token_ttl_secs),
            refresh_token_ttl: chrono_secs(self.refresh_token_ttl_days * 24 * 3600),
            session_max_age: chrono_secs(self.session_max_age_days * 24 * 3600),
            public_url: self.public_url.clone(),
        }
    }
}

fn chrono_secs(secs: i64) -> emporium_users::ChronoDuration {
    emporium_users::ChronoDuration::seconds(secs)
}

/// Reads a PEM file, with the path in the error.
pub fn read_pem(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::parse_search_replica_id;

    #[test]
    fn a_search_replica_id_is_a_queue_name_part_or_nothing() {
        let parse = |raw: Option<&str>| parse_search_replica_id(raw.map(str::to_owned));
        assert_eq!(parse(None).unwrap(), None);
        assert_eq!(parse(Some("  ")).unwrap(), None);
        assert_eq!(
            parse(Some(" search-0 ")).unwrap().as_deref(),
            Some("search-0")
        );
        assert_eq!(
            parse(Some("emporium-search-1.ns_2")).unwrap().as_deref(),
            Some("emporium-search-1.ns_2")
        );
        for bad in ["search 0", "a/b", "#", "x*"] {
            assert!(parse(Some(bad)).is_err(), "{bad}");
        }
        assert!(parse(Some(&"a".repeat(101))).is_err());
    }
}
