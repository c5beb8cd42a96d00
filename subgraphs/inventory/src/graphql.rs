//! The inventory subgraph's schema: `Product.stock` and `ProductVariant.stock` (fields of the
//! products subgraph's entities; a product's stock sums its variants') and the admin's
//! `setStock` / `setVariantStock`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, EmptySubscription, Object, Schema, SimpleObject, ID};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::{ContextState, UserError};
use emporium_kernel::ids::{ProductId, VariantId};
use emporium_kernel::trace::TraceContext;
use emporium_kernel::ApiError;
use tracing::instrument;

use crate::domain::{self, StockLevel};
use crate::service::{Inventory, InventoryError, SetStockOutcome};

pub type InventorySchema = Schema<Query, Mutation, EmptySubscription>;

/// How long a stock loader waits to gather a batch. 5 ms (not the default 1 ms) so that all
/// products of one `_entities` request are in one batch even when a busy machine pauses the
/// request between its items.
pub const BATCH_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

pub fn schema(inventory: Inventory) -> InventorySchema {
    schema_batching(inventory, BATCH_DELAY)
}

/// The schema with stock loaders that gather a batch for `delay` (tests that count round trips
/// on a loaded machine wait longer than [`BATCH_DELAY`]).
pub fn schema_batching(inventory: Inventory, delay: std::time::Duration) -> InventorySchema {
    // No cache in the loader: it only batches (the stock of a page of products, and of
    // concurrent requests, in one Redis round trip), so counts are never older than the call.
    let products = DataLoader::new(StockLoader(inventory.clone()), tokio::spawn).delay(delay);
    let variants =
        DataLoader::new(VariantStockLoader(inventory.clone()), tokio::spawn).delay(delay);
    builder()
        .data(inventory)
        .data(products)
        .data(variants)
        .finish()
}

/// Loads the counts of products (each its variants' sum) in batches.
pub struct StockLoader(Inventory);

impl Loader<String> for StockLoader {
    type Value = StockLevel;
    type Error = Arc<InventoryError>;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, StockLevel>, Self::Error> {
        let (raw, parsed) = parsed_ids(ids, ProductId::parse);
        let levels = self.0.product_stocks(&parsed).await.map_err(Arc::new)?;
        Ok(with_zeroes(ids, raw.into_iter().zip(levels)))
    }
}

/// Loads the counts of variants in batches.
pub struct VariantStockLoader(Inventory);

impl Loader<String> for VariantStockLoader {
    type Value = StockLevel;
    type Error = Arc<InventoryError>;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, StockLevel>, Self::Error> {
        let (raw, parsed) = parsed_ids(ids, VariantId::parse);
        let levels = self.0.stocks(&parsed).await.map_err(Arc::new)?;
        Ok(with_zeroes(ids, raw.into_iter().zip(levels)))
    }
}

/// The ids of a batch that parse, each beside its raw form: an id that cannot be a product's
/// or a variant's is not asked for (its stock is zero).
fn parsed_ids<T, E>(
    ids: &[String],
    parse: impl Fn(String) -> Result<T, E>,
) -> (Vec<&String>, Vec<T>) {
    ids.iter()
        .filter_map(|raw| parse(raw.clone()).ok().map(|id| (raw, id)))
        .unzip()
}

/// The levels found, and a zero for every other id of the batch.
fn with_zeroes<'a>(
    ids: &[String],
    found: impl Iterator<Item = (&'a String, StockLevel)>,
) -> HashMap<String, StockLevel> {
    let mut levels: HashMap<String, StockLevel> = ids
        .iter()
        .map(|id| (id.clone(), StockLevel::default()))
        .collect();
    levels.extend(found.map(|(id, level)| (id.clone(), level)));
    levels
}

/// The subgraph's federation SDL, as the supergraph composition needs it.
pub fn sdl() -> String {
    emporium_kernel::graphql::federation_sdl(&builder().finish())
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    emporium_kernel::graphql::subgraph_schema(Query, Mutation, EmptySubscription)
}

impl From<InventoryError> for ApiError {
    fn from(err: InventoryError) -> Self {
        ApiError::internal(&err)
    }
}

/// A product's counts.
#[derive(SimpleObject)]
#[graphql(name = "StockLevel")]
pub struct StockLevelObject {
    pub on_hand: i32,
    pub reserved: i32,
    /// onHand - reserved, never negative.
    pub available: i32,
    pub in_stock: bool,
}

impl From<StockLevel> for StockLevelObject {
    fn from(level: StockLevel) -> Self {
        Self {
            on_hand: level.on_hand,
            reserved: level.reserved,
            available: level.available(),
            in_stock: level.in_stock(),
        }
    }
}

