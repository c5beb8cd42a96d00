//! Options and variants: what makes a product sold in sizes and colours. A product without
//! options is its own single variant (id, SKU and price the product's); a product with options
//! has one variant per combination it sells, each with its own SKU, price and stock.
//!
//! Validation reports every problem, each on its path under `input.variants` / `input.options`
//! with a stable code: `INVALID_INPUT` (a bad value), `VARIANT_OPTIONS_MISMATCH` (a variant
//! whose options are not exactly the product's, one value each, from the option's values),
//! `DUPLICATE_VARIANT` (two variants with the same options), `SKU_TAKEN` (a SKU used twice in
//! the input; the store refuses one used by another product).

use std::collections::HashSet;

use emporium_kernel::ids::Sku;
use emporium_kernel::money::{Currency, Money};

/// At most this many options (Size, Colour, Material).
pub const MAX_OPTIONS: usize = 3;
/// At most this many values per option, and variants per product.
pub const MAX_OPTION_VALUES: usize = 50;
pub const MAX_VARIANTS: usize = 100;
pub const MAX_OPTION_TEXT_CHARS: usize = 100;
/// Joins a variant's option values into its title: "Red / M".
pub const TITLE_SEPARATOR: &str = " / ";

/// An option and its values, and one option's value of a variant: the event contract's types,
/// so the catalogue, its stores and its events hold them alike.
pub use emporium_kernel::events::contract::products::{ProductOption, SelectedOption};

/// A variant as stored and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub id: String,
    pub sku: String,
    pub title: String,
    pub selected_options: Vec<SelectedOption>,
    pub price: Money,
    pub compare_at_price: Option<Money>,
}

/// A validated variant of a new product (its id is minted by the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVariant {
    pub sku: Sku,
    pub title: String,
    /// In the product's option order.
    pub selected_options: Vec<SelectedOption>,
    pub price: Money,
    pub compare_at_price: Option<Money>,
    pub initial_stock: u32,
}

/// What an admin sends for a variant, before validation.
#[derive(Debug, Clone, Default)]
pub struct VariantDraft {
    pub sku: String,
    pub selected_options: Vec<SelectedOption>,
    pub price: String,
    pub compare_at_price: Option<String>,
    pub initial_stock: Option<i32>,
}

/// One problem, on its path under `input` (for example `["variants", "1", "sku"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantProblem {
    pub code: &'static str,
    pub path: Vec<String>,
    pub message: String,
}

/// The lowest and highest price of a set of variants, `None` for none.
pub fn price_range(prices: impl IntoIterator<Item = Money>) -> Option<(Money, Money)> {
    prices.into_iter().fold(None, |range, price| match range {
        None => Some((price, price)),
        Some((low, high)) => Some((
            if price.minor() < low.minor() {
                price
            } else {
                low
            },
            if price.minor() > high.minor() {
                price
            } else {
                high
            },
        )),
    })
}

/// The title of a variant with these option values: "Red / M".
pub fn title_of(selected: &[SelectedOption]) -> String {
    selected
        .iter()
        .map(|s| s.value.as_str())
        .collect::<Vec<_>>()
        .join(TITLE_SEPARATOR)
}

#[derive(Default)]
struct Problems(Vec<VariantProblem>);

impl Problems {
    fn push(&mut self, code: &'static str, path: &[&str], message: impl Into<String>) {
        self.0.push(VariantProblem {
            code,
            path: path.iter().map(|p| (*p).to_owned()).collect(),
            message: message.into(),
        });
    }
}

/// Validates a product's options and variants together. `product_sku` is the product's own
/// SKU, which no variant may reuse. Without options and variants the product is its own single
/// variant: `Ok` with both empty.
pub fn validate(
    product_sku: Option<&Sku>,
    options: Vec<ProductOption>,
    variants: Vec<VariantDraft>,
) -> Result<(Vec<ProductOption>, Vec<NewVariant>), Vec<VariantProblem>> {
    let mut problems = Problems::default();
    let options = validate_options(options, &mut problems);
    match (options.is_empty(), variants.is_empty()) {
        (true, true) => return finish(problems, (Vec::new(), Vec::new())),
        (true, false) => problems.push(
            "INVALID_INPUT",
            &["options"],
            "a product with variants needs options (each variant picks one value of each)",
        ),
        (false, true) => problems.push(
            "INVALID_INPUT",
            &["variants"],
            "a product with options needs at least one variant",
        ),
        (false, false) => {}
    }
    if variants.len() > MAX_VARIANTS {
        problems.push(
            "INVALID_INPUT",
            &["variants"],
            format!("at most {MAX_VARIANTS} variants"),
        );
    }
    let mut skus: HashSet<Sku> = product_sku.into_iter().cloned().collect();
    let mut combinations: HashSet<Vec<String>> = HashSet::new();
    let mut valid = Vec::with_capacity(variants.len());
    for (index, draft) in variants.into_iter().enumerate() {
        let index = index.to_string();
        if let Some(variant) = validate_variant(&index, draft, &options, &mut problems) {
            let combination: Vec<String> = variant
                .selected_options
                .iter()
                .map(|s| s.value.clone())
                .collect();
            if !skus.insert(variant.sku.clone()) {
                problems.push(
                    "SKU_TAKEN",
                    &["variants", &index, "sku"],
                    "another variant (or the product) has this sku",
                );
            } else if !combinations.insert(combination) {
                problems.push(
                    "DUPLICATE_VARIANT",
                    &["variants", &index, "selectedOptions"],
                    "another variant has the same options",
                );
            } else {
                valid.push(variant);
            }
        }
    }
    finish(problems, (options, valid))
}

