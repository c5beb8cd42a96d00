//! `emporium inventory`: the Redis stock counts rebuilt from the ledger, or compared with it.

use clap::Subcommand;

use crate::config::Settings;
use crate::stores;

#[derive(Subcommand)]
pub enum InventoryAction {
    /// Replace the Redis counts and reservations with the ledger's (writers wait meanwhile).
    Rebuild,
    /// Print every difference between Redis and the ledger; exit with 1 when there is any.
    Reconcile,
}

/// Runs an inventory admin task; false when `reconcile` found drift.
pub async fn inventory(settings: &Settings, action: InventoryAction) -> anyhow::Result<bool> {
    let inventory = stores::inventory(settings, false).await?;
    match action {
        InventoryAction::Rebuild => {
            let rebuilt = inventory.rebuild().await?;
            println!(
                "rebuilt the Redis stock counts from the ledger: {} products, {} standing reservations",
                rebuilt.products, rebuilt.reservations
            );
            Ok(true)
        }
        InventoryAction::Reconcile => {
            let drift = inventory.reconcile().await?;
            if drift.not_loaded {
                println!("Redis has lost the stock counts (run `emporium inventory rebuild`)");
            }
            for (product, redis, ledger, movements) in &drift.products {
                println!(
                    "product {product}: redis onHand={} reserved={}; ledger onHand={} reserved={}; movements onHand={} reserved={}",
                    redis.on_hand, redis.reserved, ledger.on_hand, ledger.reserved, movements.on_hand, movements.reserved
                );
            }
            for (order, redis, ledger) in &drift.orders {
                println!(
                    "order {order}: redis holds [{}]; ledger reserved [{}]",
                    lines(redis),
                    lines(ledger)
                );
            }
            if drift.is_empty() {
                println!("no drift: Redis and the ledger agree");
            }
            Ok(drift.is_empty())
        }
    }
}

/// An order's lines as `2xP1,1xP2`.
fn lines(lines: &[emporium_inventory::domain::Line]) -> String {
    lines
        .iter()
        .map(|l| format!("{}x{}", l.quantity, l.product_id))
        .collect::<Vec<_>>()
        .join(",")
}
