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

mod browse;
mod cached;
mod entries;

use std::time::Duration;

use redis::aio::ConnectionManager;

/// How long a writer's block keeps readers from filling an entry if the writer cannot lift
/// it (it lost Redis after its MongoDB commit). Far longer than any commit takes.
pub const WRITE_BLOCK: Duration = Duration::from_secs(60);

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
}
