//! Starting the embedded hive-router on the calling thread.
//!
//! hive-router is configured through a file named by an environment variable and installs
//! process-wide state when it starts (the `tracing` subscriber and `log` bridge, OpenTelemetry
//! meter provider, rustls crypto provider, signal handlers). Starting is therefore split in
//! two: [`prepare`] writes the configuration and sets the variable, and must run before the
//! process starts other threads; [`PreparedRouter::run`] then serves until a signal.

use std::path::{Path, PathBuf};

use hive_router::{
    ntex::rt::{DefaultRuntime, System},
    router_entrypoint, tokio,
};
use tracing::subscriber::NoSubscriber;

use crate::{config, error::RouterError, plugins, settings::RouterSettings};

/// Stack of each router worker thread. hive-router parses a whole WebSocket message into a
/// sonic-rs DOM before any plugin sees it, recursing once per nested level with no limit of its
/// own; only the WebSocket codec's 64 KiB frame limit bounds the depth (about 32,000 levels of
/// `[`). With sonic-rs optimised in every build (see the workspace `Cargo.toml`) that worst
/// case fits in this stack, and the message is then refused by sonic-rs's typed decoding
/// (255 levels) or by our JSON depth limit. With the default 2 MiB a worker overflowed at
/// about 70 levels, and ntex's SIGSEGV handler then spun forever resolving a backtrace. The
/// stack is reserved, not committed: only the pages a request touches take memory.
pub const WORKER_STACK_BYTES: usize = 32 * 1024 * 1024;

/// The variable hive-router reads its configuration path from.
pub const CONFIG_PATH_VARIABLE: &str = "ROUTER_CONFIG_FILE_PATH";

/// Variables hive-router reads after its configuration file, overriding the listener, the
/// supergraph and the transports [`RouterSettings`] decide. (`LOG_LEVEL`, `LOG_FILTER` and
/// `LOG_FORMAT` are overrides too, but are left to operators on purpose.)
pub const CONFLICTING_VARIABLES: &[&str] = &[
    "PORT",
    "HOST",
    "SUPERGRAPH_FILE_PATH",
    "LABORATORY_ENABLED",
    "WEBSOCKET_ENABLED",
    "SUBSCRIPTIONS_ENABLED",
    "HIVE_CDN_ENDPOINT",
    "HIVE_CDN_KEY",
    "APOLLO_KEY",
    "APOLLO_GRAPH_REF",
];

/// A router whose configuration is written and whose environment is set, ready to [`run`].
///
/// [`run`]: PreparedRouter::run
#[derive(Debug)]
pub struct PreparedRouter {
    config_path: PathBuf,
}

/// Checks the settings, writes hive-router's configuration into `settings.work_dir` and points
/// `ROUTER_CONFIG_FILE_PATH` at it.
///
/// Call this before the process starts any other thread: setting an environment variable
/// while another thread may read the environment through libc (`getenv`, e.g. inside DNS
/// resolution or time-zone handling) is a data race. Rust's own `std::env` calls are
/// synchronised with each other, so a process whose other threads only use `std::env` is safe
/// either way, but nothing guarantees that of every dependency.
pub fn prepare(settings: RouterSettings) -> Result<PreparedRouter, RouterError> {
    refuse_conflicting_variables()?;
    let settings = checked(settings)?;
    if let Some(limit) = &settings.rate_limit {
        plugins::cost_budget::set_redis_url(limit.redis_url.clone());
    }
    let config_path = config::write(&settings)?;
    std::env::set_var(CONFIG_PATH_VARIABLE, &config_path);
    Ok(PreparedRouter { config_path })
}

/// [`prepare`], then [`PreparedRouter::run`]: runs the router on the calling thread until
/// SIGINT or SIGTERM.
///
/// Sets `ROUTER_CONFIG_FILE_PATH`; when other threads are already running, prefer calling
/// [`prepare`] before starting them (see there why).
pub fn run(settings: RouterSettings) -> Result<(), RouterError> {
    prepare(settings)?.run()
}

