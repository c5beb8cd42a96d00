//! The browse order: one sorted set of product ids for the whole catalog and one per category
//! path, read a page at a time, and rebuilt from MongoDB when lost.
//!
//! A page is answered only while the sets are complete (`browse:ready`); otherwise `None`,
//! and the caller pages MongoDB. A rebuild holds a lease and publishes its sets only if no
//! write cancelled it meanwhile, so the sets never miss a write; a rebuild that was cancelled
//! publishes nothing and can start again. Every Redis error is a [`CacheError`].

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::{CacheError, CatalogCache, IdPage};

/// How long a rebuild of the browse sets may take before another process may try.
const REBUILD_LEASE: Duration = Duration::from_secs(120);
/// Members per `ZADD` when rebuilding.
const REBUILD_CHUNK: usize = 500;

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

    #[test]
    fn prefixes_are_literal_in_scan_patterns() {
        assert_eq!(escape_glob("shop:*[a]?\\"), "shop:\\*\\[a\\]\\?\\\\");
    }
}
