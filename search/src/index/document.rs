//! What the index holds: catalog snapshots as the indexer decodes them, the changes events
//! carry, and the one tantivy document of each product id (see the module above for its
//! kinds). A snapshot whose `createdAt` is not an RFC 3339 timestamp does not decode (the
//! consumer dead-letters its event); a stored document that does not read back is
//! [`IndexError::Corrupt`].

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tantivy::schema::{Facet, Value};
use tantivy::TantivyDocument;

use super::{Fields, IndexError};

/// Catalog snapshots (as the products store gives them) as index input.
pub fn snapshots_from(
    values: Vec<(i64, serde_json::Value)>,
) -> Result<Vec<(u64, ProductSnapshot)>, serde_json::Error> {
    values
        .into_iter()
        .map(|(sequence, value)| Ok((sequence.max(0) as u64, serde_json::from_value(value)?)))
        .collect()
}

/// The catalog snapshot of `product.created` / `product.updated` (what the index uses of it).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductSnapshot {
    pub product_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    #[serde(default)]
    pub brand: Option<String>,
    pub price: Price,
    #[serde(default)]
    pub popularity: i64,
    /// Parsed when the snapshot is decoded: one that is not a timestamp is refused.
    pub created_at: DateTime<Utc>,
    /// Empty for a product without options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<VariantSnapshot>,
}

/// What the index keeps of a variant: its id (its stock) and its option values (facets and
/// filters).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantSnapshot {
    pub id: String,
    pub selected_options: Vec<SelectedOption>,
}

/// One option's value of a variant, as the event contract has it.
pub use emporium_kernel::events::contract::products::SelectedOption;

/// Separates an option's name from its value in keys and facet values, and (below) the pairs of
/// a key: control characters, which the catalogue refuses in option names and values, so no
/// name or value can forge a pair.
pub const NAME_VALUE_SEPARATOR: char = '\u{1f}';
const PAIR_SEPARATOR: &str = "\u{1e}";

/// The filter key of a set of option values: lower-cased name-value pairs sorted by name and
/// joined (`colour␟red␞size␟m`). A product is indexed under the key of every non-empty subset
/// of each variant's options, so one term finds the products with a variant that has all the
/// values asked for.
pub fn option_key<'a>(options: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<String> = options
        .into_iter()
        .map(|(name, value)| {
            format!(
                "{}{NAME_VALUE_SEPARATOR}{}",
                name.trim().to_lowercase(),
                value.trim().to_lowercase()
            )
        })
        .collect();
    pairs.sort();
    pairs.join(PAIR_SEPARATOR)
}

/// The facet value of one option value: `Colour␟Red` (the option's and value's own case).
pub fn option_facet(option: &SelectedOption) -> String {
    format!(
        "{}{NAME_VALUE_SEPARATOR}{}",
        option.name.trim(),
        option.value.trim()
    )
}

impl ProductSnapshot {
    /// Every filter key the product answers to (see [`option_key`]).
    fn option_keys(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for variant in &self.variants {
            let options = &variant.selected_options;
            // At most a few options per product (the catalogue allows 3): 2^n - 1 subsets.
            let n = options.len().min(MAX_OPTIONS_INDEXED);
            for mask in 1u32..(1 << n) {
                let subset = options
                    .iter()
                    .take(n)
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, o)| (o.name.as_str(), o.value.as_str()));
                keys.insert(option_key(subset));
            }
        }
        keys
    }
}

/// Options per variant the filter keys cover (the catalogue allows 3).
const MAX_OPTIONS_INDEXED: usize = 4;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Price {
    pub amount: String,
    pub currency: String,
}

/// A change to apply, with the sequence of the event that carries it.
#[derive(Debug, Clone)]
pub enum Change {
    Upsert {
        sequence: u64,
        product: Box<ProductSnapshot>,
    },
    Delete {
        sequence: u64,
        product_id: String,
    },
    Stock {
        sequence: u64,
        product_id: String,
        /// The variant whose stock changed, for a product with options.
        variant_id: Option<String>,
        in_stock: bool,
    },
}