impl PreparedRouter {
    /// The generated configuration file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Serves on the calling thread until SIGINT or SIGTERM, then shuts down gracefully (the
    /// HTTP server waits up to 30 s for in-flight requests) and returns.
    ///
    /// hive-router runs its own single-threaded runtime on this thread plus one worker thread
    /// per CPU, independent of any tokio runtime the process runs elsewhere. It installs the
    /// process-wide `tracing` subscriber (configured by [`RouterSettings::log`]), so the
    /// process must not install one itself; events from other components are then logged by
    /// the router's subscriber. It also installs its own SIGINT/SIGTERM handlers beside any
    /// others (`signal-hook`, like tokio's), so one signal reaches both.
    ///
    /// [`RouterSettings::log`]: crate::RouterSettings::log
    pub fn run(self) -> Result<(), RouterError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(RouterError::InsideAsyncRuntime);
        }
        // hive-router's `init()` of the subscriber panics when one is already installed.
        if tracing::dispatcher::get_default(|dispatch| !dispatch.is::<NoSubscriber>()) {
            return Err(RouterError::TracingAlreadyInitialised);
        }
        hive_router::init_rustls_crypto_provider();
        System::build()
            .name("emporium-router")
            .stack_size(WORKER_STACK_BYTES)
            .build(DefaultRuntime)
            .block_on(router_entrypoint(plugins::registry()))?;
        Ok(())
    }
}

fn refuse_conflicting_variables() -> Result<(), RouterError> {
    match CONFLICTING_VARIABLES
        .iter()
        .find(|name| std::env::var_os(name).is_some())
    {
        Some(name) => Err(RouterError::ConflictingEnvironment(name)),
        None => Ok(()),
    }
}

/// The settings with absolute, existing file paths and limits that make sense.
fn checked(mut settings: RouterSettings) -> Result<RouterSettings, RouterError> {
    settings.supergraph_path = existing("supergraph", &settings.supergraph_path)?;
    if let crate::JwksSource::File(path) = &settings.jwks {
        settings.jwks = crate::JwksSource::File(existing("JWKS file", path)?);
    }
    settings.work_dir = absolute(&settings.work_dir)?;
    if let Some(dir) = &settings.storefront_dir {
        settings.storefront_dir = Some(existing("storefront directory", dir)?);
    }
    for (name, value) in [
        ("max_body_bytes", settings.max_body_bytes),
        ("max_document_chars", settings.max_document_chars),
        ("max_depth", settings.max_depth),
        ("max_aliases", settings.max_aliases),
        ("max_tokens", settings.max_tokens),
        ("max_directives", settings.max_directives),
        ("max_fields", settings.max_fields),
        ("max_json_depth", settings.max_json_depth),
        ("cost.default_list_size", settings.cost.default_list_size),
    ] {
        if value == 0 {
            return Err(invalid(name, "must be at least 1"));
        }
    }
    if settings.cost.max_cost == 0 {
        return Err(invalid("cost.max_cost", "must be at least 1"));
    }
    check_timeouts(&settings.timeouts)?;
    if let Some(limit) = &settings.rate_limit {
        if limit.capacity < settings.cost.max_cost {
            return Err(invalid(
                "rate_limit.capacity",
                "must hold at least one operation of the maximum cost (cost.max_cost)",
            ));
        }
        if limit.restore_per_second == 0 || limit.admin_multiplier == 0 {
            return Err(invalid(
                "rate_limit",
                "restore_per_second and admin_multiplier must be at least 1",
            ));
        }
    }
    if settings.listen.is_ipv6() {
        // hive-router binds to `format!("{host}:{port}")`, which is no address for IPv6.
        return Err(invalid("listen", "IPv6 addresses are not supported"));
    }
    for (name, url) in &settings.subgraph_urls {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                "subgraph_urls",
                format!("the URL of subgraph {name} must start with http:// or https://"),
            ));
        }
    }
    Ok(settings)
}

fn check_timeouts(timeouts: &crate::TimeoutSettings) -> Result<(), RouterError> {
    if timeouts.request.is_zero() || timeouts.subgraph.is_zero() || timeouts.breaker_reset.is_zero()
    {
        return Err(invalid(
            "timeouts",
            "every timeout must be longer than zero",
        ));
    }
    if timeouts.subgraph > timeouts.request {
        return Err(invalid(
            "timeouts.subgraph",
            "a subgraph call cannot be given longer than the whole request",
        ));
    }
    if timeouts.breaker_error_percent == 0 || timeouts.breaker_error_percent > 100 {
        return Err(invalid(
            "timeouts.breaker_error_percent",
            "must be between 1 and 100",
        ));
    }
    if timeouts.breaker_volume == 0 {
        return Err(invalid("timeouts.breaker_volume", "must be at least 1"));
    }
    Ok(())
}

fn invalid(name: &'static str, reason: impl Into<String>) -> RouterError {
    RouterError::InvalidSetting {
        name,
        reason: reason.into(),
    }
}

fn existing(what: &'static str, path: &Path) -> Result<PathBuf, RouterError> {
    std::fs::canonicalize(path).map_err(|source| RouterError::FileNotFound {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn absolute(path: &Path) -> Result<PathBuf, RouterError> {
    std::path::absolute(path).map_err(|source| RouterError::WriteConfig {
        path: path.to_path_buf(),
        source,
    })
}
