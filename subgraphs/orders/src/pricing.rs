//! Cart pricing: shipping, discount codes, tax and the totals, as pure functions (no I/O, no
//! clock: the moment is a parameter). [`price`] takes the cart's lines, its shipping country,
//! the shop's shipping methods, the cart's discount codes, the country's tax rate and the shop's
//! "prices include tax" setting, and returns every amount the cart and the order show.
//!
//! The rules, written once here and in the README:
//! - Money is integer minor units; every division rounds half-even (banker's rounding).
//! - `subtotal` is the sum of the lines at their listed prices.
//! - Discounts: a PERCENTAGE code takes that share of the subtotal (rounded half-even), a
//!   FIXED_AMOUNT code its amount; codes apply in the order they were added and together never
//!   take more than the subtotal (the code that would go below zero takes what is left).
//!   A FREE_SHIPPING code takes the shipping price (once, however many such codes).
//! - A shipping method costs nothing when the subtotal reaches its free-over threshold.
//! - Tax is computed per line, on the line after its share of the merchandise discount
//!   (shares are proportional to the line totals, the cents left over going to the lines with
//!   the largest remainders), rounded half-even per line. Shipping is not taxed.
//! - Prices exclude tax (the default, US style): `taxTotal` is the tax added.
//!   Prices include tax (EU style): the tax is contained in the prices, so nothing is added
//!   (`taxTotal` is 0 and the total is what it would be without tax); the tax lines show the
//!   amount contained, `rate / (1 + rate)` of each line, rounded half-even per line.
//! - Always: `subtotal - discountTotal + shippingTotal + taxTotal = total`, and no amount is
//!   negative.
//!
//! Failure: lines in several currencies or amounts beyond [`Money`]'s range are a
//! [`LinesError`]; a code that does not apply is not an error but a [`DiscountRefusal`] in
//! [`PricedCart::refused`].

use chrono::{DateTime, Utc};
use emporium_kernel::money::{Currency, Money};
use uuid::Uuid;

use crate::lines::{self, Line, LinesError};

/// The currency of shipping prices and fixed discounts: the shop's (the catalog's prices are
/// in it too).
pub const SHOP_CURRENCY: Currency = Currency::USD;

/// `n / d` rounded half to even, for `n >= 0`, `d > 0`.
fn div_half_even(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// Why a decimal the admin typed is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("must be a decimal number such as \"0.2\"")]
    Malformed,
    #[error("must have at most {0} decimal places")]
    TooPrecise(usize),
    #[error("must be between {0} and {1}")]
    OutOfRange(&'static str, &'static str),
}

/// Parses a non-negative decimal with at most `places` fraction digits into an integer scaled
/// by `10^places` ("0.0725" with 6 places is 72500).
fn parse_scaled(raw: &str, places: usize) -> Result<i64, ValueError> {
    let raw = raw.trim();
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || raw.ends_with('.') {
        return Err(ValueError::Malformed);
    }
    if fraction.len() > places {
        return Err(ValueError::TooPrecise(places));
    }
    if whole.len() > 12 {
        return Err(ValueError::Malformed);
    }
    let scale = 10_i64.pow(places as u32);
    let whole: i64 = whole.parse().map_err(|_| ValueError::Malformed)?;
    let fraction: i64 = format!("{fraction:0<places$}")
        .parse()
        .map_err(|_| ValueError::Malformed)?;
    Ok(whole * scale + fraction)
}

/// Writes an integer scaled by `10^places` as the shortest decimal ("72500" → "0.0725").
fn scaled_to_string(value: i64, places: usize) -> String {
    let scale = 10_i64.pow(places as u32);
    let fraction = format!("{:0places$}", value % scale);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{}", value / scale)
    } else {
        format!("{}.{fraction}", value / scale)
    }
}

/// A tax rate: a fraction from 0 (inclusive) to 1 (exclusive) with at most 6 decimal places
/// ("0.2" is 20 %, "0.0725" is 7.25 %), held in millionths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxRateValue(i64);

