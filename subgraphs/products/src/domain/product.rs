//! Products and the validation of what admins send. Input that does not validate is an
//! [`InvalidProduct`] naming every bad field and what is wrong with it; the GraphQL layer turns
//! it into userErrors.

use chrono::{DateTime, Utc};
use emporium_kernel::ids::Sku;
use emporium_kernel::money::{Currency, Money};

use super::variant::{self, NewVariant, ProductOption, Variant, VariantDraft};

pub use emporium_kernel::ids::MAX_SKU_CHARS;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
pub const MAX_CATEGORY_CHARS: usize = 200;
pub const MAX_BRAND_CHARS: usize = 100;
pub const MAX_ATTRIBUTES: usize = 50;
pub const MAX_URL_CHARS: usize = 2048;
/// Separates the levels of a category path: "Audio > Headphones".
pub const CATEGORY_SEPARATOR: &str = " > ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub brand: Option<String>,
    pub price: Money,
    pub attributes: Vec<Attribute>,
    pub image_url: Option<String>,
    /// A popularity score (sales rank) from the catalog source; used to break ties in search.
    pub popularity: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Empty for a product without options.
    pub options: Vec<ProductOption>,
    /// The variants of a product with options (`price` is then the lowest of theirs); empty
    /// for a product without options, which is its own single variant ([`Product::variants`]).
    pub variants: Vec<Variant>,
}

impl Product {
    /// Every variant the product is sold as: its own, or the one variant a product without
    /// options is (id, SKU and price the product's, titled with its name).
    pub fn all_variants(&self) -> Vec<Variant> {
        if !self.variants.is_empty() {
            return self.variants.clone();
        }
        vec![Variant {
            id: self.id.clone(),
            sku: self.sku.clone(),
            title: self.name.clone(),
            selected_options: Vec::new(),
            price: self.price,
            compare_at_price: None,
        }]
    }

    /// The variant `id` of this product, if it has one.
    pub fn variant(&self, id: &str) -> Option<Variant> {
        self.all_variants().into_iter().find(|v| v.id == id)
    }

    /// The lowest and highest variant price.
    pub fn price_range(&self) -> (Money, Money) {
        variant::price_range(self.all_variants().into_iter().map(|v| v.price))
            .unwrap_or((self.price, self.price))
    }
}

/// The validated fields of a new product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub sku: Sku,
    pub name: String,
    pub description: String,
    pub category: String,
    pub brand: Option<String>,
    pub price: Money,
    pub attributes: Vec<Attribute>,
    pub image_url: Option<String>,
    pub popularity: i64,
    pub initial_stock: u32,
    pub options: Vec<ProductOption>,
    /// Empty for a product without options.
    pub variants: Vec<NewVariant>,
}

/// What an admin sends to create a product, before validation.
#[derive(Debug, Clone, Default)]
pub struct ProductDraft {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub brand: Option<String>,
    pub price: String,
    pub attributes: Option<Vec<Attribute>>,
    pub image_url: Option<String>,
    pub initial_stock: Option<i32>,
    pub options: Option<Vec<ProductOption>>,
    pub variants: Option<Vec<VariantDraft>>,
}

/// Changes to an existing product; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    /// `Some(None)` clears the brand.
    pub brand: Option<Option<String>>,
    pub price: Option<Money>,
    pub attributes: Option<Vec<Attribute>>,
    pub image_url: Option<Option<String>>,
    /// A product with options: its options and variants replaced. A variant whose SKU the
    /// product already sells keeps its id (its stock, and the carts and orders that name it);
    /// the others are new, starting with their initial stock; the ones left out are no longer
    /// sold.
    pub variants: Option<(Vec<ProductOption>, Vec<NewVariant>)>,
}

impl ProductPatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A field of a product draft or patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductField {
    Sku,
    Name,
    Description,
    Category,
    Brand,
    Price,
    Attributes,
    ImageUrl,
    InitialStock,
    Options,
    Variants,
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field:?}: {message}")]
pub struct FieldProblem {
    pub field: ProductField,
    pub message: String,
    /// `INVALID_INPUT` unless a variant rule says otherwise (see `domain::variant`).
    pub code: &'static str,
    /// Where in the field, for options and variants: `["1", "sku"]`.
    pub path: Vec<String>,
}

