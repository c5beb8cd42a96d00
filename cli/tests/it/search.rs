//! Search through the router, on the demo catalog loaded through the real pipeline (products
//! store → product.created → indexer; inventory → stock.changed → indexer).

use std::collections::HashSet;
use std::time::Instant;

use serde_json::{json, Value};

use crate::helpers::*;

const HIT: &str = "score highlights { field snippet } product { id name category brand price { amount } createdAt stock { inStock } }";

pub(crate) async fn search(platform: &Platform, query: &str, args: Value) -> Value {
    let request = format!(
        "query($query: String!, $filter: SearchFilter, $sort: SearchSort, $first: Int, $after: String) {{
            search(query: $query, filter: $filter, sort: $sort, first: $first, after: $after) {{
                totalCount pageInfo {{ hasNextPage endCursor }}
                facets {{ field values {{ value count }} }}
                edges {{ cursor node {{ {HIT} }} }}
            }} }}"
    );
    let mut variables = args;
    variables["query"] = json!(query);
    let data = platform.data(&request, variables, None).await;
    data["search"].clone()
}

pub(crate) fn hits(results: &Value) -> Vec<Value> {
    results["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

pub(crate) fn facet(results: &Value, field: &str) -> Vec<(String, i64)> {
    results["facets"]
        .as_array()
        .expect("facets")
        .iter()
        .find(|f| f["field"] == field)
        .and_then(|f| f["values"].as_array())
        .expect("facet values")
        .iter()
        .map(|v| {
            (
                v["value"].as_str().unwrap_or_default().to_owned(),
                v["count"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

fn cents(hit: &Value) -> u64 {
    let amount = hit["product"]["price"]["amount"].as_str().expect("price");
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, "0"));
    whole.parse::<u64>().expect("whole") * 100
        + format!("{fraction:0<2}").parse::<u64>().expect("cents")
}

/// Polls until `check` holds for the results of `query`, returning them.
pub(crate) async fn eventually(
    platform: &Platform,
    query: &str,
    args: Value,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    // Generous: the demo catalog's 3,291 products and their stock go through the whole
    // pipeline, on 2 cores shared with the other tests' platforms.
    let wait = Wait::secs(300).every_ms(100);
    poll_until(what, wait, || search(platform, query, args.clone()), check).await
}

/// The arguments of a search for the products in stock (or out of it).
fn in_stock(in_stock: bool) -> Value {
    json!({ "filter": { "inStock": in_stock } })
}

/// Polls until a search for `query` (with `args`) counts `total` products; the results.
async fn total_becomes(
    platform: &Platform,
    query: &str,
    args: Value,
    total: i64,
    what: &str,
) -> Value {
    eventually(platform, query, args, what, |r| r["totalCount"] == total).await
}

#[tokio::test]
async fn the_demo_catalog_is_searchable_with_typos_prefixes_filters_sorts_and_facets() {
    let platform = Platform::start_with(Options::demo_catalog()).await;
    let catalog = emporium_products::seed::demo_products().expect("catalog");
    // A product with variants is sold out when every variant is.
    let sold_out = catalog
        .iter()
        .filter(|p| {
            if p.variants.is_empty() {
                p.initial_stock == 0
            } else {
                p.variants.iter().all(|v| v.initial_stock == 0)
            }
        })
        .count() as i64;
    let everything = total_becomes(
        &platform,
        "",
        json!({ "first": 5 }),
        catalog.len() as i64,
        "the catalog is indexed",
    )
    .await;
    // Stock arrives through the inventory's stock.changed events.
    total_becomes(
        &platform,
        "",
        json!({ "first": 1, "filter": { "inStock": false } }),
        sold_out,
        "stock is indexed",
    )
    .await;
    // Each demo product's stock, through the inventory subgraph.
    let query = "{ products(first: 50) { nodes { sku stock { onHand } } } }";
    let data = platform.data(query, json!({}), None).await;
    for node in data["products"]["nodes"].as_array().expect("nodes") {
        let sku = node["sku"].as_str().expect("sku");
        assert_eq!(
            node["stock"]["onHand"],
            emporium_products::seed::demo_stock(sku),
            "{sku}"
        );
    }
    let in_stock = search(
        &platform,
        "",
        json!({ "first": 20, "filter": { "inStock": true } }),
    )
    .await;
    assert_eq!(in_stock["totalCount"], catalog.len() as i64 - sold_out);
    assert!(hits(&in_stock)
        .iter()
        .all(|h| h["product"]["stock"]["inStock"] == true));

    // Facets count the whole result set: every product has one top-level category.
    let categories = facet(&everything, "category");
    assert_eq!(
        categories.iter().map(|(_, c)| c).sum::<i64>(),
        catalog.len() as i64
    );
    let brands = facet(&everything, "brand");
    assert!(!brands.is_empty() && brands.windows(2).all(|w| w[0].1 >= w[1].1));

    // A typo in each word: Samsung Galaxy phones, with the words marked.
    let typo = search(&platform, "samsng galaxy", json!({ "first": 5 })).await;
    let first = &hits(&typo)[0];
    let name = first["product"]["name"].as_str().expect("name");
    assert!(
        name.contains("Samsung") && name.contains("Galaxy"),
        "{name}"
    );
    let name_snippet = first["highlights"]
        .as_array()
        .expect("highlights")
        .iter()
        .find(|h| h["field"] == "name")
        .expect("a name highlight")["snippet"]
        .as_str()
        .expect("snippet")
        .to_owned();
    assert!(
        name_snippet.contains("<mark>Samsung</mark>"),
        "{name_snippet}"
    );
    assert!(
        name_snippet.contains("<mark>Galaxy</mark>"),
        "{name_snippet}"
    );

    // The last word as a prefix, as the user types.
    let prefix = search(&platform, "headph", json!({ "first": 5 })).await;
    assert!(prefix["totalCount"].as_i64() > Some(10), "{prefix}");
    for hit in hits(&prefix) {
        let marked = hit["highlights"].to_string();
        assert!(marked.to_lowercase().contains("<mark>headph"), "{marked}");
    }

    // Category filter includes sub-categories; its facet drills one level down.
    let phones = search(
        &platform,
        "",
        json!({ "first": 50, "filter": { "category": "cell phones" } }),
    )
    .await;
    assert!(phones["totalCount"].as_i64() > Some(0));
    assert!(hits(&phones).iter().all(|h| h["product"]["category"]
        .as_str()
        .is_some_and(|c| c.starts_with("Cell Phones"))));
    let sub = facet(&phones, "category");
    assert!(
        // Children of "Cell Phones", and the products directly in it under its own name.
        sub.len() > 1
            && sub
                .iter()
                .all(|(v, _)| v == "Cell Phones" || v.starts_with("Cell Phones > ")),
        "{sub:?}"
    );
    assert_eq!(
        sub.iter().map(|(_, c)| c).sum::<i64>(),
        phones["totalCount"].as_i64().unwrap_or(0)
    );

    // Brand filter, any case.
    let (brand, count) = brands[0].clone();
    let by_brand = search(
        &platform,
        "",
        json!({ "first": 5, "filter": { "brand": brand.to_uppercase() } }),
    )
    .await;
    assert_eq!(by_brand["totalCount"], count);

    // Price range, sorted both ways.
    let range = json!({ "minPrice": "100", "maxPrice": "200.50" });
    let ascending = search(
        &platform,
        "",
        json!({ "first": 50, "filter": range, "sort": "PRICE_ASC" }),
    )
    .await;
    let prices: Vec<u64> = hits(&ascending).iter().map(cents).collect();
    assert!(
        !prices.is_empty() && prices.iter().all(|p| (10_000..=20_050).contains(p)),
        "{prices:?}"
    );
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    let descending = search(
        &platform,
        "tv",
        json!({ "first": 50, "sort": "PRICE_DESC" }),
    )
    .await;
    let prices: Vec<u64> = hits(&descending).iter().map(cents).collect();
    assert!(prices.windows(2).all(|w| w[0] >= w[1]), "{prices:?}");
    let newest = search(&platform, "", json!({ "first": 50, "sort": "NEWEST" })).await;
    let created: Vec<String> = hits(&newest)
        .iter()
        .map(|h| {
            h["product"]["createdAt"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");

    // Paging through every Samsung product: each exactly once.
    let mut seen = HashSet::new();
    let mut after = Value::Null;
    let total = loop {
        let page = search(&platform, "samsung", json!({ "first": 37, "after": after })).await;
        for hit in hits(&page) {
            assert!(
                seen.insert(hit["product"]["id"].to_string()),
                "a duplicate across pages"
            );
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break page["totalCount"].as_i64().unwrap_or(0);
        }
        after = page["pageInfo"]["endCursor"].clone();
    };
    assert!(total > 37);
    assert_eq!(seen.len() as i64, total, "no gaps");

    // Odd input gets answers, never a 500.
    let nothing = search(
        &platform,
        "📱 ÷ 𝔸 \u{0}",
        json!({ "filter": { "category": "No Such Category" } }),
    )
    .await;
    assert_eq!(nothing["totalCount"], 0);
    let (status, long) = platform
        .post(
            "query($q: String!) { search(query: $q) { totalCount } }",
            json!({ "q": "a".repeat(10_000) }),
            None,
        )
        .await;
    assert!(status < 500, "{status}");
    assert_eq!(error_code(&long), "BAD_USER_INPUT");
    let (_, bad_price) = platform
        .post(
            r#"{ search(query: "", filter: { minPrice: "5", maxPrice: "1" }) { totalCount } }"#,
            json!({}),
            None,
        )
        .await;
    assert_eq!(error_code(&bad_price), "BAD_USER_INPUT");
}

#[tokio::test]
async fn products_created_updated_and_deleted_through_the_router_show_in_search() {
    let (platform, admin) = Platform::with_admin().await;
    let word = format!("zorblax{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let started = Instant::now();
    let changes = json!({ "name": format!("Acme {word} Speaker"), "initialStock": 0 });
    let id = new_product(&platform, &admin, changes).await;
    let found = total_becomes(&platform, &word, json!({}), 1, "created product searchable").await;
    eprintln!(
        "created → searchable in {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(hits(&found)[0]["product"]["id"], id.as_str());

    // Stock follows stock.changed: out of stock, then in.
    total_becomes(&platform, &word, in_stock(false), 1, "sold out").await;
    let set = set_stock(&platform, admin.token(), &id, 3).await;
    assert_eq!(set["data"]["setStock"]["userErrors"], json!([]), "{set}");
    total_becomes(&platform, &word, in_stock(true), 1, "back in stock").await;

    // A rebuild from the products store while the service runs keeps everything, stock too.
    let reindexed = platform
        .emporium(&["search", "reindex", "--timeout-secs", "240"])
        .await;
    let out = String::from_utf8_lossy(&reindexed.stdout);
    assert!(
        reindexed.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&reindexed.stderr)
    );
    assert!(out.contains("the search service is rebuilding"), "{out}");
    assert!(out.contains("from the products store: 1 products"), "{out}");
    let after = search(&platform, &word, in_stock(true)).await;
    assert_eq!(after["totalCount"], 1, "{after}");

    let renamed = format!("quuxly{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    update_product(
        &platform,
        &admin,
        &id,
        json!({ "name": format!("Acme {renamed} Speaker") }),
    )
    .await;
    total_becomes(&platform, &renamed, json!({}), 1, "updated name searchable").await;
    assert_eq!(
        search(&platform, &word, json!({})).await["totalCount"],
        0,
        "the old name is gone"
    );

    delete_product(&platform, &admin, &id).await;
    total_becomes(&platform, &renamed, json!({}), 0, "deleted product gone").await;
}
