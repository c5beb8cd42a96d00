//! Queries: one product, and the catalog as a Relay connection.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Object, ID};
use emporium_kernel::graphql::{ContextState, PageRequest};
use emporium_kernel::ApiError;
use tracing::instrument;

use super::types::{Product, ProductConnection, ProductVariant};
use crate::store::StoreError;
use crate::ProductsState;

pub struct Query;

#[Object]
impl Query {
    async fn product(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Product>, ApiError> {
        find(ctx, &id).await
    }

    /// The catalog in a stable order (oldest first). `category` includes its sub-categories:
    /// "Audio" lists "Audio > Headphones" too.
    #[instrument(skip_all)]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        category: Option<String>,
    ) -> Result<ProductConnection, ApiError> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let category = category.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let with_count = ctx.look_ahead().field("totalCount").exists();
        let state = ctx.state::<ProductsState>()?;
        let page = state
            .catalog
            .page(category, page.after.as_deref(), page.size, with_count)
            .await?;
        Ok(ProductConnection::from_page(page))
    }

    /// One variant by id (a product without options is its own variant: its id is the
    /// product's).
    async fn variant(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ProductVariant>, ApiError> {
        find_variant(ctx, &id).await
    }

    /// Federation entity resolver: cart and order lines refer to variants by id.
    #[graphql(entity)]
    async fn find_product_variant_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<ProductVariant>, ApiError> {
        find_variant(ctx, &id).await
    }

    /// Federation entity resolver: other subgraphs refer to products by id.
    #[graphql(entity)]
    async fn find_product_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<Product>, ApiError> {
        find(ctx, &id).await
    }
}

/// Through the schema's [`ProductLoader`]: the ids of one `_entities` request (and of
/// concurrent requests) are read together, with one cache round trip.
async fn find(ctx: &Context<'_>, id: &ID) -> Result<Option<Product>, ApiError> {
    let loader = ctx.state::<DataLoader<ProductLoader>>()?;
    Ok(loader
        .load_one(id.to_string())
        .await
        .map_err(|err| ApiError::internal(&*err))?
        .map(Product))
}

async fn find_variant(ctx: &Context<'_>, id: &ID) -> Result<Option<ProductVariant>, ApiError> {
    let state = ctx.state::<ProductsState>()?;
    Ok(state
        .catalog
        .variant(id.as_str())
        .await?
        .map(|(product, variant)| ProductVariant { variant, product }))
}

/// Loads products by id in batches through the catalog (cache first).
pub struct ProductLoader(pub crate::Catalog);

impl Loader<String> for ProductLoader {
    type Value = crate::domain::product::Product;
    type Error = Arc<StoreError>;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        self.0.products(ids).await.map_err(Arc::new)
    }
}
