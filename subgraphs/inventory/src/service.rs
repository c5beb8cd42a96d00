//! The inventory's operations: each one changes Redis with atomic per-product scripts (an
//! order's several products in the compensated sequence of [`crate::hot`]) and records the
//! change, with its events, in one Postgres transaction (see [`crate::ledger`] for the locks,
//! held from before the first script to the commit).
//!
//! Failure between the two is healed by retrying the same operation: the scripts recognise a
//! repeat (a line the order already holds, a stock operation id already applied, a line whose
//! hold Redis already released) and the ledger then records what Redis did. Event handlers retry by redelivery; an admin's `setStock` undoes its Redis change when
//! its transaction fails. When Redis has lost its counts, operations wait for a rebuild from
//! the ledger instead of answering from empty counts.

use std::collections::BTreeMap;

use emporium_kernel::events::contract::inventory::ReleaseReason;
use emporium_kernel::events::outbox::postgres as outbox;
use emporium_kernel::events::{inbox, Envelope, EventDraft};
use emporium_kernel::trace::TraceContext;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use emporium_kernel::ids::VariantId;

use crate::domain::{shortages, Line, Settlement, StockLevel};
use crate::events::{self as inventory_events, EVENT_SOURCE};
use crate::hot::{HotError, HotStock, ReserveOutcome, SetMode, SetOutcome};
use crate::ledger::{self, MovementKind, ReservationStatus};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("hot stock counts: {0}")]
    Hot(#[from] HotError),
    #[error("inventory ledger: {0}")]
    Database(#[from] sqlx::Error),
}

/// What an admin's `setStock` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetStockOutcome {
    Set(StockLevel),
    /// Refused: more units than that are reserved for orders.
    BelowReserved(StockLevel),
    /// Refused: the catalog deleted the product.
    ProductDeleted,
    /// Refused: the product has variants, whose stock is set one by one.
    HasVariants,
}

/// What handling an order event did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderOutcome {
    Reserved,
    Rejected(Vec<crate::domain::Shortage>),
    Released,
    Fulfilled,
    /// The event was handled before, or does not apply to the order's reservation now.
    NoChange,
}

/// Differences between Redis and the ledger, as `reconcile` finds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Redis has lost its counts (they are rebuilt on the next use or by `rebuild`).
    pub not_loaded: bool,
    /// (product, Redis, ledger levels, sum of the ledger's movements)
    pub products: Vec<(String, StockLevel, StockLevel, StockLevel)>,
    /// (order, lines Redis holds, lines the ledger has reserved)
    pub orders: Vec<(String, Vec<Line>, Vec<Line>)>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        !self.not_loaded && self.products.is_empty() && self.orders.is_empty()
    }
}

/// What a rebuild loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub products: usize,
    pub reservations: usize,
}

#[derive(Clone)]
pub struct Inventory {
    pool: PgPool,
    hot: HotStock,
}

fn ids(lines: &[Line]) -> Vec<&str> {
    lines.iter().map(|l| l.product_id.as_str()).collect()
}

