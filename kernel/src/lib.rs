//! The Emporium kernel: what every service needs and nothing domain-specific.
//!
//! Layout:
//! - [`error`]: the stable error codes of the public API and their GraphQL form.
//! - [`auth`]: access-token claims, ES256 signing keys with a `kid`, JWKS, and verification.
//! - [`sealed`]: sealing a secret (a payment token) so only one service's private key opens it.
//! - [`email`], [`money`], [`ids`]: value types that only enter through parsing (`ids`: product,
//!   order and user ids, SKUs, quantities).
//! - [`graphql`]: scalars and shapes every subgraph shares (`Decimal`, `Money`, `PageInfo`,
//!   `UserError`) and Relay cursor pagination.
//! - [`http`]: serving a subgraph: GraphQL endpoint with auth, `/health`, `/ready`, graceful shutdown.
//! - [`mail`]: outbound mail over SMTP or into `.eml` files, and a retrying background queue.
//! - [`service`]: the one shape of a service: the handles it receives, how it starts, the
//!   steps every service repeats (server with readiness, relay, consumers, queues).
//! - [`telemetry`]: one `tracing` subscriber per process.
//! - `testing` (feature `testing`): throwaway databases for integration tests.

pub mod auth;
pub mod email;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod mail;
pub mod money;
pub mod mongo;
pub mod sealed;
pub mod service;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;

pub use error::{ApiError, ErrorCode};

/// A Postgres advisory-lock key for `name` that every build and every replica agrees on
/// (FNV-1a; `DefaultHasher` is not stable across builds).
pub fn advisory_lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}
