//! Queries: one product, and the catalog as a Relay connection.

use async_graphql::{Context, Object, ID};
use emporium_kernel::graphql::PageRequest;
use emporium_kernel::ApiError;
use tracing::instrument;

use super::types::{Product, ProductConnection};
use crate::ProductsState;

pub struct Query;

#[Object]
impl Query {
    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Product>> {
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
    ) -> async_graphql::Result<ProductConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let category = category.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let state = ctx.data::<ProductsState>()?;
        let page = state
            .store
            .list(category, page.after.as_deref(), page.size)
            .await
            .map_err(ApiError::from)?;
        Ok(ProductConnection::from_page(page))
    }

    /// Federation entity resolver: other subgraphs refer to products by id.
    #[graphql(entity)]
    async fn find_product_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Product>> {
        find(ctx, &id).await
    }
}

async fn find(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<Product>> {
    let state = ctx.data::<ProductsState>()?;
    Ok(state
        .store
        .find_by_id(id)
        .await
        .map_err(ApiError::from)?
        .map(Product))
}