/// Every problem of a draft or patch, in field order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the product input is invalid ({} problems)", .0.len())]
pub struct InvalidProduct(pub Vec<FieldProblem>);

/// Collects every problem of an input, each on its field, instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<FieldProblem>);

impl Problems {
    fn check<T>(&mut self, field: ProductField, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| {
                self.0.push(FieldProblem {
                    field,
                    message,
                    code: "INVALID_INPUT",
                    path: Vec::new(),
                })
            })
            .ok()
    }

    fn variants(
        &mut self,
        sku: Option<&Sku>,
        options: Vec<ProductOption>,
        variants: Vec<VariantDraft>,
    ) -> Option<(Vec<ProductOption>, Vec<NewVariant>)> {
        variant::validate(sku, options, variants)
            .map_err(|problems| {
                self.0.extend(problems.into_iter().map(|p| {
                    let mut path = p.path.into_iter();
                    let field = match path.next().as_deref() {
                        Some("options") => ProductField::Options,
                        _ => ProductField::Variants,
                    };
                    FieldProblem {
                        field,
                        message: p.message,
                        code: p.code,
                        path: path.collect(),
                    }
                }))
            })
            .ok()
    }
}

impl ProductDraft {
    pub fn validate(self) -> Result<NewProduct, InvalidProduct> {
        let mut problems = Problems::default();
        let sku = problems.check(ProductField::Sku, parse_sku(&self.sku));
        let name = problems.check(
            ProductField::Name,
            required_text("name", &self.name, MAX_NAME_CHARS),
        );
        let description = problems.check(
            ProductField::Description,
            optional_text("description", &self.description, MAX_DESCRIPTION_CHARS),
        );
        let category = problems.check(ProductField::Category, parse_category(&self.category));
        let brand = problems.check(ProductField::Brand, parse_brand(self.brand.as_deref()));
        let price = problems.check(ProductField::Price, parse_price(&self.price));
        let attributes = problems.check(
            ProductField::Attributes,
            parse_attributes(self.attributes.unwrap_or_default()),
        );
        let image_url = problems.check(
            ProductField::ImageUrl,
            parse_image_url(self.image_url.as_deref()),
        );
        let initial_stock = problems.check(
            ProductField::InitialStock,
            parse_stock(self.initial_stock.unwrap_or(0)),
        );
        let variants = problems.variants(
            sku.as_ref(),
            self.options.unwrap_or_default(),
            self.variants.unwrap_or_default(),
        );
        match (
            sku,
            name,
            description,
            category,
            brand,
            price,
            attributes,
            image_url,
            initial_stock,
            variants,
        ) {
            (
                Some(sku),
                Some(name),
                Some(description),
                Some(category),
                Some(brand),
                Some(price),
                Some(attributes),
                Some(image_url),
                Some(initial_stock),
                Some((options, variants)),
            ) => Ok(NewProduct {
                sku,
                name,
                description,
                category,
                brand,
                // A product with variants costs what its cheapest variant costs.
                price: variant::price_range(variants.iter().map(|v| v.price))
                    .map_or(price, |(low, _)| low),
                attributes,
                image_url,
                popularity: 0,
                initial_stock,
                options,
                variants,
            }),
            _ => Err(InvalidProduct(problems.0)),
        }
    }
}

/// What an admin sends to change a product, before validation.
#[derive(Debug, Clone, Default)]
pub struct PatchDraft {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub brand: Option<Option<String>>,
    pub price: Option<String>,
    pub attributes: Option<Vec<Attribute>>,
    pub image_url: Option<Option<String>>,
    pub options: Option<Vec<ProductOption>>,
    pub variants: Option<Vec<VariantDraft>>,
}

