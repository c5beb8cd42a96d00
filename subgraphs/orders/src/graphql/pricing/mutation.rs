//! `PricingMutation`: the shopper's cart pricing changes (shipping address and method,
//! discount codes) and the admin's configuration (shipping methods, tax rates, discount
//! codes), merged into the subgraph's `Mutation`.
//!
//! The admin's input is checked here, every problem on its input field; business failures
//! are userErrors with stable codes (INVALID_INPUT, NOT_FOUND, DISCOUNT_CODE_TAKEN,
//! SHIPPING_METHOD_UNAVAILABLE and the `DISCOUNT_*` codes of [`DiscountRefusal`]), and only a
//! failure of the service itself is an [`ApiError`].

use async_graphql::{Context, Object, ID};
use chrono::Utc;
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::{ContextState, Decimal, UserError};
use emporium_kernel::money::Money;
use emporium_kernel::ApiError;
use tracing::instrument;
use uuid::Uuid;

use super::objects::{
    shop_money, DiscountCodeInput, DiscountCodeObject, DiscountCodePayload, ShippingMethodInput,
    ShippingMethodObject, ShippingMethodPayload, TaxLineObject, TaxRateInput, TaxRatePayload,
};
use super::queries::priced_cart;
use crate::graphql::types::{AddressInput, CartPayload};
use crate::pricing::{
    normalize_code, DiscountCode, DiscountRefusal, DiscountValue, ShippingMethod, TaxRate,
    TaxRateValue, SHOP_CURRENCY,
};
use crate::store::OrderStore;

fn invalid(path: &[&str], message: impl Into<String>) -> UserError {
    UserError::new("INVALID_INPUT", message).on_field(path)
}

/// A two-letter country code, upper case.
fn country(raw: &str) -> Option<String> {
    let country = raw.trim().to_ascii_uppercase();
    (country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())).then_some(country)
}

/// An amount of the shop's currency, not negative.
fn amount(raw: &Decimal, path: &[&str], problems: &mut Vec<UserError>) -> Option<i64> {
    match Money::parse_price(raw.0.trim(), SHOP_CURRENCY) {
        Ok(money) => Some(money.minor()),
        Err(e) => {
            problems.push(invalid(path, e.to_string()));
            None
        }
    }
}

fn named(raw: &str, path: &[&str], problems: &mut Vec<UserError>) -> String {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        problems.push(invalid(path, "must be 1 to 100 characters"));
    }
    name.to_owned()
}

fn code_not_found() -> UserError {
    UserError::new(
        DiscountRefusal::NotFound.code(),
        DiscountRefusal::NotFound.to_string(),
    )
    .on_field(&["code"])
}

// ------------------------------------------------------------------------- the shopper's cart

fn failed(error: UserError) -> CartPayload {
    CartPayload {
        cart: None,
        user_errors: vec![error],
    }
}

async fn changed(ctx: &Context<'_>) -> Result<CartPayload, ApiError> {
    Ok(CartPayload {
        cart: Some(priced_cart(ctx).await?),
        user_errors: vec![],
    })
}

/// Shipping, tax and discount codes: the cart's pricing changes and the shop's configuration
/// (ADMIN), merged into the subgraph's `Mutation`.
#[derive(Default)]
pub struct PricingMutation;

#[Object]
impl PricingMutation {
    /// Sets where the signed-in customer's cart ships to: the methods serving it are offered
    /// and its country's tax applies.
    #[instrument(skip_all)]
    async fn set_cart_shipping_address(
        &self,
        ctx: &Context<'_>,
        address: AddressInput,
    ) -> Result<CartPayload, ApiError> {
        let user = ctx.state::<Viewer>()?.require_user()?;
        let address = match address.into_address().parse() {
            Ok(address) => address,
            Err(problems) => {
                return Ok(CartPayload {
                    cart: None,
                    user_errors: problems
                        .into_iter()
                        .map(|problem| {
                            let path: Vec<&str> = ["address"]
                                .into_iter()
                                .chain(problem.field.iter().skip(1).copied())
                                .collect();
                            invalid(&path, problem.message)
                        })
                        .collect(),
                })
            }
        };
        ctx.state::<OrderStore>()?
            .set_cart_address(user.id.into(), &address)
            .await?;
        changed(ctx).await
    }