impl TaxRateValue {
    const SCALE: i64 = 1_000_000;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let millionths = parse_scaled(raw, 6)?;
        Self::from_millionths(millionths).ok_or(ValueError::OutOfRange("0", "0.999999"))
    }

    pub fn from_millionths(millionths: i64) -> Option<Self> {
        (0..Self::SCALE)
            .contains(&millionths)
            .then_some(Self(millionths))
    }

    pub fn millionths(self) -> i64 {
        self.0
    }

    /// "0.2", "0.0725", "0".
    pub fn to_decimal_string(self) -> String {
        scaled_to_string(self.0, 6)
    }

    /// The tax on a net amount, rounded half-even.
    fn tax_on(self, net_minor: i64) -> i64 {
        div_half_even(
            i128::from(net_minor) * i128::from(self.0),
            i128::from(Self::SCALE),
        ) as i64
    }

    /// The tax contained in a gross amount (`rate / (1 + rate)` of it), rounded half-even.
    fn tax_in(self, gross_minor: i64) -> i64 {
        div_half_even(
            i128::from(gross_minor) * i128::from(self.0),
            i128::from(Self::SCALE + self.0),
        ) as i64
    }
}

/// The tax rate of a country (one per country).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRate {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    /// What the tax is called: "VAT", "Sales tax".
    pub name: String,
    pub rate: TaxRateValue,
}

/// A shipping method as configured by an admin. Prices are minor units of [`SHOP_CURRENCY`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingMethod {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub price_minor: i64,
    /// From this subtotal on, the method costs nothing.
    pub free_over_minor: Option<i64>,
    /// ISO 3166-1 alpha-2 codes; empty: everywhere.
    pub countries: Vec<String>,
    pub estimated_days: Option<i32>,
}

impl ShippingMethod {
    pub fn serves(&self, country: &str) -> bool {
        self.countries.is_empty() || self.countries.iter().any(|c| c == country)
    }

    /// The method's price for a cart of this subtotal.
    pub fn price_for(&self, subtotal_minor: i64) -> i64 {
        match self.free_over_minor {
            Some(threshold) if subtotal_minor >= threshold => 0,
            _ => self.price_minor,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountKind {
    Percentage,
    FixedAmount,
    FreeShipping,
}

impl DiscountKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Percentage => "PERCENTAGE",
            Self::FixedAmount => "FIXED_AMOUNT",
            Self::FreeShipping => "FREE_SHIPPING",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Percentage, Self::FixedAmount, Self::FreeShipping]
            .into_iter()
            .find(|kind| kind.as_str() == raw)
    }
}

/// What a code takes off, in its kind's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountValue {
    /// Hundredths of a percent: 1000 is 10 %; 1 to 10 000.
    Percentage {
        basis_points: i64,
    },
    /// Minor units of [`SHOP_CURRENCY`], more than 0.
    FixedAmount {
        minor: i64,
    },
    FreeShipping,
}

impl DiscountValue {
    /// The value as the admin typed it for `kind`: "10" (%) for PERCENTAGE, "5.00" for
    /// FIXED_AMOUNT, "0" for FREE_SHIPPING.
    pub fn parse(kind: DiscountKind, raw: &str) -> Result<Self, ValueError> {
        match kind {
            DiscountKind::Percentage => {
                let basis_points = parse_scaled(raw, 2)?;
                if !(1..=10_000).contains(&basis_points) {
                    return Err(ValueError::OutOfRange("0.01", "100"));
                }
                Ok(Self::Percentage { basis_points })
            }
            DiscountKind::FixedAmount => {
                let minor = parse_scaled(raw, 2)?;
                if minor <= 0 || Money::from_minor(minor, SHOP_CURRENCY).is_err() {
                    return Err(ValueError::OutOfRange("0.01", "1000000000000"));
                }
                Ok(Self::FixedAmount { minor })
            }
            DiscountKind::FreeShipping => match parse_scaled(raw, 2)? {
                0 => Ok(Self::FreeShipping),
                _ => Err(ValueError::OutOfRange("0", "0")),
            },
        }
    }

    pub fn kind(self) -> DiscountKind {
        match self {
            Self::Percentage { .. } => DiscountKind::Percentage,
            Self::FixedAmount { .. } => DiscountKind::FixedAmount,
            Self::FreeShipping => DiscountKind::FreeShipping,
        }
    }

    /// The value as the API shows it: "10", "5.00", "0".
    pub fn to_decimal_string(self) -> String {
        match self {
            Self::Percentage { basis_points } => scaled_to_string(basis_points, 2),
            Self::FixedAmount { minor } => scaled_to_string(minor, 2),
            Self::FreeShipping => "0".to_owned(),
        }
    }

    /// The number stored for it (basis points, minor units or 0).
    pub fn stored(self) -> i64 {
        match self {
            Self::Percentage { basis_points } => basis_points,
            Self::FixedAmount { minor } => minor,
            Self::FreeShipping => 0,
        }
    }

