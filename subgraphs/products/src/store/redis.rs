//! The catalog's Redis cache: product documents by id, and the browse order of the catalog
//! (all products, and each category path with its sub-categories), so that reads by id and
//! browse pages need no MongoDB round trip once warm.
//!
//! MongoDB stays the only source of truth. Redis may lose anything at any time (a restart, a
//! flush, an unreachable server); that costs speed, never correctness: a lost entry is read
//! again from MongoDB, a lost browse order is rebuilt from it, and every Redis error is
//! reported to the caller as [`CacheError`] so it can fall back to MongoDB.
//!
//! Keys, under the configured prefix `P`:
//! - `P product:v1:<id>`: the product as JSON, with a TTL (so, under a `volatile-*` eviction
//!   policy, only these are ever evicted).
//! - `P fill:<id>`: who may fill the entry. A reader that misses takes a *lease* here (`r:`
//!   and a fresh token, `SET NX`) *before* it reads MongoDB, and fills the entry only if its
//!   lease is still there afterwards (one Lua script compares and sets). A writer overwrites
//!   it with a *block* (`w:` token) and deletes the entry *before* its MongoDB commit, and
//!   after the commit deletes the entry again and any reader's lease. So a fill succeeds only
//!   if no write and no flush happened between the lease and the fill: a reader that read an
//!   old document before a write committed can never store it after the write returned. A
//!   block that is never lifted (the writer lost Redis after committing) expires after
//!   [`WRITE_BLOCK`], by when the commit has long been visible.
//! - `P browse:all`, `P browse:cat:<category path>`: sorted sets of product ids, all with
//!   score 0, so they sort lexicographically, which is the order of the UUIDv7 ids MongoDB
//!   pages by: a cursor (the last id seen) means the same in both.
//! - `P browse:ready`: present while the browse sets are complete. Without it readers use
//!   MongoDB and one of them rebuilds the sets.
//! - `P browse:building`: the token of the rebuild under way. Every write deletes it, and a
//!   rebuild publishes its sets (and `ready`) only if its token is still there, so a rebuild
//!   that may have missed a concurrent write starts again instead of publishing.
//!
//! - `P variant:v1:<variant id>`: the id of the product a variant belongs to. A variant's id
//!   is minted with its product and never moves to another, so the entry is never stale: a
//!   variant its product no longer has is simply not found in the product. Same TTL as the
//!   entries.
//!
//! The scripts name every key they touch (no keys built inside Lua), but they and `MGET`
//! address several keys at once, so this needs one Redis server, not a cluster.

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;
use serde::{Deserialize, Serialize};

use crate::domain::product::{Attribute, Product};
use crate::domain::variant::ProductOption;
use crate::store::StoredVariant;
use emporium_kernel::money::{Currency, Money};

/// How long a writer's block keeps readers from filling an entry if the writer cannot lift
/// it (it lost Redis after its MongoDB commit). Far longer than any commit takes.
pub const WRITE_BLOCK: Duration = Duration::from_secs(60);
/// How long a reader's lease lasts: a reader slower than this (MongoDB stalled) fills nothing.
const READ_LEASE: Duration = Duration::from_secs(10);
/// How long a rebuild of the browse sets may take before another process may try.
const REBUILD_LEASE: Duration = Duration::from_secs(120);
/// Members per `ZADD` when rebuilding.
const REBUILD_CHUNK: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from redis: {0}")]
    Reply(#[from] redis::ParsingError),
}

/// One browse page as the sorted sets hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPage {
    /// Up to `limit + 1` ids after the cursor: one more than asked tells whether a page follows.
    pub ids: Vec<String>,
    pub total_count: Option<u64>,
}

/// What a writer needs to finish: the token of its block.
#[derive(Debug, Clone)]
pub struct WriteBlock {
    token: String,
}

/// How a write changes a product's place in the browse sets.
#[derive(Debug, Clone, Default)]
pub struct BrowseChange {
    /// Category paths (each level) the product is now listed under.
    pub listed_under: Vec<String>,
    /// Category paths it is no longer listed under.
    pub unlisted_from: Vec<String>,
    /// Whether it is in the catalog afterwards (`None`: unchanged).
    pub is_listed: Option<bool>,
}