fn finish<T>(problems: Problems, value: T) -> Result<T, Vec<VariantProblem>> {
    if problems.0.is_empty() {
        Ok(value)
    } else {
        Err(problems.0)
    }
}

fn validate_options(options: Vec<ProductOption>, problems: &mut Problems) -> Vec<ProductOption> {
    if options.len() > MAX_OPTIONS {
        problems.push(
            "INVALID_INPUT",
            &["options"],
            format!("at most {MAX_OPTIONS} options"),
        );
    }
    let mut names = HashSet::new();
    let mut valid = Vec::with_capacity(options.len());
    for (index, option) in options.into_iter().enumerate() {
        let index = index.to_string();
        let name = option.name.trim().to_owned();
        if let Err(message) = option_text("option name", &name) {
            problems.push("INVALID_INPUT", &["options", &index, "name"], message);
            continue;
        }
        if !names.insert(name.to_lowercase()) {
            problems.push(
                "INVALID_INPUT",
                &["options", &index, "name"],
                "two options have this name",
            );
            continue;
        }
        let values: Vec<String> = option.values.iter().map(|v| v.trim().to_owned()).collect();
        let mut seen = HashSet::new();
        let bad = values.is_empty()
            || values.len() > MAX_OPTION_VALUES
            || values
                .iter()
                .any(|v| option_text("option value", v).is_err() || !seen.insert(v.to_lowercase()));
        if bad {
            problems.push(
                "INVALID_INPUT",
                &["options", &index, "values"],
                format!(
                    "an option has 1 to {MAX_OPTION_VALUES} distinct, non-empty values of at most {MAX_OPTION_TEXT_CHARS} characters"
                ),
            );
            continue;
        }
        valid.push(ProductOption { name, values });
    }
    valid
}

fn option_text(what: &str, text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if text.chars().count() > MAX_OPTION_TEXT_CHARS || text.chars().any(char::is_control) {
        return Err(format!(
            "{what} is at most {MAX_OPTION_TEXT_CHARS} characters, without control characters"
        ));
    }
    Ok(())
}

fn validate_variant(
    index: &str,
    draft: VariantDraft,
    options: &[ProductOption],
    problems: &mut Problems,
) -> Option<NewVariant> {
    let before = problems.0.len();
    let sku = Sku::parse(&draft.sku)
        .map_err(|e| problems.push("INVALID_INPUT", &["variants", index, "sku"], e.to_string()))
        .ok();
    let price = parse_money(&draft.price)
        .map_err(|m| problems.push("INVALID_INPUT", &["variants", index, "price"], m))
        .ok();
    let compare_at_price = match draft.compare_at_price.as_deref().map(str::trim) {
        None | Some("") => Some(None),
        Some(raw) => parse_money(raw)
            .map_err(|m| problems.push("INVALID_INPUT", &["variants", index, "compareAtPrice"], m))
            .ok()
            .map(Some),
    };
    let initial_stock = u32::try_from(draft.initial_stock.unwrap_or(0))
        .map_err(|_| {
            problems.push(
                "INVALID_INPUT",
                &["variants", index, "initialStock"],
                "initialStock must not be negative",
            )
        })
        .ok();
    let selected = match_options(&draft.selected_options, options);
    if selected.is_none() {
        problems.push(
            "VARIANT_OPTIONS_MISMATCH",
            &["variants", index, "selectedOptions"],
            "a variant picks exactly one of the listed values for each of the product's options",
        );
    }
    if problems.0.len() > before {
        return None;
    }
    let selected_options = selected?;
    Some(NewVariant {
        sku: sku?,
        title: title_of(&selected_options),
        selected_options,
        price: price?,
        compare_at_price: compare_at_price?,
        initial_stock: initial_stock?,
    })
}

/// The variant's options in the product's option order, with the option's own spelling; `None`
/// unless every option has exactly one value from its list and nothing else is selected.
fn match_options(
    selected: &[SelectedOption],
    options: &[ProductOption],
) -> Option<Vec<SelectedOption>> {
    if selected.len() != options.len() {
        return None;
    }
    options
        .iter()
        .map(|option| {
            let mut picks = selected
                .iter()
                .filter(|s| s.name.trim().eq_ignore_ascii_case(&option.name));
            let pick = picks.next()?;
            if picks.next().is_some() {
                return None;
            }
            let value = option
                .values
                .iter()
                .find(|v| v.eq_ignore_ascii_case(pick.value.trim()))?;
            Some(SelectedOption {
                name: option.name.clone(),
                value: value.clone(),
            })
        })
        .collect()
}

