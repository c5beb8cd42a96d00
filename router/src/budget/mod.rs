//! Each client's cost budget: a leaky bucket in Redis, shared by every router replica, spent
//! through leases that each replica holds in memory.
//!
//! A bucket holds at most `capacity` points and regains `restore_per_second` points a second.
//! An operation takes its estimated cost before it runs, and gets back what it did not spend
//! once its actual cost is known (Shopify's model). One Lua script does the refill, the return
//! of unused points and the take atomically, with the Redis server's clock, so replicas with
//! skewed clocks agree.
//!
//! # Leases
//! A replica does not ask Redis for every operation. When it must ask, it takes the operation's
//! cost plus a *lease* of up to [`lease_size`] points (a tenth of the capacity, at most
//! [`LARGEST_LEASE`]) and spends the lease locally on the client's next operations; refunds of
//! unspent cost go into the lease too. It asks Redis again when the lease cannot pay for an
//! operation, or when the lease is older than [`LEASE_TTL`]; that ask hands the unused lease
//! back in the same script call. A sweep every [`LEASE_TTL`] hands back the leases of clients
//! who went quiet, and a replica shutting down hands back all of its leases
//! ([`BudgetStore::return_leases`]), so the bucket in Redis stays the one truth. The bounds:
//! - A replica never holds more than one lease (`lease_size` points) of a client outside Redis:
//!   a refund or a concurrent take that would grow it beyond sends the surplus back to Redis.
//! - Leased points were taken out of the bucket, which meanwhile refills up to its capacity, so
//!   over any T seconds a client can spend at most `capacity + restore_per_second × T` plus one
//!   lease per replica: with R replicas, at most `R × lease_size` (R × 10% of the capacity)
//!   more than one bucket in Redis alone allows.
//! - A lease is granted whole only when the bucket holds it; otherwise Redis grants exactly
//!   what the cost needs and the replica holds nothing more, so a client near the end of its
//!   budget is answered by Redis on every operation. It can be refused while other replicas
//!   still hold a lease of its points each, until those are spent or swept back (after at most
//!   two [`LEASE_TTL`]s).
//! - `left` (`throttleStatus.currentlyAvailable`) is what Redis held at this replica's last
//!   answer for the client plus the lease this replica holds now (at most the capacity). It
//!   misses the refill since that answer (at most [`LEASE_TTL`] × `restore_per_second`) and
//!   what other replicas spent or hold meanwhile.
//! - At most `max_clients` clients ([`MAX_TRACKED_CLIENTS`]) are tracked per replica; past it,
//!   the least recently seen quarter is forgotten and its leases handed back to Redis.
//!
//! Failure: Redis that is unreachable or slower than [`REDIS_DEADLINE`] makes [`BudgetStore::take`]
//! answer [`Take::Unavailable`] whenever the lease cannot pay, and the caller serves the request
//! (fail open); an operation the client's fresh lease pays for is still charged to it. After a
//! failure the store does not ask Redis again for [`RETRY_AFTER_FAILURE`], so an outage costs
//! each request nothing rather than a timeout. Points whose return fails are lost to the client
//! (its budget is only ever under-, never over-counted by a failure). The Redis client runs on
//! a small runtime of its own, independent of hive-router's workers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hive_router::tokio;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

mod leases;
#[cfg(test)]
mod tests;

use leases::{Handback, Leases, Local};

/// Longest a budget check may wait for Redis before the request is served anyway.
pub const REDIS_DEADLINE: Duration = Duration::from_millis(250);

/// How long the store leaves Redis alone after it failed.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The most points of one client a replica leases at a time, whatever the capacity.
pub const LARGEST_LEASE: u64 = 500;

/// How long a replica spends a lease before it asks Redis again (and how often it sweeps
/// quiet clients' leases back).
pub const LEASE_TTL: Duration = Duration::from_secs(1);

/// How many clients a replica keeps leases for.
pub const MAX_TRACKED_CLIENTS: usize = 10_000;

/// The lease a replica takes for a client of `bucket`: a tenth of the capacity, at most
/// [`LARGEST_LEASE`]. Under 10 points of capacity there is no lease: every take asks Redis.
pub fn lease_size(bucket: Bucket) -> u64 {
    (bucket.capacity / 10).min(LARGEST_LEASE)
}