#[derive(Clone)]
pub struct CatalogCache {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
}

/// The product as the cache stores it. Its own type (not the domain's) so that the stored
/// format changes only on purpose, with the `v1` in its key.
#[derive(Serialize, Deserialize)]
struct CachedProduct {
    id: String,
    sku: String,
    name: String,
    description: String,
    category: String,
    brand: Option<String>,
    price_minor: i64,
    currency: String,
    attributes: Vec<(String, String)>,
    image_url: Option<String>,
    popularity: i64,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    /// Absent in entries cached before variants: a product without options.
    #[serde(default)]
    options: Vec<ProductOption>,
    #[serde(default)]
    variants: Vec<StoredVariant>,
}

impl From<&Product> for CachedProduct {
    fn from(p: &Product) -> Self {
        Self {
            id: p.id.clone(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            category: p.category.clone(),
            brand: p.brand.clone(),
            price_minor: p.price.minor(),
            currency: p.price.currency().to_string(),
            attributes: p
                .attributes
                .iter()
                .map(|a| (a.name.clone(), a.value.clone()))
                .collect(),
            image_url: p.image_url.clone(),
            popularity: p.popularity,
            created_at: p.created_at,
            updated_at: p.updated_at,
            options: p.options.clone(),
            variants: p.variants.iter().map(StoredVariant::of).collect(),
        }
    }
}

impl CachedProduct {
    fn into_product(self) -> Option<Product> {
        let currency = Currency::parse(&self.currency).ok()?;
        let price = Money::from_minor(self.price_minor, currency).ok()?;
        let variants = self
            .variants
            .into_iter()
            .map(|v| v.into_variant(currency).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Product {
            options: self.options,
            variants,
            id: self.id,
            sku: self.sku,
            name: self.name,
            description: self.description,
            category: self.category,
            brand: self.brand,
            price,
            attributes: self
                .attributes
                .into_iter()
                .map(|(name, value)| Attribute { name, value })
                .collect(),
            image_url: self.image_url,
            popularity: self.popularity,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Fills the entries whose lease is still the caller's, and gives the leases back.
/// KEYS: entry 1, lease 1, entry 2, lease 2, ... ARGV: token, TTL seconds, then one document
/// per pair ('' for an id MongoDB does not have: only the lease is given back).
static FILL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local filled = 0
        for i = 1, #KEYS / 2 do
          local entry, lease = KEYS[2 * i - 1], KEYS[2 * i]
          if redis.call('GET', lease) == ARGV[1] then
            local doc = ARGV[2 + i]
            if doc ~= '' then
              redis.call('SET', entry, doc, 'EX', ARGV[2])
              filled = filled + 1
            end
            redis.call('DEL', lease)
          end
        end
        return filled",
    )
});

/// A writer after its commit: drops the entry and any reader's lease (a reader that took one
/// meanwhile may have read the old document), lifts its own block but not another writer's,
/// cancels any rebuild under way, and moves the product in the browse sets.
/// KEYS: entry, fill, building, then ARGV[3] sets to add the id to, then sets to remove it from.
/// ARGV: the writer's token, the product id, how many sets to add to.
static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        redis.call('DEL', KEYS[1])
        local holder = redis.call('GET', KEYS[2])
        if holder and (holder == ARGV[1] or string.sub(holder, 1, 2) == 'r:') then
          redis.call('DEL', KEYS[2])
        end
        redis.call('DEL', KEYS[3])
        local adds = tonumber(ARGV[3])
        for i = 4, 3 + adds do redis.call('ZADD', KEYS[i], 0, ARGV[2]) end
        for i = 4 + adds, #KEYS do redis.call('ZREM', KEYS[i], ARGV[2]) end
        return 1",
    )
});

