//! The hot counts in Redis. Every change is one Lua script, so it is atomic: reserving all
//! lines of an order checks and takes every line or none, and no two scripts interleave.
//!
//! Keys, under the configured prefix `P`:
//! - `P ready`: present while the counts are complete. Redis here keeps nothing on disk, so
//!   after a restart it is gone with everything else; every script then refuses with
//!   [`HotError::NotReady`] (instead of answering "0 in stock") until a rebuild from the
//!   ledger has put the counts back and set it again.
//! - `P stock:<productId>`: a hash `{ on_hand, reserved }`.
//! - `P order:<orderId>`: the lines an order holds, `{ <productId>: quantity }`; present
//!   exactly while the order's reservation stands.
//! - `P op:<opId>`: the delta a stock-setting operation applied, kept a day so that a retried
//!   operation (a redelivered event) reports what it did instead of doing it again.
//!
//! The release scripts build stock keys from the prefix inside Lua, which is fine on one
//! Redis server but would not be on a cluster (every key of a script must then be declared).

use redis::aio::ConnectionManager;
use redis::Script;

use crate::domain::{Line, StockLevel};

/// How long a stock-setting operation's outcome is remembered for retries.
const OP_TTL_SECS: u64 = 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum HotError {
    /// The counts are not loaded (Redis restarted empty, or a rebuild is running).
    #[error("the hot stock counts are not loaded")]
    NotReady,
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from a stock script: {0}")]
    Reply(String),
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
    /// Every line is now reserved.
    Reserved { levels: Vec<StockLevel> },
    /// The order already held its reservation (a retry of an attempt whose ledger write did
    /// not commit): nothing changed now.
    AlreadyReserved { levels: Vec<StockLevel> },
    /// At least one line is short: nothing was reserved.
    Rejected { levels: Vec<StockLevel> },
}

/// What releasing (or fulfilling) an order's reservation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// These lines were released; their counts afterwards.
    Done(Vec<(Line, StockLevel)>),
    /// The order held nothing in Redis.
    NothingHeld,
}

#[derive(Clone)]
pub struct HotStock {
    conn: ConnectionManager,
    prefix: String,
}

impl HotStock {
    /// Connects (reconnecting by itself after a lost connection).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, HotError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
            .set_response_timeout(Some(std::time::Duration::from_secs(5)));
        let conn = client.get_connection_manager_with_config(config).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn ready_key(&self) -> String {
        format!("{}ready", self.prefix)
    }

    fn stock_key(&self, product_id: &str) -> String {
        format!("{}stock:{product_id}", self.prefix)
    }

    fn order_key(&self, order_id: &str) -> String {
        format!("{}order:{order_id}", self.prefix)
    }

