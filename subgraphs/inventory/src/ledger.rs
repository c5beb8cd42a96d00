//! The durable record in Postgres: current levels, every movement, reservations per order.
//!
//! Locking, so that the ledger, Redis and the events agree:
//! - Every writer holds a shared advisory lock on the counts for its whole transaction, and
//!   a rebuild or reconciliation holds it exclusively: a rebuild never reads the ledger while
//!   a change that already reached Redis is still on its way to the ledger.
//! - Writers also lock each product they touch (sorted, so never in a cycle) from before
//!   their Redis script to their commit: the ledger's order of a product's movements, and the
//!   sequence of its `stock.changed` events, is the order the changes happened in Redis.

use emporium_kernel::advisory_lock_key as lock_key;
use sqlx::{PgConnection, Row};

use crate::domain::{Line, StockLevel};

/// Why a movement was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementKind {
    Init,
    Set,
    Clear,
    Reserve,
    Release,
    Fulfil,
}

impl MovementKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Init => "INIT",
            Self::Set => "SET",
            Self::Clear => "CLEAR",
            Self::Reserve => "RESERVE",
            Self::Release => "RELEASE",
            Self::Fulfil => "FULFIL",
        }
    }
}

/// Where an order's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationStatus {
    Reserved,
    Rejected,
    Released,
    Fulfilled,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "RESERVED",
            Self::Rejected => "REJECTED",
            Self::Released => "RELEASED",
            Self::Fulfilled => "FULFILLED",
        }
    }

    fn parse(raw: &str) -> Result<Self, sqlx::Error> {
        Ok(match raw {
            "RESERVED" => Self::Reserved,
            "REJECTED" => Self::Rejected,
            "RELEASED" => Self::Released,
            "FULFILLED" => Self::Fulfilled,
            other => return Err(corrupt(format!("reservation status {other:?}"))),
        })
    }
}

fn corrupt(message: String) -> sqlx::Error {
    sqlx::Error::Decode(message.into())
}

fn counts_lock() -> i64 {
    lock_key("emporium-inventory:counts")
}

/// Takes the writer's shared lock on the counts and the locks of `product_ids`.
pub async fn lock_for_write(
    conn: &mut PgConnection,
    product_ids: &[&str],
) -> Result<(), sqlx::Error> {
    lock_counts_shared(conn).await?;
    lock_products(conn, product_ids).await
}

/// The writer's shared lock on the counts alone (for a writer that learns which products it
/// touches only after reading, and then takes [`lock_products`]).
pub async fn lock_counts_shared(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(counts_lock())
        .execute(conn)
        .await?;
    Ok(())
}