/// Publishes a rebuild if no write cancelled it. KEYS: building, ready, then ARGV[2] pairs
/// (built set, live set), then live sets that no longer have members. ARGV: the rebuild's
/// token, the number of pairs.
static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local pairs = tonumber(ARGV[2])
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
          for i = 0, pairs - 1 do redis.call('DEL', KEYS[3 + 2 * i]) end
          return 0
        end
        for i = 0, pairs - 1 do
          redis.call('RENAME', KEYS[3 + 2 * i], KEYS[4 + 2 * i])
          redis.call('PERSIST', KEYS[4 + 2 * i])
        end
        for i = 3 + 2 * pairs, #KEYS do redis.call('DEL', KEYS[i]) end
        redis.call('SET', KEYS[2], '1')
        redis.call('DEL', KEYS[1])
        return 1",
    )
});

impl CatalogCache {
    /// Connects (reconnecting by itself after a lost connection). Entries live for `ttl`.
    pub async fn connect(url: &str, prefix: &str, ttl: Duration) -> Result<Self, CacheError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let conn = client.get_connection_manager_with_config(config).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            ttl,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn entry_key(&self, id: &str) -> String {
        format!("{}product:v1:{id}", self.prefix)
    }

    fn variant_key(&self, variant_id: &str) -> String {
        format!("{}variant:v1:{variant_id}", self.prefix)
    }

    /// The product a variant belongs to, if cached.
    pub async fn product_of_variant(&self, variant_id: &str) -> Result<Option<String>, CacheError> {
        Ok(redis::cmd("GET")
            .arg(self.variant_key(variant_id))
            .query_async(&mut self.conn.clone())
            .await?)
    }