fn parse_money(raw: &str) -> Result<Money, String> {
    Money::parse_price(raw.trim(), Currency::USD).map_err(|e| format!("price: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Vec<ProductOption> {
        vec![
            ProductOption {
                name: "Size".into(),
                values: vec!["S".into(), "M".into()],
            },
            ProductOption {
                name: "Colour".into(),
                values: vec!["Red".into(), "Blue".into()],
            },
        ]
    }

    fn pick(size: &str, colour: &str) -> Vec<SelectedOption> {
        vec![
            SelectedOption {
                name: "colour".into(),
                value: colour.into(),
            },
            SelectedOption {
                name: "Size".into(),
                value: size.into(),
            },
        ]
    }

    fn variant(sku: &str, size: &str, colour: &str, price: &str) -> VariantDraft {
        VariantDraft {
            sku: sku.into(),
            selected_options: pick(size, colour),
            price: price.into(),
            compare_at_price: None,
            initial_stock: Some(3),
        }
    }

    fn codes(problems: &[VariantProblem]) -> Vec<(&'static str, String)> {
        problems
            .iter()
            .map(|p| (p.code, p.path.join(".")))
            .collect()
    }

    #[test]
    fn variants_are_put_in_option_order_and_titled() {
        let (options, variants) = validate(
            None,
            options(),
            vec![
                variant("tee-s-red", "s", "red", "20.00"),
                variant("tee-m-blue", "M", "Blue", "22.50"),
            ],
        )
        .expect("valid");
        assert_eq!(options.len(), 2);
        assert_eq!(variants[0].title, "S / Red");
        assert_eq!(variants[0].sku.as_str(), "TEE-S-RED");
        assert_eq!(variants[1].selected_options[0].name, "Size");
        assert_eq!(variants[1].price.minor(), 2250);
        assert_eq!(variants[1].initial_stock, 3);
    }

    #[test]
    fn a_product_without_options_is_its_own_variant() {
        assert_eq!(validate(None, vec![], vec![]), Ok((vec![], vec![])));
    }

    #[test]
    fn mismatched_options_duplicates_and_reused_skus_are_each_reported() {
        let product_sku = Sku::parse("TEE").expect("sku");
        let mut extra = variant("TEE-X", "S", "Red", "1.00");
        extra.selected_options.push(SelectedOption {
            name: "Fit".into(),
            value: "Slim".into(),
        });
        let problems = validate(
            Some(&product_sku),
            options(),
            vec![
                variant("TEE-1", "S", "Red", "1.00"),
                variant("TEE-2", "S", "Red", "1.00"),
                variant("tee-1", "M", "Red", "1.00"),
                variant("TEE", "M", "Blue", "1.00"),
                variant("TEE-3", "XL", "Red", "1.00"),
                extra,
                variant("TEE-4", "M", "Blue", "-1.00"),
            ],
        )
        .expect_err("invalid");
        assert_eq!(
            codes(&problems),
            [
                ("DUPLICATE_VARIANT", "variants.1.selectedOptions".into()),
                ("SKU_TAKEN", "variants.2.sku".into()),
                ("SKU_TAKEN", "variants.3.sku".into()),
                (
                    "VARIANT_OPTIONS_MISMATCH",
                    "variants.4.selectedOptions".into()
                ),
                (
                    "VARIANT_OPTIONS_MISMATCH",
                    "variants.5.selectedOptions".into()
                ),
                ("INVALID_INPUT", "variants.6.price".into()),
            ]
        );
    }

    #[test]
    fn options_need_variants_and_variants_need_options() {
        let problems = validate(None, options(), vec![]).expect_err("no variants");
        assert_eq!(codes(&problems), [("INVALID_INPUT", "variants".into())]);
        let problems =
            validate(None, vec![], vec![variant("A", "S", "Red", "1.00")]).expect_err("no options");
        assert_eq!(problems[0].path, ["options"]);
        let problems = validate(
            None,
            vec![ProductOption {
                name: "Size".into(),
                values: vec!["S".into(), "s".into()],
            }],
            vec![],
        )
        .expect_err("duplicate values");
        assert_eq!(problems[0].path, ["options", "0", "values"]);
    }

    #[test]
    fn the_price_range_spans_the_lowest_and_highest_price() {
        let usd = |minor| Money::from_minor(minor, Currency::USD).expect("money");
        let (low, high) = price_range([usd(2200), usd(1900), usd(2500)]).expect("range");
        assert_eq!((low.minor(), high.minor()), (1900, 2500));
        assert_eq!(price_range([]), None);
    }
}
