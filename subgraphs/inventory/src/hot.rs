//! The hot counts in Redis, on one server or on a Redis Cluster.
//!
//! Every change to one product is one Lua script, so it is atomic, and every key a script
//! touches carries the same hash tag, so a cluster serves it from one slot. The tags are
//! [`BUCKETS`] buckets that products are spread over (by a stable hash of the product id):
//! enough buckets to spread the products over every master of a cluster, few enough that
//! the per-bucket keys (readiness, the index of products) stay cheap to visit all at once.
//!
//! Keys, under the configured prefix `P` (which may not contain `{` or `}`), with `{b}` the
//! product's bucket; [`HotStock::key`] is the one place that spells them:
//! - `P{b}:ready`: present while the bucket's counts are complete. Redis here keeps nothing on
//!   disk, so after a restart (of the server, or of one master of a cluster) it is gone with
//!   everything else; every script of the bucket then refuses with [`HotError::NotReady`]
//!   (instead of answering "0 in stock") until a rebuild from the ledger has put the counts
//!   back and set it again.
//! - `P{b}:stock:<productId>`: a hash `{ on_hand, reserved }`.
//! - `P{b}:holds:<productId>`: the orders holding units of the product, `{ <orderId>: quantity }`;
//!   an order's field is present exactly while its reservation of the product stands.
//! - `P{b}:products`: a set of the bucket's product ids that have a count or holds, so that a
//!   rebuild and a reconciliation find every key without `SCAN` (which a cluster answers per
//!   node).
//! - `P{b}:op:<opId>`: the delta a stock-setting operation applied, kept a day so that a retried
//!   operation (a redelivered event) reports what it did instead of doing it again.
//!
//! # A reservation of several products
//!
//! The lines of an order name products in different buckets, so no one script can take them
//! all. A reservation is a compensated sequence instead: each line is reserved by its own
//! script, in product-id order; when one is short, the lines reserved so far are released
//! again and the order is rejected. This stays all-or-nothing for every other writer because
//! the ledger ([`crate::ledger`]) holds each product's lock from before the first script to
//! its commit: no other reservation, release or stock change of those products runs in
//! between. Only a reader of `Product.stock` can see, for a moment, units held by an order
//! that is about to be rejected (fewer available than there will be; never more).
//!
//! A process that dies in the middle leaves some lines held without a ledger record, exactly
//! like one that died between its script and its commit did before: the event is redelivered
//! (the inbox has no row for it), and the retry finds the lines it already holds (a script
//! answers "already held" instead of taking them twice), takes the rest or releases them all.
//! An order that is closed before its redelivery has its stray holds released when the late
//! `order.placed` meets the closed reservation. Whatever is left (an event that was never
//! redelivered) shows up in `emporium inventory reconcile` and goes with a rebuild.
//!
//! One server or a cluster: the same keys, scripts and sequence (only a read of many products
//! runs its script once per bucket on a cluster, once in all on one server), so the tests that
//! run both test the code that runs on either; one server is the default, a cluster is opt-in
//! ([`RedisNodes::Cluster`]).

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Script, Value};

use crate::domain::{Line, StockLevel};

/// How long a stock-setting operation's outcome is remembered for retries.
const OP_TTL_SECS: u64 = 24 * 3600;

/// How many hash tags the products are spread over.
pub const BUCKETS: u16 = 128;

#[derive(Debug, thiserror::Error)]
pub enum HotError {
    /// The counts are not loaded (Redis restarted empty, or a rebuild is running).
    #[error("the hot stock counts are not loaded")]
    NotReady,
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from a stock script: {0}")]
    Reply(String),
    /// The key prefix has a `{` or `}`, which would change the keys' hash tags.
    #[error("the Redis key prefix may not contain '{{' or '}}'")]
    Prefix,
    #[error("no Redis Cluster node was given")]
    NoNodes,
}

/// Where the counts live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisNodes {
    /// One Redis server (the default).
    Single(String),
    /// A Redis Cluster, found through any of these nodes.
    Cluster(Vec<String>),
}

/// The bucket (hash tag) a product's keys share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bucket(u16);

