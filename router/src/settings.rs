//! What the caller decides about the router: where it listens, which supergraph it serves,
//! where the users service publishes its public keys, and the limits every request must meet.
//!
//! Everything else the embedded hive-router needs is fixed by Emporium's design and lives in
//! [`crate::config`], which turns these settings into hive-router's YAML configuration.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// Settings for one router instance.
#[derive(Debug, Clone)]
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
    /// Most lexical tokens accepted in one document (checked while parsing, so a document
    /// past it is never built in memory).
    pub max_tokens: usize,
    /// Most directives accepted in one operation.
    pub max_directives: usize,
    /// Most fields one operation may select once its fragments are expanded.
    pub max_fields: usize,
    /// Deepest nesting of JSON objects and arrays accepted in a request's `variables` and
    /// `extensions`, checked on the raw bytes before anything is parsed.
    pub max_json_depth: usize,
    /// Whether clients may introspect the schema (`__schema`, `__type`). The depth, alias,
    /// token and directive limits apply to introspection either way.
    pub introspection: bool,
    /// Whether `GET /graphql` from a browser serves the GraphiQL playground.
    pub playground: bool,
    /// Whether Prometheus `/metrics` is served at all.
    pub metrics: bool,
    /// Serve `/metrics` on this port of the listener's host instead of the public one, so that
    /// only the internal network reaches it.
    pub metrics_port: Option<u16>,
    /// Origins allowed to call the API from a browser (CORS). Empty: no cross-origin access.
    pub cors_origins: Vec<String>,
    /// What an operation may cost, estimated before it runs.
    pub cost: CostSettings,
    /// Deadlines and the circuit breaker on the request path.
    pub timeouts: TimeoutSettings,
    /// Each client's cost budget; `None` turns rate limiting off.
    pub rate_limit: Option<RateLimitSettings>,
    /// How the process logs; see [`RouterLog`] for why the router decides this.
    pub log: RouterLog,
    /// The built storefront served at `/` (see [`crate::plugins::storefront`]); `None` serves
    /// none. It must exist when the router starts.
    pub storefront_dir: Option<PathBuf>,
}

/// Operation cost (IBM's GraphQL cost directives, as hive-router's demand control computes it):
/// every object costs 1, scalars 0, and a list multiplies what it holds by its size, taken from
/// its `first` argument or `default_list_size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostSettings {
    /// Whether costs are estimated, reported and limited at all.
    pub enabled: bool,
    /// Operations estimated above this are refused (`QUERY_TOO_COMPLEX`) before any subgraph
    /// is called.
    pub max_cost: u64,
    /// The size assumed for a list whose size the operation does not say.
    pub default_list_size: usize,
}

/// Deadlines on the request path and the subgraphs' circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutSettings {
    /// A whole request, from its arrival to its answer (`GATEWAY_TIMEOUT` past it). The HTTP
    /// server also gives a client this long (plus a second) to send its request head.
    pub request: Duration,
    /// One call from the router to a subgraph.
    pub subgraph: Duration,
    /// Share of failed subgraph calls, in percent, that opens a subgraph's breaker.
    pub breaker_error_percent: u8,
    /// Calls a breaker observes before it may open.
    pub breaker_volume: usize,
    /// How long an open breaker refuses calls before it lets probes through.
    pub breaker_reset: Duration,
}

/// A cost budget per client that refills over time (a leaky bucket, as Shopify's APIs do it),
/// kept in Redis so that every router replica enforces the same one.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// The Redis holding the buckets. A secret: it may hold a password.
    pub redis_url: SecretString,
    /// Every bucket key starts with this.
    pub key_prefix: String,
    /// Most cost points a bucket holds (and a client may spend in one burst).
    pub capacity: u64,
    /// Points a bucket regains per second.
    pub restore_per_second: u64,
    /// Admins' buckets hold and regain this many times more.
    pub admin_multiplier: u64,
    /// Proxies whose `X-Forwarded-For` is believed; a client's address is otherwise the peer's.
    pub trusted_proxies: Vec<IpNetwork>,
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `::1/128`); a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

/// Why a string is no [`IpNetwork`].
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR network")]
pub struct InvalidIpNetwork(String);

impl IpNetwork {
    /// Parses `address` or `address/prefix`.
    pub fn parse(raw: &str) -> Result<Self, InvalidIpNetwork> {
        let invalid = || InvalidIpNetwork(raw.to_owned());
        let (address, prefix) = match raw.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (raw.trim(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().map_err(|_| invalid())?,
            None => max,
        };
        if prefix > max {
            return Err(invalid());
        }
        Ok(Self { address, prefix })
    }

    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(
                u128::from(u32::from(net)),
                u128::from(u32::from(ip)),
                32,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// Whether the top `prefix` of `bits` bits agree.
fn masked(net: u128, ip: u128, bits: u8, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (net >> shift) == (ip >> shift)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses_and_nothing_else() {
        let net = IpNetwork::parse("10.1.0.0/16").expect("a network");
        assert!(net.contains("10.1.200.3".parse().expect("an address")));
        assert!(!net.contains("10.2.0.1".parse().expect("an address")));
        assert!(!net.contains("::1".parse().expect("an address")));
        let one = IpNetwork::parse("127.0.0.1").expect("an address");
        assert!(one.contains("127.0.0.1".parse().expect("an address")));
        assert!(!one.contains("127.0.0.2".parse().expect("an address")));
        let all = IpNetwork::parse("::/0").expect("a network");
        assert!(all.contains("2001:db8::1".parse().expect("an address")));
    }

    #[test]
    fn malformed_networks_are_refused() {
        for raw in ["", "10.0.0.0/33", "10.0.0/8", "::1/129", "x/8"] {
            assert!(IpNetwork::parse(raw).is_err(), "{raw}");
        }
    }
}
