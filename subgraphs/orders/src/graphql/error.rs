//! Where the orders subgraph's failures become GraphQL errors or userErrors: every service
//! error is INTERNAL (logged with its cause, never shown); business outcomes are userErrors.

use emporium_kernel::graphql::UserError;
use emporium_kernel::ApiError;

use crate::checkout::Invalid;
use crate::lines::{LinesError, MAX_QUANTITY};
use crate::orders::OrdersError;
use crate::store::{LineTarget, StoreError};

impl From<OrdersError> for ApiError {
    fn from(err: OrdersError) -> Self {
        ApiError::internal(&err)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(&err)
    }
}

impl From<LinesError> for ApiError {
    fn from(err: LinesError) -> Self {
        ApiError::internal(&err)
    }
}

pub fn bad_quantity(max_message: bool) -> UserError {
    let message = if max_message {
        format!("a cart line holds at most {MAX_QUANTITY} units")
    } else {
        format!("the quantity must be between 1 and {MAX_QUANTITY}")
    };
    UserError::new("INVALID_INPUT", message).on_field(&["quantity"])
}

pub fn unknown_product() -> UserError {
    UserError::new("NOT_FOUND", "no product in the catalog has this id").on_field(&["productId"])
}

/// The product or variant a cart change names is not sold.
pub fn unknown_target(target: &LineTarget) -> UserError {
    match target {
        LineTarget::Product(_) => unknown_product(),
        LineTarget::Variant(_) => {
            UserError::new("NOT_FOUND", "no product variant in the catalog has this id")
                .on_field(&["variantId"])
        }
    }
}

/// `productId` of a product with several variants: which one is not said.
pub fn variant_required() -> UserError {
    UserError::new(
        "INVALID_INPUT",
        "this product has several variants: name one with variantId",
    )
    .on_field(&["productId"])
}

pub fn order_not_found() -> UserError {
    UserError::new("NOT_FOUND", "no order with this id").on_field(&["id"])
}

/// Each problem of a checkout on its field below `input`.
pub fn invalid_checkout(problems: Vec<Invalid>) -> Vec<UserError> {
    problems
        .into_iter()
        .map(|problem| {
            let path: Vec<&str> = ["input"]
                .into_iter()
                .chain(problem.field.iter().copied())
                .collect();
            UserError::new("INVALID_INPUT", problem.to_string()).on_field(&path)
        })
        .collect()
}