/// Refills the bucket, adds back `returned` points (an unused lease), then takes `most` points
/// if the bucket holds them, else `least` if it holds that, else nothing. Returns `{taken
/// (1 or 0), points granted, points left, milliseconds until `least` fits}`.
const TAKE_SCRIPT: &str = r"
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local returned = tonumber(ARGV[3])
local least = tonumber(ARGV[4])
local most = tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'points', 'at')
local points = tonumber(bucket[1])
local at = tonumber(bucket[2])
if points == nil or at == nil then
  points = capacity
  at = now
end
points = math.min(capacity, points + math.max(0, now - at) * rate / 1000 + returned)
local taken = 0
local granted = 0
local wait = 0
if most <= points then
  granted = most
elseif least <= points then
  granted = least
else
  wait = math.ceil((least - points) * 1000 / rate)
end
if least <= points then
  points = points - granted
  taken = 1
end
redis.call('HSET', KEYS[1], 'points', tostring(points), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return {taken, granted, math.floor(points), wait}
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
    /// The cost was taken; about this many points are left (see the module doc).
    Taken { left: u64 },
    /// The bucket holds too little; the cost fits after `retry_after`.
    Refused { left: u64, retry_after: Duration },
    /// Redis could not be asked; nothing was taken.
    Unavailable,
}

/// How much a store keeps in memory.
#[derive(Debug, Clone, Copy)]
pub struct LeaseLimits {
    /// How long a lease is spent before Redis is asked again.
    pub ttl: Duration,
    /// Most clients tracked at once.
    pub max_clients: usize,
}

impl Default for LeaseLimits {
    fn default() -> Self {
        Self {
            ttl: LEASE_TTL,
            max_clients: MAX_TRACKED_CLIENTS,
        }
    }
}

/// The buckets in one Redis, and this replica's leases of them.
pub struct BudgetStore {
    shared: Arc<Shared>,
}

