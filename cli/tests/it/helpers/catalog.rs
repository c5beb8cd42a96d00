//! The catalogue as an admin keeps it: products created, updated and deleted through the
//! router, and their stock set and read (`Product.stock`, from the inventory).
//!
//! Failing: the helpers that must succeed ([`new_product`], [`update_product`],
//! [`delete_product`], [`stock_of`]) fail the test with the whole response otherwise;
//! [`create_product`] and [`set_stock`] return the answer for the test to judge;
//! [`stock_becomes`] fails it with the last stock seen when the expected one never comes.

use serde_json::{json, Value};

use super::*;

pub fn unique_sku() -> String {
    format!("TEST-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]).to_uppercase()
}

const PRODUCT_FIELDS: &str = "id sku name description category brand price { amount currency } attributes { name value } imageUrl createdAt updatedAt";

/// A product's stock as the router serves it.
pub const STOCK: &str = "stock { onHand reserved available inStock }";

pub fn product_input(sku: &str) -> Value {
    json!({
        "sku": sku,
        "name": "Sony WH-1000XM5 Wireless Headphones",
        "description": "Industry-leading noise cancelling.",
        "category": "Audio > Headphones",
        "brand": "Sony",
        "price": "349.99",
        "attributes": [{ "name": "Color", "value": "Black" }],
        "imageUrl": "https://example.com/wh1000xm5.jpg"
    })
}

/// The changes to the demo input (for [`new_product`]) of a product at `price` with `stock`
/// units.
pub fn priced(price: &str, stock: i64) -> Value {
    json!({ "price": price, "initialStock": stock })
}

/// `createProduct` as the admin; its payload (`product` and `userErrors`), success or not.
pub async fn create_product(api: &impl Gql, admin: &Session, input: Value) -> Value {
    let mutation = format!("mutation($input: ProductInput!) {{ createProduct(input: $input) {{ product {{ {PRODUCT_FIELDS} }} userErrors {{ code message field }} }} }}");
    let body = api
        .gql(&mutation, json!({ "input": input }), admin.token())
        .await;
    body["data"]["createProduct"].clone()
}

/// Creates a product (the demo input with a fresh SKU, overridden by `changes`) and returns
/// its id; panics with the response unless it succeeded.
pub async fn new_product(api: &impl Gql, admin: &Session, changes: Value) -> String {
    let mut input = product_input(&unique_sku());
    if let (Some(input), Some(changes)) = (input.as_object_mut(), changes.as_object()) {
        input.extend(changes.clone());
    }
    // The whole response on failure: a GraphQL error leaves the payload null.
    let mutation = "mutation($input: ProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }";
    let body = api
        .gql(mutation, json!({ "input": input }), admin.token())
        .await;
    body["data"]["createProduct"]["product"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createProduct: {body}"))
        .to_owned()
}

/// `updateProduct` as the admin; panics unless it succeeded.
pub async fn update_product(api: &impl Gql, admin: &Session, id: &str, input: Value) {
    let mutation = "mutation($id: ID!, $input: ProductUpdateInput!) { updateProduct(id: $id, input: $input) { userErrors { code message } } }";
    let variables = json!({ "id": id, "input": input });
    let data = api.data(mutation, variables, admin.token()).await;
    assert_eq!(data["updateProduct"]["userErrors"], json!([]), "{data}");
}

/// `deleteProduct` as the admin; panics unless it succeeded.
pub async fn delete_product(api: &impl Gql, admin: &Session, id: &str) {
    let mutation =
        "mutation($id: ID!) { deleteProduct(id: $id) { deletedId userErrors { code message } } }";
    let data = api.data(mutation, json!({ "id": id }), admin.token()).await;
    assert_eq!(data["deleteProduct"]["deletedId"], id, "{data}");
}

/// `setStock` as the holder of `token` (if any); the whole body, for the test to judge (a
/// refusal may be a GraphQL error or a userError).
pub async fn set_stock(api: &impl Gql, token: Option<&str>, product: &str, on_hand: i64) -> Value {
    let mutation = format!("mutation($id: ID!, $n: Int!) {{ setStock(productId: $id, onHand: $n) {{ productId {STOCK} userErrors {{ code field message }} }} }}");
    api.gql(&mutation, json!({ "id": product, "n": on_hand }), token)
        .await
}

/// [`STOCK`] as it reads with these counts (in stock when some are available).
pub fn stock(on_hand: i64, reserved: i64, available: i64) -> Value {
    json!({ "onHand": on_hand, "reserved": reserved, "available": available, "inStock": available > 0 })
}

/// The product's [`STOCK`].
pub async fn stock_of(api: &impl Gql, product: &str) -> Value {
    let query = format!("query($id: ID!) {{ product(id: $id) {{ id {STOCK} }} }}");
    let data = api.data(&query, json!({ "id": product }), None).await;
    data["product"]["stock"].clone()
}

/// Polls the product's [`STOCK`] until it is `expected`, as the inventory follows events;
/// fails the test with the last stock seen after 30 s.
pub async fn stock_becomes(api: &impl Gql, product: &str, expected: Value) {
    poll_until(
        &format!("the stock of {product} never became {expected}"),
        Wait::secs(30),
        || stock_of(api, product),
        |stock| *stock == expected,
    )
    .await;
}
