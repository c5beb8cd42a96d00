//! What the caller decides about the router: where it listens, which supergraph it serves,
//! where the users service publishes its public keys, and the limits every request must meet.
//!
//! Everything else the embedded hive-router needs is fixed by Emporium's design and lives in
//! [`crate::config`], which turns these settings into hive-router's YAML configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Settings for one router instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSettings {
    /// Address of the HTTP listener, e.g. `127.0.0.1:4000`.
    ///
    /// Port `0` binds a free port, but hive-router does not report which one, so callers that
    /// need the address must pick the port themselves.
    pub listen: SocketAddr,
    /// The composed Apollo Federation v2 supergraph SDL (`schema.graphql`).
    pub supergraph_path: PathBuf,
    /// Subgraph name (as in the supergraph's `join__Graph` enum) and the URL to reach it at,
    /// overriding the URL written in the supergraph.
    pub subgraph_urls: Vec<(String, String)>,
    /// Where the users service publishes the public keys that sign access tokens.
    pub jwks: JwksSource,
    /// Directory where the generated hive-router configuration is written.
    pub work_dir: PathBuf,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted GraphQL document (the `query` string), in characters.
    pub max_document_chars: usize,
    /// Deepest accepted selection-set nesting.
    pub max_depth: usize,
    /// Most aliases accepted in one operation.
    pub max_aliases: usize,
    /// How the process logs; see [`RouterLog`] for why the router decides this.
    pub log: RouterLog,
    /// The built storefront served at `/` (see [`crate::plugins::storefront`]); `None` serves
    /// none. It must exist when the router starts.
    pub storefront_dir: Option<PathBuf>,
}

/// Where the JSON Web Key Set of the users service comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS document on disk, read once at start.
    File(PathBuf),
    /// A JWKS endpoint, polled in the background (see [`crate::config::JWKS_POLL_INTERVAL`]).
    Url(String),
}

/// Logging of the whole process, not only of the router.
///
/// hive-router installs the process-wide `tracing` subscriber when it starts, so in a process
/// that embeds it every component's events end up in the router's log output, filtered and
/// formatted as configured here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterLog {
    /// The most verbose level logged at all, for every target.
    pub level: LogLevel,
    /// `EnvFilter` directives that narrow `level` per target, e.g. `info,hyper=warn`.
    /// hive-router applies `level` on top, so a directive can lower a target's verbosity but
    /// never raise it above `level`.
    pub filter: Option<String>,
    /// Line format of the log output.
    pub format: LogFormat,
}

/// The most verbose level logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    /// The name hive-router's configuration uses for this level.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// Line format of the log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, one line per event.
    Text,
    /// One JSON object per event.
    Json,
}

impl LogFormat {
    /// The name hive-router's configuration uses for this format.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl Default for RouterLog {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            filter: None,
            format: LogFormat::Text,
        }
    }
}
