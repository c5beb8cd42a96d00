//! The Emporium router: [hive-router] embedded as a library, serving the federated supergraph
//! with Emporium's plugins.
//!
//! Clients reach one endpoint, `/graphql`: queries and mutations over HTTP (POST, and GET for
//! queries), subscriptions over WebSocket (graphql-transport-ws), and GraphiQL for a browser
//! (served from embedded assets, so it works offline). `/health`, `/ready` (also
//! `/readiness`) and Prometheus `/metrics` sit beside it. The router verifies the caller's
//! JWT against the users service's JWKS, rejects bad tokens while letting anonymous requests
//! through, forwards `Authorization` to every subgraph, and enforces body, document, depth and
//! alias limits with the error codes of `api/contract.graphql`.
//!
//! ```no_run
//! use std::time::Duration;
//! use emporium_router::{CostSettings, JwksSource, RouterLog, RouterSettings, TimeoutSettings};
//!
//! fn main() -> Result<(), emporium_router::RouterError> {
//!     let settings = RouterSettings {
//!         listen: "127.0.0.1:4000".parse().expect("a valid socket address"),
//!         supergraph_path: "schema.graphql".into(),
//!         subgraph_urls: vec![("users".into(), "http://127.0.0.1:4001/graphql".into())],
//!         jwks: JwksSource::Url("http://127.0.0.1:4001/.well-known/jwks.json".into()),
//!         work_dir: "/var/tmp/emporium/router".into(),
//!         max_body_bytes: 1 << 20,
//!         max_document_chars: 20_000,
//!         max_depth: 12,
//!         max_aliases: 30,
//!         max_tokens: 3_000,
//!         max_directives: 50,
//!         max_fields: 1_000,
//!         max_json_depth: 32,
//!         introspection: true,
//!         playground: true,
//!         metrics: true,
//!         metrics_port: None,
//!         cors_origins: vec![],
//!         cost: CostSettings { enabled: true, max_cost: 1_000, default_list_size: 20 },
//!         timeouts: TimeoutSettings {
//!             request: Duration::from_secs(30),
//!             subgraph: Duration::from_secs(10),
//!             breaker_error_percent: 50,
//!             breaker_volume: 10,
//!             breaker_reset: Duration::from_secs(10),
//!         },
//!         rate_limit: None,
//!         log: RouterLog::default(),
//!         storefront_dir: None,
//!     };
//!     // Before spawning any thread: writes the config and sets ROUTER_CONFIG_FILE_PATH.
//!     let router = emporium_router::prepare(settings)?;
//!     std::thread::spawn(|| { /* a tokio runtime serving the subgraphs */ });
//!     // Blocks until SIGINT/SIGTERM.
//!     router.run()
//! }
//! ```
//!
//! # Layout
//! - `settings`: [`RouterSettings`], what the caller decides.
//! - `config`: renders the settings into hive-router's YAML configuration.
//! - `server`: [`prepare`] and [`run`], starting hive-router on the calling thread.
//! - `plugins`: one hive-router plugin per job (playground, the storefront at `/`, `/ready`,
//!   body size, JSON depth, document size and shape, bad tokens, cost and rate limits, error
//!   codes) and the [`plugins::registry`] that `run` starts them from.
//! - `budget`: each client's cost budget, a leaky bucket in Redis.
//! - `error`: [`RouterError`].
//!
//! [hive-router]: https://github.com/graphql-hive/router

// hive-router's server future (ntex services nested in TLS layers) is deeper than the
// default limit when rustc computes its layout in release builds.
#![recursion_limit = "256"]

pub mod budget;
pub mod config;
pub mod error;
pub mod plugins;
pub mod server;
pub mod settings;

pub use error::RouterError;
pub use server::{prepare, run, PreparedRouter};
pub use settings::{
    CostSettings, IpNetwork, JwksSource, LogFormat, LogLevel, RateLimitSettings, RouterLog,
    RouterSettings, TimeoutSettings,
};
