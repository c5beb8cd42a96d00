//! The order operations: reserving an order's lines on `order.placed`, and releasing or
//! fulfilling the reservation when the order closes.
//!
//! Each runs once per event (the inbox) under the ledger locks of the order's products, and
//! records every line's movement and `stock.changed` with the reservation in one transaction.
//! A reservation is every line or none; a release is once, and a closed order's tombstone
//! keeps a late `order.placed` from reserving for it. A failure before the commit is retried
//! by redelivery, which the Redis scripts recognise as a repeat.

use emporium_kernel::events::contract::inventory::ReleaseReason;
use emporium_kernel::events::outbox::postgres as outbox;
use emporium_kernel::events::{inbox, Envelope, EventDraft};
use emporium_kernel::ids::OrderId;
use sqlx::{PgConnection, Postgres, Transaction};

use super::{stock_changed, Inventory, InventoryError, OrderOutcome};
use crate::domain::{shortages, Line, Settlement, StockLevel};
use crate::events::published::{self as inventory_events, EVENT_SOURCE};
use crate::hot::ReserveOutcome;
use crate::ledger::{self, MovementKind, ReservationStatus};

fn ids(lines: &[Line]) -> Vec<&str> {
    lines.iter().map(|l| l.product_id.as_str()).collect()
}

impl Inventory {
    /// `order.placed`: reserve every line or none, once per order.
    pub async fn reserve_order(
        &self,
        consumer: &str,
        envelope: &Envelope,
        order_id: OrderId,
        lines: &[Line],
    ) -> Result<OrderOutcome, InventoryError> {
        let order_id = &order_id.to_string();
        self.write_when_loaded(|| async {
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
        order_id: OrderId,
        settlement: Settlement,
    ) -> Result<OrderOutcome, InventoryError> {
        let order_id = &order_id.to_string();
        let (fulfil, reason) = match settlement {
            Settlement::Fulfil => (true, None),
            Settlement::Release(reason) => (false, Some(reason)),
        };
        self.write_when_loaded(|| async {
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
