//! The stock-setting operations: an admin's `setStock`, and the catalogue's `product.created`
//! (initial stock), `product.updated` (the variants sold from now on) and `product.deleted`
//! (nothing more to sell).
//!
//! Each sets the count in Redis with an operation id, so a retry reports what the first
//! attempt did instead of applying it twice, and records it with its `stock.changed` in one
//! ledger transaction; a catalogue event is handled once (the inbox). When the transaction of
//! a `setStock` fails, its Redis change is undone; a catalogue event's is recorded by the
//! redelivery. A count below what is reserved is refused, not set.
//!
//! A product's catalogue events are applied one at a time (its catalogue lock) and in the
//! products service's order (its `sequence`): competing consumers may swap a creation and its
//! update, and the older one, applied second, never undoes the newer (a variant the update
//! dropped stays unsold; an older update changes nothing).

use emporium_kernel::events::outbox::postgres as outbox;
use emporium_kernel::events::{inbox, Envelope};
use emporium_kernel::ids::{ProductId, VariantId};
use emporium_kernel::trace::TraceContext;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{stock_changed, Inventory, InventoryError, SetStockOutcome};
use crate::events::published::EVENT_SOURCE;
use crate::hot::{SetMode, SetOutcome};
use crate::ledger::{self, MovementKind};

impl Inventory {
    /// An admin sets how many units are on hand.
    pub async fn set_stock(
        &self,
        stock_id: &VariantId,
        on_hand: i32,
        trace: &TraceContext,
    ) -> Result<SetStockOutcome, InventoryError> {
        let product_id = stock_id.as_str();
        self.write_when_loaded(|| self.try_set_stock(product_id, on_hand, trace))
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
        product_id: &ProductId,
        initial_stocks: &[(VariantId, i32)],
    ) -> Result<(), InventoryError> {
        let product_id = product_id.as_str();
        let mut stock_ids: Vec<&str> = initial_stocks.iter().map(|(id, _)| id.as_str()).collect();
        stock_ids.sort_unstable();
        let has_variants = stock_ids != [product_id];
        let sequence = catalog_sequence_of(envelope);
        self.write_when_loaded(|| async {
            let Some(mut tx) = inbox::begin_once(&self.pool, consumer, envelope.id).await? else {
                return Ok(());
            };
            ledger::lock_counts_shared(&mut tx).await?;
            ledger::lock_catalog(&mut tx, product_id).await?;
            ledger::lock_products(&mut tx, &stock_ids).await?;
            if ledger::is_deleted(&mut tx, product_id).await? {
                tx.commit().await?;
                return Ok(());
            }
            // An update of the product applied before this event (competing consumers can
            // swap them) recorded the variants sold now: a variant listed here that it dropped
            // is not sold, and gets no stock.
            let superseded = ledger::catalog_sequence(&mut tx, product_id)
                .await?
                .is_some_and(|applied| applied > sequence);
            let sold_now = if superseded && has_variants {
                Some(
                    ledger::variants_of(&mut tx, &[product_id])
                        .await?
                        .remove(product_id)
                        .unwrap_or_default(),
                )
            } else {
                None
            };
            if has_variants && !superseded {
                ledger::record_variants(&mut tx, product_id, &stock_ids).await?;
            }
            for (stock_id, initial_stock) in initial_stocks {
                let stock_id = stock_id.as_str();
                if sold_now
                    .as_ref()
                    .is_some_and(|sold| !sold.iter().any(|id| id == stock_id))
                {
                    ledger::mark_deleted(&mut tx, stock_id).await?;
                    continue;
                }
                let op_id = catalog_op(envelope, product_id, stock_id);
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
            ledger::record_catalog_sequence(&mut tx, product_id, sequence).await?;
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
        product_id: &ProductId,
        variants: &[(VariantId, Option<i32>)],
    ) -> Result<(), InventoryError> {
        let product_id = product_id.as_str();
        let sequence = catalog_sequence_of(envelope);
        self.write_when_loaded(|| async {
            let Some(mut tx) = inbox::begin_once(&self.pool, consumer, envelope.id).await? else {
                return Ok(());
            };
            ledger::lock_counts_shared(&mut tx).await?;
            ledger::lock_catalog(&mut tx, product_id).await?;
            // A newer update was applied first: this one's variants are already replaced.
            if ledger::catalog_sequence(&mut tx, product_id)
                .await?
                .is_some_and(|applied| applied > sequence)
            {
                tx.commit().await?;
                return Ok(());
            }
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
            ledger::lock_products(&mut tx, &stock_ids).await?;
            if ledger::is_deleted(&mut tx, product_id).await? {
                tx.commit().await?;
                return Ok(());
            }
            ledger::record_variants(&mut tx, product_id, &sold).await?;
            for (stock_id, initial_stock) in variants {
                let stock_id = stock_id.as_str();
                if let Some(initial_stock) = initial_stock {
                    let op_id = catalog_op(envelope, product_id, stock_id);
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
                let op_id = catalog_op(envelope, product_id, stock_id);
                self.set_from_catalog(&mut tx, envelope, stock_id, 0, MovementKind::Clear, &op_id)
                    .await?;
            }
            // Forgotten last: their last stock.changed still names the product.
            ledger::forget_variants(&mut tx, product_id, &dropped).await?;
            ledger::record_catalog_sequence(&mut tx, product_id, sequence).await?;
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
        product_id: &ProductId,
    ) -> Result<(), InventoryError> {
        let product_id = product_id.as_str();
        self.write_when_loaded(|| async {
            let Some(mut tx) = inbox::begin_once(&self.pool, consumer, envelope.id).await? else {
                return Ok(());
            };
            ledger::lock_counts_shared(&mut tx).await?;
            ledger::lock_catalog(&mut tx, product_id).await?;
            let variants = ledger::variants_of(&mut tx, &[product_id])
                .await?
                .remove(product_id)
                .unwrap_or_default();
            let mut stock_ids: Vec<&str> = variants.iter().map(String::as_str).collect();
            stock_ids.push(product_id);
            stock_ids.sort_unstable();
            ledger::lock_products(&mut tx, &stock_ids).await?;
            for stock_id in &stock_ids {
                ledger::mark_deleted(&mut tx, stock_id).await?;
                let op_id = catalog_op(envelope, product_id, stock_id);
                self.set_from_catalog(&mut tx, envelope, stock_id, 0, MovementKind::Clear, &op_id)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

/// The Redis operation id of a catalogue event's change to one stock id: the event's id for the
/// product's own stock, the event's id and the variant's for a variant's, so a retry recognises
/// each change it already made.
fn catalog_op(envelope: &Envelope, product_id: &str, stock_id: &str) -> String {
    if stock_id == product_id {
        envelope.id.to_string()
    } else {
        format!("{}/{stock_id}", envelope.id)
    }
}

/// The products service's number of a catalogue event within its product (`sequence`); an
/// envelope without one sorts before every numbered event.
fn catalog_sequence_of(envelope: &Envelope) -> i64 {
    envelope.sequence.parse().unwrap_or(0)
}