/// The counts of `id` through the request's loader `L` (batched with the request's other ids;
/// zero for an id never stocked).
async fn load_level<L>(ctx: &Context<'_>, id: &ID) -> Result<StockLevelObject, ApiError>
where
    L: Loader<String, Value = StockLevel, Error = Arc<InventoryError>>,
{
    let level = ctx
        .state::<DataLoader<L>>()?
        .load_one(id.to_string())
        .await
        .map_err(|err| ApiError::internal(&*err))?
        .unwrap_or_default();
    Ok(level.into())
}

/// The products subgraph's `Product`, seen from the inventory: its id and its stock.
pub struct Product {
    id: ID,
}

#[Object(name = "Product")]
impl Product {
    async fn id(&self) -> &ID {
        &self.id
    }

    /// Resolved from the hot counts (zero for a product never stocked), summed over the
    /// product's variants; the products of one request are read together.
    async fn stock(&self, ctx: &Context<'_>) -> Result<StockLevelObject, ApiError> {
        load_level::<StockLoader>(ctx, &self.id).await
    }
}

/// The products subgraph's `ProductVariant`, seen from the inventory: its id and its stock.
pub struct ProductVariant {
    id: ID,
}

#[Object(name = "ProductVariant")]
impl ProductVariant {
    async fn id(&self) -> &ID {
        &self.id
    }

    /// Stock is kept per variant (a product without options is its own variant).
    async fn stock(&self, ctx: &Context<'_>) -> Result<StockLevelObject, ApiError> {
        load_level::<VariantStockLoader>(ctx, &self.id).await
    }
}

pub struct Query;

#[Object]
impl Query {
    /// Federation entity resolver: the router asks for the stock of products by id.
    #[graphql(entity)]
    async fn find_product_by_id(&self, id: ID) -> Product {
        Product { id }
    }

    /// Federation entity resolver: the stock of variants by id.
    #[graphql(entity)]
    async fn find_product_variant_by_id(&self, id: ID) -> ProductVariant {
        ProductVariant { id }
    }
}

#[derive(SimpleObject)]
pub struct StockPayload {
    pub product_id: Option<ID>,
    pub stock: Option<StockLevelObject>,
    pub user_errors: Vec<UserError>,
}

impl StockPayload {
    fn failed(error: UserError) -> Self {
        Self {
            product_id: None,
            stock: None,
            user_errors: vec![error],
        }
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// ADMIN. Sets how many units of a product without options are on hand; refused below
    /// what orders have reserved, and for a product with variants (`setVariantStock`).
    #[instrument(skip_all, fields(product_id = %product_id.as_str(), on_hand))]
    async fn set_stock(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        on_hand: i32,
    ) -> Result<StockPayload, ApiError> {
        set_stock_of(ctx, &product_id, "productId", on_hand).await
    }

    /// ADMIN. Sets how many units of one variant are on hand (a product without options is its
    /// own variant); refused below what orders have reserved.
    #[instrument(skip_all, fields(variant_id = %variant_id.as_str(), on_hand))]
    async fn set_variant_stock(
        &self,
        ctx: &Context<'_>,
        variant_id: ID,
        on_hand: i32,
    ) -> Result<StockPayload, ApiError> {
        set_stock_of(ctx, &variant_id, "variantId", on_hand).await
    }
}

async fn set_stock_of(
    ctx: &Context<'_>,
    id: &ID,
    field: &str,
    on_hand: i32,
) -> Result<StockPayload, ApiError> {
    ctx.state::<Viewer>()?.require_admin()?;
    let Ok(id) = VariantId::parse(id.trim()) else {
        return Ok(StockPayload::failed(
            UserError::new("INVALID_INPUT", "the id is empty or too long").on_field(&[field]),
        ));
    };
    if !domain::valid_count(on_hand) {
        return Ok(StockPayload::failed(
            UserError::new(
                "INVALID_INPUT",
                format!("onHand must be between 0 and {}", domain::MAX_COUNT),
            )
            .on_field(&["onHand"]),
        ));
    }
    let inventory = ctx.state::<Inventory>()?;
    let outcome = inventory
        .set_stock(&id, on_hand, ctx.state::<TraceContext>()?)
        .await?;
    Ok(match outcome {
        SetStockOutcome::Set(level) => StockPayload {
            product_id: Some(ID(id.to_string())),
            stock: Some(level.into()),
            user_errors: vec![],
        },
        SetStockOutcome::BelowReserved(level) => StockPayload::failed(
            UserError::new(
                "BELOW_RESERVED",
                format!(
                    "{} units are reserved for orders; on hand cannot be set below that",
                    level.reserved
                ),
            )
            .on_field(&["onHand"]),
        ),
        SetStockOutcome::ProductDeleted => StockPayload::failed(
            UserError::new("NOT_FOUND", "the product was deleted from the catalog")
                .on_field(&[field]),
        ),
        SetStockOutcome::HasVariants => StockPayload::failed(
            UserError::new(
                "INVALID_INPUT",
                "the product has variants: set each one's stock with setVariantStock",
            )
            .on_field(&[field]),
        ),
    })
}