impl Inventory {
    pub fn new(pool: PgPool, hot: HotStock) -> Self {
        Self { pool, hot }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn hot(&self) -> &HotStock {
        &self.hot
    }

    /// The counts of a product (zero for one never stocked).
    pub async fn stock(&self, product_id: &str) -> Result<StockLevel, InventoryError> {
        Ok(self
            .stocks(&[product_id])
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    /// The counts of several products, each the sum of its variants' (a product without
    /// options is its own variant), in their order: one Postgres query for which products have
    /// variants, then one Redis round trip for every count.
    pub async fn product_stocks(
        &self,
        product_ids: &[&str],
    ) -> Result<Vec<StockLevel>, InventoryError> {
        let mut conn = self.pool.acquire().await?;
        let variants = ledger::variants_of(&mut conn, product_ids).await?;
        drop(conn);
        let stock_ids_of = |product_id: &str| -> Vec<String> {
            variants
                .get(product_id)
                .cloned()
                .unwrap_or_else(|| vec![product_id.to_owned()])
        };
        let all: Vec<String> = product_ids.iter().flat_map(|id| stock_ids_of(id)).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut levels = self.stocks(&refs).await?.into_iter();
        Ok(product_ids
            .iter()
            .map(|id| {
                let parts: Vec<StockLevel> = levels.by_ref().take(stock_ids_of(id).len()).collect();
                crate::domain::sum_levels(&parts)
            })
            .collect())
    }

    /// The counts of several variants (a product without options is its own), in their order
    /// (zero for one never stocked, or an id that cannot be a variant's), with one Redis round
    /// trip.
    pub async fn stocks(&self, product_ids: &[&str]) -> Result<Vec<StockLevel>, InventoryError> {
        let is_valid = |id: &&str| VariantId::parse(*id).is_ok();
        let valid: Vec<&str> = product_ids.iter().copied().filter(is_valid).collect();
        if valid.is_empty() {
            return Ok(vec![StockLevel::default(); product_ids.len()]);
        }
        let levels = self
            .retry_when_unloaded(|| async { Ok(self.hot.levels(&valid).await?) })
            .await?;
        let mut levels = levels.into_iter();
        Ok(product_ids
            .iter()
            .map(|id| {
                if is_valid(id) {
                    levels.next().unwrap_or_default()
                } else {
                    StockLevel::default()
                }
            })
            .collect())
    }

    /// An admin sets how many units are on hand.
    pub async fn set_stock(
        &self,
        product_id: &str,
        on_hand: i32,
        trace: &TraceContext,
    ) -> Result<SetStockOutcome, InventoryError> {
        self.retry_when_unloaded(|| self.try_set_stock(product_id, on_hand, trace))
            .await
    }

    async fn try_set_stock(
        &self,
        product_id: &str,
        on_hand: i32,
        trace: &TraceContext,
    ) -> Result<SetStockOutcome, InventoryError> {
        let mut tx = self.pool.begin().await?;
        ledger::lock_for_write(&mut tx, &[product_id]).await?;
        if ledger::is_deleted(&mut tx, product_id).await? {
            return Ok(SetStockOutcome::ProductDeleted);
        }
        if !ledger::variants_of(&mut tx, &[product_id])
            .await?
            .is_empty()
        {
            return Ok(SetStockOutcome::HasVariants);
        }
        let op_id = Uuid::now_v7().to_string();
        let (delta, level) = match self
            .hot
            .set_on_hand(product_id, on_hand, SetMode::Set, &op_id)
            .await?
        {
            SetOutcome::Applied { delta, level } => (delta, level),
            SetOutcome::BelowReserved { level } => {
                return Ok(SetStockOutcome::BelowReserved(level))
            }
            SetOutcome::Unchanged { level } => return Ok(SetStockOutcome::Set(level)),
        };
        let recorded = async {
            ledger::record(
                &mut tx,
                product_id,
                MovementKind::Set,
                None,
                delta,
                0,
                level,
            )
            .await?;
            if delta != 0 {
                let draft = stock_changed(&mut tx, product_id, level)
                    .await?
                    .traced(trace);
                outbox::enqueue(&mut tx, EVENT_SOURCE, draft).await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(err) = recorded {
            // Put Redis back so it agrees with the ledger, which did not change.
            let undo = Uuid::now_v7().to_string();
            if let Err(undo_err) = self
                .hot
                .set_on_hand(product_id, level.on_hand - delta, SetMode::Set, &undo)
                .await
            {
                tracing::error!(product_id, error = %undo_err, "could not undo a stock change that failed to commit; run `emporium inventory rebuild`");
            }
            return Err(err.into());
        }
        tracing::info!(product_id, on_hand, delta, "stock set");
        Ok(SetStockOutcome::Set(level))
    }

    /// `product.created`: each of the product's variants (the product itself when it has no
    /// options) starts with its initial stock, unless its stock was already set (an admin can
    /// be faster than the event); the variants of a product with options are recorded.
    pub async fn product_created(
        &self,
        consumer: &str,
        envelope: &Envelope,
        product_id: &str,
        initial_stocks: &[(String, i32)],
    ) -> Result<(), InventoryError> {
        let mut stock_ids: Vec<&str> = initial_stocks.iter().map(|(id, _)| id.as_str()).collect();
        stock_ids.sort_unstable();
        let has_variants = stock_ids != [product_id];
        self.retry_when_unloaded(|| async {
            let Some(mut tx) = inbox::begin_once(&self.pool, consumer, envelope.id).await? else {
                return Ok(());
            };
            ledger::lock_for_write(&mut tx, &stock_ids).await?;
            if ledger::is_deleted(&mut tx, product_id).await? {
                tx.commit().await?;
                return Ok(());
            }
            if has_variants {
                ledger::record_variants(&mut tx, product_id, &stock_ids).await?;
            }
            for (stock_id, initial_stock) in initial_stocks {
                // One operation per variant: its own id, so a retry recognises each.
                let op_id = if has_variants {
                    format!("{}/{stock_id}", envelope.id)
                } else {
                    envelope.id.to_string()
                };
                self.set_from_catalog(
                    &mut tx,
                    envelope,
                    stock_id,
                    *initial_stock,
                    MovementKind::Init,
                    &op_id,
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// A catalogue event's count for one stock id (`Init`: a new product's initial stock;
    /// `Clear`: a deleted product's), recorded and announced when Redis applied it; a clear
    /// that changed nothing records nothing.
    async fn set_from_catalog(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        envelope: &Envelope,
        stock_id: &str,
        on_hand: i32,
        kind: MovementKind,
        op_id: &str,
    ) -> Result<(), InventoryError> {
        let mode = match kind {
            MovementKind::Clear => SetMode::Clear,
            _ => SetMode::Init,
        };
        if let SetOutcome::Applied { delta, level } =
            self.hot.set_on_hand(stock_id, on_hand, mode, op_id).await?
        {
            if delta != 0 || kind != MovementKind::Clear {
                ledger::record(tx, stock_id, kind, None, delta, 0, level).await?;
                let draft = stock_changed(tx, stock_id, level)
                    .await?
                    .caused_by(envelope);
                outbox::enqueue(tx, EVENT_SOURCE, draft).await?;
            }
        }
        Ok(())
    }

    /// `product.updated` of a product with options: `variants` (id, and the initial stock of
    /// each one the update added) are the ones it sells from now on. New ones are recorded and
    /// start with their initial stock (unless an admin set theirs first); the ones left out are
    /// no longer sold (reservations already made stand). A variant without an initial stock
    /// is only recorded: its stock is the one `product.created` gave it.
    pub async fn variants_changed(
        &self,
        consumer: &str,
        envelope: &Envelope,
        product_id: &str,
        variants: &[(String, Option<i32>)],
    ) -> Result<(), InventoryError> {
        self.retry_when_unloaded(|| async {
            let Some(mut tx) = inbox::begin_once(&self.pool, consumer, envelope.id).await? else {
                return Ok(());
            };
            let before = ledger::variants_of(&mut tx, &[product_id])
                .await?
                .remove(product_id)
                .unwrap_or_default();
            let sold: Vec<&str> = variants.iter().map(|(id, _)| id.as_str()).collect();
            let dropped: Vec<&str> = before
                .iter()
                .map(String::as_str)
                .filter(|id| !sold.contains(id))
                .collect();
            let mut stock_ids: Vec<&str> = sold.iter().chain(&dropped).copied().collect();
            stock_ids.sort_unstable();
            stock_ids.dedup();
            ledger::lock_for_write(&mut tx, &stock_ids).await?;
            if ledger::is_deleted(&mut tx, product_id).await? {
                tx.commit().await?;
                return Ok(());
            }
            ledger::record_variants(&mut tx, product_id, &sold).await?;
            for (stock_id, initial_stock) in variants {
                if let Some(initial_stock) = initial_stock {
                    let op_id = format!("{}/{stock_id}", envelope.id);
                    self.set_from_catalog(
                        &mut tx,
                        envelope,
                        stock_id,
                        *initial_stock,
                        MovementKind::Init,
                        &op_id,
                    )
                    .await?;
                }
            }
            for stock_id in &dropped {
                ledger::mark_deleted(&mut tx, stock_id).await?;
                let op_id = format!("{}/{stock_id}", envelope.id);
                self.set_from_catalog(&mut tx, envelope, stock_id, 0, MovementKind::Clear, &op_id)
                    .await?;
            }
            // Forgotten last: their last stock.changed still names the product.
            ledger::forget_variants(&mut tx, product_id, &dropped).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// `product.deleted`: nothing more can be sold, of any of its variants; reservations
    /// already made stand.
    pub async fn product_deleted(
        &self,
        consumer: &str,
        envelope: &Envelope,
        product_id: &str,
    ) -> Result<(), InventoryError> {
        self.retry_when_unloaded(|| async {
            let Some(mut tx) = inbox::begin_once(&self.pool, consumer, envelope.id).await? else {
                return Ok(());
            };
            let variants = ledger::variants_of(&mut tx, &[product_id])
                .await?
                .remove(product_id)
                .unwrap_or_default();
            let mut stock_ids: Vec<&str> = variants.iter().map(String::as_str).collect();
            stock_ids.push(product_id);
            stock_ids.sort_unstable();
            ledger::lock_for_write(&mut tx, &stock_ids).await?;
            for stock_id in &stock_ids {
                ledger::mark_deleted(&mut tx, stock_id).await?;
                let op_id = if *stock_id == product_id {
                    envelope.id.to_string()
                } else {
                    format!("{}/{stock_id}", envelope.id)
                };
                self.set_from_catalog(&mut tx, envelope, stock_id, 0, MovementKind::Clear, &op_id)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// `order.placed`: reserve every line or none, once per order.
    pub async fn reserve_order(
        &self,
        consumer: &str,
        envelope: &Envelope,
        order_id: &str,
        lines: &[Line],
    ) -> Result<OrderOutcome, InventoryError> {
        self.retry_when_unloaded(|| async {
            let Some(mut tx) = inbox::begin_once(&self.pool, consumer, envelope.id).await? else {
                return Ok(OrderOutcome::NoChange);
            };
            ledger::lock_for_write(&mut tx, &ids(lines)).await?;
            if let Some(reservation) = ledger::reservation_for_update(&mut tx, order_id).await? {
                // Reserved, rejected or closed before: a second `order.placed` changes nothing.
                // Unless it stands, the order holds nothing: give back what a reservation that
                // died half-way (see `crate::hot`) may have left held in Redis.
                if reservation.status != ReservationStatus::Reserved {
                    self.hot.release(order_id, lines, false).await?;
                }
                tx.commit().await?;
                return Ok(OrderOutcome::NoChange);
            }
            let outcome = match self.hot.reserve(order_id, lines).await? {
                ReserveOutcome::Rejected { levels } => {
                    let short = shortages(lines, &levels);
                    ledger::insert_reservation(
                        &mut tx,
                        order_id,
                        ReservationStatus::Rejected,
                        lines,
                        Some(inventory_events::OUT_OF_STOCK),
                    )
                    .await?;
                    let draft = inventory_events::rejected(order_id, &short).caused_by(envelope);
                    outbox::enqueue(&mut tx, EVENT_SOURCE, draft).await?;
                    OrderOutcome::Rejected(short)
                }
                ReserveOutcome::Reserved { levels }
                | ReserveOutcome::AlreadyReserved { levels } => {
                    ledger::insert_reservation(
                        &mut tx,
                        order_id,
                        ReservationStatus::Reserved,
                        lines,
                        None,
                    )
                    .await?;
                    for (line, level) in lines.iter().zip(&levels) {
                        record_and_announce(
                            &mut tx,
                            envelope,
                            line,
                            MovementKind::Reserve,
                            order_id,
                            *level,
                        )
                        .await?;
                    }
                    let draft = inventory_events::reserved(order_id, lines).caused_by(envelope);
                    outbox::enqueue(&mut tx, EVENT_SOURCE, draft).await?;
                    OrderOutcome::Reserved
                }
            };
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    /// Releases an order's reservation (payment declined, order cancelled or rejected), or
    /// with [`Settlement::Fulfil`] turns it into units that left the warehouse (order
    /// shipped). Once: a second release changes nothing. Releasing an order never reserved
    /// leaves a tombstone so that a late `order.placed` does not reserve for a closed order.
    pub async fn release_order(
        &self,
        consumer: &str,
        envelope: &Envelope,
        order_id: &str,
        settlement: Settlement,
    ) -> Result<OrderOutcome, InventoryError> {
        let (fulfil, reason) = match settlement {
            Settlement::Fulfil => (true, None),
            Settlement::Release(reason) => (false, Some(reason)),
        };
        self.retry_when_unloaded(|| async {
            let Some(mut tx) = inbox::begin_once(&self.pool, consumer, envelope.id).await? else {
                return Ok(OrderOutcome::NoChange);
            };
            ledger::lock_counts_shared(&mut tx).await?;
            let reservation = ledger::reservation_for_update(&mut tx, order_id).await?;
            let lines = match reservation {
                Some(r) if r.status == ReservationStatus::Reserved => r.lines,
                Some(_) => {
                    tx.commit().await?;
                    return Ok(OrderOutcome::NoChange);
                }
                None => {
                    if let Some(reason) = reason {
                        ledger::insert_reservation(
                            &mut tx,
                            order_id,
                            ReservationStatus::Released,
                            &[],
                            Some(reason.as_str()),
                        )
                        .await?;
                    }
                    tx.commit().await?;
                    return Ok(OrderOutcome::NoChange);
                }
            };
            ledger::lock_products(&mut tx, &ids(&lines)).await?;
            // A line Redis no longer holds was released by an earlier attempt that did not
            // commit: its counts are recorded all the same.
            let levels = self.hot.release(order_id, &lines, fulfil).await?;
            let kind = if fulfil {
                MovementKind::Fulfil
            } else {
                MovementKind::Release
            };
            for (line, level) in lines.iter().zip(levels) {
                record_and_announce(&mut tx, envelope, line, kind, order_id, level).await?;
            }
            let (status, outcome) = match reason {
                None => (ReservationStatus::Fulfilled, OrderOutcome::Fulfilled),
                Some(reason) => {
                    let draft =
                        inventory_events::released(order_id, &lines, reason).caused_by(envelope);
                    outbox::enqueue(&mut tx, EVENT_SOURCE, draft).await?;
                    (ReservationStatus::Released, OrderOutcome::Released)
                }
            };
            let reason = reason.map(ReleaseReason::as_str);
            ledger::update_reservation(&mut tx, order_id, status, reason).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    /// Runs `op`; if Redis had lost its counts, rebuilds them and runs it once more.
    async fn retry_when_unloaded<T, F, Fut>(&self, op: F) -> Result<T, InventoryError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, InventoryError>>,
    {
        match op().await {
            Err(InventoryError::Hot(HotError::NotReady)) => {
                self.rebuild_if_unloaded().await?;
                op().await
            }
            other => other,
        }
    }

    /// Rebuilds the hot counts from the ledger unless another process already did.
    pub async fn rebuild_if_unloaded(&self) -> Result<Option<Rebuilt>, InventoryError> {
        self.rebuild_inner(true).await
    }

    /// Replaces the hot counts with the ledger's (`emporium inventory rebuild`). Writers wait
    /// meanwhile; readers see no half-loaded counts.
    pub async fn rebuild(&self) -> Result<Rebuilt, InventoryError> {
        Ok(self.rebuild_inner(false).await?.unwrap_or(Rebuilt {
            products: 0,
            reservations: 0,
        }))
    }

    async fn rebuild_inner(
        &self,
        only_if_unloaded: bool,
    ) -> Result<Option<Rebuilt>, InventoryError> {
        let mut tx = self.pool.begin().await?;
        ledger::lock_exclusively(&mut tx).await?;
        if only_if_unloaded && self.hot.is_ready().await? {
            return Ok(None);
        }
        let snapshot = ledger::snapshot(&mut tx).await?;
        self.hot
            .load(&snapshot.levels, &snapshot.reserved_orders)
            .await?;
        tx.commit().await?;
        let rebuilt = Rebuilt {
            products: snapshot.levels.len(),
            reservations: snapshot.reserved_orders.len(),
        };
        tracing::info!(
            products = rebuilt.products,
            reservations = rebuilt.reservations,
            "rebuilt the hot stock counts from the ledger"
        );
        Ok(Some(rebuilt))
    }

    /// Compares Redis with the ledger while no writer runs.
    pub async fn reconcile(&self) -> Result<Drift, InventoryError> {
        let mut tx = self.pool.begin().await?;
        ledger::lock_exclusively(&mut tx).await?;
        let mut drift = Drift::default();
        let snapshot = ledger::snapshot(&mut tx).await?;
        let sums: BTreeMap<String, StockLevel> =
            ledger::movement_sums(&mut tx).await?.into_iter().collect();
        if !self.hot.is_ready().await? {
            drift.not_loaded = true;
        }
        let (hot_levels, hot_orders) = self.hot.snapshot().await?;
        tx.commit().await?;

        let ledger_levels: BTreeMap<String, StockLevel> = snapshot.levels.into_iter().collect();
        let hot_levels: BTreeMap<String, StockLevel> = hot_levels.into_iter().collect();
        let mut products: Vec<&String> = ledger_levels
            .keys()
            .chain(hot_levels.keys())
            .chain(sums.keys())
            .collect();
        products.sort();
        products.dedup();
        for id in products {
            let hot = hot_levels.get(id).copied().unwrap_or_default();
            let level = ledger_levels.get(id).copied().unwrap_or_default();
            let sum = sums.get(id).copied().unwrap_or_default();
            if hot != level || level != sum {
                drift.products.push((id.clone(), hot, level, sum));
            }
        }

        let ledger_orders: BTreeMap<String, Vec<Line>> =
            snapshot.reserved_orders.into_iter().collect();
        let hot_orders: BTreeMap<String, Vec<Line>> = hot_orders
            .into_iter()
            .map(|(id, mut lines)| {
                lines.sort_by(|a, b| a.product_id.cmp(&b.product_id));
                (id, lines)
            })
            .collect();
        let mut orders: Vec<&String> = ledger_orders.keys().chain(hot_orders.keys()).collect();
        orders.sort();
        orders.dedup();
        for id in orders {
            let hot = hot_orders.get(id).cloned().unwrap_or_default();
            let mut recorded = ledger_orders.get(id).cloned().unwrap_or_default();
            recorded.sort_by(|a, b| a.product_id.cmp(&b.product_id));
            if hot != recorded {
                drift.orders.push((id.clone(), hot, recorded));
            }
        }
        Ok(drift)
    }
}

/// `stock.changed` of a stock id, naming the product a variant belongs to.
async fn stock_changed(
    conn: &mut PgConnection,
    stock_id: &str,
    level: StockLevel,
) -> Result<EventDraft, sqlx::Error> {
    let product = ledger::product_of_variant(conn, stock_id).await?;
    Ok(inventory_events::stock_changed(stock_id, product, level))
}

/// Records one line's movement for an order and announces the product's new counts.
async fn record_and_announce(
    tx: &mut Transaction<'static, Postgres>,
    cause: &Envelope,
    line: &Line,
    kind: MovementKind,
    order_id: &str,
    level: StockLevel,
) -> Result<(), sqlx::Error> {
    let (on_hand_delta, reserved_delta) = match kind {
        MovementKind::Reserve => (0, line.quantity),
        MovementKind::Release => (0, -line.quantity),
        MovementKind::Fulfil => (-line.quantity, -line.quantity),
        MovementKind::Init | MovementKind::Set | MovementKind::Clear => (0, 0),
    };
    let conn: &mut PgConnection = tx;
    ledger::record(
        conn,
        &line.product_id,
        kind,
        Some(order_id),
        on_hand_delta,
        reserved_delta,
        level,
    )
    .await?;
    let draft: EventDraft = stock_changed(conn, &line.product_id, level)
        .await?
        .caused_by(cause);
    outbox::enqueue(conn, EVENT_SOURCE, draft).await?;
    Ok(())
}
