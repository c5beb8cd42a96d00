//! The products subgraph's object and input types.

use async_graphql::{InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use emporium_kernel::graphql::{encode_cursor, MoneyObject, PageInfo, UserError};

use crate::domain::product::{self, Attribute as DomainAttribute};

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
