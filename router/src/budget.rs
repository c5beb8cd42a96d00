//! Each client's cost budget: a leaky bucket in Redis, shared by every router replica.
//!
//! A bucket holds at most `capacity` points and regains `restore_per_second` points a second.
//! An operation takes its estimated cost before it runs, and gets back what it did not spend
//! once its actual cost is known (Shopify's model). One Lua script does the refill and the
//! take atomically, with the Redis server's clock, so replicas with skewed clocks agree.
//!
//! Failure: Redis that is unreachable or slower than [`REDIS_DEADLINE`] makes [`BudgetStore::take`]
//! answer [`Take::Unavailable`], and the caller serves the request (fail open). After a failure
//! the store does not ask Redis again for [`RETRY_AFTER_FAILURE`], so an outage costs each
//! request nothing rather than a timeout. The Redis client runs on a small runtime of its own,
//! independent of hive-router's workers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hive_router::tokio;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

/// Longest a budget check may wait for Redis before the request is served anyway.
pub const REDIS_DEADLINE: Duration = Duration::from_millis(250);

/// How long the store leaves Redis alone after it failed.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Refills the bucket, then takes `cost` points if it holds them (a negative cost gives points
/// back). Returns `{taken (1 or 0), points left, milliseconds until the cost fits}`.
const TAKE_SCRIPT: &str = r"
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'points', 'at')
local points = tonumber(bucket[1])
local at = tonumber(bucket[2])
if points == nil or at == nil then
  points = capacity
  at = now
end
points = math.min(capacity, points + math.max(0, now - at) * rate / 1000)
local taken = 0
local wait = 0
if cost <= points then
  points = math.min(capacity, points - cost)
  taken = 1
else
  wait = math.ceil((cost - points) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'points', tostring(points), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return {taken, math.floor(points), wait}
";

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub capacity: u64,
    pub restore_per_second: u64,
}

/// What a take did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// The cost was taken; this many points are left.
    Taken { left: u64 },
    /// The bucket holds too little; the cost fits after `retry_after`.
    Refused { left: u64, retry_after: Duration },
    /// Redis could not be asked; nothing was taken.
    Unavailable,
}

/// The buckets in one Redis.
pub struct BudgetStore {
    runtime: tokio::runtime::Handle,
    connection: ConnectionManager,
    script: redis::Script,
    key_prefix: String,
    /// Unix milliseconds until which Redis is not asked (after a failure).
    resting_until_ms: AtomicU64,
}

/// Why the store could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BudgetStoreError {
    #[error("invalid Redis URL for the rate limiter")]
    InvalidUrl(#[source] redis::RedisError),
    #[error("could not start the rate limiter's runtime")]
    Runtime(#[source] std::io::Error),
}

/// The runtime the Redis client lives on: one worker thread for the whole process, never
/// dropped (dropping a runtime inside another one's worker would panic).
fn budget_runtime() -> Result<&'static tokio::runtime::Runtime, BudgetStoreError> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("emporium-budget")
        .enable_all()
        .build()
        .map_err(BudgetStoreError::Runtime)?;
    Ok(RUNTIME.get_or_init(|| runtime))
}

impl BudgetStore {
    /// A store on `redis_url`; connects lazily, on the first take.
    pub fn new(redis_url: &SecretString, key_prefix: String) -> Result<Self, BudgetStoreError> {
        let runtime = budget_runtime()?;
        let client =
            redis::Client::open(redis_url.expose_secret()).map_err(BudgetStoreError::InvalidUrl)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_DEADLINE))
            .set_response_timeout(Some(REDIS_DEADLINE))
            .set_number_of_retries(1);
        // The manager spawns its connection task on the runtime it finds current.
        let _entered = runtime.enter();
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(BudgetStoreError::InvalidUrl)?;
        Ok(Self {
            runtime: runtime.handle().clone(),
            connection,
            script: redis::Script::new(TAKE_SCRIPT),
            key_prefix,
            resting_until_ms: AtomicU64::new(0),
        })
    }

    /// Takes `cost` points from `client`'s bucket.
    pub async fn take(&self, client: &str, bucket: Bucket, cost: u64) -> Take {
        self.run(client, bucket, i128::from(cost)).await
    }

    /// Gives `points` back to `client`'s bucket without waiting for Redis (an operation that
    /// cost less than estimated).
    pub fn give_back(&self, client: &str, bucket: Bucket, points: u64) {
        if points == 0 || self.is_resting() {
            return;
        }
        let invocation = self.invocation(client, bucket, -i128::from(points));
        self.runtime.spawn(invocation);
    }

    async fn run(&self, client: &str, bucket: Bucket, cost: i128) -> Take {
        if self.is_resting() {
            return Take::Unavailable;
        }
        let answer = self
            .runtime
            .spawn(self.invocation(client, bucket, cost))
            .await;
        match answer {
            Ok(Some(take)) => take,
            Ok(None) | Err(_) => {
                self.rest();
                Take::Unavailable
            }
        }
    }

    /// The script call, bounded by [`REDIS_DEADLINE`]; `None` when Redis failed or was slow.
    fn invocation(
        &self,
        client: &str,
        bucket: Bucket,
        cost: i128,
    ) -> impl std::future::Future<Output = Option<Take>> + Send + 'static {
        let mut connection = self.connection.clone();
        let script = self.script.clone();
        let key = format!("{}{client}", self.key_prefix);
        async move {
            let call = async {
                script
                    .key(key)
                    .arg(bucket.capacity)
                    .arg(bucket.restore_per_second)
                    .arg(cost.to_string())
                    .invoke_async::<(u8, i64, i64)>(&mut connection)
                    .await
            };
            match tokio::time::timeout(REDIS_DEADLINE, call).await {
                Ok(Ok((taken, left, wait_ms))) => {
                    let left = u64::try_from(left).unwrap_or(0);
                    Some(if taken == 1 {
                        Take::Taken { left }
                    } else {
                        Take::Refused {
                            left,
                            retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)),
                        }
                    })
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "the rate limiter's Redis failed; serving without a budget check");
                    None
                }
                Err(_) => {
                    tracing::warn!("the rate limiter's Redis did not answer in time; serving without a budget check");
                    None
                }
            }
        }
    }

    fn is_resting(&self) -> bool {
        now_ms() < self.resting_until_ms.load(Ordering::Relaxed)
    }

    fn rest(&self) {
        let until = now_ms().saturating_add(RETRY_AFTER_FAILURE.as_millis() as u64);
        self.resting_until_ms.store(until, Ordering::Relaxed);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