/// The locks of `product_ids`, in one global order so that writers never wait in a cycle.
pub async fn lock_products(
    conn: &mut PgConnection,
    product_ids: &[&str],
) -> Result<(), sqlx::Error> {
    let mut keys: Vec<i64> = product_ids
        .iter()
        .map(|id| lock_key(&format!("emporium-inventory:product:{id}")))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The catalogue lock of a product: its catalogue events (created, updated, deleted) are
/// applied one at a time, each reading the variants the one before recorded. Taken after the
/// counts lock and before any stock id's lock; nothing else takes it, so no cycle can form.
pub async fn lock_catalog(conn: &mut PgConnection, product_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock_key(&format!(
            "emporium-inventory:catalog:{product_id}"
        )))
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the counts exclusively (rebuild, reconciliation): waits for writers in flight.
pub async fn lock_exclusively(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(counts_lock())
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends a movement and applies it to the product's level. Returns the level the ledger
/// holds afterwards, which the caller compares with Redis.
pub async fn record(
    conn: &mut PgConnection,
    product_id: &str,
    kind: MovementKind,
    order_id: Option<&str>,
    on_hand_delta: i32,
    reserved_delta: i32,
    hot_after: StockLevel,
) -> Result<StockLevel, sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_movements
             (product_id, kind, order_id, on_hand_delta, reserved_delta, on_hand_after, reserved_after)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(product_id)
    .bind(kind.as_str())
    .bind(order_id)
    .bind(on_hand_delta)
    .bind(reserved_delta)
    .bind(hot_after.on_hand)
    .bind(hot_after.reserved)
    .execute(&mut *conn)
    .await?;
    // Update, else insert: an upsert would check the CHECK constraint against the deltas as
    // if they were the row. The product's advisory lock keeps the two steps from racing.
    let updated = sqlx::query(
        "UPDATE stock_levels
         SET on_hand = on_hand + $2, reserved = reserved + $3, updated_at = now()
         WHERE product_id = $1
         RETURNING on_hand, reserved",
    )
    .bind(product_id)
    .bind(on_hand_delta)
    .bind(reserved_delta)
    .fetch_optional(&mut *conn)
    .await?;
    let row = match updated {
        Some(row) => row,
        None => {
            sqlx::query(
                "INSERT INTO stock_levels (product_id, on_hand, reserved) VALUES ($1, $2, $3)
                 RETURNING on_hand, reserved",
            )
            .bind(product_id)
            .bind(on_hand_delta)
            .bind(reserved_delta)
            .fetch_one(&mut *conn)
            .await?
        }
    };
    let ledger = StockLevel::new(row.try_get("on_hand")?, row.try_get("reserved")?);
    if ledger != hot_after {
        tracing::warn!(
            product_id,
            ?ledger,
            redis = ?hot_after,
            "the ledger and Redis disagree on a product's counts; run `emporium inventory reconcile`"
        );
    }
    Ok(ledger)
}

pub async fn is_deleted(conn: &mut PgConnection, product_id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deleted_products WHERE product_id = $1)")
        .bind(product_id)
        .fetch_one(conn)
        .await
}

