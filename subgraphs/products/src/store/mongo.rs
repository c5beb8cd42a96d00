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

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use emporium_kernel::events::outbox::{mongo as outbox, OutboxError};
use emporium_kernel::ids::ProductId;
use emporium_kernel::money::{Currency, Money};
use emporium_kernel::mongo::CountedPage;
use emporium_kernel::trace::TraceContext;
use futures::TryStreamExt;
use mongodb::bson::{self, doc, Document};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{ClientSession, Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::product::{category_ancestry, Attribute, NewProduct, Product, ProductPatch};
use crate::domain::variant::{NewVariant, ProductOption};
use crate::events;
use crate::store::StoredVariant;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AttributeDoc {
    name: String,
    value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProductDoc {
    #[serde(rename = "_id")]
    id: String,
    sku: String,
    name: String,
    description: String,
    category: String,
    /// The category and its ancestors, for category pages that include sub-categories.
    category_path: Vec<String>,
    brand: Option<String>,
    price_minor: i64,
    currency: String,
    attributes: Vec<AttributeDoc>,
    image_url: Option<String>,
    #[serde(default)]
    popularity: i64,
    created_at: bson::DateTime,
    updated_at: bson::DateTime,
    #[serde(default)]
    options: Vec<ProductOption>,
    #[serde(default)]
    variants: Vec<StoredVariant>,
}

/// The variants an update sells from now on: one whose SKU the product sold already keeps its
/// id; a new one gets a fresh id, and its initial stock goes into `added_stock` (for
/// `product.updated`).
fn replaced_variants(
    before: &ProductDoc,
    variants: &[NewVariant],
    added_stock: &mut HashMap<String, u32>,
) -> Vec<StoredVariant> {
    let kept: HashMap<&str, &str> = before
        .variants
        .iter()
        .map(|v| (v.sku.as_str(), v.id.as_str()))
        .collect();
    variants
        .iter()
        .map(|v| {
            let sku = v.sku.to_string();
            let id = match kept.get(sku.as_str()) {
                Some(id) => (*id).to_owned(),
                None => {
                    let id = Uuid::now_v7().to_string();
                    added_stock.insert(id.clone(), v.initial_stock);
                    id
                }
            };
            StoredVariant {
                id,
                sku,
                title: v.title.clone(),
                selected_options: v.selected_options.clone(),
                price_minor: v.price.minor(),
                compare_at_minor: v.compare_at_price.map(|p| p.minor()),
            }
        })
        .collect()
}

fn to_chrono(at: bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or_default()
}

impl TryFrom<ProductDoc> for Product {
    type Error = StoreError;

    fn try_from(doc: ProductDoc) -> Result<Self, StoreError> {
        let currency = Currency::parse(&doc.currency)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", doc.id)))?;
        let money = |minor| {
            Money::from_minor(minor, currency)
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", doc.id)))
        };
        let price = money(doc.price_minor)?;
        let variants = doc
            .variants
            .into_iter()
            .map(|v| v.into_variant(currency))
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", doc.id)))?;
        Ok(Product {
            options: doc.options,
            variants,
            id: doc.id,
            sku: doc.sku,
            name: doc.name,
            description: doc.description,
            category: doc.category,
            brand: doc.brand,
            price,
            attributes: doc
                .attributes
                .into_iter()
                .map(|a| Attribute {
                    name: a.name,
                    value: a.value,
                })
                .collect(),
            image_url: doc.image_url,
            popularity: doc.popularity,
            created_at: to_chrono(doc.created_at),
            updated_at: to_chrono(doc.updated_at),
        })
    }
}

fn attribute_docs(attributes: &[Attribute]) -> Vec<AttributeDoc> {
    attributes
        .iter()
        .map(|a| AttributeDoc {
            name: a.name.clone(),
            value: a.value.clone(),
        })
        .collect()
}

fn new_doc(product: &NewProduct, now: bson::DateTime) -> ProductDoc {
    ProductDoc {
        id: Uuid::now_v7().to_string(),
        sku: product.sku.to_string(),
        name: product.name.clone(),
        description: product.description.clone(),
        category: product.category.clone(),
        category_path: category_ancestry(&product.category),
        brand: product.brand.clone(),
        price_minor: product.price.minor(),
        currency: product.price.currency().to_string(),
        attributes: attribute_docs(&product.attributes),
        image_url: product.image_url.clone(),
        popularity: product.popularity,
        created_at: now,
        updated_at: now,
        options: product.options.clone(),
        variants: product
            .variants
            .iter()
            .map(|v| StoredVariant {
                id: Uuid::now_v7().to_string(),
                sku: v.sku.to_string(),
                title: v.title.clone(),
                selected_options: v.selected_options.clone(),
                price_minor: v.price.minor(),
                compare_at_minor: v.compare_at_price.map(|p| p.minor()),
            })
            .collect(),
    }
}

fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == 11000,
        ErrorKind::Command(e) => e.code == 11000,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().any(|e| e.code == 11000)),
        _ => false,
    }
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

