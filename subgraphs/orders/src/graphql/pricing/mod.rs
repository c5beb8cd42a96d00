//! Shipping, tax and discount codes in the schema: their objects, inputs and payloads, the
//! admin's changes (checked here, every problem on its input field) and the shopper's cart
//! changes. Business failures are userErrors with stable codes: INVALID_INPUT, NOT_FOUND,
//! DISCOUNT_CODE_TAKEN, SHIPPING_METHOD_UNAVAILABLE and the `DISCOUNT_*` codes of
//! [`DiscountRefusal`].
//!
//! Layout:
//! - `objects`: the objects, inputs and payloads of shipping, tax and discount codes.
//! - `queries`: what `Query` and checkout read: the shop's methods and codes (ADMIN), the
//!   priced cart and the address a checkout ships to.
//! - `mutation`: `PricingMutation`, the cart's pricing changes and the shop's configuration,
//!   with the checks of the admin's input.

mod mutation;
mod objects;
mod queries;

pub use mutation::PricingMutation;
pub use objects::{
    AppliedDiscountObject, DiscountCodeConnection, ShippingMethodObject, TaxLineObject,
};
pub(super) use queries::{checkout_address, discount_codes, priced_cart, shipping_methods};
