//! The one error type of the crate: everything that can stop the router from starting or
//! make it stop.

use std::path::PathBuf;

use hive_router::error::RouterInitError;

/// Why the router could not start, or stopped with a failure.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// A setting is out of range or malformed.
    #[error("invalid router setting `{name}`: {reason}")]
    InvalidSetting { name: &'static str, reason: String },

    /// A file the configuration points at does not exist or cannot be resolved.
    #[error("{what} not found at {path}")]
    FileNotFound {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The generated hive-router configuration could not be written.
    #[error("could not write the router configuration to {path}")]
    WriteConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// hive-router reads these variables after our configuration file and would silently
    /// override what [`crate::RouterSettings`] says.
    #[error("environment variable {0} is set; it would override the router settings, unset it")]
    ConflictingEnvironment(&'static str),

    /// hive-router installs the process-wide tracing subscriber itself, and panics if one is
    /// already installed.
    #[error(
        "a global tracing subscriber is already installed; in a process that embeds the router, \
         the router installs it (see `emporium_router::run`)"
    )]
    TracingAlreadyInitialised,

    /// The calling thread already runs an async runtime; the router needs its own.
    #[error("`run` blocks and must be called outside of an async runtime")]
    InsideAsyncRuntime,

    /// hive-router failed to start or stopped with an error. Kept as its message chain:
    /// `RouterInitError` holds errors that are not `Send`, and callers report this across threads.
    #[error("hive-router failed: {0}")]
    Router(String),
}

impl From<RouterInitError> for RouterError {
    fn from(err: RouterInitError) -> Self {
        let mut chain = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(next) = source {
            chain.push_str(": ");
            chain.push_str(&next.to_string());
            source = next.source();
        }
        RouterError::Router(chain)
    }
}
