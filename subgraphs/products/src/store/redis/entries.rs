//! The product entries by id and who may fill them: reads (`MGET`), a reader's lease and
//! fill, and a writer's block before its MongoDB commit and settle after it (see the keys in
//! the `redis` module doc).
//!
//! A fill stores a document only while the reader's lease still stands, so a document read
//! before a write committed is never stored after it. Every Redis error is a [`CacheError`];
//! the caller then reads MongoDB, and a writer that cannot block must not write.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::cached::CachedProduct;
use super::{BrowseChange, CacheError, CatalogCache, WriteBlock, WRITE_BLOCK};
use crate::domain::product::Product;

/// How long a reader's lease lasts: a reader slower than this (MongoDB stalled) fills nothing.
const READ_LEASE: Duration = Duration::from_secs(10);

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

impl CatalogCache {
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
}
