//! Identifiers and counts that every service shares, valid by construction: each is built only by
//! parsing (`FromStr` / `TryFrom`, and serde's deserialize goes through the same parse), so a
//! value that exists obeys its rule and code past the edge need not check it again. A value
//! that does not parse is a typed error saying why ([`ProductIdError`], [`SkuError`],
//! [`QuantityError`], [`UuidIdError`]).
//!
//! - [`ProductId`]: the catalog's id of a product. The products service mints UUIDs, but ids
//!   from elsewhere (imports, tests, stock recorded before its product) are opaque strings, so
//!   the one rule is: not blank and at most [`MAX_PRODUCT_ID_LEN`] bytes, kept as given.
//! - [`VariantId`]: the id of one variant of a product, under the same rule as [`ProductId`]:
//!   a product without options is its own single variant, whose id is the product's id; a
//!   product with options has a UUID per variant, minted by the products service.
//! - [`Sku`]: trimmed, upper-cased; letters, digits, `-`, `_`, `.`; at most [`MAX_SKU_CHARS`].
//! - [`Quantity`]: a count of units, 1 to [`MAX_QUANTITY`].
//! - [`OrderId`], [`UserId`]: UUIDs; bound to and read from Postgres as `uuid`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest product id, in bytes: far above a UUID's 36, and a bound on what a client can
/// make a service look up.
pub const MAX_PRODUCT_ID_LEN: usize = 64;
/// The longest SKU, in characters.
pub const MAX_SKU_CHARS: usize = 64;
/// The largest quantity of one product anything counts (a service may allow less: a cart line).
pub const MAX_QUANTITY: i32 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductIdError {
    #[error("a product id must not be blank")]
    Blank,
    #[error("a product id is at most {MAX_PRODUCT_ID_LEN} bytes")]
    TooLong,
}

/// A product's id in the catalog (see the module doc for its rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductId(String);