impl Bucket {
    /// A stable hash of the product id (FNV-1a), so every process agrees on it.
    pub fn of(product_id: &str) -> Self {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in product_id.as_bytes() {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        // The remainder is below BUCKETS, so it fits.
        Self(u16::try_from(hash % u32::from(BUCKETS)).expect("below BUCKETS"))
    }

    pub fn all() -> impl Iterator<Item = Bucket> {
        (0..BUCKETS).map(Self)
    }
}

/// A key of the hot counts; [`HotStock::key`] spells it.
#[derive(Debug, Clone, Copy)]
pub enum HotKey<'a> {
    Ready(Bucket),
    Products(Bucket),
    Stock(&'a str),
    Holds(&'a str),
    Op { product_id: &'a str, op_id: &'a str },
}

/// One server or a cluster behind one connection type, so that scripts and commands run the
/// same on both.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// How `set_on_hand` treats the current count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetMode {
    /// Set it, refusing a value below what is reserved (an admin's `setStock`).
    Set,
    /// Set it only if the product has no count yet (a new product's initial stock).
    Init,
    /// Set it to what is reserved, so nothing more can be sold (a deleted product).
    Clear,
}

impl SetMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Set => "set",
            Self::Init => "init",
            Self::Clear => "clear",
        }
    }
}

/// What `set_on_hand` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    /// Applied now, or earlier by the same operation id: `delta` is what it added to on hand.
    Applied { delta: i32, level: StockLevel },
    /// Nothing changed (`Init` on a product that already has a count).
    Unchanged { level: StockLevel },
    /// Refused: the new count is below what is reserved.
    BelowReserved { level: StockLevel },
}

/// What reserving an order's lines did. `levels` are the lines' counts afterwards, in the
/// order of the lines given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// Every line is now reserved (some may have been by an earlier attempt).
    Reserved { levels: Vec<StockLevel> },
    /// The order already held every line (a retry of an attempt whose ledger write did not
    /// commit): nothing changed now.
    AlreadyReserved { levels: Vec<StockLevel> },
    /// At least one line is short: nothing is reserved (lines taken on the way were released).
    Rejected { levels: Vec<StockLevel> },
}

