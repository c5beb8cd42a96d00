//! The demo catalog: real Best Buy products (see `data/README.md` for their source and license),
//! compiled into the binary so seeding works wherever it runs, and a few apparel products with
//! sizes and colours written for Emporium (`data/demo-variants.json`): one variant per
//! combination of their options, SKU `<product sku>-<values>`, stock from [`demo_stock`].

use emporium_kernel::money::{Currency, Money};
use serde::Deserialize;

use crate::domain::product::{NewProduct, ProductDraft};
use crate::domain::variant::{ProductOption, SelectedOption, VariantDraft};
use crate::store::{ProductStore, StoreError};

static CATALOG_JSON: &str = include_str!("../../../data/bestbuy-products.json");
static VARIANTS_JSON: &str = include_str!("../../../data/demo-variants.json");

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the demo catalog is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("demo product {index} is invalid: {reason}")]
    Invalid { index: usize, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Deserialize)]
struct CatalogEntry {
    name: String,
    description: String,
    brand: Option<String>,
    categories: Vec<String>,
    /// Kept as the JSON number's text, so "49.99" stays exact.
    price: serde_json::Number,
    image: Option<String>,
    #[serde(default)]
    popularity: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VariantEntry {
    sku: String,
    name: String,
    description: String,
    brand: Option<String>,
    category: String,
    options: Vec<ProductOption>,
    /// Every variant's price, unless one of its option values has an override.
    price: String,
    #[serde(default)]
    price_overrides: std::collections::BTreeMap<String, String>,
    compare_at_price: Option<String>,
}

/// The demo apparel: products with options, one variant per combination.
pub fn demo_variant_products() -> Result<Vec<NewProduct>, SeedError> {
    let entries: Vec<VariantEntry> = serde_json::from_str(VARIANTS_JSON)?;
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let variants = combinations(&entry.options)
                .into_iter()
                .map(|picked| {
                    let values: Vec<&str> = picked.iter().map(|p| p.value.as_str()).collect();
                    let sku = format!("{}-{}", entry.sku, values.join("-")).to_uppercase();
                    let price = values
                        .iter()
                        .find_map(|v| entry.price_overrides.get(*v))
                        .unwrap_or(&entry.price)
                        .clone();
                    VariantDraft {
                        initial_stock: Some(demo_stock(&sku)),
                        sku,
                        selected_options: picked,
                        price,
                        compare_at_price: entry.compare_at_price.clone(),
                    }
                })
                .collect();
            let draft = ProductDraft {
                sku: entry.sku,
                name: entry.name,
                description: entry.description,
                category: entry.category,
                brand: entry.brand,
                price: entry.price,
                attributes: None,
                image_url: None,
                initial_stock: None,
                options: Some(entry.options),
                variants: Some(variants),
            };
            validated(index, draft)
        })
        .collect()
}

/// Every combination of one value per option, in option order.
fn combinations(options: &[ProductOption]) -> Vec<Vec<SelectedOption>> {
    options.iter().fold(vec![Vec::new()], |partial, option| {
        partial
            .iter()
            .flat_map(|picked| {
                option.values.iter().map(move |value| {
                    let mut next = picked.clone();
                    next.push(SelectedOption {
                        name: option.name.clone(),
                        value: value.clone(),
                    });
                    next
                })
            })
            .collect()
    })
}