impl ProductId {
    pub fn parse(raw: impl Into<String>) -> Result<Self, ProductIdError> {
        let raw = raw.into();
        if raw.trim().is_empty() {
            return Err(ProductIdError::Blank);
        }
        if raw.len() > MAX_PRODUCT_ID_LEN {
            return Err(ProductIdError::TooLong);
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A product variant's id (see the module doc for its rule): stock, cart lines and order lines
/// are kept per variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VariantId(String);

impl VariantId {
    pub fn parse(raw: impl Into<String>) -> Result<Self, ProductIdError> {
        ProductId::parse(raw).map(|id| Self(id.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A product's default variant: the one a product without options is.
    pub fn of_product(product: &ProductId) -> Self {
        Self(product.0.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkuError {
    #[error("sku must not be empty")]
    Empty,
    #[error("sku is too long (at most {MAX_SKU_CHARS} characters)")]
    TooLong,
    #[error("sku may contain only letters, digits, '-', '_' and '.'")]
    Characters,
}

/// A stock-keeping unit: case-insensitive, stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, SkuError> {
        let sku = raw.trim().to_uppercase();
        if sku.is_empty() {
            return Err(SkuError::Empty);
        }
        if sku.chars().count() > MAX_SKU_CHARS {
            return Err(SkuError::TooLong);
        }
        if !sku
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(SkuError::Characters);
        }
        Ok(Self(sku))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a quantity is 1 to {MAX_QUANTITY} units, not {0}")]
pub struct QuantityError(pub i64);

/// A number of units of one product: at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i32")]
pub struct Quantity(i32);

impl Quantity {
    pub fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<i64> for Quantity {
    type Error = QuantityError;

    fn try_from(raw: i64) -> Result<Self, Self::Error> {
        i32::try_from(raw)
            .ok()
            .filter(|q| (1..=MAX_QUANTITY).contains(q))
            .map(Self)
            .ok_or(QuantityError(raw))
    }
}

impl TryFrom<i32> for Quantity {
    type Error = QuantityError;

    fn try_from(raw: i32) -> Result<Self, Self::Error> {
        Self::try_from(i64::from(raw))
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        // Anything that is not a number is as far out of range as can be.
        Self::try_from(raw.trim().parse::<i64>().unwrap_or(i64::MIN))
    }
}

impl From<Quantity> for i32 {
    fn from(quantity: Quantity) -> Self {
        quantity.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be a UUID")]
pub struct UuidIdError {
    pub what: &'static str,
}

/// String newtypes: parsing through `FromStr` / `TryFrom<String>`; read as `&str` (`Deref`,
/// `AsRef`), `Display`, into `String` and BSON.
macro_rules! string_id {
    ($name:ident, $error:ident, $parse:expr) => {
        impl FromStr for $name {
            type Err = $error;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                $parse(raw)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                raw.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Read-only: the text a valid value holds.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for mongodb::bson::Bson {
            fn from(id: $name) -> Self {
                Self::String(id.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(ProductId, ProductIdError, ProductId::parse);
string_id!(VariantId, ProductIdError, VariantId::parse);
string_id!(Sku, SkuError, Sku::parse);

/// UUID newtypes: any UUID is a valid id, so one is also built from a `Uuid` (itself parsed).
macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("The id of ", $what, ": a UUID.")]
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            Serialize,
            Deserialize,
            sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = UuidIdError;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(raw)
                    .map(Self)
                    .map_err(|_| UuidIdError { what: $what })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(OrderId, "an order");
uuid_id!(UserId, "a user");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_ids_are_opaque_but_bounded() {
        for ok in [
            "0193a1f2-7c4e-7b1a-9f00-123456789abc",
            "p1",
            "early",
            &"x".repeat(MAX_PRODUCT_ID_LEN),
        ] {
            let id: ProductId = ok.parse().expect(ok);
            assert_eq!(id.as_str(), ok, "kept as given");
        }
        assert_eq!("".parse::<ProductId>(), Err(ProductIdError::Blank));
        assert_eq!("  ".parse::<ProductId>(), Err(ProductIdError::Blank));
        assert_eq!(
            "x".repeat(MAX_PRODUCT_ID_LEN + 1).parse::<ProductId>(),
            Err(ProductIdError::TooLong)
        );
    }

    #[test]
    fn variant_ids_follow_the_product_id_rule_and_a_default_variant_is_its_product() {
        let product: ProductId = "p1".parse().expect("product id");
        assert_eq!(VariantId::of_product(&product).as_str(), "p1");
        assert_eq!("".parse::<VariantId>(), Err(ProductIdError::Blank));
        assert_eq!(
            "x".repeat(MAX_PRODUCT_ID_LEN + 1).parse::<VariantId>(),
            Err(ProductIdError::TooLong)
        );
        assert!(serde_json::from_str::<VariantId>("\" \"").is_err());
    }

    #[test]
    fn skus_are_trimmed_upper_cased_and_checked() {
        assert_eq!(
            Sku::parse(" wh-1000xm5 ").expect("sku").as_str(),
            "WH-1000XM5"
        );
        assert_eq!(Sku::parse(" "), Err(SkuError::Empty));
        assert_eq!(Sku::parse(&"a".repeat(65)), Err(SkuError::TooLong));
        assert_eq!(Sku::parse("no spaces!"), Err(SkuError::Characters));
        assert_eq!(
            SkuError::Characters.to_string(),
            "sku may contain only letters, digits, '-', '_' and '.'"
        );
    }

    #[test]
    fn quantities_are_positive_and_bounded() {
        assert_eq!(Quantity::try_from(1).map(Quantity::get), Ok(1));
        assert_eq!(
            Quantity::try_from(MAX_QUANTITY).map(i32::from),
            Ok(MAX_QUANTITY)
        );
        assert_eq!(Quantity::try_from(0), Err(QuantityError(0)));
        assert_eq!(Quantity::try_from(-3), Err(QuantityError(-3)));
        assert!(Quantity::try_from(i64::from(MAX_QUANTITY) + 1).is_err());
        assert!("7".parse::<Quantity>().is_ok());
        assert!("seven".parse::<Quantity>().is_err());
    }

    #[test]
    fn uuid_ids_parse_and_print_as_uuids() {
        let raw = "0193a1f2-7c4e-7b1a-9f00-123456789abc";
        let order: OrderId = raw.parse().expect("order id");
        assert_eq!(order.to_string(), raw);
        assert_eq!(
            "nope".parse::<UserId>(),
            Err(UuidIdError { what: "a user" })
        );
        assert_eq!(
            UuidIdError { what: "an order" }.to_string(),
            "an order must be a UUID"
        );
    }

    #[test]
    fn string_ids_read_as_text_and_bson() {
        let sku = Sku::parse("ab-1").expect("sku");
        let text: &str = &sku;
        assert_eq!(text, "AB-1");
        assert_eq!(
            mongodb::bson::Bson::from(&sku),
            mongodb::bson::Bson::String("AB-1".to_owned())
        );
    }

    #[test]
    fn deserializing_parses() {
        let id: ProductId = serde_json::from_str("\"p1\"").expect("id");
        assert_eq!(serde_json::to_string(&id).expect("json"), "\"p1\"");
        assert!(serde_json::from_str::<ProductId>("\"\"").is_err());
        assert!(serde_json::from_str::<Sku>("\"a b\"").is_err());
        assert_eq!(
            serde_json::from_str::<Sku>("\"ab-1\"")
                .expect("sku")
                .as_str(),
            "AB-1"
        );
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert_eq!(
            serde_json::from_str::<Quantity>("3")
                .map(Quantity::get)
                .ok(),
            Some(3)
        );
        let user: UserId =
            serde_json::from_str("\"0193a1f2-7c4e-7b1a-9f00-123456789abc\"").expect("user");
        assert_eq!(
            user.as_uuid().to_string(),
            "0193a1f2-7c4e-7b1a-9f00-123456789abc"
        );
        assert!(serde_json::from_str::<OrderId>("\"x\"").is_err());
    }
}
