//! Waiting for what the platform does in its own time (events, projections, the search
//! index): [`poll_until`] asks again until an answer is the awaited one.
//!
//! Failing: when no answer is the awaited one within the [`Wait`], the test fails with what
//! was awaited and the last answer.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long to wait for a condition, and how often to ask.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub timeout: Duration,
    pub every: Duration,
}

impl Wait {
    /// Up to `secs` seconds, asking every 50 ms.
    pub const fn secs(secs: u64) -> Self {
        Self {
            timeout: Duration::from_secs(secs),
            every: Duration::from_millis(50),
        }
    }

    /// The same wait, asking every `ms` milliseconds (for costlier questions).
    pub const fn every_ms(self, ms: u64) -> Self {
        Self {
            every: Duration::from_millis(ms),
            ..self
        }
    }
}

/// Asks `probe` until `done` holds for its answer, which is returned; fails the test with
/// `what` and the last answer if none does within `wait`.
pub async fn poll_until<T, Fut>(
    what: &str,
    wait: Wait,
    mut probe: impl FnMut() -> Fut,
    done: impl Fn(&T) -> bool,
) -> T
where
    T: Display,
    Fut: Future<Output = T>,
{
    let deadline = Instant::now() + wait.timeout;
    loop {
        let answer = probe().await;
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{what} (waited {:?}): {answer}",
            wait.timeout
        );
        tokio::time::sleep(wait.every).await;
    }
}
