//! The catalogue's writes: creating a product, seeding the ones not there yet, updating and
//! deleting, each with its event in the same MongoDB transaction (the outbox).
//!
//! A write and its event commit together or not at all. A SKU already taken (by a product or
//! a variant) is [`StoreError::SkuTaken`], from the unique indexes or a read in the
//! transaction; an update that does not fit the product (see [`UpdateRefusal`]) is
//! [`StoreError::Refused`] and writes nothing; a deleted product leaves its SKU's tombstone,
//! so seeding never brings it back.

use std::collections::{HashMap, HashSet};

use emporium_kernel::events::outbox::mongo as outbox;
use emporium_kernel::ids::ProductId;
use emporium_kernel::trace::TraceContext;
use mongodb::bson::{self, doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use uuid::Uuid;

use super::document::{attribute_docs, new_doc, ProductDoc};
use super::{ProductStore, StoreError, UpdateRefusal, Updated, DELETED_SKUS, VARIANT_SKUS};
use crate::domain::product::{category_ancestry, NewProduct, Product, ProductPatch};
use crate::domain::variant::{self, NewVariant};
use crate::events;
use crate::store::StoredVariant;

/// How many products one seeding transaction inserts.
const SEED_BATCH: usize = 500;

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

impl ProductStore {
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
                // Priced as at creation: what its cheapest variant costs.
                if let Some((cheapest, _)) = variant::price_range(variants.iter().map(|v| v.price))
                {
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
