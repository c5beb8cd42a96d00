//! One `tracing` subscriber per process, with the writer injected so tests stay quiet.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `RUST_LOG` if set, else `default_filter`; JSON lines when
/// `json` (for log shippers), human-readable otherwise. Calling it twice keeps the first.
pub fn init<W>(service: &'static str, default_filter: &str, json: bool, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    if installed.is_ok() {
        tracing::debug!(service, "telemetry initialised");
    }
}
