//! The Lua scripts that read and change one product's count: reading many counts, setting
//! on hand, reserving an order's lines (the compensated sequence of the `hot` module doc) and
//! releasing them.
//!
//! Each script checks its bucket's readiness key first and answers [`HotError::NotReady`]
//! instead of a count while the bucket is not loaded; a reply the code does not expect is
//! [`HotError::Reply`], and a lost connection is [`HotError::Redis`]. A script either applies
//! all of its change or none of it.

use std::collections::BTreeMap;

use redis::Script;

use super::{Bucket, Connection, HotError, HotKey, HotStock, ReserveOutcome, SetMode, SetOutcome};
use crate::domain::{Line, StockLevel};

/// How long a stock-setting operation's outcome is remembered for retries.
const OP_TTL_SECS: u64 = 24 * 3600;

/// What one line's script did.
enum LineReserve {
    Reserved,
    AlreadyHeld,
    Short,
}

impl HotStock {
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