    /// The value from its stored number, if it fits the kind.
    pub fn from_stored(kind: DiscountKind, stored: i64) -> Option<Self> {
        match kind {
            DiscountKind::Percentage => {
                (1..=10_000).contains(&stored).then_some(Self::Percentage {
                    basis_points: stored,
                })
            }
            DiscountKind::FixedAmount => {
                (stored > 0).then_some(Self::FixedAmount { minor: stored })
            }
            DiscountKind::FreeShipping => (stored == 0).then_some(Self::FreeShipping),
        }
    }
}

/// A discount code as configured, with how often it was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountCode {
    /// Upper case.
    pub code: String,
    pub value: DiscountValue,
    pub minimum_subtotal_minor: Option<i64>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Orders in all; `None`: unlimited.
    pub usage_limit: Option<i32>,
    pub times_used: i32,
    pub active: bool,
}

/// Why a code does not apply to a cart now: the `DISCOUNT_*` codes of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DiscountRefusal {
    #[error("no discount code is called this")]
    NotFound,
    #[error("this discount code is no longer valid")]
    Expired,
    #[error("this discount code does not apply to this cart")]
    NotApplicable,
    #[error("this discount code has been used as often as it may be")]
    LimitReached,
}

impl DiscountRefusal {
    pub const fn code(self) -> &'static str {
        match self {
            Self::NotFound => "DISCOUNT_NOT_FOUND",
            Self::Expired => "DISCOUNT_EXPIRED",
            Self::NotApplicable => "DISCOUNT_NOT_APPLICABLE",
            Self::LimitReached => "DISCOUNT_LIMIT_REACHED",
        }
    }
}

/// A code as typed by a shopper or an admin: trimmed, upper case, 1 to 64 letters, digits,
/// `-` or `_`.
pub fn normalize_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    let fits = (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    fits.then_some(code)
}

impl DiscountCode {
    /// Whether the code applies to a cart of this subtotal at `now`. A deactivated code or
    /// one past its window is expired; one whose window has not opened, or a cart below its
    /// minimum, is not applicable.
    pub fn check(&self, subtotal_minor: i64, now: DateTime<Utc>) -> Result<(), DiscountRefusal> {
        if !self.active || self.ends_at.is_some_and(|end| now >= end) {
            return Err(DiscountRefusal::Expired);
        }
        if self
            .usage_limit
            .is_some_and(|limit| self.times_used >= limit)
        {
            return Err(DiscountRefusal::LimitReached);
        }
        if self.starts_at.is_some_and(|start| now < start)
            || self
                .minimum_subtotal_minor
                .is_some_and(|minimum| subtotal_minor < minimum)
        {
            return Err(DiscountRefusal::NotApplicable);
        }
        Ok(())
    }
}

/// Everything a cart's price depends on.
#[derive(Debug, Clone, Copy)]
pub struct CartPricing<'a> {
    pub lines: &'a [Line],
    /// The shipping address's country, if the cart has one.
    pub country: Option<&'a str>,
    /// Every configured shipping method (those serving `country` are offered).
    pub methods: &'a [ShippingMethod],
    pub chosen_method: Option<Uuid>,
    /// The cart's codes in the order they were added; `None` for one that no longer exists.
    pub codes: &'a [(String, Option<DiscountCode>)],
    /// The rate of `country`, if it has one.
    pub tax_rate: Option<&'a TaxRate>,
    pub prices_include_tax: bool,
    pub now: DateTime<Utc>,
}

/// A shipping method offered to a cart, at its price for that cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedMethod {
    pub method: ShippingMethod,
    pub price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedDiscount {
    pub code: String,
    pub kind: DiscountKind,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxLine {
    pub name: String,
    pub rate: TaxRateValue,
    pub amount: Money,
}

/// A cart with every amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedCart {
    pub currency: Currency,
    pub subtotal: Money,
    /// Empty until the cart has a shipping country.
    pub available_methods: Vec<OfferedMethod>,
    /// The chosen method, if it serves the cart's country.
    pub shipping_method: Option<OfferedMethod>,
    pub discounts: Vec<AppliedDiscount>,
    /// The cart's codes that do not apply now, and why.
    pub refused: Vec<(String, DiscountRefusal)>,
    pub discount_total: Money,
    pub shipping_total: Money,
    pub tax_lines: Vec<TaxLine>,
    /// Each line's tax (added or contained), in the order of the lines.
    pub line_taxes: Vec<Money>,
    pub tax_total: Money,
    pub total: Money,
    pub prices_include_tax: bool,
}