impl Change {
    pub(crate) fn product_id(&self) -> &str {
        match self {
            Self::Upsert { product, .. } => &product.product_id,
            Self::Delete { product_id, .. } | Self::Stock { product_id, .. } => product_id,
        }
    }
}

/// What the index holds for one product id.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DocState {
    pub product_seq: u64,
    pub stock_seq: u64,
    /// A product without options: its own stock; one with options: whether any variant is in
    /// stock.
    pub in_stock: bool,
    /// The variants in stock, of a product with options.
    pub variants_in_stock: BTreeSet<String>,
    pub deleted: bool,
    pub product: Option<ProductSnapshot>,
}

impl DocState {
    /// The state a stored document records.
    pub fn read(fields: Fields, doc: &TantivyDocument) -> Result<Self, IndexError> {
        let f = fields;
        let kind = doc.get_first(f.kind).and_then(|v| v.as_str()).unwrap_or("");
        let product = match doc.get_first(f.source).and_then(|v| v.as_str()) {
            Some(json) if kind == "product" => {
                Some(serde_json::from_str(json).map_err(|e| IndexError::Corrupt(e.to_string()))?)
            }
            _ => None,
        };
        Ok(Self {
            product_seq: doc
                .get_first(f.product_seq)
                .and_then(|v| v.as_u64())
                .unwrap_or(0),
            stock_seq: doc
                .get_first(f.stock_seq)
                .and_then(|v| v.as_u64())
                .unwrap_or(0),
            in_stock: doc
                .get_first(f.in_stock)
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            variants_in_stock: doc
                .get_all(f.variants_in_stock)
                .filter_map(|v| v.as_str())
                .map(str::to_owned)
                .collect(),
            deleted: kind == "deleted",
            product,
        })
    }

    /// The document of product `id` in this state.
    pub fn document(&self, fields: Fields, id: &str) -> Result<TantivyDocument, IndexError> {
        let f = fields;
        let mut doc = TantivyDocument::new();
        doc.add_text(f.id, id);
        doc.add_u64(f.product_seq, self.product_seq);
        doc.add_u64(f.stock_seq, self.stock_seq);
        doc.add_bool(f.in_stock, self.in_stock);
        for variant in &self.variants_in_stock {
            doc.add_text(f.variants_in_stock, variant);
        }
        let Some(product) = self.product.as_ref().filter(|_| !self.deleted) else {
            doc.add_text(f.kind, if self.deleted { "deleted" } else { "stock" });
            return Ok(doc);
        };
        doc.add_text(f.kind, "product");
        doc.add_text(f.name, &product.name);
        doc.add_text(f.description, &product.description);
        doc.add_text(f.category, &product.category);
        let path = category_path(&product.category);
        doc.add_text(f.category_path, path.join(" > "));
        doc.add_facet(
            f.category_key,
            Facet::from_path(path.iter().map(|c| c.to_lowercase())),
        );
        if let Some(brand) = product.brand.as_deref().filter(|b| !b.trim().is_empty()) {
            doc.add_text(f.brand, brand);
            doc.add_text(f.brand_key, brand.trim().to_lowercase());
            doc.add_text(f.brand_exact, brand.trim());
        }
        for key in product.option_keys() {
            doc.add_text(f.option_key, key);
        }
        let facets: BTreeSet<String> = product
            .variants
            .iter()
            .flat_map(|v| v.selected_options.iter().map(option_facet))
            .collect();
        for facet in facets {
            doc.add_text(f.option_exact, facet);
        }
        doc.add_u64(f.price, price_cents(&product.price.amount).unwrap_or(0));
        doc.add_i64(f.created_at, product.created_at.timestamp_millis());
        doc.add_u64(f.popularity, product.popularity.max(0) as u64);
        doc.add_text(
            f.source,
            serde_json::to_string(product).map_err(|e| IndexError::Corrupt(e.to_string()))?,
        );
        Ok(doc)
    }
}

