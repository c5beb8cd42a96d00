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

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hive_router::tokio;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

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

/// One client's lease on this replica.
#[derive(Debug)]
struct Lease {
    bucket: Bucket,
    /// Points taken from Redis and not spent yet.
    points: u64,
    /// What Redis held after its last answer for this client.
    redis_left: u64,
    /// When Redis last answered for this client: the lease is spent until [`LeaseLimits::ttl`]
    /// after it.
    answered_at: Instant,
    /// [`Leases::clock`] when the client was last seen, for eviction.
    last_seen: u64,
}

impl Lease {
    fn left(&self) -> u64 {
        self.redis_left
            .saturating_add(self.points)
            .min(self.bucket.capacity)
    }
}

/// Points to hand back to a client's bucket in Redis.
#[derive(Debug, PartialEq, Eq)]
struct Handback {
    client: String,
    bucket: Bucket,
    points: u64,
}

/// What a take can do without Redis.
#[derive(Debug, PartialEq, Eq)]
enum Local {
    /// The lease paid; this much is left.
    Paid { left: u64 },
    /// Redis must be asked: `kept` points of a fresh lease go towards the cost, `returned`
    /// points of a stale one go back.
    Ask { kept: u64, returned: u64 },
}

/// Every client's lease on this replica: the arithmetic, without I/O.
#[derive(Debug)]
struct Leases {
    by_client: HashMap<String, Lease>,
    /// Counts accesses; orders clients by when they were last seen.
    clock: u64,
    limits: LeaseLimits,
}

