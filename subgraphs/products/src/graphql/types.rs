//! The products subgraph's object and input types.

use async_graphql::{InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use emporium_kernel::graphql::{encode_cursor, MoneyObject, PageInfo, UserError};

use crate::domain::product::{self, Attribute as DomainAttribute};
use crate::domain::variant::{
    self, ProductOption as DomainOption, SelectedOption as DomainSelected,
};

pub struct Product(pub product::Product);

#[Object(name = "Product")]
impl Product {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn sku(&self) -> &str {
        &self.0.sku
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// A category path such as "Audio > Headphones".
    async fn category(&self) -> &str {
        &self.0.category
    }
    async fn brand(&self) -> Option<&str> {
        self.0.brand.as_deref()
    }
    async fn price(&self) -> MoneyObject {
        self.0.price.into()
    }
    async fn attributes(&self) -> Vec<Attribute> {
        self.0
            .attributes
            .iter()
            .map(|a| Attribute {
                name: a.name.clone(),
                value: a.value.clone(),
            })
            .collect()
    }
    async fn image_url(&self) -> Option<&str> {
        self.0.image_url.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Empty when the product has no options.
    async fn options(&self) -> Vec<ProductOption> {
        self.0
            .options
            .iter()
            .map(|o| ProductOption {
                name: o.name.clone(),
                values: o.values.clone(),
            })
            .collect()
    }
    /// At least one: a product without options is its own single variant (same id).
    async fn variants(&self) -> Vec<ProductVariant> {
        self.0
            .all_variants()
            .into_iter()
            .map(|v| ProductVariant {
                variant: v,
                product: self.0.clone(),
            })
            .collect()
    }
    async fn price_range(&self) -> PriceRange {
        let (min, max) = self.0.price_range();
        PriceRange {
            min: min.into(),
            max: max.into(),
        }
    }
}

/// One variant and the product it belongs to.
pub struct ProductVariant {
    pub variant: variant::Variant,
    pub product: product::Product,
}

#[Object(name = "ProductVariant")]
impl ProductVariant {
    async fn id(&self) -> ID {
        ID(self.variant.id.clone())
    }
    async fn sku(&self) -> &str {
        &self.variant.sku
    }
    /// "Red / M"; the product's name when it has no options.
    async fn title(&self) -> &str {
        &self.variant.title
    }
    async fn selected_options(&self) -> Vec<SelectedOption> {
        self.variant
            .selected_options
            .iter()
            .map(|o| SelectedOption {
                name: o.name.clone(),
                value: o.value.clone(),
            })
            .collect()
    }
    async fn price(&self) -> MoneyObject {
        self.variant.price.into()
    }
    /// The "was" price, when the variant is on sale.
    async fn compare_at_price(&self) -> Option<MoneyObject> {
        self.variant.compare_at_price.map(Into::into)
    }
    async fn product(&self) -> Product {
        Product(self.product.clone())
    }
}

#[derive(SimpleObject)]
pub struct ProductOption {
    pub name: String,
    pub values: Vec<String>,
}

#[derive(SimpleObject)]
pub struct SelectedOption {
    pub name: String,
    pub value: String,
}

#[derive(SimpleObject)]
pub struct PriceRange {
    pub min: MoneyObject,
    pub max: MoneyObject,
}

#[derive(InputObject)]
pub struct ProductOptionInput {
    pub name: String,
    pub values: Vec<String>,
}

impl From<ProductOptionInput> for DomainOption {
    fn from(input: ProductOptionInput) -> Self {
        DomainOption {
            name: input.name,
            values: input.values,
        }
    }
}

#[derive(InputObject)]
pub struct SelectedOptionInput {
    pub name: String,
    pub value: String,
}

#[derive(InputObject)]
pub struct ProductVariantInput {
    pub sku: String,
    /// One value for each of the product's options.
    pub selected_options: Vec<SelectedOptionInput>,
    pub price: emporium_kernel::graphql::Decimal,
    pub compare_at_price: Option<emporium_kernel::graphql::Decimal>,
    #[graphql(default = 0)]
    pub initial_stock: Option<i32>,
}

impl From<ProductVariantInput> for variant::VariantDraft {
    fn from(input: ProductVariantInput) -> Self {
        variant::VariantDraft {
            sku: input.sku,
            selected_options: input
                .selected_options
                .into_iter()
                .map(|o| DomainSelected {
                    name: o.name,
                    value: o.value,
                })
                .collect(),
            price: input.price.0,
            compare_at_price: input.compare_at_price.map(|p| p.0),
            initial_stock: input.initial_stock,
        }
    }
}

#[derive(SimpleObject)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

#[derive(InputObject)]
pub struct AttributeInput {
    pub name: String,
    pub value: String,
}

impl From<AttributeInput> for DomainAttribute {
    fn from(input: AttributeInput) -> Self {
        DomainAttribute {
            name: input.name,
            value: input.value,
        }
    }
}

#[derive(SimpleObject)]
pub struct ProductEdge {
    pub cursor: String,
    pub node: Product,
}

#[derive(SimpleObject)]
pub struct ProductConnection {
    pub edges: Vec<ProductEdge>,
    pub nodes: Vec<Product>,
    pub page_info: PageInfo,
    /// Counted only when selected (the resolver looks ahead); 0 is never shown otherwise.
    pub total_count: i32,
}

impl ProductConnection {
    pub fn from_page(page: crate::store::Page) -> Self {
        let end_cursor = page.products.last().map(|p| encode_cursor(&p.id));
        let edges = page
            .products
            .iter()
            .map(|p| ProductEdge {
                cursor: encode_cursor(&p.id),
                node: Product(p.clone()),
            })
            .collect();
        Self {
            edges,
            nodes: page.products.into_iter().map(Product).collect(),
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                end_cursor,
            },
            total_count: page
                .total_count
                .map_or(0, |total| i32::try_from(total).unwrap_or(i32::MAX)),
        }
    }
}

#[derive(InputObject)]
pub struct ProductInput {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub brand: Option<String>,
    pub price: emporium_kernel::graphql::Decimal,
    pub attributes: Option<Vec<AttributeInput>>,
    pub image_url: Option<String>,
    #[graphql(default = 0)]
    pub initial_stock: Option<i32>,
    /// Without options and variants the product is its own single variant.
    pub options: Option<Vec<ProductOptionInput>>,
    /// One per combination sold; `Product.price` becomes the lowest variant price.
    pub variants: Option<Vec<ProductVariantInput>>,
}

#[derive(InputObject)]
pub struct ProductUpdateInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub brand: async_graphql::MaybeUndefined<String>,
    pub price: Option<emporium_kernel::graphql::Decimal>,
    pub attributes: Option<Vec<AttributeInput>>,
    pub image_url: async_graphql::MaybeUndefined<String>,
    /// A product with options: its options, replaced together with `variants`.
    pub options: Option<Vec<ProductOptionInput>>,
    /// A product with options: every variant it sells from now on. A variant whose `sku` the
    /// product sells already keeps its id and stock (`initialStock` is for new ones); the
    /// ones left out are no longer sold.
    pub variants: Option<Vec<ProductVariantInput>>,
}

#[derive(SimpleObject, Default)]
pub struct ProductPayload {
    pub product: Option<Product>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct DeletePayload {
    pub deleted_id: Option<ID>,
    pub user_errors: Vec<UserError>,
}