/// What the store and its sweeper share.
struct Shared {
    runtime: tokio::runtime::Handle,
    connection: ConnectionManager,
    script: redis::Script,
    key_prefix: String,
    /// Unix milliseconds until which Redis is not asked (after a failure).
    resting_until_ms: AtomicU64,
    /// A std mutex: it is held only for a few map operations, never across an `.await`.
    leases: Mutex<Leases>,
    limits: LeaseLimits,
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

/// Redis's answer to one script call.
#[derive(Debug, Clone, Copy)]
struct Answer {
    is_taken: bool,
    granted: u64,
    left: u64,
    retry_after: Duration,
}

fn lock(leases: &Mutex<Leases>) -> MutexGuard<'_, Leases> {
    // The map stays consistent between statements, so a panic elsewhere leaves it usable.
    leases.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BudgetStore {
    /// A store on `redis_url` with the default [`LeaseLimits`]; connects lazily, on the first
    /// take.
    pub fn new(redis_url: &SecretString, key_prefix: String) -> Result<Self, BudgetStoreError> {
        Self::with_limits(redis_url, key_prefix, LeaseLimits::default())
    }

    /// A store keeping leases within `limits`.
    pub fn with_limits(
        redis_url: &SecretString,
        key_prefix: String,
        limits: LeaseLimits,
    ) -> Result<Self, BudgetStoreError> {
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
        let shared = Arc::new(Shared {
            runtime: runtime.handle().clone(),
            connection,
            script: redis::Script::new(TAKE_SCRIPT),
            key_prefix,
            resting_until_ms: AtomicU64::new(0),
            leases: Mutex::new(Leases::new(limits)),
            limits,
        });
        runtime.spawn(sweep_until_dropped(Arc::downgrade(&shared)));
        Ok(Self { shared })
    }

    /// Takes `cost` points from `client`'s budget: from this replica's lease when it holds
    /// enough, else from the bucket in Redis together with a new lease.
    pub async fn take(&self, client: &str, bucket: Bucket, cost: u64) -> Take {
        let shared = &self.shared;
        let (kept, returned) = {
            let mut leases = lock(&shared.leases);
            match leases.spend(client, bucket, cost, Instant::now()) {
                Local::Paid { left } => return Take::Taken { left },
                Local::Ask { kept, returned } => (kept, returned),
            }
        };
        if shared.is_resting() {
            // Nothing was sent: the lease stays as it was, to go back once Redis answers.
            let surplus = lock(&shared.leases).restore(client, kept + returned);
            shared.hand_back(surplus);
            return Take::Unavailable;
        }
        let least = cost.saturating_sub(kept);
        let most = least.saturating_add(lease_size(bucket));
        let answer = shared
            .runtime
            .spawn(shared.invocation(client, bucket, returned, least, most))
            .await;
        let answer = match answer {
            Ok(Some(answer)) => answer,
            Ok(None) | Err(_) => {
                shared.rest();
                // `returned` may or may not have reached Redis: it is not counted twice.
                let surplus = lock(&shared.leases).restore(client, kept);
                shared.hand_back(surplus);
                return Take::Unavailable;
            }
        };
        let surplus = if answer.is_taken {
            // granted >= least = cost - kept.
            (kept + answer.granted).saturating_sub(cost)
        } else {
            kept
        };
        let (left, handbacks) = lock(&shared.leases).record_answer(
            client,
            bucket,
            surplus,
            answer.left,
            Instant::now(),
        );
        shared.hand_back(handbacks);
        if answer.is_taken {
            Take::Taken { left }
        } else {
            Take::Refused {
                left,
                retry_after: answer.retry_after,
            }
        }
    }

    /// Gives `points` back to `client` (an operation that cost less than estimated): into this
    /// replica's lease, and only what the lease cannot hold to Redis, without waiting for it.
    pub fn give_back(&self, client: &str, bucket: Bucket, points: u64) {
        if points == 0 {
            return;
        }
        let handback = lock(&self.shared.leases).refund(client, bucket, points);
        self.shared.hand_back(handback);
    }

    /// Hands every lease back to Redis and waits for the answers (a replica shutting down):
    /// after it, the buckets in Redis hold everything this replica had not spent.
    /// While Redis rests after a failure, the leases are dropped instead.
    pub async fn return_leases(&self) {
        let handbacks = lock(&self.shared.leases).drain();
        let shared = &self.shared;
        if shared.is_resting() {
            return;
        }
        let calls: Vec<_> = handbacks
            .into_iter()
            .map(|h| {
                shared
                    .runtime
                    .spawn(shared.invocation(&h.client, h.bucket, h.points, 0, 0))
            })
            .collect();
        for call in calls {
            let _ = call.await;
        }
    }

    /// How many clients this replica tracks now.
    pub fn tracked_clients(&self) -> usize {
        lock(&self.shared.leases).by_client.len()
    }
}

impl Shared {
    /// The script call, bounded by [`REDIS_DEADLINE`]; `None` when Redis failed or was slow.
    fn invocation(
        &self,
        client: &str,
        bucket: Bucket,
        returned: u64,
        least: u64,
        most: u64,
    ) -> impl std::future::Future<Output = Option<Answer>> + Send + 'static {
        let mut connection = self.connection.clone();
        let script = self.script.clone();
        let key = format!("{}{client}", self.key_prefix);
        async move {
            let call = async {
                script
                    .key(key)
                    .arg(bucket.capacity)
                    .arg(bucket.restore_per_second)
                    .arg(returned)
                    .arg(least)
                    .arg(most)
                    .invoke_async::<(u8, i64, i64, i64)>(&mut connection)
                    .await
            };
            match tokio::time::timeout(REDIS_DEADLINE, call).await {
                Ok(Ok((taken, granted, left, wait_ms))) => Some(Answer {
                    is_taken: taken == 1,
                    granted: u64::try_from(granted).unwrap_or(0),
                    left: u64::try_from(left).unwrap_or(0),
                    retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)),
                }),
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

    /// Sends points back to their buckets without waiting; dropped while Redis rests.
    fn hand_back(&self, handbacks: impl IntoIterator<Item = Handback>) {
        let handbacks = handbacks.into_iter().filter(|h| h.points > 0);
        if self.is_resting() {
            return;
        }
        for h in handbacks {
            let invocation = self.invocation(&h.client, h.bucket, h.points, 0, 0);
            self.runtime.spawn(invocation);
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

/// Every [`LEASE_TTL`], hands the leases of clients not answered by Redis within it back;
/// ends when the store is dropped.
async fn sweep_until_dropped(shared: Weak<Shared>) {
    let period = match shared.upgrade() {
        Some(shared) => shared.limits.ttl.max(Duration::from_millis(10)),
        None => return,
    };
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let handbacks = lock(&shared.leases).sweep(Instant::now());
        shared.hand_back(handbacks);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
