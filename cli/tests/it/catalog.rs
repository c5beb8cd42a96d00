//! The catalog through the router: reading, admin-only writes, pagination.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::*;

const PRODUCT: &str = "query($id: ID!) { product(id: $id) { id sku name category brand price { amount currency } attributes { name value } imageUrl } }";

async fn list(
    platform: &Platform,
    first: i64,
    after: Option<&str>,
    category: Option<&str>,
) -> Value {
    let query = "query($first: Int, $after: String, $category: String) { products(first: $first, after: $after, category: $category) {
                totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id sku } } nodes { id } } }";
    let variables = json!({ "first": first, "after": after, "category": category });
    let data = platform.data(query, variables, None).await;
    data["products"].clone()
}

#[tokio::test]
async fn an_admin_creates_a_product_that_anyone_can_read() {
    let (platform, admin) = Platform::with_admin().await;
    let sku = unique_sku();

    let created = create_product(&platform, &admin, product_input(&sku.to_lowercase())).await;
    let id = created["product"]["id"]
        .as_str()
        .expect("created")
        .to_owned();
    let by_id = platform.gql(PRODUCT, json!({ "id": id }), None).await;
    let listed = list(&platform, 100, None, Some("Audio")).await;

    assert_eq!(created["userErrors"], json!([]));
    let product = &by_id["data"]["product"];
    assert_eq!(product["sku"], json!(sku), "SKUs are stored upper-case");
    assert_eq!(
        product["price"],
        json!({ "amount": "349.99", "currency": "USD" })
    );
    assert_eq!(product["category"], json!("Audio > Headphones"));
    assert_eq!(
        product["attributes"],
        json!([{ "name": "Color", "value": "Black" }])
    );
    assert_eq!(
        listed["totalCount"],
        json!(1),
        "category pages include sub-categories"
    );
    assert_eq!(listed["nodes"][0]["id"], json!(id));
}

#[tokio::test]
async fn customers_and_anonymous_callers_cannot_create_products() {
    let platform = Platform::start().await;
    let customer = platform.customer().await;
    let mutation = "mutation($input: ProductInput!) { createProduct(input: $input) { product { id } userErrors { code } } }";
    let vars = json!({ "input": product_input(&unique_sku()) });

    let as_customer = platform.gql(mutation, vars.clone(), customer.token()).await;
    let as_anonymous = platform.gql(mutation, vars, None).await;
    let catalog = list(&platform, 10, None, None).await;

    assert_eq!(error_code(&as_customer), "FORBIDDEN");
    assert_eq!(error_code(&as_anonymous), "UNAUTHENTICATED");
    assert_eq!(catalog["totalCount"], json!(0), "nothing was created");
}

#[tokio::test]
async fn a_duplicate_sku_is_sku_taken_and_changes_nothing() {
    let (platform, admin) = Platform::with_admin().await;
    let sku = unique_sku();
    create_product(&platform, &admin, product_input(&sku)).await;

    let mut second = product_input(&sku.to_lowercase());
    second["name"] = json!("Another product");
    let duplicate = create_product(&platform, &admin, second).await;
    let catalog = list(&platform, 10, None, None).await;

    assert_eq!(user_error_codes(&duplicate), ["SKU_TAKEN"]);
    assert_eq!(duplicate["userErrors"][0]["field"], json!(["input", "sku"]));
    assert_eq!(duplicate["product"], Value::Null);
    assert_eq!(catalog["totalCount"], json!(1));
}

#[tokio::test]
async fn invalid_products_are_refused_field_by_field() {
    let (platform, admin) = Platform::with_admin().await;
    let mut input = product_input("bad sku!");
    input["price"] = json!("19.999");
    input["name"] = json!("");

    let refused = create_product(&platform, &admin, input).await;

    assert_eq!(
        user_error_codes(&refused),
        ["INVALID_INPUT", "INVALID_INPUT", "INVALID_INPUT"]
    );
    let fields: Vec<Value> = refused["userErrors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(
        fields,
        [
            json!(["input", "sku"]),
            json!(["input", "name"]),
            json!(["input", "price"])
        ]
    );
}