impl Leases {
    fn new(limits: LeaseLimits) -> Self {
        Self {
            by_client: HashMap::new(),
            clock: 0,
            limits,
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Pays `cost` from the client's fresh lease if it holds enough; otherwise withdraws the
    /// whole lease for the ask to Redis (kept towards the cost if fresh, returned if stale).
    fn spend(&mut self, client: &str, bucket: Bucket, cost: u64, now: Instant) -> Local {
        let tick = self.tick();
        let limits_ttl = self.limits.ttl;
        let Some(lease) = self.by_client.get_mut(client) else {
            return Local::Ask {
                kept: 0,
                returned: 0,
            };
        };
        lease.last_seen = tick;
        let is_fresh =
            lease.bucket == bucket && now.saturating_duration_since(lease.answered_at) < limits_ttl;
        if is_fresh && lease.points >= cost {
            lease.points -= cost;
            return Local::Paid { left: lease.left() };
        }
        let points = std::mem::take(&mut lease.points);
        if is_fresh {
            Local::Ask {
                kept: points,
                returned: 0,
            }
        } else {
            Local::Ask {
                kept: 0,
                returned: points,
            }
        }
    }

    /// Records Redis's answer: `points` more for the client's lease (what a grant left over,
    /// or what a refused take kept), and what Redis holds. Returns the client's `left` and
    /// what must go back to Redis (a lease grown past its size, clients evicted to make room).
    fn record_answer(
        &mut self,
        client: &str,
        bucket: Bucket,
        points: u64,
        redis_left: u64,
        now: Instant,
    ) -> (u64, Vec<Handback>) {
        let tick = self.tick();
        let mut handbacks = Vec::new();
        if !self.by_client.contains_key(client) {
            handbacks.extend(self.make_room());
        }
        let lease = self
            .by_client
            .entry(client.to_owned())
            .or_insert_with(|| Lease {
                bucket,
                points: 0,
                redis_left,
                answered_at: now,
                last_seen: tick,
            });
        if lease.bucket != bucket {
            // The client's bucket changed (an admin's role was taken away): its old lease
            // belongs to the same key, so it goes back there.
            handbacks.push(Handback {
                client: client.to_owned(),
                bucket,
                points: std::mem::take(&mut lease.points),
            });
            lease.bucket = bucket;
        }
        lease.points = lease.points.saturating_add(points);
        lease.redis_left = redis_left;
        lease.answered_at = now;
        lease.last_seen = tick;
        handbacks.extend(Self::trim(client, lease));
        handbacks.retain(|h| h.points > 0);
        (lease.left(), handbacks)
    }

    /// Puts points withdrawn for an ask that failed back into the client's lease, if it is
    /// still tracked (else they are lost: Redis cannot be told now).
    fn restore(&mut self, client: &str, points: u64) -> Option<Handback> {
        let lease = self.by_client.get_mut(client)?;
        lease.points = lease.points.saturating_add(points);
        Self::trim(client, lease)
    }

    /// Adds a refund to the client's lease; what the lease cannot hold (or the whole refund,
    /// when the client is not tracked with this bucket) goes back to Redis.
    fn refund(&mut self, client: &str, bucket: Bucket, points: u64) -> Option<Handback> {
        match self.by_client.get_mut(client) {
            Some(lease) if lease.bucket == bucket => {
                lease.points = lease.points.saturating_add(points);
                Self::trim(client, lease)
            }
            _ => Some(Handback {
                client: client.to_owned(),
                bucket,
                points,
            }),
        }
    }

    /// Cuts a lease down to [`lease_size`]; the surplus goes back.
    fn trim(client: &str, lease: &mut Lease) -> Option<Handback> {
        let size = lease_size(lease.bucket);
        if lease.points <= size {
            return None;
        }
        let surplus = lease.points - size;
        lease.points = size;
        Some(Handback {
            client: client.to_owned(),
            bucket: lease.bucket,
            points: surplus,
        })
    }

    /// When the map is full: forgets the least recently seen quarter of the clients (at least
    /// one) and returns their leases.
    fn make_room(&mut self) -> Vec<Handback> {
        if self.by_client.len() < self.limits.max_clients.max(1) {
            return Vec::new();
        }
        let mut seen: Vec<u64> = self.by_client.values().map(|l| l.last_seen).collect();
        let cut = (seen.len() / 4).max(1) - 1;
        let (_, oldest_kept, _) = seen.select_nth_unstable(cut);
        let oldest_kept = *oldest_kept;
        self.remove_where(|lease| lease.last_seen <= oldest_kept)
    }

    /// Forgets the clients whose lease is older than the TTL and returns their leases.
    fn sweep(&mut self, now: Instant) -> Vec<Handback> {
        let ttl = self.limits.ttl;
        self.remove_where(|lease| now.saturating_duration_since(lease.answered_at) >= ttl)
    }

    /// Forgets every client and returns every lease.
    fn drain(&mut self) -> Vec<Handback> {
        self.remove_where(|_| true)
    }

    fn remove_where(&mut self, mut doomed: impl FnMut(&Lease) -> bool) -> Vec<Handback> {
        let mut handbacks = Vec::new();
        self.by_client.retain(|client, lease| {
            if !doomed(lease) {
                return true;
            }
            if lease.points > 0 {
                handbacks.push(Handback {
                    client: client.clone(),
                    bucket: lease.bucket,
                    points: lease.points,
                });
            }
            false
        });
        handbacks
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,000 points refilled at 1 a second: leases of 100, and a refill slow enough that a
    /// test can tell a returned lease from it.
    const BUCKET: Bucket = Bucket {
        capacity: 1_000,
        restore_per_second: 1,
    };

    /// A million points at 1 a second: leases of [`LARGEST_LEASE`].
    const BIG: Bucket = Bucket {
        capacity: 1_000_000,
        restore_per_second: 1,
    };

    fn limits(ttl: Duration, max_clients: usize) -> LeaseLimits {
        LeaseLimits { ttl, max_clients }
    }

    // The lease arithmetic, without Redis.

    #[test]
    fn a_fresh_lease_pays_until_it_runs_short_then_goes_towards_the_ask() {
        let mut leases = Leases::new(limits(Duration::from_secs(60), 10));
        let now = Instant::now();
        assert_eq!(
            leases.spend("c", BUCKET, 21, now),
            Local::Ask {
                kept: 0,
                returned: 0
            }
        );
        // Redis granted 21 + 100 and holds 879.
        let (left, handbacks) = leases.record_answer("c", BUCKET, 100, 879, now);
        assert_eq!((left, handbacks), (979, vec![]));
        assert_eq!(
            leases.spend("c", BUCKET, 60, now),
            Local::Paid { left: 919 }
        );
        assert_eq!(
            leases.spend("c", BUCKET, 40, now),
            Local::Paid { left: 879 }
        );
        assert_eq!(
            leases.spend("c", BUCKET, 1, now),
            Local::Ask {
                kept: 0,
                returned: 0
            }
        );
        leases.record_answer("c", BUCKET, 100, 778, now);
        assert_eq!(
            leases.spend("c", BUCKET, 150, now),
            Local::Ask {
                kept: 100,
                returned: 0
            }
        );
        assert_eq!(leases.by_client["c"].points, 0, "withdrawn for the ask");
    }

    #[test]
    fn a_stale_lease_or_one_of_another_bucket_goes_back_with_the_next_ask() {
        let ttl = Duration::from_secs(1);
        let mut leases = Leases::new(limits(ttl, 10));
        let then = Instant::now();
        leases.record_answer("c", BUCKET, 100, 879, then);
        assert_eq!(
            leases.spend("c", BUCKET, 1, then + ttl),
            Local::Ask {
                kept: 0,
                returned: 100
            }
        );
        leases.record_answer("c", BUCKET, 100, 879, then);
        let admin = Bucket {
            capacity: 4_000,
            restore_per_second: 4,
        };
        assert_eq!(
            leases.spend("c", admin, 1, then),
            Local::Ask {
                kept: 0,
                returned: 100
            }
        );
    }

    #[test]
    fn refunds_fill_the_lease_and_only_what_it_cannot_hold_goes_back() {
        let mut leases = Leases::new(limits(Duration::from_secs(60), 10));
        let now = Instant::now();
        leases.record_answer("c", BUCKET, 30, 500, now);
        assert_eq!(leases.refund("c", BUCKET, 70), None);
        assert_eq!(leases.by_client["c"].points, 100);
        assert_eq!(
            leases.refund("c", BUCKET, 25),
            Some(Handback {
                client: "c".into(),
                bucket: BUCKET,
                points: 25
            })
        );
        assert_eq!(
            leases.by_client["c"].points, 100,
            "a lease never outgrows its size"
        );
        // A client not tracked (evicted meanwhile) gets its refund in Redis.
        assert_eq!(
            leases.refund("gone", BUCKET, 5),
            Some(Handback {
                client: "gone".into(),
                bucket: BUCKET,
                points: 5
            })
        );
        // Concurrent grants past the size are cut down too.
        let (_, handbacks) = leases.record_answer("c", BUCKET, 100, 400, now);
        assert_eq!(
            handbacks,
            vec![Handback {
                client: "c".into(),
                bucket: BUCKET,
                points: 100
            }]
        );
    }

    #[test]
    fn tracked_clients_stay_within_the_limit_and_evicted_leases_go_back() {
        let mut leases = Leases::new(limits(Duration::from_secs(60), 8));
        let now = Instant::now();
        let mut handed_back = 0;
        for i in 0..1_000 {
            let (_, handbacks) = leases.record_answer(&format!("c{i}"), BUCKET, 7, 900, now);
            assert!(
                leases.by_client.len() <= 8,
                "{} tracked",
                leases.by_client.len()
            );
            handed_back += handbacks.iter().map(|h| h.points).sum::<u64>();
            // The most recently seen client is never the one evicted.
            leases.spend("c0", BUCKET, 0, now);
        }
        let held: u64 = leases.by_client.values().map(|l| l.points).sum();
        assert_eq!(
            handed_back + held,
            7 * 1_000,
            "every evicted lease goes back"
        );
        assert!(
            leases.by_client.contains_key("c0"),
            "the busiest client stays"
        );
        assert!(leases.by_client.contains_key("c999"));
    }

    #[test]
    fn a_small_bucket_gets_no_lease_and_a_large_one_a_bounded_lease() {
        let bucket = |capacity| Bucket {
            capacity,
            restore_per_second: 1,
        };
        assert_eq!(lease_size(bucket(9)), 0);
        assert_eq!(lease_size(bucket(100)), 10);
        assert_eq!(lease_size(bucket(5_000)), 500);
        assert_eq!(lease_size(bucket(1_000_000_000)), LARGEST_LEASE);
    }

    // Against the local Redis.

    /// A key prefix of its own on the local Redis (`EMPORIUM_TEST_REDIS_URL`, by default
    /// 127.0.0.1:6379); its keys are deleted on drop.
    struct TestRedis {
        url: String,
        prefix: String,
    }

    impl TestRedis {
        fn new() -> Self {
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let url = std::env::var("EMPORIUM_TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
            let prefix = format!(
                "emporium-test-budget:{}-{}-{}:",
                std::process::id(),
                now_ms(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            Self { url, prefix }
        }

        fn store(&self, limits: LeaseLimits) -> BudgetStore {
            BudgetStore::with_limits(&self.url.clone().into(), self.prefix.clone(), limits)
                .expect("a store")
        }

        fn connection(&self) -> redis::Connection {
            redis::Client::open(self.url.as_str())
                .and_then(|client| client.get_connection())
                .expect("the local Redis")
        }

        /// The bucket's stored points and the time of its last script call.
        fn bucket(&self, client: &str) -> (f64, String) {
            let (points, at): (Option<f64>, Option<String>) = redis::cmd("HMGET")
                .arg(format!("{}{client}", self.prefix))
                .arg("points")
                .arg("at")
                .query(&mut self.connection())
                .expect("HMGET");
            (points.expect("a bucket"), at.expect("a bucket"))
        }

        fn delete(&self, client: &str) {
            let _: () = redis::cmd("DEL")
                .arg(format!("{}{client}", self.prefix))
                .query(&mut self.connection())
                .expect("DEL");
        }

        /// Waits until the bucket holds at least `points` (a return landed).
        fn wait_for(&self, client: &str, points: f64) {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (held, _) = self.bucket(client);
                if held >= points {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "{client}'s bucket holds {held}, never {points}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    impl Drop for TestRedis {
        fn drop(&mut self) {
            let mut connection = self.connection();
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", self.prefix))
                .query(&mut connection)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut connection);
            }
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    /// Asserts `actual` is `expected` plus at most the refill since `since` (1 point a second).
    fn assert_near(actual: u64, expected: u64, since: Instant, what: &str) {
        let refill = since.elapsed().as_secs() + 1;
        assert!(
            (expected..=expected + refill).contains(&actual),
            "{what}: {actual}, expected {expected} (+ up to {refill} refilled)"
        );
    }

    fn taken(take: Take) -> u64 {
        match take {
            Take::Taken { left } => left,
            other => panic!("expected the cost taken, got {other:?}"),
        }
    }

    #[test]
    fn leases_are_spent_locally_refunded_locally_and_shrink_to_the_cost_near_the_end() {
        let redis = TestRedis::new();
        let store = redis.store(limits(Duration::from_secs(60), 10));
        let started = Instant::now();
        block_on(async {
            // 21 and a lease of 100 from Redis.
            assert_near(
                taken(store.take("c", BUCKET, 21).await),
                979,
                started,
                "left",
            );
            let (points, at) = redis.bucket("c");
            assert_near(points as u64, 879, started, "Redis");

            // Paid by the lease and refunded to it: Redis is not called.
            assert_near(
                taken(store.take("c", BUCKET, 5).await),
                974,
                started,
                "left",
            );
            store.give_back("c", BUCKET, 3);
            assert_eq!(redis.bucket("c"), (points, at), "no script call");

            // 98 in the lease: Redis gives the other 22 and a new lease of 100.
            assert_near(
                taken(store.take("c", BUCKET, 120).await),
                857,
                started,
                "left",
            );
            assert_near(redis.bucket("c").0 as u64, 757, started, "Redis");

            // A refund the lease cannot hold goes to Redis.
            store.give_back("c", BUCKET, 50);
            redis.wait_for("c", 807.0);

            // Near the end: Redis holds about 807. 650 + a lease of 100 fit...
            assert_near(
                taken(store.take("c", BUCKET, 750).await),
                157,
                started,
                "left",
            );
            // ...but of about 57, only the 50 this operation needs (and no lease) ...
            let left = taken(store.take("c", BUCKET, 150).await);
            assert_near(left, 7, started, "left");
            assert_eq!(
                store.shared.leases.lock().expect("lock").by_client["c"].points,
                0
            );
            // ... and the next operation is answered exactly by Redis.
            match store.take("c", BUCKET, 40).await {
                Take::Refused { left, retry_after } => {
                    assert!(left < 40, "{left}");
                    let wait = retry_after.as_secs_f64();
                    let missing = (40 - left) as f64;
                    assert!(
                        missing - 1.0 <= wait && wait <= missing,
                        "{retry_after:?} for {missing} missing points at 1 a second"
                    );
                }
                other => panic!("expected a refusal, got {other:?}"),
            }
        });
    }

    #[test]
    fn two_stores_sharing_one_redis_overspend_by_at_most_one_lease_each() {
        let redis = TestRedis::new();
        let stores = [
            Arc::new(redis.store(limits(Duration::from_secs(60), 10))),
            Arc::new(redis.store(limits(Duration::from_secs(60), 10))),
        ];
        let lease = lease_size(BUCKET);
        block_on(async {
            // Each store holds a whole lease; then the bucket is full again (as after a long
            // pause): the worst case, capacity + 2 leases at hand.
            for store in &stores {
                taken(store.take("c", BUCKET, 1).await);
            }
            redis.delete("c");
            let started = Instant::now();
            let spent = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for (s, store) in stores.iter().enumerate() {
                for t in 0..8u64 {
                    let (store, spent) = (store.clone(), spent.clone());
                    tasks.push(tokio::spawn(async move {
                        for n in 0u64.. {
                            let cost = 1 + (n + t + s as u64) % 7;
                            match store.take("c", BUCKET, cost).await {
                                Take::Taken { .. } => {
                                    // Every third operation costs half its estimate.
                                    let unspent = if n % 3 == 0 { cost / 2 } else { 0 };
                                    spent.fetch_add(cost - unspent, Ordering::SeqCst);
                                    store.give_back("c", BUCKET, unspent);
                                }
                                Take::Refused { .. } => return,
                                Take::Unavailable => {
                                    panic!("Redis did not answer within {REDIS_DEADLINE:?}")
                                }
                            }
                        }
                    }));
                }
            }
            for task in tasks {
                task.await.expect("a task");
            }
            let spent = spent.load(Ordering::SeqCst);
            let refill = started.elapsed().as_secs() + 1;
            assert!(
                spent <= BUCKET.capacity + 2 * lease + refill,
                "spent {spent} of a budget of {} with two leases of {lease}",
                BUCKET.capacity
            );
            // Nothing was lost or invented: once both stores returned their leases, Redis
            // holds what was not spent.
            for store in &stores {
                store.return_leases().await;
            }
            let total = (BUCKET.capacity + 2 * lease) as f64;
            redis.wait_for("c", total - spent as f64);
            let held = redis.bucket("c").0 as u64;
            assert!(
                spent + held <= BUCKET.capacity + 2 * lease + refill,
                "spent {spent} and {held} in Redis"
            );
        });
    }

    #[test]
    fn quiet_clients_leases_are_swept_back_to_redis() {
        let redis = TestRedis::new();
        let store = redis.store(limits(Duration::from_secs(2), 10));
        block_on(async {
            taken(store.take("c", BIG, 1).await);
        });
        let held = store.shared.leases.lock().expect("lock").by_client["c"].points;
        assert_eq!(held, LARGEST_LEASE, "a lease was taken");
        // The refill alone would take 500 s to give this back.
        redis.wait_for("c", 999_999.0);
        assert_eq!(store.tracked_clients(), 0);
    }

    #[test]
    fn a_store_tracks_at_most_max_clients_and_hands_evicted_leases_back() {
        let redis = TestRedis::new();
        let store = redis.store(limits(Duration::from_secs(600), 8));
        block_on(async {
            for i in 0..40 {
                taken(store.take(&format!("c{i}"), BIG, 1).await);
                assert!(store.tracked_clients() <= 8, "{}", store.tracked_clients());
            }
        });
        // c0 was evicted long ago; its lease of 500 went back (the refill would take 500 s).
        redis.wait_for("c0", 999_999.0);
    }
}
