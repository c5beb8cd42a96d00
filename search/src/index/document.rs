//! What the index holds: catalog snapshots as the indexer decodes them, the changes events
//! carry, and the one tantivy document of each product id (see the module above for its
//! kinds). A snapshot whose `createdAt` is not an RFC 3339 timestamp does not decode (the
//! consumer dead-letters its event); a stored document that does not read back is
//! [`IndexError::Corrupt`].

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
}

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
    pub in_stock: bool,
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
    fn a_snapshot_reads_back_from_its_document() {
        let (_, fields) = super::super::schema();
        let product: ProductSnapshot =
            serde_json::from_value(snapshot("2026-11-23T10:15:30.123Z")).expect("snapshot");
        let state = DocState {
            product_seq: 3,
            stock_seq: 2,
            in_stock: true,
            deleted: false,
            product: Some(product),
        };
        let doc = state.document(fields, "p").expect("document");
        assert_eq!(DocState::read(fields, &doc).expect("read"), state);
    }
}