/// "Audio > Headphones" as its components.
pub fn category_path(category: &str) -> Vec<String> {
    category
        .split('>')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// "19.99" as 1999; `None` for anything that is not a non-negative amount with at most two
/// decimals.
pub fn price_cents(amount: &str) -> Option<u64> {
    use emporium_kernel::money::{Currency, Money};
    Money::parse_price(amount.trim(), Currency::USD)
        .ok()
        .and_then(|m| u64::try_from(m.minor()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(created_at: &str) -> serde_json::Value {
        serde_json::json!({
            "productId": "p", "name": "n", "category": "c",
            "price": { "amount": "1", "currency": "USD" }, "createdAt": created_at,
        })
    }

    #[test]
    fn prices_become_cents_exactly() {
        assert_eq!(price_cents("19.99"), Some(1999));
        assert_eq!(price_cents("5"), Some(500));
        assert_eq!(price_cents("0.5"), Some(50));
        assert_eq!(price_cents("1.234"), None);
        assert_eq!(price_cents("-1"), None);
        assert_eq!(price_cents(""), None);
    }

    #[test]
    fn timestamps_are_parsed_once_and_order_like_time() {
        let at = |s: &str| {
            serde_json::from_value::<ProductSnapshot>(snapshot(s))
                .expect("snapshot")
                .created_at
                .timestamp_millis()
        };
        assert_eq!(at("1970-01-01T00:00:00Z"), 0);
        assert!(at("2026-11-23T10:15:30.123Z") > at("2026-11-23T10:15:30.122Z"));
        assert_eq!(at("2026-11-23T11:15:30+01:00"), at("2026-11-23T10:15:30Z"));
    }

    #[test]
    fn a_snapshot_whose_created_at_is_not_a_timestamp_does_not_decode() {
        for bad in ["yesterday", ""] {
            assert!(
                serde_json::from_value::<ProductSnapshot>(snapshot(bad)).is_err(),
                "{bad:?} decoded"
            );
        }
        assert!(snapshots_from(vec![(1, snapshot("yesterday"))]).is_err());
    }

    #[test]
    fn a_product_answers_to_every_combination_of_one_variants_options() {
        let mut product: ProductSnapshot =
            serde_json::from_value(snapshot("2026-11-23T10:15:30Z")).expect("snapshot");
        let variant = |id: &str, colour: &str, size: &str| VariantSnapshot {
            id: id.into(),
            selected_options: vec![
                SelectedOption {
                    name: "Colour".into(),
                    value: colour.into(),
                },
                SelectedOption {
                    name: "Size".into(),
                    value: size.into(),
                },
            ],
        };
        product.variants = vec![variant("v1", "Red", "M"), variant("v2", "Blue", "L")];
        let keys = product.option_keys();
        let key = |pairs: &[(&'static str, &'static str)]| option_key(pairs.iter().copied());
        for wanted in [
            key(&[("colour", "red")]),
            key(&[("size", "m")]),
            key(&[("colour", "red"), ("size", "m")]),
            key(&[("colour", "blue"), ("size", "l")]),
        ] {
            assert!(keys.contains(&wanted), "{wanted:?} missing from {keys:?}");
        }
        // Red and L are both sold, but not as one variant.
        assert!(!keys.contains(&key(&[("colour", "red"), ("size", "l")])));
        assert_eq!(keys.len(), 6);
        assert_eq!(
            option_key([("Size", " M "), ("colour", "RED")]),
            "colour\u{1f}red\u{1e}size\u{1f}m"
        );
    }

    #[test]
    fn a_snapshot_reads_back_from_its_document() {
        let (_, fields) = super::super::schema();
        let product: ProductSnapshot =
            serde_json::from_value(snapshot("2026-11-23T10:15:30.123Z")).expect("snapshot");
        let state = DocState {
            product_seq: 3,
            stock_seq: 2,
            in_stock: true,
            variants_in_stock: BTreeSet::from(["v1".to_owned()]),
            deleted: false,
            product: Some(product),
        };
        let doc = state.document(fields, "p").expect("document");
        assert_eq!(DocState::read(fields, &doc).expect("read"), state);
    }
}