pub async fn mark_deleted(conn: &mut PgConnection, product_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO deleted_products (product_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(product_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records the variants of a product with options (a redelivered event changes nothing).
pub async fn record_variants(
    conn: &mut PgConnection,
    product_id: &str,
    variant_ids: &[&str],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO product_variants (variant_id, product_id) \
         SELECT v, $1 FROM unnest($2::text[]) AS v ON CONFLICT DO NOTHING",
    )
    .bind(product_id)
    .bind(variant_ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets variants a product no longer sells, so its stock no longer counts them.
pub async fn forget_variants(
    conn: &mut PgConnection,
    product_id: &str,
    variant_ids: &[&str],
) -> Result<(), sqlx::Error> {
    if variant_ids.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM product_variants WHERE product_id = $1 AND variant_id = ANY($2)")
        .bind(product_id)
        .bind(variant_ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// The sequence number of the newest catalogue event applied to `product_id`'s variants.
pub async fn catalog_sequence(
    conn: &mut PgConnection,
    product_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT sequence FROM catalog_sequences WHERE product_id = $1")
        .bind(product_id)
        .fetch_optional(conn)
        .await
}

/// Records that a catalogue event numbered `sequence` was applied to `product_id` (an older
/// number never replaces a newer one).
pub async fn record_catalog_sequence(
    conn: &mut PgConnection,
    product_id: &str,
    sequence: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO catalog_sequences (product_id, sequence) VALUES ($1, $2) \
         ON CONFLICT (product_id) DO UPDATE \
         SET sequence = GREATEST(catalog_sequences.sequence, EXCLUDED.sequence)",
    )
    .bind(product_id)
    .bind(sequence)
    .execute(conn)
    .await?;
    Ok(())
}

/// The product `stock_id` is a variant of; `None` for a product without options.
pub async fn product_of_variant(
    conn: &mut PgConnection,
    stock_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT product_id FROM product_variants WHERE variant_id = $1")
        .bind(stock_id)
        .fetch_optional(conn)
        .await
}

/// The variant ids of each of `product_ids` that has variants, in one query; a product
/// without options is absent (its stock is under its own id).
pub async fn variants_of(
    conn: &mut PgConnection,
    product_ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<String>>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT product_id, variant_id FROM product_variants \
         WHERE product_id = ANY($1) ORDER BY variant_id",
    )
    .bind(product_ids)
    .fetch_all(conn)
    .await?;
    let mut variants: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for (product_id, variant_id) in rows {
        variants.entry(product_id).or_default().push(variant_id);
    }
    Ok(variants)
}

/// An order's reservation as recorded.
pub struct Reservation {
    pub status: ReservationStatus,
    pub lines: Vec<Line>,
}

fn lines_from_json(order_id: &str, items: serde_json::Value) -> Result<Vec<Line>, sqlx::Error> {
    serde_json::from_value(items)
        .map_err(|e| corrupt(format!("reservation items of order {order_id}: {e}")))
}

/// The order's reservation, locked until the transaction ends.
pub async fn reservation_for_update(
    conn: &mut PgConnection,
    order_id: &str,
) -> Result<Option<Reservation>, sqlx::Error> {
    let Some(row) =
        sqlx::query("SELECT status, items FROM reservations WHERE order_id = $1 FOR UPDATE")
            .bind(order_id)
            .fetch_optional(conn)
            .await?
    else {
        return Ok(None);
    };
    let status: String = row.try_get("status")?;
    Ok(Some(Reservation {
        status: ReservationStatus::parse(&status)?,
        lines: lines_from_json(order_id, row.try_get("items")?)?,
    }))
}

/// Records an order's first reservation outcome. Returns false when the order already has
/// one (the caller then changes nothing).
pub async fn insert_reservation(
    conn: &mut PgConnection,
    order_id: &str,
    status: ReservationStatus,
    lines: &[Line],
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let items = serde_json::to_value(lines).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let inserted = sqlx::query(
        "INSERT INTO reservations (order_id, status, items, reason) VALUES ($1, $2, $3, $4)
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(status.as_str())
    .bind(items)
    .bind(reason)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub async fn update_reservation(
    conn: &mut PgConnection,
    order_id: &str,
    status: ReservationStatus,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reservations SET status = $2, reason = COALESCE($3, reason), updated_at = now()
         WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(status.as_str())
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// Everything the hot counts are rebuilt from: every product's level and the lines of every
/// standing reservation.
pub struct LedgerSnapshot {
    pub levels: Vec<(String, StockLevel)>,
    pub reserved_orders: Vec<(String, Vec<Line>)>,
}

pub async fn snapshot(conn: &mut PgConnection) -> Result<LedgerSnapshot, sqlx::Error> {
    let levels =
        sqlx::query("SELECT product_id, on_hand, reserved FROM stock_levels ORDER BY product_id")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|row| {
                Ok((
                    row.try_get("product_id")?,
                    StockLevel::new(row.try_get("on_hand")?, row.try_get("reserved")?),
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let reserved_orders = sqlx::query(
        "SELECT order_id, items FROM reservations WHERE status = 'RESERVED' ORDER BY order_id",
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|row| {
        let order_id: String = row.try_get("order_id")?;
        let lines = lines_from_json(&order_id, row.try_get("items")?)?;
        Ok((order_id, lines))
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(LedgerSnapshot {
        levels,
        reserved_orders,
    })
}

/// Each product's level as the sum of its movements (what `stock_levels` must equal).
pub async fn movement_sums(
    conn: &mut PgConnection,
) -> Result<Vec<(String, StockLevel)>, sqlx::Error> {
    sqlx::query(
        "SELECT product_id, sum(on_hand_delta)::int AS on_hand, sum(reserved_delta)::int AS reserved
         FROM stock_movements GROUP BY product_id ORDER BY product_id",
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|row| {
        Ok((
            row.try_get("product_id")?,
            StockLevel::new(row.try_get("on_hand")?, row.try_get("reserved")?),
        ))
    })
    .collect()
}