    /// Remembers which product a variant belongs to.
    pub async fn remember_variant(
        &self,
        variant_id: &str,
        product_id: &str,
    ) -> Result<(), CacheError> {
        redis::cmd("SET")
            .arg(self.variant_key(variant_id))
            .arg(product_id)
            .arg("EX")
            .arg(self.ttl.as_secs().max(1))
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    fn fill_key(&self, id: &str) -> String {
        format!("{}fill:{id}", self.prefix)
    }

    fn all_key(&self) -> String {
        format!("{}browse:all", self.prefix)
    }

    fn category_key(&self, category: &str) -> String {
        format!("{}browse:cat:{category}", self.prefix)
    }

    fn ready_key(&self) -> String {
        format!("{}browse:ready", self.prefix)
    }

    fn building_key(&self) -> String {
        format!("{}browse:building", self.prefix)
    }

    fn browse_key(&self, category: Option<&str>) -> String {
        category.map_or_else(|| self.all_key(), |c| self.category_key(c))
    }

    /// The cached products of `ids`, in their order (`None`: not cached, or not readable as
    /// a product, which the next fill overwrites). One `MGET`.
    pub async fn entries(&self, ids: &[String]) -> Result<Vec<Option<Product>>, CacheError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.entry_key(id)).collect();
        let raw: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(raw
            .into_iter()
            .map(|doc| {
                doc.and_then(|d| serde_json::from_slice::<CachedProduct>(&d).ok())
                    .and_then(CachedProduct::into_product)
            })
            .collect())
    }

    /// Takes a lease on each of `ids` (missed entries about to be read from MongoDB), all
    /// with one token. Returns the token and, per id, whether the lease was taken (another
    /// reader's lease or a writer's block is left alone). One pipelined round trip.
    pub async fn lease(&self, ids: &[String]) -> Result<(String, Vec<bool>), CacheError> {
        let token = format!("r:{}", uuid::Uuid::new_v4().simple());
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("SET")
                .arg(self.fill_key(id))
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(READ_LEASE.as_millis() as u64);
        }
        let taken: Vec<Option<String>> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok((token, taken.into_iter().map(|t| t.is_some()).collect()))
    }

    /// Stores what MongoDB answered for leased ids (`None`: it has no such product), where
    /// the lease still holds. One script call.
    pub async fn fill(
        &self,
        token: &str,
        read: &[(&str, Option<&Product>)],
    ) -> Result<u64, CacheError> {
        if read.is_empty() {
            return Ok(0);
        }
        let mut invocation = FILL.prepare_invoke();
        invocation.arg(token).arg(self.ttl.as_secs().max(1));
        for (id, product) in read {
            invocation.key(self.entry_key(id)).key(self.fill_key(id));
            let doc = match product {
                Some(p) => serde_json::to_vec(&CachedProduct::from(*p)).unwrap_or_default(),
                None => Vec::new(),
            };
            invocation.arg(doc);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// Before a write's MongoDB commit: blocks fills of the product and drops its entry, in
    /// one transaction. A writer that cannot do this must not write.
    pub async fn block(&self, id: &str) -> Result<WriteBlock, CacheError> {
        let token = format!("w:{}", uuid::Uuid::new_v4().simple());
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.fill_key(id))
            .arg(&token)
            .arg("PX")
            .arg(WRITE_BLOCK.as_millis() as u64)
            .ignore()
            .cmd("DEL")
            .arg(self.entry_key(id))
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(WriteBlock { token })
    }

    /// A block for a write that needs none before its commit (a new product: no reader can
    /// have its entry yet).
    pub fn unblocked() -> WriteBlock {
        WriteBlock {
            token: format!("w:{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// After a write's MongoDB commit: see [`SETTLE`].
    pub async fn settle(
        &self,
        id: &str,
        block: &WriteBlock,
        change: &BrowseChange,
    ) -> Result<(), CacheError> {
        let mut adds: Vec<String> = change
            .listed_under
            .iter()
            .map(|c| self.category_key(c))
            .collect();
        let mut removes: Vec<String> = change
            .unlisted_from
            .iter()
            .map(|c| self.category_key(c))
            .collect();
        match change.is_listed {
            Some(true) => adds.push(self.all_key()),
            Some(false) => removes.push(self.all_key()),
            None => {}
        }
        let mut invocation = SETTLE.prepare_invoke();
        invocation
            .key(self.entry_key(id))
            .key(self.fill_key(id))
            .key(self.building_key())
            .arg(&block.token)
            .arg(id)
            .arg(adds.len());
        for key in adds.iter().chain(&removes) {
            invocation.key(key);
        }
        invocation
            .invoke_async::<i64>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Up to `limit + 1` ids after `after` under `category` (all products when `None`), and
    /// the total when asked; `None` when the browse sets are not complete (not built yet, or
    /// lost). One transaction.
    pub async fn browse(
        &self,
        category: Option<&str>,
        after: Option<&str>,
        limit: usize,
        with_count: bool,
    ) -> Result<Option<IdPage>, CacheError> {
        let key = self.browse_key(category);
        let min = after.map_or_else(|| "-".to_owned(), |a| format!("({a}"));
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("EXISTS")
            .arg(self.ready_key())
            .cmd("ZRANGEBYLEX")
            .arg(&key)
            .arg(min)
            .arg("+")
            .arg("LIMIT")
            .arg(0)
            .arg(limit + 1);
        if with_count {
            pipe.cmd("ZCARD").arg(&key);
        }
        let reply: Vec<redis::Value> = pipe.query_async(&mut self.conn.clone()).await?;
        let mut reply = reply.into_iter();
        let is_ready: bool = from_value(reply.next())?;
        if !is_ready {
            return Ok(None);
        }
        let ids: Vec<String> = from_value(reply.next())?;
        let total_count = if with_count {
            Some(from_value::<u64>(reply.next())?)
        } else {
            None
        };
        Ok(Some(IdPage { ids, total_count }))
    }

    /// Marks the browse sets incomplete (something wrote to MongoDB without going through
    /// this cache, such as seeding): readers use MongoDB until a rebuild.
    pub async fn forget_browse_order(&self) -> Result<(), CacheError> {
        redis::pipe()
            .cmd("DEL")
            .arg(self.ready_key())
            .ignore()
            .cmd("DEL")
            .arg(self.building_key())
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Starts a rebuild: `Some(token)` if no other rebuild holds the lease.
    pub async fn begin_rebuild(&self) -> Result<Option<String>, CacheError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.building_key())
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(REBUILD_LEASE.as_millis() as u64)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(taken.map(|_| token))
    }

    /// Loads every product's (id, category path) under the rebuild's own keys, then publishes
    /// them as the browse sets unless a write cancelled the rebuild meanwhile. Returns whether
    /// it published.
    pub async fn finish_rebuild(
        &self,
        token: &str,
        products: &[(String, Vec<String>)],
    ) -> Result<bool, CacheError> {
        let mut sets: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
        for (id, path) in products {
            sets.entry(self.all_key()).or_default().push(id);
            for category in path {
                sets.entry(self.category_key(category))
                    .or_default()
                    .push(id);
            }
        }
        let staging = |live: &str| format!("{}browse:staging:{token}:{live}", self.prefix);
        let mut conn = self.conn.clone();
        for (live, ids) in &sets {
            for chunk in ids.chunks(REBUILD_CHUNK) {
                let mut cmd = redis::cmd("ZADD");
                cmd.arg(staging(live));
                for id in chunk {
                    cmd.arg(0).arg(*id);
                }
                cmd.query_async::<()>(&mut conn).await?;
            }
            redis::cmd("PEXPIRE")
                .arg(staging(live))
                .arg(REBUILD_LEASE.as_millis() as u64)
                .query_async::<()>(&mut conn)
                .await?;
        }
        let mut stale = self.live_category_keys().await?;
        stale.push(self.all_key());
        stale.retain(|key| !sets.contains_key(key));
        let mut invocation = PUBLISH.prepare_invoke();
        invocation
            .key(self.building_key())
            .key(self.ready_key())
            .arg(token)
            .arg(sets.len());
        for live in sets.keys() {
            invocation.key(staging(live)).key(live);
        }
        for key in &stale {
            invocation.key(key);
        }
        let published: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(published == 1)
    }

    async fn live_category_keys(&self) -> Result<Vec<String>, CacheError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}*", escape_glob(&self.category_key("")));
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

fn from_value<T: redis::FromRedisValue>(value: Option<redis::Value>) -> Result<T, CacheError> {
    Ok(redis::from_redis_value(value.unwrap_or(redis::Value::Nil))?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::variant::{SelectedOption, Variant};

    #[test]
    fn a_cached_product_reads_back_as_the_same_product() {
        let product = Product {
            id: "0193-a".to_owned(),
            sku: "SKU-1".to_owned(),
            name: "Headphones".to_owned(),
            description: "Closed-back".to_owned(),
            category: "Audio > Headphones".to_owned(),
            brand: None,
            price: Money::from_minor(34_999, Currency::USD).expect("money"),
            attributes: vec![Attribute {
                name: "Color".to_owned(),
                value: "Black".to_owned(),
            }],
            image_url: Some("https://example.test/a.jpg".to_owned()),
            popularity: 7,
            created_at: chrono::DateTime::from_timestamp_millis(1_700_000_000_123).expect("time"),
            updated_at: chrono::DateTime::from_timestamp_millis(1_700_000_500_456).expect("time"),
            options: vec![ProductOption {
                name: "Colour".to_owned(),
                values: vec!["Black".to_owned()],
            }],
            variants: vec![Variant {
                id: "v1".to_owned(),
                sku: "HP-BLK".to_owned(),
                title: "Black".to_owned(),
                selected_options: vec![SelectedOption {
                    name: "Colour".to_owned(),
                    value: "Black".to_owned(),
                }],
                price: Money::from_minor(34_999, Currency::USD).expect("money"),
                compare_at_price: Some(Money::from_minor(39_999, Currency::USD).expect("money")),
            }],
        };
        let json = serde_json::to_vec(&CachedProduct::from(&product)).expect("json");
        let back = serde_json::from_slice::<CachedProduct>(&json)
            .expect("parses")
            .into_product();
        assert_eq!(back, Some(product));
    }

    #[test]
    fn prefixes_are_literal_in_scan_patterns() {
        assert_eq!(escape_glob("shop:*[a]?\\"), "shop:\\*\\[a\\]\\?\\\\");
    }
}