impl PatchDraft {
    pub fn validate(self) -> Result<ProductPatch, InvalidProduct> {
        let mut problems = Problems::default();
        let patch = ProductPatch {
            name: self.name.and_then(|v| {
                problems.check(
                    ProductField::Name,
                    required_text("name", &v, MAX_NAME_CHARS),
                )
            }),
            description: self.description.and_then(|v| {
                problems.check(
                    ProductField::Description,
                    optional_text("description", &v, MAX_DESCRIPTION_CHARS),
                )
            }),
            category: self
                .category
                .and_then(|v| problems.check(ProductField::Category, parse_category(&v))),
            brand: self
                .brand
                .and_then(|v| problems.check(ProductField::Brand, parse_brand(v.as_deref()))),
            price: self
                .price
                .and_then(|v| problems.check(ProductField::Price, parse_price(&v))),
            attributes: self
                .attributes
                .and_then(|v| problems.check(ProductField::Attributes, parse_attributes(v))),
            image_url: self.image_url.and_then(|v| {
                problems.check(ProductField::ImageUrl, parse_image_url(v.as_deref()))
            }),
            variants: match (self.options, self.variants) {
                (None, None) => None,
                // Options and variants are replaced together, and a product keeps having them:
                // one without options is its own variant, under its own id, for good.
                (Some(options), Some(variants)) if !options.is_empty() && !variants.is_empty() => {
                    problems.variants(None, options, variants)
                }
                _ => {
                    problems.0.push(FieldProblem {
                        field: ProductField::Variants,
                        message:
                            "options and variants are changed together, and neither may be empty"
                                .to_owned(),
                        code: "INVALID_INPUT",
                        path: Vec::new(),
                    });
                    None
                }
            },
        };
        if problems.0.is_empty() {
            Ok(patch)
        } else {
            Err(InvalidProduct(problems.0))
        }
    }
}

/// SKUs are case-insensitive identifiers (the rule is [`Sku`]'s).
pub fn parse_sku(raw: &str) -> Result<Sku, String> {
    Sku::parse(raw).map_err(|e| e.to_string())
}

fn required_text(what: &str, raw: &str, max: usize) -> Result<String, String> {
    let text = optional_text(what, raw, max)?;
    if text.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    Ok(text)
}

fn optional_text(what: &str, raw: &str, max: usize) -> Result<String, String> {
    let text = raw.trim();
    if text.chars().count() > max {
        return Err(format!("{what} is too long (at most {max} characters)"));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(format!("{what} must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// A category path, normalised: levels trimmed and joined with " > ".
pub fn parse_category(raw: &str) -> Result<String, String> {
    let levels: Vec<&str> = raw.split('>').map(str::trim).collect();
    if levels.iter().any(|level| level.is_empty()) {
        return Err(
            "category must be a path such as \"Audio > Headphones\" with no empty level".into(),
        );
    }
    let category = levels.join(CATEGORY_SEPARATOR);
    required_text("category", &category, MAX_CATEGORY_CHARS)
}

/// Every ancestor of a category path and the path itself, so a category page also lists
/// products of its sub-categories: "A > B" gives ["A", "A > B"].
pub fn category_ancestry(category: &str) -> Vec<String> {
    let levels: Vec<&str> = category.split(CATEGORY_SEPARATOR).collect();
    (1..=levels.len())
        .map(|n| levels[..n].join(CATEGORY_SEPARATOR))
        .collect()
}

fn parse_brand(raw: Option<&str>) -> Result<Option<String>, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(brand) => required_text("brand", brand, MAX_BRAND_CHARS).map(Some),
    }
}

fn parse_price(raw: &str) -> Result<Money, String> {
    Money::parse_price(raw.trim(), Currency::USD).map_err(|e| format!("price: {e}"))
}

fn parse_attributes(attributes: Vec<Attribute>) -> Result<Vec<Attribute>, String> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(format!("at most {MAX_ATTRIBUTES} attributes"));
    }
    attributes
        .into_iter()
        .map(|a| {
            Ok(Attribute {
                name: required_text("attribute name", &a.name, 100)?,
                value: optional_text("attribute value", &a.value, 500)?,
            })
        })
        .collect()
}

fn parse_image_url(raw: Option<&str>) -> Result<Option<String>, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(url) if url.chars().count() > MAX_URL_CHARS => Err(format!(
            "imageUrl is too long (at most {MAX_URL_CHARS} characters)"
        )),
        Some(url)
            if (url.starts_with("https://") || url.starts_with("http://"))
                && !url.contains(char::is_whitespace) =>
        {
            Ok(Some(url.to_owned()))
        }
        Some(_) => Err("imageUrl must be an http(s) URL".into()),
    }
}

