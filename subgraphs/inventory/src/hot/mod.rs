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

mod keys;
mod rebuild;
mod scripts;

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::domain::StockLevel;

use keys::spell_key;
pub use keys::{Bucket, HotKey};

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
}