/// A bucket's holds to load: product id to (order id, quantity).
type HoldsOfBucket<'a> = BTreeMap<&'a str, Vec<(&'a str, i32)>>;

/// What one line's script did.
enum LineReserve {
    Reserved,
    AlreadyHeld,
    Short,
}

#[derive(Clone)]
pub struct HotStock {
    conn: Connection,
    prefix: String,
}

impl HotStock {
    /// Connects to one server (reconnecting by itself after a lost connection).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, HotError> {
        Self::connect_to(&RedisNodes::Single(url.to_owned()), prefix).await
    }

    /// Connects to one server or a cluster; both reconnect by themselves (a cluster also
    /// follows its slots when they move).
    pub async fn connect_to(nodes: &RedisNodes, prefix: &str) -> Result<Self, HotError> {
        if prefix.contains(['{', '}']) {
            return Err(HotError::Prefix);
        }
        let timeout = Duration::from_secs(5);
        let conn = match nodes {
            RedisNodes::Single(url) => {
                let client = redis::Client::open(url.as_str())?;
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout));
                Connection::Single(client.get_connection_manager_with_config(config).await?)
            }
            RedisNodes::Cluster(urls) => {
                if urls.is_empty() {
                    return Err(HotError::NoNodes);
                }
                let client =
                    redis::cluster::ClusterClient::builder(urls.iter().map(String::as_str))
                        .connection_timeout(timeout)
                        .response_timeout(timeout)
                        .build()?;
                Connection::Cluster(client.get_async_connection().await?)
            }
        };
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Spells a key: the one place that does, so every key of a product carries its bucket's
    /// hash tag (`{b}`, the first braces of the key, which is what a cluster hashes).
    pub fn key(&self, key: HotKey<'_>) -> String {
        spell_key(&self.prefix, key)
    }

    fn conn(&self) -> Connection {
        self.conn.clone()
    }

    pub async fn ping(&self) -> Result<(), HotError> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Whether every bucket's counts are loaded.
    pub async fn is_ready(&self) -> Result<bool, HotError> {
        let mut conn = self.conn();
        for bucket in Bucket::all() {
            let exists: bool = redis::cmd("EXISTS")
                .arg(self.key(HotKey::Ready(bucket)))
                .query_async(&mut conn)
                .await?;
            if !exists {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The counts of `product_ids` (zero for a product never stocked), in their order. One
    /// script reads them all on one server (one round trip however many ids); on a cluster the
    /// same script runs once per bucket among them, since a script's keys must share a slot.
    pub async fn levels(&self, product_ids: &[&str]) -> Result<Vec<StockLevel>, HotError> {
        // KEYS: ARGV[1] readiness keys, then the stock keys. Hashed once per process: this
        // is the hot read path of every page that shows stock.
        static SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
            Script::new(
                r"
            local ready = tonumber(ARGV[1])
            for i = 1, ready do
              if redis.call('EXISTS', KEYS[i]) == 0 then return {'NOT_READY'} end
            end
            local out = {'OK'}
            for i = ready + 1, #KEYS do
              local v = redis.call('HMGET', KEYS[i], 'on_hand', 'reserved')
              out[#out + 1] = tostring(tonumber(v[1]) or 0)
              out[#out + 1] = tostring(tonumber(v[2]) or 0)
            end
            return out",
            )
        });
        let script = &*SCRIPT;
        // Positions of the ids each script reads.
        let groups: Vec<Vec<usize>> = match self.conn {
            Connection::Single(_) => vec![(0..product_ids.len()).collect()],
            Connection::Cluster(_) => {
                let mut by_bucket: BTreeMap<Bucket, Vec<usize>> = BTreeMap::new();
                for (i, id) in product_ids.iter().enumerate() {
                    by_bucket.entry(Bucket::of(id)).or_default().push(i);
                }
                by_bucket.into_values().collect()
            }
        };
        let mut levels = vec![StockLevel::default(); product_ids.len()];
        let mut conn = self.conn();
        for positions in groups.into_iter().filter(|g| !g.is_empty()) {
            let buckets: std::collections::BTreeSet<Bucket> = positions
                .iter()
                .map(|&i| Bucket::of(product_ids[i]))
                .collect();
            let mut invocation = script.arg(buckets.len());
            for bucket in buckets {
                invocation.key(self.key(HotKey::Ready(bucket)));
            }
            for &i in &positions {
                invocation.key(self.key(HotKey::Stock(product_ids[i])));
            }
            let reply: Vec<String> = invocation.invoke_async(&mut conn).await?;
            let (status, rest) = split_status(&reply)?;
            match status {
                "OK" => {
                    let found = parse_levels(rest)?;
                    if found.len() != positions.len() {
                        return Err(HotError::Reply(reply.join(" ")));
                    }
                    for (i, level) in positions.into_iter().zip(found) {
                        levels[i] = level;
                    }
                }
                "NOT_READY" => return Err(HotError::NotReady),
                other => return Err(HotError::Reply(other.to_owned())),
            }
        }
        Ok(levels)
    }

    /// Sets a product's on-hand count (see [`SetMode`]). `op_id` identifies the operation: the
    /// same id again reports the first outcome instead of applying it twice.
    pub async fn set_on_hand(
        &self,
        product_id: &str,
        on_hand: i32,
        mode: SetMode,
        op_id: &str,
    ) -> Result<SetOutcome, HotError> {
        static SCRIPT: &str = r"
            if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOT_READY'} end
            local cur = redis.call('HMGET', KEYS[2], 'on_hand', 'reserved')
            local on_hand = tonumber(cur[1]) or 0
            local reserved = tonumber(cur[2]) or 0
            local done = redis.call('GET', KEYS[3])
            if done then return {'APPLIED', done, tostring(on_hand), tostring(reserved)} end
            local target = tonumber(ARGV[1])
            if ARGV[2] == 'init' and cur[1] then
              return {'UNCHANGED', '0', tostring(on_hand), tostring(reserved)}
            end
            if ARGV[2] == 'clear' then target = reserved end
            if target < reserved then
              return {'BELOW_RESERVED', '0', tostring(on_hand), tostring(reserved)}
            end
            redis.call('HSET', KEYS[2], 'on_hand', target, 'reserved', reserved)
            redis.call('SADD', KEYS[4], ARGV[4])
            local delta = tostring(target - on_hand)
            redis.call('SET', KEYS[3], delta, 'EX', ARGV[3])
            return {'APPLIED', delta, tostring(target), tostring(reserved)}";
        let bucket = Bucket::of(product_id);
        let reply: Vec<String> = Script::new(SCRIPT)
            .key(self.key(HotKey::Ready(bucket)))
            .key(self.key(HotKey::Stock(product_id)))
            .key(self.key(HotKey::Op { product_id, op_id }))
            .key(self.key(HotKey::Products(bucket)))
            .arg(on_hand)
            .arg(mode.as_str())
            .arg(OP_TTL_SECS)
            .arg(product_id)
            .invoke_async(&mut self.conn())
            .await?;
        let (status, rest) = split_status(&reply)?;
        if status == "NOT_READY" {
            return Err(HotError::NotReady);
        }
        let [delta, on_hand, reserved] = rest else {
            return Err(HotError::Reply(reply.join(" ")));
        };
        let level = StockLevel::new(parse_int(on_hand)?, parse_int(reserved)?);
        match status {
            "APPLIED" => Ok(SetOutcome::Applied {
                delta: parse_int(delta)?,
                level,
            }),
            "UNCHANGED" => Ok(SetOutcome::Unchanged { level }),
            "BELOW_RESERVED" => Ok(SetOutcome::BelowReserved { level }),
            other => Err(HotError::Reply(other.to_owned())),
        }
    }

    /// Reserves every line of `order_id` or none (lines must name distinct products): the
    /// compensated sequence of the module doc. The caller holds the products' ledger locks.
    pub async fn reserve(
        &self,
        order_id: &str,
        lines: &[Line],
    ) -> Result<ReserveOutcome, HotError> {
        let mut ordered: Vec<&Line> = lines.iter().collect();
        ordered.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        let mut all_held_before = true;
        let mut short = false;
        for line in &ordered {
            match self.reserve_line(order_id, line).await? {
                LineReserve::Reserved => all_held_before = false,
                LineReserve::AlreadyHeld => {}
                LineReserve::Short => {
                    short = true;
                    break;
                }
            }
        }
        if short {
            // Compensate: give back whatever this order holds of its lines (taken now or by an
            // attempt that died), then report every line's counts.
            self.release(order_id, lines, false).await?;
            let levels = self.levels(&line_ids(lines)).await?;
            return Ok(ReserveOutcome::Rejected { levels });
        }
        let levels = self.levels(&line_ids(lines)).await?;
        Ok(if all_held_before {
            ReserveOutcome::AlreadyReserved { levels }
        } else {
            ReserveOutcome::Reserved { levels }
        })
    }

    async fn reserve_line(&self, order_id: &str, line: &Line) -> Result<LineReserve, HotError> {
        static SCRIPT: &str = r"
            if redis.call('EXISTS', KEYS[1]) == 0 then return 'NOT_READY' end
            if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 'ALREADY' end
            local v = redis.call('HMGET', KEYS[2], 'on_hand', 'reserved')
            local wanted = tonumber(ARGV[2])
            if (tonumber(v[1]) or 0) - (tonumber(v[2]) or 0) < wanted then return 'SHORT' end
            redis.call('HSETNX', KEYS[2], 'on_hand', 0)
            redis.call('HINCRBY', KEYS[2], 'reserved', wanted)
            redis.call('HSET', KEYS[3], ARGV[1], wanted)
            redis.call('SADD', KEYS[4], ARGV[3])
            return 'RESERVED'";
        let id = line.product_id.as_str();
        let bucket = Bucket::of(id);
        let reply: String = Script::new(SCRIPT)
            .key(self.key(HotKey::Ready(bucket)))
            .key(self.key(HotKey::Stock(id)))
            .key(self.key(HotKey::Holds(id)))
            .key(self.key(HotKey::Products(bucket)))
            .arg(order_id)
            .arg(line.quantity)
            .arg(id)
            .invoke_async(&mut self.conn())
            .await?;
        match reply.as_str() {
            "RESERVED" => Ok(LineReserve::Reserved),
            "ALREADY" => Ok(LineReserve::AlreadyHeld),
            "SHORT" => Ok(LineReserve::Short),
            "NOT_READY" => Err(HotError::NotReady),
            _ => Err(HotError::Reply(reply)),
        }
    }

    /// Releases what `order_id` holds of `lines`; with `fulfil` the units also leave on hand
    /// (shipped). A line the order does not hold changes nothing (released before). Returns
    /// the lines' counts afterwards, in the order of the lines given.
    pub async fn release(
        &self,
        order_id: &str,
        lines: &[Line],
        fulfil: bool,
    ) -> Result<Vec<StockLevel>, HotError> {
        static SCRIPT: &str = r"
            if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOT_READY'} end
            local held = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
            if held then
              redis.call('HINCRBY', KEYS[2], 'reserved', -held)
              if ARGV[2] == 'fulfil' then redis.call('HINCRBY', KEYS[2], 'on_hand', -held) end
              redis.call('HDEL', KEYS[3], ARGV[1])
            end
            local v = redis.call('HMGET', KEYS[2], 'on_hand', 'reserved')
            return {'OK', tostring(tonumber(v[1]) or 0), tostring(tonumber(v[2]) or 0)}";
        let script = Script::new(SCRIPT);
        let mut conn = self.conn();
        let mut levels = Vec::with_capacity(lines.len());
        for line in lines {
            let id = line.product_id.as_str();
            let reply: Vec<String> = script
                .key(self.key(HotKey::Ready(Bucket::of(id))))
                .key(self.key(HotKey::Stock(id)))
                .key(self.key(HotKey::Holds(id)))
                .arg(order_id)
                .arg(if fulfil { "fulfil" } else { "release" })
                .invoke_async(&mut conn)
                .await?;
            let (status, rest) = split_status(&reply)?;
            match (status, parse_levels(rest)?.as_slice()) {
                ("OK", [level]) => levels.push(*level),
                ("NOT_READY", _) => return Err(HotError::NotReady),
                _ => return Err(HotError::Reply(reply.join(" "))),
            }
        }
        Ok(levels)
    }

    /// Replaces every count and reservation under the prefix with `levels` and `orders`, then
    /// marks the counts ready. The caller makes sure nothing else writes meanwhile.
    pub async fn load(
        &self,
        levels: &[(String, StockLevel)],
        orders: &[(String, Vec<Line>)],
    ) -> Result<(), HotError> {
        let mut conn = self.conn();
        // Unready first: readers and writers wait for the rebuild instead of seeing half of it.
        for bucket in Bucket::all() {
            redis::cmd("DEL")
                .arg(self.key(HotKey::Ready(bucket)))
                .query_async::<()>(&mut conn)
                .await?;
        }
        // What each bucket gets: its products' counts and holds.
        let mut counts: BTreeMap<Bucket, Vec<(&str, StockLevel)>> = BTreeMap::new();
        for (id, level) in levels {
            counts.entry(Bucket::of(id)).or_default().push((id, *level));
        }
        let mut holds: BTreeMap<Bucket, HoldsOfBucket<'_>> = BTreeMap::new();
        for (order_id, lines) in orders {
            for line in lines {
                holds
                    .entry(Bucket::of(&line.product_id))
                    .or_default()
                    .entry(line.product_id.as_str())
                    .or_default()
                    .push((order_id.as_str(), line.quantity));
            }
        }
        for bucket in Bucket::all() {
            // Every key of a bucket shares its slot, so one pipeline per bucket serves a
            // cluster too.
            let products_key = self.key(HotKey::Products(bucket));
            let old: Vec<String> = redis::cmd("SMEMBERS")
                .arg(&products_key)
                .query_async(&mut conn)
                .await?;
            let mut pipe = redis::pipe();
            for id in &old {
                pipe.del(self.key(HotKey::Stock(id))).ignore();
                pipe.del(self.key(HotKey::Holds(id))).ignore();
            }
            pipe.del(&products_key).ignore();
            for (id, level) in counts.get(&bucket).into_iter().flatten() {
                pipe.hset_multiple(
                    self.key(HotKey::Stock(id)),
                    &[("on_hand", level.on_hand), ("reserved", level.reserved)],
                )
                .ignore();
                pipe.sadd(&products_key, *id).ignore();
            }
            for (id, held) in holds.get(&bucket).into_iter().flatten() {
                pipe.hset_multiple(self.key(HotKey::Holds(id)), held)
                    .ignore();
                pipe.sadd(&products_key, *id).ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        for bucket in Bucket::all() {
            redis::cmd("SET")
                .arg(self.key(HotKey::Ready(bucket)))
                .arg("1")
                .query_async::<()>(&mut conn)
                .await?;
        }
        Ok(())
    }

    /// Every count and reservation under the prefix, for reconciliation.
    pub async fn snapshot(
        &self,
    ) -> Result<(Vec<(String, StockLevel)>, Vec<(String, Vec<Line>)>), HotError> {
        let mut conn = self.conn();
        let mut levels = Vec::new();
        let mut orders: BTreeMap<String, Vec<Line>> = BTreeMap::new();
        for bucket in Bucket::all() {
            let mut ids: Vec<String> = redis::cmd("SMEMBERS")
                .arg(self.key(HotKey::Products(bucket)))
                .query_async(&mut conn)
                .await?;
            ids.sort();
            for id in ids {
                let (on_hand, reserved): (Option<i32>, Option<i32>) = redis::cmd("HMGET")
                    .arg(self.key(HotKey::Stock(&id)))
                    .arg("on_hand")
                    .arg("reserved")
                    .query_async(&mut conn)
                    .await?;
                let held: Vec<(String, i32)> = redis::cmd("HGETALL")
                    .arg(self.key(HotKey::Holds(&id)))
                    .query_async(&mut conn)
                    .await?;
                if on_hand.is_some() || reserved.is_some() {
                    levels.push((
                        id.clone(),
                        StockLevel::new(on_hand.unwrap_or(0), reserved.unwrap_or(0)),
                    ));
                }
                for (order_id, quantity) in held {
                    orders.entry(order_id).or_default().push(Line {
                        product_id: id.clone(),
                        quantity,
                    });
                }
            }
        }
        Ok((levels, orders.into_iter().collect()))
    }
}

fn spell_key(p: &str, key: HotKey<'_>) -> String {
    match key {
        HotKey::Ready(b) => format!("{p}{{{}}}:ready", b.0),
        HotKey::Products(b) => format!("{p}{{{}}}:products", b.0),
        HotKey::Stock(id) => format!("{p}{{{}}}:stock:{id}", Bucket::of(id).0),
        HotKey::Holds(id) => format!("{p}{{{}}}:holds:{id}", Bucket::of(id).0),
        HotKey::Op { product_id, op_id } => {
            format!("{p}{{{}}}:op:{op_id}", Bucket::of(product_id).0)
        }
    }
}

fn line_ids(lines: &[Line]) -> Vec<&str> {
    lines.iter().map(|l| l.product_id.as_str()).collect()
}

fn split_status(reply: &[String]) -> Result<(&str, &[String]), HotError> {
    reply
        .split_first()
        .map(|(status, rest)| (status.as_str(), rest))
        .ok_or_else(|| HotError::Reply("empty reply".to_owned()))
}

fn parse_int(raw: &str) -> Result<i32, HotError> {
    raw.parse()
        .map_err(|_| HotError::Reply(format!("not a count: {raw:?}")))
}

fn parse_levels(pairs: &[String]) -> Result<Vec<StockLevel>, HotError> {
    if !pairs.len().is_multiple_of(2) {
        return Err(HotError::Reply(pairs.join(" ")));
    }
    pairs
        .chunks(2)
        .map(|p| Ok(StockLevel::new(parse_int(&p[0])?, parse_int(&p[1])?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{spell_key, Bucket, HotKey, BUCKETS};

    /// The hash tag a cluster hashes: what is between the first `{` and the next `}`.
    fn tag(key: &str) -> &str {
        let open = key.find('{').expect("a tag");
        let close = key[open..].find('}').expect("closed") + open;
        &key[open + 1..close]
    }

    #[test]
    fn every_key_of_one_product_shares_its_buckets_tag() {
        for id in [
            "p1",
            "0193a4c2-7d1e-7c3a-9f00-1234567890ab",
            "{evil}",
            "a}b{c",
        ] {
            let b = Bucket::of(id);
            // The keys of the product scripts: set_on_hand, reserve_line, release, levels.
            let keys = [
                HotKey::Ready(b),
                HotKey::Products(b),
                HotKey::Stock(id),
                HotKey::Holds(id),
                HotKey::Op {
                    product_id: id,
                    op_id: "{op}",
                },
            ]
            .map(|k| spell_key("shop:inventory:", k));
            for key in &keys {
                assert_eq!(tag(key), b.0.to_string(), "{key}");
            }
        }
    }

    #[test]
    fn buckets_are_stable_and_spread() {
        assert_eq!(Bucket::of("a"), Bucket::of("a"));
        let used: std::collections::BTreeSet<Bucket> = (0..2000)
            .map(|n| Bucket::of(&format!("product-{n}")))
            .collect();
        assert!(used.iter().all(|b| b.0 < BUCKETS));
        assert_eq!(
            used.len(),
            usize::from(BUCKETS),
            "2000 ids reach every bucket"
        );
        assert_eq!(Bucket::all().count(), usize::from(BUCKETS));
    }
}