    pub async fn ping(&self) -> Result<(), HotError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok(())
    }

    pub async fn is_ready(&self) -> Result<bool, HotError> {
        let mut conn = self.conn.clone();
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.ready_key())
            .query_async(&mut conn)
            .await?;
        Ok(exists)
    }

    /// The counts of `product_ids` (zero for a product never stocked): one `EVALSHA` of a
    /// script hashed once per process, however many ids.
    pub async fn levels(&self, product_ids: &[&str]) -> Result<Vec<StockLevel>, HotError> {
        static SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
            Script::new(
                r"
            if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOT_READY'} end
            local out = {'OK'}
            for i = 2, #KEYS do
              local v = redis.call('HMGET', KEYS[i], 'on_hand', 'reserved')
              out[#out + 1] = tostring(tonumber(v[1]) or 0)
              out[#out + 1] = tostring(tonumber(v[2]) or 0)
            end
            return out",
            )
        });
        let mut invocation = SCRIPT.key(self.ready_key());
        for id in product_ids {
            invocation.key(self.stock_key(id));
        }
        let reply: Vec<String> = invocation.invoke_async(&mut self.conn.clone()).await?;
        let (status, rest) = split_status(&reply)?;
        match status {
            "OK" => parse_levels(rest),
            "NOT_READY" => Err(HotError::NotReady),
            other => Err(HotError::Reply(other.to_owned())),
        }
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
            local delta = tostring(target - on_hand)
            redis.call('SET', KEYS[3], delta, 'EX', ARGV[3])
            return {'APPLIED', delta, tostring(target), tostring(reserved)}";
        let reply: Vec<String> = Script::new(SCRIPT)
            .key(self.ready_key())
            .key(self.stock_key(product_id))
            .key(format!("{}op:{op_id}", self.prefix))
            .arg(on_hand)
            .arg(mode.as_str())
            .arg(OP_TTL_SECS)
            .invoke_async(&mut self.conn.clone())
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

    /// Reserves every line of `order_id` or none (lines must name distinct products).
    pub async fn reserve(
        &self,
        order_id: &str,
        lines: &[Line],
    ) -> Result<ReserveOutcome, HotError> {
        static SCRIPT: &str = r"
            if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOT_READY'} end
            local n = #KEYS - 2
            local status = 'ALREADY'
            if redis.call('EXISTS', KEYS[2]) == 0 then
              status = 'RESERVED'
              for i = 1, n do
                local v = redis.call('HMGET', KEYS[i + 2], 'on_hand', 'reserved')
                if (tonumber(v[1]) or 0) - (tonumber(v[2]) or 0) < tonumber(ARGV[i]) then
                  status = 'REJECTED'
                end
              end
              if status == 'RESERVED' then
                for i = 1, n do
                  redis.call('HSETNX', KEYS[i + 2], 'on_hand', 0)
                  redis.call('HINCRBY', KEYS[i + 2], 'reserved', ARGV[i])
                  redis.call('HSET', KEYS[2], ARGV[n + i], ARGV[i])
                end
              end
            end
            local out = {status}
            for i = 1, n do
              local v = redis.call('HMGET', KEYS[i + 2], 'on_hand', 'reserved')
              out[#out + 1] = tostring(tonumber(v[1]) or 0)
              out[#out + 1] = tostring(tonumber(v[2]) or 0)
            end
            return out";
        let script = Script::new(SCRIPT);
        let mut invocation = script.key(self.ready_key());
        invocation.key(self.order_key(order_id));
        for line in lines {
            invocation.key(self.stock_key(&line.product_id));
        }
        for line in lines {
            invocation.arg(line.quantity);
        }
        for line in lines {
            invocation.arg(&line.product_id);
        }
        let reply: Vec<String> = invocation.invoke_async(&mut self.conn.clone()).await?;
        let (status, rest) = split_status(&reply)?;
        if status == "NOT_READY" {
            return Err(HotError::NotReady);
        }
        let levels = parse_levels(rest)?;
        if levels.len() != lines.len() {
            return Err(HotError::Reply(reply.join(" ")));
        }
        match status {
            "RESERVED" => Ok(ReserveOutcome::Reserved { levels }),
            "ALREADY" => Ok(ReserveOutcome::AlreadyReserved { levels }),
            "REJECTED" => Ok(ReserveOutcome::Rejected { levels }),
            other => Err(HotError::Reply(other.to_owned())),
        }
    }

    /// Releases the order's reservation; with `fulfil` the units also leave on hand (shipped).
    pub async fn release(&self, order_id: &str, fulfil: bool) -> Result<ReleaseOutcome, HotError> {
        static SCRIPT: &str = r"
            if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOT_READY'} end
            local items = redis.call('HGETALL', KEYS[2])
            if #items == 0 then return {'NONE'} end
            local out = {'DONE'}
            for i = 1, #items, 2 do
              local key = ARGV[1] .. 'stock:' .. items[i]
              redis.call('HINCRBY', key, 'reserved', -tonumber(items[i + 1]))
              if ARGV[2] == 'fulfil' then
                redis.call('HINCRBY', key, 'on_hand', -tonumber(items[i + 1]))
              end
              local v = redis.call('HMGET', key, 'on_hand', 'reserved')
              out[#out + 1] = items[i]
              out[#out + 1] = items[i + 1]
              out[#out + 1] = tostring(tonumber(v[1]) or 0)
              out[#out + 1] = tostring(tonumber(v[2]) or 0)
            end
            redis.call('DEL', KEYS[2])
            return out";
        let reply: Vec<String> = Script::new(SCRIPT)
            .key(self.ready_key())
            .key(self.order_key(order_id))
            .arg(&self.prefix)
            .arg(if fulfil { "fulfil" } else { "release" })
            .invoke_async(&mut self.conn.clone())
            .await?;
        let (status, rest) = split_status(&reply)?;
        match status {
            "NOT_READY" => Err(HotError::NotReady),
            "NONE" => Ok(ReleaseOutcome::NothingHeld),
            "DONE" if rest.len().is_multiple_of(4) => rest
                .chunks(4)
                .map(|c| {
                    Ok((
                        Line {
                            product_id: c[0].clone(),
                            quantity: parse_int(&c[1])?,
                        },
                        StockLevel::new(parse_int(&c[2])?, parse_int(&c[3])?),
                    ))
                })
                .collect::<Result<Vec<_>, HotError>>()
                .map(ReleaseOutcome::Done),
            _ => Err(HotError::Reply(reply.join(" "))),
        }
    }

    /// Replaces every count and reservation under the prefix with `levels` and `orders`, then
    /// marks the counts ready. The caller makes sure nothing else writes meanwhile.
    pub async fn load(
        &self,
        levels: &[(String, StockLevel)],
        orders: &[(String, Vec<Line>)],
    ) -> Result<(), HotError> {
        let mut conn = self.conn.clone();
        // Unready first: readers and writers wait for the rebuild instead of seeing half of it.
        redis::cmd("DEL")
            .arg(self.ready_key())
            .query_async::<()>(&mut conn)
            .await?;
        for pattern in ["stock:*", "order:*"] {
            let keys = self.keys_matching(pattern).await?;
            for chunk in keys.chunks(500) {
                redis::cmd("DEL")
                    .arg(chunk)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
        }
        for chunk in levels.chunks(500) {
            let mut pipe = redis::pipe();
            for (product_id, level) in chunk {
                pipe.hset_multiple(
                    self.stock_key(product_id),
                    &[("on_hand", level.on_hand), ("reserved", level.reserved)],
                )
                .ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        for chunk in orders.chunks(500) {
            let mut pipe = redis::pipe();
            for (order_id, lines) in chunk {
                let fields: Vec<(&str, i32)> = lines
                    .iter()
                    .map(|l| (l.product_id.as_str(), l.quantity))
                    .collect();
                pipe.hset_multiple(self.order_key(order_id), &fields)
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        redis::cmd("SET")
            .arg(self.ready_key())
            .arg("1")
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Every count and reservation under the prefix, for reconciliation.
    pub async fn snapshot(
        &self,
    ) -> Result<(Vec<(String, StockLevel)>, Vec<(String, Vec<Line>)>), HotError> {
        let mut conn = self.conn.clone();
        let stock_prefix = self.stock_key("");
        let order_prefix = self.order_key("");
        let mut levels = Vec::new();
        for key in self.keys_matching("stock:*").await? {
            let (on_hand, reserved): (Option<i32>, Option<i32>) = redis::cmd("HMGET")
                .arg(&key)
                .arg("on_hand")
                .arg("reserved")
                .query_async(&mut conn)
                .await?;
            let id = key.strip_prefix(&stock_prefix).unwrap_or(&key).to_owned();
            levels.push((
                id,
                StockLevel::new(on_hand.unwrap_or(0), reserved.unwrap_or(0)),
            ));
        }
        let mut orders = Vec::new();
        for key in self.keys_matching("order:*").await? {
            let fields: Vec<(String, i32)> = redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut conn)
                .await?;
            let id = key.strip_prefix(&order_prefix).unwrap_or(&key).to_owned();
            let lines = fields
                .into_iter()
                .map(|(product_id, quantity)| Line {
                    product_id,
                    quantity,
                })
                .collect();
            orders.push((id, lines));
        }
        Ok((levels, orders))
    }

    async fn keys_matching(&self, pattern: &str) -> Result<Vec<String>, HotError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}{pattern}", escape_glob(&self.prefix));
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

/// A prefix used as a literal in a SCAN pattern.
fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
    use super::escape_glob;

    #[test]
    fn prefixes_are_literal_in_scan_patterns() {
        assert_eq!(escape_glob("shop:*[a]?\\"), "shop:\\*\\[a\\]\\?\\\\");
        assert_eq!(escape_glob("emporium:inventory:"), "emporium:inventory:");
    }
}
