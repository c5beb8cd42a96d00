//! Stock levels and order lines, without I/O.

use emporium_kernel::events::contract::inventory::ReleaseReason;
use emporium_kernel::ids::VariantId;
use serde::{Deserialize, Serialize};

/// The largest count the inventory accepts for one product.
pub const MAX_COUNT: i32 = 1_000_000_000;

/// A product's counts. `available` is derived and never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StockLevel {
    pub on_hand: i32,
    pub reserved: i32,
}

impl StockLevel {
    pub fn new(on_hand: i32, reserved: i32) -> Self {
        Self { on_hand, reserved }
    }

    pub fn available(&self) -> i32 {
        (self.on_hand - self.reserved).max(0)
    }

    pub fn in_stock(&self) -> bool {
        self.available() > 0
    }
}

/// The counts of a product with several variants: the sum of theirs.
pub fn sum_levels(levels: &[StockLevel]) -> StockLevel {
    levels
        .iter()
        .fold(StockLevel::default(), |sum, level| StockLevel {
            on_hand: sum.on_hand.saturating_add(level.on_hand),
            reserved: sum.reserved.saturating_add(level.reserved),
        })
}

/// One line of an order: how many units of which stock id (a variant, or a product without
/// options; kept as `productId` in the ledger's JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub product_id: VariantId,
    pub quantity: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinesError {
    #[error("an order needs at least one line")]
    Empty,
    #[error("line {index}: the quantity must be between 1 and {MAX_COUNT}, not {quantity}")]
    Quantity { index: usize, quantity: i64 },
    #[error("line {index}: the product id is empty or too long")]
    ProductId { index: usize },
    #[error("the order's total quantity of product {product_id} is too large")]
    Overflow { product_id: VariantId },
}

/// An order's lines as reservations need them: one line per product (quantities of repeated
/// products added up), sorted by product id so that locks are always taken in one order.
pub fn normalise_lines(
    raw: impl IntoIterator<Item = (String, i64)>,
) -> Result<Vec<Line>, LinesError> {
    let mut lines: Vec<Line> = Vec::new();
    for (index, (product_id, quantity)) in raw.into_iter().enumerate() {
        // A line's stock is kept under its variant's id (a product's own for one without
        // options); kernel::ids holds the rule.
        let Ok(product_id) = VariantId::parse(product_id) else {
            return Err(LinesError::ProductId { index });
        };
        let quantity = i32::try_from(quantity)
            .ok()
            .filter(|q| (1..=MAX_COUNT).contains(q))
            .ok_or(LinesError::Quantity { index, quantity })?;
        match lines.iter_mut().find(|l| l.product_id == product_id) {
            Some(line) => {
                line.quantity = line
                    .quantity
                    .checked_add(quantity)
                    .filter(|q| *q <= MAX_COUNT)
                    .ok_or_else(|| LinesError::Overflow {
                        product_id: product_id.clone(),
                    })?;
            }
            None => lines.push(Line {
                product_id,
                quantity,
            }),
        }
    }
    if lines.is_empty() {
        return Err(LinesError::Empty);
    }
    lines.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    Ok(lines)
}

/// A line the inventory could not fill, as `inventory.rejected` reports it.
pub use emporium_kernel::events::contract::inventory::Shortage;

/// What closing an order's reservation does with its units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// They are available again (payment declined, order cancelled or rejected).
    Release(ReleaseReason),
    /// They left the warehouse (order shipped).
    Fulfil,
}

/// The lines that `levels` (the counts before reserving, line by line) cannot fill.
pub fn shortages(lines: &[Line], levels: &[StockLevel]) -> Vec<Shortage> {
    lines
        .iter()
        .zip(levels)
        .filter(|(line, level)| level.available() < line.quantity)
        .map(|(line, level)| Shortage {
            product_id: line.product_id.as_str().to_owned(),
            requested: line.quantity,
            available: level.available(),
        })
        .collect()
}

/// A count an admin may set: 0 to [`MAX_COUNT`].
pub fn valid_count(on_hand: i32) -> bool {
    (0..=MAX_COUNT).contains(&on_hand)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(lines: &[(&str, i64)]) -> Vec<(String, i64)> {
        lines.iter().map(|(p, q)| ((*p).to_owned(), *q)).collect()
    }

    #[test]
    fn a_products_stock_sums_its_variants() {
        let sum = sum_levels(&[
            StockLevel::new(3, 1),
            StockLevel::new(0, 0),
            StockLevel::new(5, 5),
        ]);
        assert_eq!(sum, StockLevel::new(8, 6));
        assert_eq!(sum.available(), 2);
        assert!(!sum_levels(&[]).in_stock());
    }

    #[test]
    fn a_line_id_follows_the_kernel_rule() {
        assert_eq!(
            normalise_lines(raw(&[(&"x".repeat(65), 1)])),
            Err(LinesError::ProductId { index: 0 })
        );
        assert_eq!(
            normalise_lines(raw(&[(" ", 1)])),
            Err(LinesError::ProductId { index: 0 })
        );
    }

    #[test]
    fn repeated_products_are_merged_and_lines_sorted() {
        let lines = normalise_lines(raw(&[("b", 2), ("a", 1), ("b", 3)])).unwrap();
        assert_eq!(
            lines,
            vec![
                Line {
                    product_id: VariantId::parse("a").unwrap(),
                    quantity: 1
                },
                Line {
                    product_id: VariantId::parse("b").unwrap(),
                    quantity: 5
                },
            ]
        );
    }

    #[test]
    fn bad_lines_are_refused() {
        assert_eq!(normalise_lines(raw(&[])), Err(LinesError::Empty));
        assert_eq!(
            normalise_lines(raw(&[("a", 0)])),
            Err(LinesError::Quantity {
                index: 0,
                quantity: 0
            })
        );
        assert!(matches!(
            normalise_lines(raw(&[("a", 1), ("b", -4)])),
            Err(LinesError::Quantity { index: 1, .. })
        ));
        assert!(matches!(
            normalise_lines(raw(&[("a", i64::from(i32::MAX) + 1)])),
            Err(LinesError::Quantity { .. })
        ));
        assert!(matches!(
            normalise_lines(raw(&[("a", 900_000_000), ("a", 900_000_000)])),
            Err(LinesError::Overflow { .. })
        ));
        assert!(matches!(
            normalise_lines(raw(&[(" ", 1)])),
            Err(LinesError::ProductId { index: 0 })
        ));
    }

    #[test]
    fn available_is_never_negative() {
        assert_eq!(StockLevel::new(3, 1).available(), 2);
        assert_eq!(StockLevel::new(1, 3).available(), 0);
        assert!(!StockLevel::new(2, 2).in_stock());
    }

    #[test]
    fn shortages_name_the_lines_that_cannot_be_filled() {
        let lines = normalise_lines(raw(&[("a", 2), ("b", 5)])).unwrap();
        let short = shortages(&lines, &[StockLevel::new(2, 0), StockLevel::new(6, 2)]);
        assert_eq!(
            short,
            vec![Shortage {
                product_id: "b".into(),
                requested: 5,
                available: 4
            }]
        );
    }
}