    /// Chooses one of the cart's available shipping methods (SHIPPING_METHOD_UNAVAILABLE
    /// otherwise).
    #[instrument(skip_all)]
    async fn set_cart_shipping_method(
        &self,
        ctx: &Context<'_>,
        shipping_method_id: ID,
    ) -> Result<CartPayload, ApiError> {
        let id = &shipping_method_id;
        let user = ctx.state::<Viewer>()?.require_user()?;
        let unavailable = || {
            failed(
                UserError::new(
                    "SHIPPING_METHOD_UNAVAILABLE",
                    "this shipping method does not serve the cart's shipping address (set the address first)",
                )
                .on_field(&["shippingMethodId"]),
            )
        };
        let Ok(id) = id.trim().parse::<Uuid>() else {
            return Ok(unavailable());
        };
        let cart = priced_cart(ctx).await?;
        if !cart
            .available_shipping_methods
            .iter()
            .any(|m| m.id.as_str() == id.to_string())
        {
            return Ok(unavailable());
        }
        if !ctx
            .state::<OrderStore>()?
            .set_cart_method(user.id.into(), id)
            .await?
        {
            return Ok(unavailable());
        }
        changed(ctx).await
    }

    /// Applies a discount code to the cart: DISCOUNT_NOT_FOUND, DISCOUNT_EXPIRED,
    /// DISCOUNT_NOT_APPLICABLE or DISCOUNT_LIMIT_REACHED when it does not apply.
    #[instrument(skip_all)]
    async fn apply_discount_code(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<CartPayload, ApiError> {
        let code = code.as_str();
        let user = ctx.state::<Viewer>()?.require_user()?;
        let store = ctx.state::<OrderStore>()?;
        let Some(code) = normalize_code(code) else {
            return Ok(failed(code_not_found()));
        };
        let Some(found) = store.discount_code(&code).await? else {
            return Ok(failed(code_not_found()));
        };
        let lines = store.cart(user.id.into()).await?;
        let subtotal = if lines.is_empty() {
            0
        } else {
            crate::lines::total(&lines)?.minor()
        };
        if let Err(refusal) = found.check(subtotal, Utc::now()) {
            return Ok(failed(
                UserError::new(refusal.code(), refusal.to_string()).on_field(&["code"]),
            ));
        }
        if !store.add_cart_code(user.id.into(), &code).await? {
            return Ok(failed(code_not_found()));
        }
        changed(ctx).await
    }

    /// Removes a discount code from the cart.
    #[instrument(skip_all)]
    async fn remove_discount_code(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<CartPayload, ApiError> {
        let code = code.as_str();
        let user = ctx.state::<Viewer>()?.require_user()?;
        let removed = match normalize_code(code) {
            Some(code) => {
                ctx.state::<OrderStore>()?
                    .remove_cart_code(user.id.into(), &code)
                    .await?
            }
            None => false,
        };
        if !removed {
            return Ok(failed(
                UserError::new("DISCOUNT_NOT_FOUND", "the cart holds no such code")
                    .on_field(&["code"]),
            ));
        }
        changed(ctx).await
    }

    /// ADMIN: a new shipping method.
    #[instrument(skip_all)]
    async fn create_shipping_method(
        &self,
        ctx: &Context<'_>,
        input: ShippingMethodInput,
    ) -> Result<ShippingMethodPayload, ApiError> {
        ctx.state::<Viewer>()?.require_admin()?;
        let mut problems = Vec::new();
        let name = named(&input.name, &["input", "name"], &mut problems);
        let price = amount(&input.price, &["input", "price"], &mut problems);
        let free_over = input
            .free_over_subtotal
            .as_ref()
            .and_then(|raw| amount(raw, &["input", "freeOverSubtotal"], &mut problems));
        let countries: Vec<String> = input
            .countries
            .iter()
            .filter_map(|raw| {
                let parsed = country(raw);
                if parsed.is_none() {
                    problems.push(invalid(
                        &["input", "countries"],
                        format!("{raw:?} is not a two-letter ISO 3166 country code"),
                    ));
                }
                parsed
            })
            .collect();
        if input.estimated_days.is_some_and(|days| days < 0) {
            problems.push(invalid(&["input", "estimatedDays"], "must not be negative"));
        }
        let description = input
            .description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 1000)
        {
            problems.push(invalid(
                &["input", "description"],
                "must be at most 1000 characters",
            ));
        }
        let (Some(price), true) = (price, problems.is_empty()) else {
            return Ok(ShippingMethodPayload {
                shipping_method: None,
                user_errors: problems,
            });
        };
        let mut countries = countries;
        countries.sort();
        countries.dedup();
        let method = ShippingMethod {
            id: Uuid::now_v7(),
            name,
            description,
            price_minor: price,
            free_over_minor: free_over,
            countries,
            estimated_days: input.estimated_days,
        };
        ctx.state::<OrderStore>()?
            .create_shipping_method(&method)
            .await?;
        Ok(ShippingMethodPayload {
            shipping_method: Some(ShippingMethodObject::configured(&method)?),
            user_errors: vec![],
        })
    }

    /// ADMIN: sets (or replaces) a country's tax rate.
    #[instrument(skip_all)]
    async fn set_tax_rate(
        &self,
        ctx: &Context<'_>,
        input: TaxRateInput,
    ) -> Result<TaxRatePayload, ApiError> {
        ctx.state::<Viewer>()?.require_admin()?;
        let mut problems = Vec::new();
        let country = country(&input.country);
        if country.is_none() {
            problems.push(invalid(
                &["input", "country"],
                "must be a two-letter ISO 3166 country code, such as US or DE",
            ));
        }
        let name = named(&input.name, &["input", "name"], &mut problems);
        let rate = TaxRateValue::parse(&input.rate.0)
            .map_err(|e| problems.push(invalid(&["input", "rate"], e.to_string())))
            .ok();
        let (Some(country), Some(rate), true) = (country, rate, problems.is_empty()) else {
            return Ok(TaxRatePayload {
                tax_line: None,
                user_errors: problems,
            });
        };
        let tax = TaxRate {
            country,
            name,
            rate,
        };
        ctx.state::<OrderStore>()?.set_tax_rate(&tax).await?;
        Ok(TaxRatePayload {
            tax_line: Some(TaxLineObject {
                name: tax.name,
                rate: Decimal(tax.rate.to_decimal_string()),
                amount: shop_money(0)?,
            }),
            user_errors: vec![],
        })
    }

    /// ADMIN: a new discount code (DISCOUNT_CODE_TAKEN when the name exists).
    #[instrument(skip_all)]
    async fn create_discount_code(
        &self,
        ctx: &Context<'_>,
        input: DiscountCodeInput,
    ) -> Result<DiscountCodePayload, ApiError> {
        ctx.state::<Viewer>()?.require_admin()?;
        let mut problems = Vec::new();
        let code = normalize_code(&input.code);
        if code.is_none() {
            problems.push(invalid(
                &["input", "code"],
                "must be 1 to 64 letters, digits, '-' or '_'",
            ));
        }
        let value = DiscountValue::parse(input.kind.into(), &input.value.0)
            .map_err(|e| problems.push(invalid(&["input", "value"], e.to_string())))
            .ok();
        let minimum = input
            .minimum_subtotal
            .as_ref()
            .and_then(|raw| amount(raw, &["input", "minimumSubtotal"], &mut problems));
        if let (Some(starts), Some(ends)) = (input.starts_at, input.ends_at) {
            if ends <= starts {
                problems.push(invalid(&["input", "endsAt"], "must be after startsAt"));
            }
        }
        if input.usage_limit.is_some_and(|limit| limit < 1) {
            problems.push(invalid(&["input", "usageLimit"], "must be at least 1"));
        }
        let (Some(code), Some(value), true) = (code, value, problems.is_empty()) else {
            return Ok(DiscountCodePayload {
                discount_code: None,
                user_errors: problems,
            });
        };
        let discount = DiscountCode {
            code,
            value,
            minimum_subtotal_minor: minimum,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            usage_limit: input.usage_limit,
            times_used: 0,
            active: true,
        };
        if !ctx
            .state::<OrderStore>()?
            .create_discount_code(&discount)
            .await?
        {
            return Ok(DiscountCodePayload {
                discount_code: None,
                user_errors: vec![UserError::new(
                    "DISCOUNT_CODE_TAKEN",
                    "a discount code of this name exists already",
                )
                .on_field(&["input", "code"])],
            });
        }
        Ok(DiscountCodePayload {
            discount_code: Some(DiscountCodeObject::of(&discount)?),
            user_errors: vec![],
        })
    }

    /// ADMIN: a code stops applying (carts holding it are refused at checkout).
    #[instrument(skip_all)]
    async fn deactivate_discount_code(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<DiscountCodePayload, ApiError> {
        let code = code.as_str();
        ctx.state::<Viewer>()?.require_admin()?;
        let found = match normalize_code(code) {
            Some(code) => {
                ctx.state::<OrderStore>()?
                    .deactivate_discount_code(&code)
                    .await?
            }
            None => None,
        };
        Ok(match found {
            Some(code) => DiscountCodePayload {
                discount_code: Some(DiscountCodeObject::of(&code)?),
                user_errors: vec![],
            },
            None => DiscountCodePayload {
                discount_code: None,
                user_errors: vec![
                    UserError::new("NOT_FOUND", "no discount code is called this")
                        .on_field(&["code"]),
                ],
            },
        })
    }
}