impl PricedCart {
    /// Methods serve the cart's country but none is chosen: checkout must refuse.
    pub fn needs_shipping_method(&self) -> bool {
        self.shipping_method.is_none() && !self.available_methods.is_empty()
    }
}

/// Splits `amount` over `weights` in proportion, exactly: each share rounded down, then the
/// cents left over one each to the largest remainders (the earlier line on a tie).
fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|&w| i128::from(w)).sum();
    if total == 0 || amount == 0 {
        return vec![0; weights.len()];
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, &weight) in weights.iter().enumerate() {
        let exact = i128::from(amount) * i128::from(weight);
        shares.push((exact / total) as i64);
        remainders.push((exact % total, i));
    }
    let left = amount - shares.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(left as usize) {
        shares[i] += 1;
    }
    shares
}

/// Prices a cart (see the module's rules).
pub fn price(input: CartPricing<'_>) -> Result<PricedCart, LinesError> {
    let (currency, subtotal) = match input.lines.first() {
        None => (SHOP_CURRENCY, 0),
        Some(first) => (
            first.unit_price.currency(),
            lines::total(input.lines)?.minor(),
        ),
    };
    let money = |minor: i64| Money::from_minor(minor, currency).map_err(LinesError::from);

    let mut available_methods = Vec::new();
    if let Some(country) = input.country {
        for method in input.methods.iter().filter(|m| m.serves(country)) {
            available_methods.push(OfferedMethod {
                method: method.clone(),
                price: money(method.price_for(subtotal))?,
            });
        }
    }
    let shipping_method = input
        .chosen_method
        .and_then(|id| available_methods.iter().find(|m| m.method.id == id))
        .cloned();
    let shipping = shipping_method.as_ref().map_or(0, |m| m.price.minor());

    let mut discounts = Vec::new();
    let mut refused = Vec::new();
    let (mut merchandise_discount, mut shipping_discount) = (0_i64, 0_i64);
    for (code, found) in input.codes {
        let Some(found) = found else {
            refused.push((code.clone(), DiscountRefusal::NotFound));
            continue;
        };
        if let Err(refusal) = found.check(subtotal, input.now) {
            refused.push((code.clone(), refusal));
            continue;
        }
        let left = subtotal - merchandise_discount;
        let amount = match found.value {
            DiscountValue::Percentage { basis_points } => {
                let share =
                    div_half_even(i128::from(subtotal) * i128::from(basis_points), 10_000) as i64;
                share.min(left)
            }
            DiscountValue::FixedAmount { minor } => minor.min(left),
            DiscountValue::FreeShipping => shipping - shipping_discount,
        };
        match found.value {
            DiscountValue::FreeShipping => shipping_discount += amount,
            _ => merchandise_discount += amount,
        }
        discounts.push(AppliedDiscount {
            code: found.code.clone(),
            kind: found.value.kind(),
            amount: money(amount)?,
        });
    }

    let line_totals = input
        .lines
        .iter()
        .map(|line| line.total().map(|t| t.minor()))
        .collect::<Result<Vec<_>, _>>()?;
    let shares = allocate(merchandise_discount, &line_totals);
    let line_taxes: Vec<i64> = match input.tax_rate {
        None => vec![0; line_totals.len()],
        Some(tax) => line_totals
            .iter()
            .zip(&shares)
            .map(|(total, share)| {
                let taxable = total - share;
                if input.prices_include_tax {
                    tax.rate.tax_in(taxable)
                } else {
                    tax.rate.tax_on(taxable)
                }
            })
            .collect(),
    };
    let tax: i64 = line_taxes.iter().sum();
    let tax_lines = match input.tax_rate {
        Some(rate) if !input.lines.is_empty() => vec![TaxLine {
            name: rate.name.clone(),
            rate: rate.rate,
            amount: money(tax)?,
        }],
        _ => Vec::new(),
    };
    let tax_total = if input.prices_include_tax { 0 } else { tax };
    let discount_total = merchandise_discount + shipping_discount;
    let total = subtotal - discount_total + shipping + tax_total;
    Ok(PricedCart {
        currency,
        subtotal: money(subtotal)?,
        available_methods,
        shipping_method,
        discounts,
        refused,
        discount_total: money(discount_total)?,
        shipping_total: money(shipping)?,
        tax_lines,
        line_taxes: line_taxes
            .into_iter()
            .map(money)
            .collect::<Result<_, _>>()?,
        tax_total: money(tax_total)?,
        total: money(total)?,
        prices_include_tax: input.prices_include_tax,
    })
}

#[cfg(test)]
mod tests;
