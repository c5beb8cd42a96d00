//! Throwaway stores for integration tests: each test gets its own Postgres database, MongoDB
//! database, RabbitMQ vhost, Redis key prefix (or Redis Cluster) and SMTP server, named with a
//! UUID and removed when the handle is dropped, so tests run in parallel and leave nothing
//! behind.
//!
//! How it fails: these are test fixtures, so a store that cannot be reached or set up panics
//! with what to do about it (a test never skips itself); a clean-up that fails or gets no answer
//! within a minute is given up with a warning on stderr rather than hanging the test.

mod app;
mod mongo;
mod platform;
mod postgres;
mod rabbit;
mod redis;
mod redis_cluster;
mod smtp;

pub use app::TestApp;
pub use mongo::{mongodb_server_url, TestMongo};
pub use platform::TestStores;
pub use postgres::{postgres_server_url, TestPostgres};
pub use rabbit::{amqp_server_url, TestVhost};
pub use redis::{redis_server_url, RedisMonitor, TestRedis};
pub use redis_cluster::TestRedisCluster;
pub use smtp::{parse_mail, ReceivedMail, TestSmtp};

use uuid::Uuid;

fn unique_name() -> String {
    format!("emporium_test_{}", Uuid::new_v4().simple())
}

/// Runs an async clean-up from a `Drop`, which runs inside a test's runtime: on a fresh thread
/// with a runtime of its own, which may block. A clean-up that fails (`None`) or gets no answer
/// within a minute is reported as a warning naming `what`.
fn cleanup_on_own_thread<F, T>(what: &str, cleanup: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = Option<T>>,
{
    let done = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime
            .block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(60), cleanup()).await
            })
            .ok()
            .flatten()
            .map(|_| ())
    })
    .join();
    if !matches!(done, Ok(Some(()))) {
        eprintln!("warning: could not {what}");
    }
}
