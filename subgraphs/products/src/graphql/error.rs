//! Where the products subgraph's failures become GraphQL errors or userErrors.

use emporium_kernel::graphql::UserError;
use emporium_kernel::ApiError;

use crate::catalog::CatalogError;
use crate::domain::product::{InvalidProduct, ProductField};
use crate::store::StoreError;
use crate::store::UpdateRefusal;

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(&err)
    }
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        ApiError::internal(&err)
    }
}

/// Each problem of a product input on its field of `input`.
pub fn invalid_product(InvalidProduct(problems): InvalidProduct) -> Vec<UserError> {
    problems
        .into_iter()
        .map(|problem| {
            let field = match problem.field {
                ProductField::Sku => "sku",
                ProductField::Name => "name",
                ProductField::Description => "description",
                ProductField::Category => "category",
                ProductField::Brand => "brand",
                ProductField::Price => "price",
                ProductField::Attributes => "attributes",
                ProductField::ImageUrl => "imageUrl",
                ProductField::InitialStock => "initialStock",
                ProductField::Options => "options",
                ProductField::Variants => "variants",
            };
            let path: Vec<&str> = ["input", field]
                .into_iter()
                .chain(problem.path.iter().map(String::as_str))
                .collect();
            UserError::new(problem.code, problem.message).on_field(&path)
        })
        .collect()
}

pub fn sku_taken() -> UserError {
    UserError::new("SKU_TAKEN", "a product with this sku already exists")
        .on_field(&["input", "sku"])
}

/// A variant SKU of an update that another product sells.
pub fn variant_sku_taken() -> UserError {
    UserError::new(
        "SKU_TAKEN",
        "another product has one of these variants' skus (as its own or a variant's)",
    )
    .on_field(&["input", "variants"])
}

/// An update the product's kind does not allow.
pub fn refused_update(refusal: UpdateRefusal) -> UserError {
    match refusal {
        UpdateRefusal::NoOptions => UserError::new(
            "INVALID_INPUT",
            "a product without options is its own single variant and cannot gain options; create a product with them",
        )
        .on_field(&["input", "options"]),
        UpdateRefusal::PriceOfVariants => UserError::new(
            "INVALID_INPUT",
            "a product with variants costs what its cheapest variant costs: set the variants' prices",
        )
        .on_field(&["input", "price"]),
    }
}

pub fn not_found() -> UserError {
    UserError::new("NOT_FOUND", "no product has this id").on_field(&["id"])
}

pub fn nothing_to_change() -> UserError {
    UserError::new("INVALID_INPUT", "the update sets no field").on_field(&["input"])
}
