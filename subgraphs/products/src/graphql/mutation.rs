//! Admin mutations on the catalog.

use async_graphql::{Context, MaybeUndefined, Object, ID};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::ContextState;
use emporium_kernel::ids::ProductId;
use emporium_kernel::trace::TraceContext;
use emporium_kernel::ApiError;
use tracing::instrument;

use super::error;
use super::types::{DeletePayload, Product, ProductInput, ProductPayload, ProductUpdateInput};
use crate::catalog::CatalogError;
use crate::domain::product::{PatchDraft, ProductDraft};
use crate::store::StoreError;
use crate::ProductsState;

pub struct Mutation;

#[Object]
impl Mutation {
    /// ADMIN.
    #[instrument(skip_all)]
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: ProductInput,
    ) -> Result<ProductPayload, ApiError> {
        ctx.state::<Viewer>()?.require_admin()?;
        let state = ctx.state::<ProductsState>()?;
        let new_product = match draft_from(input).validate() {
            Ok(product) => product,
            Err(invalid) => {
                return Ok(ProductPayload {
                    product: None,
                    user_errors: error::invalid_product(invalid),
                })
            }
        };
        match state
            .catalog
            .create(&new_product, ctx.state::<TraceContext>()?)
            .await
        {
            Ok(product) => {
                tracing::info!(product_id = %product.id, sku = %product.sku, "product created");
                Ok(ProductPayload {
                    product: Some(Product(product)),
                    user_errors: vec![],
                })
            }
            Err(StoreError::SkuTaken) => Ok(ProductPayload {
                product: None,
                user_errors: vec![error::sku_taken()],
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// ADMIN. Fields left out (or null) stay as they are; `brand` and `imageUrl` set to null are
    /// cleared. A product with options gets its `options` and `variants` replaced together
    /// (a variant keeping its SKU keeps its id and stock); its price follows its variants'.
    #[instrument(skip_all, fields(product_id = %id.as_str()))]
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ProductUpdateInput,
    ) -> Result<ProductPayload, ApiError> {
        ctx.state::<Viewer>()?.require_admin()?;
        let state = ctx.state::<ProductsState>()?;
        let patch = match patch_from(input).validate() {
            Ok(patch) if patch.is_empty() => {
                return Ok(ProductPayload {
                    product: None,
                    user_errors: vec![error::nothing_to_change()],
                })
            }
            Ok(patch) => patch,
            Err(invalid) => {
                return Ok(ProductPayload {
                    product: None,
                    user_errors: error::invalid_product(invalid),
                })
            }
        };
        // An id that cannot be a product's names none.
        let Ok(id) = ProductId::parse(id.as_str()) else {
            return Ok(ProductPayload {
                product: None,
                user_errors: vec![error::not_found()],
            });
        };
        let failed = |error| {
            Ok(ProductPayload {
                product: None,
                user_errors: vec![error],
            })
        };
        match state
            .catalog
            .update(&id, &patch, ctx.state::<TraceContext>()?)
            .await
        {
            Ok(Some(product)) => Ok(ProductPayload {
                product: Some(Product(product)),
                user_errors: vec![],
            }),
            Ok(None) => failed(error::not_found()),
            Err(CatalogError::Store(StoreError::SkuTaken)) => failed(error::variant_sku_taken()),
            Err(CatalogError::Store(StoreError::Refused(refusal))) => {
                failed(error::refused_update(refusal))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// ADMIN.
    #[instrument(skip_all, fields(product_id = %id.as_str()))]
    async fn delete_product(&self, ctx: &Context<'_>, id: ID) -> Result<DeletePayload, ApiError> {
        ctx.state::<Viewer>()?.require_admin()?;
        let state = ctx.state::<ProductsState>()?;
        let deleted = match ProductId::parse(id.as_str()) {
            Ok(product_id) => {
                state
                    .catalog
                    .delete(&product_id, ctx.state::<TraceContext>()?)
                    .await?
            }
            Err(_) => false,
        };
        if !deleted {
            return Ok(DeletePayload {
                deleted_id: None,
                user_errors: vec![error::not_found()],
            });
        }
        tracing::info!("product deleted");
        Ok(DeletePayload {
            deleted_id: Some(id),
            user_errors: vec![],
        })
    }
}

fn draft_from(input: ProductInput) -> ProductDraft {
    ProductDraft {
        sku: input.sku,
        name: input.name,
        description: input.description,
        category: input.category,
        brand: input.brand,
        price: input.price.0,
        attributes: input
            .attributes
            .map(|a| a.into_iter().map(Into::into).collect()),
        image_url: input.image_url,
        initial_stock: input.initial_stock,
        options: input
            .options
            .map(|o| o.into_iter().map(Into::into).collect()),
        variants: input
            .variants
            .map(|v| v.into_iter().map(Into::into).collect()),
    }
}

fn patch_from(input: ProductUpdateInput) -> PatchDraft {
    fn clearable(value: MaybeUndefined<String>) -> Option<Option<String>> {
        match value {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(v)),
        }
    }
    PatchDraft {
        name: input.name,
        description: input.description,
        category: input.category,
        brand: clearable(input.brand),
        price: input.price.map(|p| p.0),
        attributes: input
            .attributes
            .map(|a| a.into_iter().map(Into::into).collect()),
        image_url: clearable(input.image_url),
        options: input
            .options
            .map(|o| o.into_iter().map(Into::into).collect()),
        variants: input
            .variants
            .map(|v| v.into_iter().map(Into::into).collect()),
    }
}
