//! The inventory subgraph's schema: `Product.stock` (a field of the products subgraph's
//! entity) and the admin's `setStock`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, EmptySubscription, Object, Schema, SimpleObject, ID};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::{ContextState, UserError};
use emporium_kernel::trace::TraceContext;
use emporium_kernel::ApiError;
use tracing::instrument;

use crate::domain::{self, StockLevel, MAX_PRODUCT_ID_LEN};
use crate::service::{Inventory, InventoryError, SetStockOutcome};

pub type InventorySchema = Schema<Query, Mutation, EmptySubscription>;

pub fn schema(inventory: Inventory) -> InventorySchema {
    // No cache in the loader: it only batches (the stock of a page of products, and of
    // concurrent requests, in one Redis round trip), so counts are never older than the call.
    // 5 ms (not the default 1 ms) so that all products of one `_entities` request are in one
    // batch even when a busy machine pauses the request between its items.
    let loader = DataLoader::new(StockLoader(inventory.clone()), tokio::spawn)
        .delay(std::time::Duration::from_millis(5));
    builder().data(inventory).data(loader).finish()
}

/// Loads the counts of products in batches.
pub struct StockLoader(Inventory);

impl Loader<String> for StockLoader {
    type Value = StockLevel;
    type Error = Arc<InventoryError>;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, StockLevel>, Self::Error> {
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let levels = self.0.stocks(&refs).await.map_err(Arc::new)?;
        Ok(ids.iter().cloned().zip(levels).collect())
    }
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

/// The products subgraph's `Product`, seen from the inventory: its id and its stock.
pub struct Product {
    id: ID,
}

#[Object(name = "Product")]
impl Product {
    async fn id(&self) -> &ID {
        &self.id
    }

    /// Resolved from the hot counts (zero for a product never stocked); the products of one
    /// request are read together.
    async fn stock(&self, ctx: &Context<'_>) -> Result<StockLevelObject, ApiError> {
        let loader = ctx.state::<DataLoader<StockLoader>>()?;
        let level = loader
            .load_one(self.id.to_string())
            .await
            .map_err(|err| ApiError::internal(&*err))?
            .unwrap_or_default();
        Ok(level.into())
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
    /// ADMIN. Sets how many units are on hand; refused below what orders have reserved.
    #[instrument(skip_all, fields(product_id = %product_id.as_str(), on_hand))]
    async fn set_stock(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        on_hand: i32,
    ) -> Result<StockPayload, ApiError> {
        ctx.state::<Viewer>()?.require_admin()?;
        let id = product_id.trim();
        if id.is_empty() || id.len() > MAX_PRODUCT_ID_LEN {
            return Ok(StockPayload::failed(
                UserError::new("INVALID_INPUT", "the product id is empty or too long")
                    .on_field(&["productId"]),
            ));
        }
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
            .set_stock(id, on_hand, ctx.state::<TraceContext>()?)
            .await?;
        Ok(match outcome {
            SetStockOutcome::Set(level) => StockPayload {
                product_id: Some(ID(id.to_owned())),
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
                    .on_field(&["productId"]),
            ),
        })
    }
}
