//! One `tracing` subscriber per process, with the writer injected so tests stay quiet.
//!
//! In a process that embeds the router, hive-router installs the global subscriber itself;
//! such a process uses [`subscriber`] scoped to its start-up work instead of [`init`].

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// A subscriber logging `RUST_LOG` if set, else `default_filter`; JSON lines when `json`.
pub fn subscriber<W>(
    default_filter: &str,
    json: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        Box::new(builder.json().flatten_event(true).finish())
    } else {
        Box::new(builder.finish())
    }
}

/// Installs [`subscriber`] as the global default. Calling it twice keeps the first.
pub fn init<W>(service: &'static str, default_filter: &str, json: bool, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    if tracing::subscriber::set_global_default(subscriber(default_filter, json, writer)).is_ok() {
        tracing::debug!(service, "telemetry initialised");
    }
}