#[tokio::test]
async fn an_admin_updates_and_deletes_a_product() {
    let (platform, admin) = Platform::with_admin().await;
    let customer = platform.customer().await;
    let id = new_product(&platform, &admin, json!({})).await;
    let update =
        "mutation($id: ID!, $input: ProductUpdateInput!) { updateProduct(id: $id, input: $input) {
        product { name price { amount } brand category } userErrors { code field } } }";
    let delete = "mutation($id: ID!) { deleteProduct(id: $id) { deletedId userErrors { code } } }";

    let by_customer = platform
        .gql(
            update,
            json!({ "id": id, "input": { "name": "Hacked" } }),
            customer.token(),
        )
        .await;
    let updated = platform
        .gql(
            update,
            json!({ "id": id, "input": { "name": "Renamed", "price": "299.00", "brand": null } }),
            admin.token(),
        )
        .await;
    let deleted = platform
        .gql(delete, json!({ "id": id }), admin.token())
        .await;
    let deleted_again = platform
        .gql(delete, json!({ "id": id }), admin.token())
        .await;
    let after = platform.gql(PRODUCT, json!({ "id": id }), None).await;

    assert_eq!(error_code(&by_customer), "FORBIDDEN");
    assert_eq!(
        updated["data"]["updateProduct"]["product"],
        json!({ "name": "Renamed", "price": { "amount": "299.00" }, "brand": null, "category": "Audio > Headphones" })
    );
    assert_eq!(
        deleted["data"]["deleteProduct"],
        json!({ "deletedId": id, "userErrors": [] })
    );
    assert_eq!(
        user_error_codes(&deleted_again["data"]["deleteProduct"]),
        ["NOT_FOUND"]
    );
    assert_eq!(after["data"]["product"], Value::Null);
}

#[tokio::test]
async fn paging_through_the_demo_catalog_returns_each_product_once_in_order() {
    let platform = Platform::start_with(Options::demo_catalog()).await;
    let admin = platform.admin().await;

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut total;
    let mut added_mid_way = None;
    loop {
        let page = list(&platform, 100, after.as_deref(), None).await;
        total = page["totalCount"].as_i64().expect("totalCount");
        let edges = page["edges"].as_array().expect("edges");
        seen.extend(
            edges
                .iter()
                .map(|e| e["node"]["id"].as_str().expect("id").to_owned()),
        );
        assert_eq!(
            page["pageInfo"]["endCursor"],
            edges
                .last()
                .map(|e| e["cursor"].clone())
                .unwrap_or(Value::Null)
        );
        if added_mid_way.is_none() {
            // A product added while a client pages must show up once, at the end.
            let created = create_product(&platform, &admin, product_input(&unique_sku())).await;
            added_mid_way = created["product"]["id"].as_str().map(str::to_owned);
        }
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }

    let unique: HashSet<&String> = seen.iter().collect();
    assert!(
        seen.len() > 3000,
        "the demo catalog was seeded: {}",
        seen.len()
    );
    assert_eq!(unique.len(), seen.len(), "no product twice");
    assert_eq!(seen.len() as i64, total, "no product missed");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "a stable order");
    assert_eq!(seen.last(), added_mid_way.as_ref());
}

#[tokio::test]
async fn one_request_is_answered_from_both_subgraphs() {
    let (platform, admin) = Platform::with_admin().await;
    create_product(&platform, &admin, product_input(&unique_sku())).await;

    let data = platform
        .data("{ me { email role } products(first: 5) { totalCount nodes { sku price { amount } } } }", json!({}), admin.token())
        .await;

    assert_eq!(data["me"], json!({ "email": ADMIN_EMAIL, "role": "ADMIN" }));
    assert_eq!(data["products"]["totalCount"], json!(1));
}

#[tokio::test]
async fn forged_cursors_are_bad_user_input() {
    let platform = Platform::start().await;
    let query = "{ products(after: \"not-a-cursor\") { totalCount } }";
    let body = platform.gql(query, json!({}), None).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_deleted_product_is_on_no_read_path_through_the_router() {
    let (platform, admin) = Platform::with_admin().await;
    let name = format!("Vanishing {}", unique_sku());
    let id = new_product(&platform, &admin, json!({ "name": name })).await;
    let search = "query($q: String!) { search(query: $q, first: 5) { edges { node { product { id name price { amount } } } } } }";
    // Indexed, and every read path warm, before the delete.
    poll_until(
        "never indexed",
        Wait::secs(120).every_ms(200),
        || platform.gql(search, json!({ "q": name }), None),
        |found| found.to_string().contains(&name),
    )
    .await;
    platform.gql(PRODUCT, json!({ "id": id }), None).await;
    list(&platform, 10, None, None).await;

    let mutation = "mutation($id: ID!) { deleteProduct(id: $id) { deletedId } }";
    let deleted = platform
        .gql(mutation, json!({ "id": id }), admin.token())
        .await;

    assert_eq!(deleted["data"]["deleteProduct"]["deletedId"], json!(id));
    let by_id = platform.gql(PRODUCT, json!({ "id": id }), None).await;
    assert_eq!(by_id["data"]["product"], Value::Null);
    let page = list(&platform, 10, None, None).await;
    assert_eq!(page["totalCount"], json!(0), "{page}");
    let audio = list(&platform, 10, None, Some("Audio")).await;
    assert_eq!(audio["nodes"], json!([]), "{audio}");
    // The search index may still hold the hit for a moment; the product's fields are gone.
    let searched = platform.gql(search, json!({ "q": name }), None).await;
    assert!(!searched.to_string().contains(&name), "{searched}");
}
