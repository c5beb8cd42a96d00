//! A rebuild and a snapshot of every count under the prefix: [`HotStock::load`] puts the
//! ledger's counts and holds back after Redis lost them, [`HotStock::snapshot`] reads them all
//! for a reconciliation.
//!
//! A load takes every bucket's readiness key away first, so readers and writers get
//! [`HotError::NotReady`] instead of half a rebuild, and sets them again only once every bucket
//! is written; a load that fails in between leaves the counts not ready (the next rebuild puts
//! them back). Neither visits keys with `SCAN`: each bucket's set of products names them.

use std::collections::BTreeMap;

use super::{Bucket, HotError, HotKey, HotStock};
use crate::domain::{Line, StockLevel};
use emporium_kernel::ids::VariantId;

/// A bucket's holds to load: product id to (order id, quantity).
type HoldsOfBucket<'a> = BTreeMap<&'a str, Vec<(&'a str, i32)>>;

impl HotStock {
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
                // The hold keys were written for lines of parsed ids.
                let Ok(stock_id) = VariantId::parse(id.as_str()) else {
                    return Err(HotError::Reply(format!(
                        "a hold key names the stock id {id:?}"
                    )));
                };
                for (order_id, quantity) in held {
                    orders.entry(order_id).or_default().push(Line {
                        product_id: stock_id.clone(),
                        quantity,
                    });
                }
            }
        }
        Ok((levels, orders.into_iter().collect()))
    }
}