fn validated(index: usize, draft: ProductDraft) -> Result<NewProduct, SeedError> {
    draft.validate().map_err(|invalid| SeedError::Invalid {
        index,
        reason: invalid
            .0
            .into_iter()
            .map(|e| e.message)
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// The demo catalog as validated products, one per SKU.
pub fn demo_catalog() -> Result<Vec<NewProduct>, SeedError> {
    let entries: Vec<CatalogEntry> = serde_json::from_str(CATALOG_JSON)?;
    let mut seen = std::collections::HashSet::new();
    let mut products = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let product = to_product(index, entry)?;
        if seen.insert(product.sku.clone()) {
            products.push(product);
        }
    }
    Ok(products)
}

fn to_product(index: usize, entry: CatalogEntry) -> Result<NewProduct, SeedError> {
    let sku = entry
        .image
        .as_deref()
        .and_then(best_buy_number)
        .map(|n| format!("BBY-{n}"))
        .unwrap_or_else(|| format!("DEMO-{index}"));
    // Catalog prices are JSON numbers; two decimals at most, so rounding to cents is exact.
    let price = Money::parse_price(&entry.price.to_string(), Currency::USD)
        .or_else(|_| {
            let cents = entry
                .price
                .as_f64()
                .map(|p| (p * 100.0).round() as i64)
                .unwrap_or(-1);
            Money::from_minor(cents, Currency::USD)
        })
        .map_err(|e| SeedError::Invalid {
            index,
            reason: e.to_string(),
        })?;
    let initial_stock = Some(demo_stock(&sku));
    let draft = ProductDraft {
        sku,
        name: repair_mojibake(&entry.name),
        description: repair_mojibake(&entry.description),
        category: entry.categories.join(" > "),
        brand: entry.brand.as_deref().map(repair_mojibake),
        price: price.to_decimal_string(),
        attributes: None,
        image_url: entry.image,
        initial_stock,
        options: None,
        variants: None,
    };
    let mut product = validated(index, draft)?;
    product.popularity = entry.popularity;
    Ok(product)
}

/// The demo's stock of a product: the source has none, so a number derived from the SKU
/// (stable across runs): one product in ten is out of stock, the rest have 1 to 50 units.
pub fn demo_stock(sku: &str) -> i32 {
    let hash = sku.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    if hash % 10 == 0 {
        0
    } else {
        (hash % 50) as i32 + 1
    }
}

/// A few source entries carry Windows-1252 bytes decoded as C1 control characters (0x99 for
/// "™"); map the one that occurs back and drop any other C1 control.
fn repair_mojibake(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\u{99}' => Some('™'),
            '\u{80}'..='\u{9f}' => None,
            other => Some(other),
        })
        .collect()
}

/// "https://…/4984700_sb.jpg" → "4984700".
fn best_buy_number(url: &str) -> Option<&str> {
    let file = url.rsplit('/').next()?;
    let number = file.split(['_', '.']).next()?;
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then_some(number)
}

/// Everything the demo shop sells: the Best Buy catalog and the apparel with variants.
pub fn demo_products() -> Result<Vec<NewProduct>, SeedError> {
    let mut products = demo_catalog()?;
    products.extend(demo_variant_products()?);
    Ok(products)
}

/// Loads the demo products into the store; products already there (by SKU) are left alone.
pub async fn seed_demo_catalog(store: &ProductStore) -> Result<u64, SeedError> {
    let products = demo_products()?;
    let inserted = store.insert_missing(&products).await?;
    tracing::info!(inserted, catalog = products.len(), "demo catalog seeded");
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalog_is_valid_and_keyed_by_best_buy_numbers() {
        let products = demo_catalog().expect("catalog parses");
        assert!(products.len() > 3000, "got {}", products.len());
        let first = &products[0];
        assert_eq!(first.sku.as_str(), "BBY-4984700");
        assert_eq!(first.price.to_decimal_string(), "49.99");
        assert_eq!(
            first.category,
            "Cell Phones > Prepaid Phones > All Prepaid Phones"
        );
        assert!(first.popularity > 0);
    }

    #[test]
    fn the_demo_has_stock_for_most_products_and_some_sold_out() {
        let products = demo_catalog().expect("catalog parses");
        let sold_out = products.iter().filter(|p| p.initial_stock == 0).count();
        let share = sold_out as f64 / products.len() as f64;
        assert!((0.05..0.15).contains(&share), "sold-out share {share}");
        assert!(products.iter().all(|p| p.initial_stock <= 50));
        assert_eq!(demo_stock("BBY-4984700"), demo_stock("BBY-4984700"));
    }

    #[test]
    fn the_demo_apparel_has_one_variant_per_combination() {
        let products = demo_variant_products().expect("demo apparel is valid");
        let tee = &products[0];
        assert_eq!(tee.variants.len(), 6);
        assert_eq!(tee.variants[0].sku.as_str(), "EMP-TEE-S-RED");
        assert_eq!(tee.variants[0].title, "S / Red");
        assert_eq!(
            tee.price.to_decimal_string(),
            "19.99",
            "the lowest variant price"
        );
        let large = tee.variants.iter().find(|v| v.title == "L / Blue");
        assert_eq!(
            large.map(|v| v.price.to_decimal_string()).as_deref(),
            Some("21.99")
        );
        assert_eq!(products[2].variants.len(), 3);
    }

    #[test]
    fn best_buy_numbers_come_from_image_names() {
        assert_eq!(
            best_buy_number("https://x/bestbuy-0118/4984700_sb.jpg"),
            Some("4984700")
        );
        assert_eq!(best_buy_number("https://x/logo.png"), None);
    }

    #[test]
    fn windows_1252_trademarks_are_repaired() {
        assert_eq!(repair_mojibake("Insignia\u{99} - Case"), "Insignia™ - Case");
    }
}
