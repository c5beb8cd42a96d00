//! Products in MongoDB, one document per product keyed by a UUIDv7 string `_id`.
//!
//! UUIDv7 ids grow with creation time, so sorting by `_id` gives a stable order in which new
//! products append at the end: a cursor (the last `_id` seen) stays correct while products are
//! added. Prices are integer minor units, never floats. The database enforces SKU uniqueness.
//!
//! Deleting a product leaves a tombstone of its SKU (collection `deleted_skus`, written in the
//! delete's transaction), and seeding skips tombstoned SKUs: a demo product an admin deleted
//! stays deleted across restarts and reseeds. An admin may still create a product with that
//! SKU on purpose.
//!
//! A product with options keeps its variants in its document (ids minted here, UUIDv7). Each
//! variant SKU also has a row in `variant_skus` (`_id` the SKU), written in the same
//! transaction, so two products cannot give a variant the same SKU; a variant SKU equal to
//! another product's own SKU is refused by a read in that transaction (not airtight against a
//! concurrent create of that product: the unique `_id` covers variant against variant only).

mod document;
mod reads;
mod writes;

use emporium_kernel::events::outbox::OutboxError;
use mongodb::bson::doc;
use mongodb::options::IndexOptions;
use mongodb::{ClientSession, Collection, Database, IndexModel};

use crate::domain::product::Product;
use document::ProductDoc;

pub const COLLECTION: &str = "products";
/// The SKUs of deleted products, which seeding never brings back.
pub const DELETED_SKUS: &str = "deleted_skus";
/// Every variant SKU (`_id`) and its product: unique across the catalog.
pub const VARIANT_SKUS: &str = "variant_skus";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a product with this sku already exists")]
    SkuTaken,
    #[error("stored product is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Mongo(#[from] mongodb::error::Error),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("the update does not fit the product: {0:?}")]
    Refused(UpdateRefusal),
}

/// Why an update does not fit the product it names (nothing is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateRefusal {
    /// Options and variants for a product without options (its own single variant).
    NoOptions,
    /// A price for a product with variants (it costs what its cheapest variant costs).
    PriceOfVariants,
}

/// One page of a listing.
pub struct Page {
    pub products: Vec<Product>,
    pub has_next_page: bool,
    /// Only when asked for: counting costs a MongoDB round trip of its own.
    pub total_count: Option<u64>,
}

/// A product after an update, and the category it was in before.
pub struct Updated {
    pub product: Product,
    pub previous_category: String,
}

#[derive(Clone)]
pub struct ProductStore {
    db: Database,
    products: Collection<ProductDoc>,
}

impl ProductStore {
    pub fn new(db: &Database) -> Self {
        Self {
            db: db.clone(),
            products: db.collection(COLLECTION),
        }
    }

    /// A session with a transaction started: a write and its events commit together.
    async fn transaction(&self) -> Result<ClientSession, StoreError> {
        let mut session = self.db.client().start_session().await?;
        session.start_transaction().await?;
        Ok(session)
    }

    /// Creates the indexes the queries need; idempotent.
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        let sku = IndexModel::builder()
            .keys(doc! { "sku": 1 })
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name("sku_unique".to_owned())
                    .build(),
            )
            .build();
        let category = IndexModel::builder()
            .keys(doc! { "category_path": 1, "_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("category_path_id".to_owned())
                    .build(),
            )
            .build();
        self.products.create_indexes([sku, category]).await?;
        Ok(())
    }
}
