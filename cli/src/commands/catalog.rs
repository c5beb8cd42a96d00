//! `emporium migrate` and `emporium seed`: every database created and migrated, and the
//! demo catalog loaded.

use anyhow::Context;

use crate::config::Settings;
use crate::stores;

/// Creates the databases if missing and runs every migration (and MongoDB's indexes).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    stores::postgres(settings).await?;
    stores::inventory_postgres(settings).await?;
    stores::orders_postgres(settings).await?;
    stores::payments_postgres(settings).await?;
    stores::mongodb(settings).await?;
    stores::notifications_store(settings).await?;
    Ok(())
}

/// Loads the demo catalog (products already present by SKU, or deleted, are left alone) and
/// the demo shop's shipping methods, tax rates and discount code (what exists is left alone).
pub async fn seed(settings: &Settings) -> anyhow::Result<()> {
    if !settings.seed_demo_catalog {
        tracing::info!("EMPORIUM_SEED_DEMO_CATALOG is off: the demo catalog is not loaded");
        return Ok(());
    }
    let orders = stores::orders_postgres(settings).await?;
    emporium_orders::OrderStore::new(orders)
        .seed_demo_pricing()
        .await
        .context("seeding the demo shipping methods, tax rates and discount code")?;
    let db = stores::mongodb(settings).await?;
    let inserted = emporium_products::seed::seed_demo_catalog(
        &emporium_products::store::ProductStore::new(&db),
    )
    .await?;
    if inserted > 0 {
        // A running products service lists them once its browse order is rebuilt.
        stores::catalog_cache(settings)
            .await?
            .forget_browse_order()
            .await
            .context("marking the catalog cache's browse order incomplete")?;
    }
    Ok(())
}
