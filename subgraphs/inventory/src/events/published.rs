//! The events the inventory publishes (`api/events.md`): `stock.changed` of a stock id, and an
//! order's `inventory.reserved`, `inventory.rejected` and `inventory.released`. Building a
//! draft cannot fail; the outbox numbers and stores it.

use emporium_kernel::events::contract::inventory::{
    InventoryRejected, InventoryReleased, InventoryReserved, RejectionReason, ReleaseReason,
    StockChanged, StockLine,
};
use emporium_kernel::events::EventDraft;

use crate::domain::{Line, Shortage, StockLevel};

/// The `source` of every inventory event.
pub const EVENT_SOURCE: &str = "/subgraphs/inventory";
/// The outbox's name: relays of one name take turns.
pub const OUTBOX_NAME: &str = "inventory";
/// The reason `inventory.rejected` gives when a line is short.
pub const OUT_OF_STOCK: &str = RejectionReason::OutOfStock.as_str();

/// `stock.changed` of one stock id: a product without options, or a variant of `product` (so
/// that the event names the product, and is sequenced with its other variants').
pub fn stock_changed(stock_id: &str, product: Option<String>, level: StockLevel) -> EventDraft {
    let (product_id, variant_id) = match product {
        Some(product_id) if product_id != stock_id => (product_id, Some(stock_id.to_owned())),
        _ => (stock_id.to_owned(), None),
    };
    EventDraft::of(&StockChanged {
        product_id,
        variant_id,
        on_hand: level.on_hand,
        reserved: level.reserved,
        available: level.available(),
        in_stock: level.in_stock(),
    })
}

fn stock_lines(lines: &[Line]) -> Vec<StockLine> {
    lines
        .iter()
        .map(|line| StockLine {
            product_id: line.product_id.as_str().to_owned(),
            quantity: line.quantity,
        })
        .collect()
}

pub fn reserved(order_id: &str, lines: &[Line]) -> EventDraft {
    EventDraft::of(&InventoryReserved {
        order_id: order_id.to_owned(),
        items: stock_lines(lines),
    })
}

pub fn rejected(order_id: &str, short: &[Shortage]) -> EventDraft {
    EventDraft::of(&InventoryRejected {
        order_id: order_id.to_owned(),
        reason: RejectionReason::OutOfStock,
        items: short.to_vec(),
    })
}

pub fn released(order_id: &str, lines: &[Line], reason: ReleaseReason) -> EventDraft {
    EventDraft::of(&InventoryReleased {
        order_id: order_id.to_owned(),
        items: stock_lines(lines),
        reason,
    })
}