fn parse_stock(raw: i32) -> Result<u32, String> {
    u32::try_from(raw).map_err(|_| "initialStock must not be negative".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> ProductDraft {
        ProductDraft {
            sku: " wh-1000xm5 ".into(),
            name: "Sony WH-1000XM5".into(),
            description: "Noise cancelling headphones".into(),
            category: "Audio>  Headphones ".into(),
            brand: Some("Sony".into()),
            price: "349.99".into(),
            attributes: Some(vec![Attribute {
                name: "Color".into(),
                value: "Black".into(),
            }]),
            image_url: Some("https://example.com/x.jpg".into()),
            initial_stock: Some(5),
            options: None,
            variants: None,
        }
    }

    #[test]
    fn a_valid_draft_is_normalised() {
        let product = draft().validate().expect("valid");
        assert_eq!(product.sku.as_str(), "WH-1000XM5");
        assert_eq!(product.category, "Audio > Headphones");
        assert_eq!(product.price.minor(), 34999);
        assert_eq!(product.initial_stock, 5);
    }

    #[test]
    fn every_bad_field_is_reported_on_its_path() {
        let bad = ProductDraft {
            sku: "no spaces!".into(),
            name: " ".into(),
            price: "12.345".into(),
            category: "Audio > > X".into(),
            image_url: Some("javascript:alert(1)".into()),
            initial_stock: Some(-1),
            ..draft()
        };
        let InvalidProduct(problems) = bad.validate().expect_err("invalid");
        let fields: Vec<ProductField> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                ProductField::Sku,
                ProductField::Name,
                ProductField::Category,
                ProductField::Price,
                ProductField::ImageUrl,
                ProductField::InitialStock
            ]
        );
    }

    #[test]
    fn floats_and_negative_prices_are_refused() {
        for price in ["-1.00", "1.005", "abc", ""] {
            let InvalidProduct(problems) = ProductDraft {
                price: price.into(),
                ..draft()
            }
            .validate()
            .expect_err(price);
            assert_eq!(problems[0].field, ProductField::Price);
        }
    }

    #[test]
    fn category_ancestry_lists_every_level() {
        assert_eq!(category_ancestry("A > B > C"), ["A", "A > B", "A > B > C"]);
        assert_eq!(category_ancestry("A"), ["A"]);
    }

    #[test]
    fn a_patch_can_clear_the_brand_and_validates_what_it_sets() {
        let patch = PatchDraft {
            brand: Some(None),
            ..Default::default()
        }
        .validate()
        .expect("valid");
        assert_eq!(patch.brand, Some(None));
        assert!(PatchDraft::default().validate().expect("valid").is_empty());
        assert!(PatchDraft {
            price: Some("x".into()),
            ..Default::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn a_patch_replaces_options_and_variants_together_and_validates_them() {
        let size = || {
            vec![ProductOption {
                name: "Size".into(),
                values: vec!["S".into(), "M".into()],
            }]
        };
        let small = |sku: &str| VariantDraft {
            sku: sku.into(),
            selected_options: vec![variant::SelectedOption {
                name: "Size".into(),
                value: "S".into(),
            }],
            price: "10.00".into(),
            compare_at_price: None,
            initial_stock: Some(3),
        };
        let patch = PatchDraft {
            options: Some(size()),
            variants: Some(vec![small("TEE-S")]),
            ..Default::default()
        }
        .validate()
        .expect("valid");
        let (options, variants) = patch.variants.expect("variants");
        assert_eq!(options, size());
        assert_eq!(variants[0].title, "S");
        assert_eq!(variants[0].initial_stock, 3);
        for (options, variants) in [
            (Some(size()), None),
            (None, Some(vec![small("TEE-S")])),
            (Some(vec![]), Some(vec![])),
        ] {
            let refused = PatchDraft {
                options,
                variants,
                ..Default::default()
            }
            .validate()
            .expect_err("refused");
            assert_eq!(refused.0[0].field, ProductField::Variants);
        }
        // The variants' own rules hold: two with the same options.
        let duplicate = PatchDraft {
            options: Some(size()),
            variants: Some(vec![small("TEE-S"), small("TEE-S2")]),
            ..Default::default()
        }
        .validate()
        .expect_err("refused");
        assert_eq!(duplicate.0[0].code, "DUPLICATE_VARIANT");
    }
}
