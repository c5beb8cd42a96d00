//! Order lines and totals, in exact money (never floats).

use emporium_kernel::ids::Quantity;
use emporium_kernel::money::{Currency, Money, MoneyError};

/// The most units of one product a cart line may hold.
pub const MAX_QUANTITY: i32 = 99;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinesError {
    #[error("the quantity must be between 1 and {MAX_QUANTITY}")]
    Quantity,
    #[error("an order needs at least one line")]
    Empty,
    #[error("lines in different currencies ({0} and {1}) cannot be added up")]
    MixedCurrencies(String, String),
    #[error("the total is too large: {0}")]
    Money(#[from] MoneyError),
}

/// A line as ordered: the price, name, variant title and SKU are the catalog's at checkout,
/// kept with the order. A product without options is its own variant: `variant_id` is its
/// `product_id` and `variant_title` its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub product_id: String,
    pub product_name: String,
    pub variant_id: String,
    pub variant_title: String,
    pub sku: String,
    pub unit_price: Money,
    pub quantity: i32,
}

/// A quantity a customer may put in a cart line: 1 to [`MAX_QUANTITY`].
pub fn quantity(requested: i32) -> Result<Quantity, LinesError> {
    Quantity::try_from(requested)
        .ok()
        .filter(|q| q.get() <= MAX_QUANTITY)
        .ok_or(LinesError::Quantity)
}

impl Line {
    /// Whether the line is one variant of a product with options (not the product itself).
    pub fn is_variant(&self) -> bool {
        self.variant_id != self.product_id
    }

    pub fn total(&self) -> Result<Money, LinesError> {
        let minor = self
            .unit_price
            .minor()
            .checked_mul(i64::from(self.quantity))
            .ok_or(MoneyError::TooLarge)?;
        Ok(Money::from_minor(minor, self.unit_price.currency())?)
    }
}

/// The sum of the lines' totals, all in one currency.
pub fn total(lines: &[Line]) -> Result<Money, LinesError> {
    let first = lines.first().ok_or(LinesError::Empty)?;
    let currency: Currency = first.unit_price.currency();
    let mut minor: i64 = 0;
    for line in lines {
        if line.unit_price.currency() != currency {
            return Err(LinesError::MixedCurrencies(
                currency.as_str().to_owned(),
                line.unit_price.currency().as_str().to_owned(),
            ));
        }
        minor = minor
            .checked_add(line.total()?.minor())
            .ok_or(MoneyError::TooLarge)?;
    }
    Ok(Money::from_minor(minor, currency)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(price: &str, quantity: i32) -> Line {
        Line {
            product_id: "p".into(),
            product_name: "Thing".into(),
            variant_id: "p".into(),
            variant_title: "Thing".into(),
            sku: "SKU-P".into(),
            unit_price: Money::parse_price(price, Currency::USD).unwrap(),
            quantity,
        }
    }

    #[test]
    fn totals_are_exact() {
        // 3 × 0.10 + 0.20 is 0.50 exactly, which floats get wrong.
        let lines = [line("0.10", 3), line("0.20", 1)];
        assert_eq!(total(&lines).unwrap().to_decimal_string(), "0.50");
        assert_eq!(
            line("349.99", 3).total().unwrap().to_decimal_string(),
            "1049.97"
        );
    }

    #[test]
    fn quantities_are_bounded() {
        assert_eq!(quantity(1).map(Quantity::get), Ok(1));
        assert_eq!(quantity(MAX_QUANTITY).map(Quantity::get), Ok(MAX_QUANTITY));
        assert_eq!(quantity(MAX_QUANTITY + 1), Err(LinesError::Quantity));
        assert_eq!(quantity(0), Err(LinesError::Quantity));
        assert_eq!(quantity(-2), Err(LinesError::Quantity));
        assert_eq!(quantity(100), Err(LinesError::Quantity));
    }

    #[test]
    fn empty_and_overflowing_orders_are_refused() {
        assert_eq!(total(&[]), Err(LinesError::Empty));
        let many = line("1000000000", i32::MAX);
        assert!(matches!(many.total(), Err(LinesError::Money(_))));
    }
}