/// How many products one seeding transaction inserts.
const SEED_BATCH: usize = 500;

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

    /// Adds a product and its `product.created` event in one transaction.
    pub async fn insert(
        &self,
        new_product: &NewProduct,
        trace: &TraceContext,
    ) -> Result<Product, StoreError> {
        let doc = new_doc(new_product, bson::DateTime::now());
        let mut session = self.transaction().await?;
        self.products
            .insert_one(&doc)
            .session(&mut session)
            .await
            .map_err(|e| {
                if is_duplicate_key(&e) {
                    StoreError::SkuTaken
                } else {
                    StoreError::Mongo(e)
                }
            })?;
        self.claim_variant_skus(&mut session, &doc).await?;
        let product = Product::try_from(doc)?;
        let event = events::product_created(&product, new_product).traced(trace);
        outbox::enqueue(&self.db, &mut session, events::EVENT_SOURCE, event).await?;
        session.commit_transaction().await?;
        Ok(product)
    }

    /// Records the variant SKUs of `doc` in its transaction: `SkuTaken` when another product
    /// has one as its own SKU or as a variant's.
    async fn claim_variant_skus(
        &self,
        session: &mut ClientSession,
        doc: &ProductDoc,
    ) -> Result<(), StoreError> {
        let skus: Vec<&str> = doc.variants.iter().map(|v| v.sku.as_str()).collect();
        self.claim_skus(session, &doc.id, &skus).await
    }

    /// Records `skus` as variant SKUs of `product_id` in the session's transaction: `SkuTaken`
    /// when another product has one as its own SKU or as a variant's.
    async fn claim_skus(
        &self,
        session: &mut ClientSession,
        product_id: &str,
        skus: &[&str],
    ) -> Result<(), StoreError> {
        if skus.is_empty() {
            return Ok(());
        }
        let clash = self
            .products
            .find_one(doc! { "sku": { "$in": skus } })
            .session(&mut *session)
            .await?;
        if clash.is_some() {
            return Err(StoreError::SkuTaken);
        }
        let rows: Vec<Document> = skus
            .iter()
            .map(|sku| doc! { "_id": *sku, "product_id": product_id })
            .collect();
        let taken = self
            .db
            .collection::<Document>(VARIANT_SKUS)
            .insert_many(rows)
            .session(&mut *session)
            .await;
        match taken {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(StoreError::SkuTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// Inserts products whose SKU is not in the catalog yet and was never deleted, and leaves
    /// the others alone, so seeding twice changes nothing and brings back nothing an admin
    /// deleted. Returns how many were inserted.
    pub async fn insert_missing(&self, products: &[NewProduct]) -> Result<u64, StoreError> {
        let mut existing: std::collections::HashSet<String> = self
            .products
            .distinct("sku", doc! {})
            .await?
            .into_iter()
            .filter_map(|sku| sku.as_str().map(str::to_owned))
            .collect();
        existing.extend(
            self.db
                .collection::<Document>(DELETED_SKUS)
                .distinct("_id", doc! {})
                .await?
                .into_iter()
                .filter_map(|sku| sku.as_str().map(str::to_owned)),
        );
        let now = bson::DateTime::now();
        let missing: Vec<&NewProduct> = products
            .iter()
            .filter(|p| !existing.contains(p.sku.as_str()))
            .collect();
        let mut inserted = 0;
        // One seeding run is one flow: its events share a trace.
        let seeding = TraceContext::new_root();
        for batch in missing.chunks(SEED_BATCH) {
            let docs: Vec<ProductDoc> = batch.iter().map(|p| new_doc(p, now)).collect();
            let created = docs
                .iter()
                .zip(batch)
                .map(|(doc, new_product)| {
                    Ok(
                        events::product_created(&Product::try_from(doc.clone())?, new_product)
                            .traced(&seeding),
                    )
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut session = self.transaction().await?;
            let result = self.products.insert_many(&docs).session(&mut session).await;
            match result {
                Ok(_) => {}
                // A concurrent seeder inserted some of these SKUs first: leave the rest to it.
                Err(e) if is_duplicate_key(&e) => return Ok(inserted),
                Err(e) => return Err(e.into()),
            }
            for doc in &docs {
                match self.claim_variant_skus(&mut session, doc).await {
                    Ok(()) => {}
                    Err(StoreError::SkuTaken) => return Ok(inserted),
                    Err(err) => return Err(err),
                }
            }
            outbox::enqueue_first_events(&self.db, &mut session, events::EVENT_SOURCE, created)
                .await?;
            session.commit_transaction().await?;
            inserted += docs.len() as u64;
        }
        Ok(inserted)
    }

    pub async fn find_by_id(&self, id: &str) -> Result<Option<Product>, StoreError> {
        self.products
            .find_one(doc! { "_id": id })
            .await?
            .map(Product::try_from)
            .transpose()
    }

    /// The id of the product that has the variant `variant_id` (a product's own id for a
    /// product without options), if any.
    pub async fn product_id_of_variant(
        &self,
        variant_id: &str,
    ) -> Result<Option<String>, StoreError> {
        #[derive(Deserialize)]
        struct Id {
            #[serde(rename = "_id")]
            id: String,
        }
        let found = self
            .db
            .collection::<Id>(COLLECTION)
            .find_one(doc! { "$or": [ { "_id": variant_id }, { "variants.id": variant_id } ] })
            .projection(doc! { "_id": 1 })
            .await?;
        Ok(found.map(|f| f.id))
    }

    /// The products of `ids` that exist, in no particular order; one query.
    pub async fn find_by_ids(&self, ids: &[String]) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let docs: Vec<ProductDoc> = self
            .products
            .find(doc! { "_id": { "$in": ids } })
            .await?
            .try_collect()
            .await?;
        docs.into_iter().map(Product::try_from).collect()
    }

    /// Every product's id and category path (each level): what the browse order is built from.
    pub async fn browse_entries(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        #[derive(Deserialize)]
        struct Entry {
            #[serde(rename = "_id")]
            id: String,
            category_path: Vec<String>,
        }
        let entries: Vec<Entry> = self
            .db
            .collection::<Entry>(COLLECTION)
            .find(doc! {})
            .projection(doc! { "_id": 1, "category_path": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(entries
            .into_iter()
            .map(|e| (e.id, e.category_path))
            .collect())
    }

    /// Products in `_id` order after the cursor `after`, optionally within a category (and its
    /// sub-categories), counted only `with_count`.
    pub async fn list(
        &self,
        category: Option<&str>,
        after: Option<&str>,
        limit: usize,
        with_count: bool,
    ) -> Result<Page, StoreError> {
        let mut filter = Document::new();
        if let Some(category) = category {
            filter.insert("category_path", category);
        }
        let count_filter = filter.clone();
        if let Some(after) = after {
            filter.insert("_id", doc! { "$gt": after });
        }
        // One snapshot for both, so a page counts what it lists even while products are
        // added; one extra row tells whether another page follows.
        let (total_count, docs) = if with_count {
            let (total, docs) = CountedPage {
                count_filter,
                page_filter: filter,
                sort: doc! { "_id": 1 },
                limit: limit as i64 + 1,
            }
            .read(&self.products)
            .await?;
            (Some(total), docs)
        } else {
            let docs: Vec<ProductDoc> = self
                .products
                .find(filter)
                .sort(doc! { "_id": 1 })
                .limit(limit as i64 + 1)
                .await?
                .try_collect()
                .await?;
            (None, docs)
        };
        let mut products: Vec<Product> = docs
            .into_iter()
            .map(Product::try_from)
            .collect::<Result<_, _>>()?;
        let has_next_page = products.len() > limit;
        products.truncate(limit);
        Ok(Page {
            products,
            has_next_page,
            total_count,
        })
    }

    /// Every product as its event snapshot, with the sequence of its last event: what a
    /// projection (the search index) is rebuilt from. The sequences are read first, so a
    /// product changed meanwhile carries an older sequence than its content and its event,
    /// when it arrives, is applied again rather than dropped.
    pub async fn snapshots(&self) -> Result<Vec<(i64, serde_json::Value)>, StoreError> {
        let sequences = outbox::last_sequences(&self.db).await?;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list(None, after.as_deref(), 1000, false).await?;
            after = page.products.last().map(|p| p.id.clone());
            for product in page.products {
                let sequence = sequences.get(&product.id).copied().unwrap_or(0);
                out.push((sequence, events::snapshot(&product)));
            }
            if !page.has_next_page {
                return Ok(out);
            }
        }
    }

    /// Applies `patch` and records `product.updated` in one transaction; `None` if there is
    /// no such product.
    pub async fn update(
        &self,
        id: &ProductId,
        patch: &ProductPatch,
        trace: &TraceContext,
    ) -> Result<Option<Updated>, StoreError> {
        let id = id.as_str();
        let mut set = doc! { "updated_at": bson::DateTime::now() };
        if let Some(name) = &patch.name {
            set.insert("name", name);
        }
        if let Some(description) = &patch.description {
            set.insert("description", description);
        }
        if let Some(category) = &patch.category {
            set.insert("category", category);
            set.insert("category_path", category_ancestry(category));
        }
        if let Some(brand) = &patch.brand {
            set.insert("brand", brand.clone());
        }
        if let Some(price) = &patch.price {
            set.insert("price_minor", price.minor());
            set.insert("currency", price.currency().to_string());
        }
        if let Some(attributes) = &patch.attributes {
            let attributes = bson::to_bson(&attribute_docs(attributes))
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            set.insert("attributes", attributes);
        }
        if let Some(image_url) = &patch.image_url {
            set.insert("image_url", image_url.clone());
        }
        let mut session = self.transaction().await?;
        // The browse order needs the category a product leaves, and a change of price or
        // variants needs the variants it has: read it first, in the same transaction.
        let before =
            if patch.category.is_some() || patch.price.is_some() || patch.variants.is_some() {
                match self
                    .products
                    .find_one(doc! { "_id": id })
                    .session(&mut session)
                    .await?
                {
                    Some(before) => Some(before),
                    None => return Ok(None),
                }
            } else {
                None
            };
        let mut added_stock = HashMap::new();
        if let Some(before) = &before {
            let has_variants = !before.variants.is_empty();
            if patch.price.is_some() && has_variants {
                return Err(StoreError::Refused(UpdateRefusal::PriceOfVariants));
            }
            if let Some((options, variants)) = &patch.variants {
                if !has_variants {
                    return Err(StoreError::Refused(UpdateRefusal::NoOptions));
                }
                let stored = replaced_variants(before, variants, &mut added_stock);
                let sold: HashSet<&str> = stored.iter().map(|v| v.sku.as_str()).collect();
                let held: HashSet<&str> = before.variants.iter().map(|v| v.sku.as_str()).collect();
                let released: Vec<&str> = held.difference(&sold).copied().collect();
                let claimed: Vec<&str> = sold.difference(&held).copied().collect();
                self.db
                    .collection::<Document>(VARIANT_SKUS)
                    .delete_many(doc! { "_id": { "$in": &released }, "product_id": id })
                    .session(&mut session)
                    .await?;
                self.claim_skus(&mut session, id, &claimed).await?;
                let cheapest = variants.iter().map(|v| v.price).min_by_key(|p| p.minor());
                if let Some(cheapest) = cheapest {
                    set.insert("price_minor", cheapest.minor());
                    set.insert("currency", cheapest.currency().to_string());
                }
                set.insert(
                    "options",
                    bson::to_bson(options).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
                set.insert(
                    "variants",
                    bson::to_bson(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
            }
        }
        let previous_category = before.as_ref().map(|b| b.category.clone());
        let Some(product) = self
            .products
            .find_one_and_update(doc! { "_id": id }, doc! { "$set": set })
            .return_document(ReturnDocument::After)
            .session(&mut session)
            .await?
            .map(Product::try_from)
            .transpose()?
        else {
            return Ok(None);
        };
        let previous_category = previous_category.unwrap_or_else(|| product.category.clone());
        outbox::enqueue(
            &self.db,
            &mut session,
            events::EVENT_SOURCE,
            events::product_updated(&product, &added_stock).traced(trace),
        )
        .await?;
        session.commit_transaction().await?;
        Ok(Some(Updated {
            product,
            previous_category,
        }))
    }

    /// Removes a product, leaves its SKU's tombstone and records `product.deleted` in one
    /// transaction. Returns the product removed, `None` if there was none.
    pub async fn delete(
        &self,
        id: &ProductId,
        trace: &TraceContext,
    ) -> Result<Option<Product>, StoreError> {
        let id = id.as_str();
        let mut session = self.transaction().await?;
        let deleted = self
            .products
            .find_one_and_delete(doc! { "_id": id })
            .session(&mut session)
            .await?;
        let Some(doc) = deleted else {
            return Ok(None);
        };
        self.db
            .collection::<Document>(DELETED_SKUS)
            .update_one(
                doc! { "_id": &doc.sku },
                doc! { "$set": { "product_id": id, "deleted_at": bson::DateTime::now() } },
            )
            .upsert(true)
            .session(&mut session)
            .await?;
        if !doc.variants.is_empty() {
            self.db
                .collection::<Document>(VARIANT_SKUS)
                .delete_many(doc! { "product_id": id })
                .session(&mut session)
                .await?;
        }
        let product = Product::try_from(doc)?;
        outbox::enqueue(
            &self.db,
            &mut session,
            events::EVENT_SOURCE,
            events::product_deleted(&product).traced(trace),
        )
        .await?;
        session.commit_transaction().await?;
        Ok(Some(product))
    }
}
