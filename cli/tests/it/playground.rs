//! The GraphQL playground, opened in headless Chromium with no network beyond 127.0.0.1.

use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::*;

/// Opens the playground of `platform`'s router in the browser and runs what `args` say
/// (tests/browser/playground.mjs: the document, then the Headers tab); the result pane's JSON.
async fn run_playground(platform: &Platform, args: &[&str]) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/browser/playground.mjs"
    );
    let mut command = Command::new("node");
    command.arg(script).arg(platform.graphql_url()).args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("node runs (the test command installs it and tests/browser's packages)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the playground failed:\n{stderr}");
    serde_json::from_slice(&output.stdout).expect("the result pane holds JSON")
}

#[tokio::test]
async fn the_playground_runs_a_query_offline_in_a_browser() {
    let (platform, admin) = Platform::with_admin().await;
    let sku = unique_sku();
    create_product(&platform, &admin, product_input(&sku)).await;
    let query = "{ products(first: 1) { totalCount nodes { sku } } }";
    let shown = run_playground(&platform, &[query]).await;
    // The result pane shows the whole response; its cost is in `extensions.cost`.
    assert!(
        shown["extensions"]["cost"]["requestedQueryCost"].is_u64(),
        "{shown}"
    );
    assert_eq!(
        shown["data"],
        json!({ "products": { "totalCount": 1, "nodes": [{ "sku": sku }] } })
    );
}

#[tokio::test]
async fn browsers_get_the_playground_and_its_assets_from_the_router() {
    let platform = Platform::start().await;
    let page = platform
        .http()
        .get(platform.graphql_url())
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("graphiql"), "{html}");
    assert!(
        !html.contains("unpkg") && !html.contains("cdn"),
        "no CDN: {html}"
    );

    for asset in html.split('"').filter(|s| s.starts_with("/playground/")) {
        let response = platform
            .http()
            .get(format!("{}{asset}", platform.router))
            .send()
            .await
            .expect("asset");
        assert_eq!(response.status(), 200, "{asset}");
    }
}

#[tokio::test]
async fn the_playground_follows_an_order_over_a_websocket_subscription() {
    let Shop {
        platform,
        customer,
        product,
        ..
    } = Shop::open_with(Options::default(), json!({ "initialStock": 2 })).await;
    let (order, settled) = buy(&platform, &customer, &product, 1, "tok_visa").await;
    assert_eq!(settled["status"], "CONFIRMED");
    // The token goes in the Headers tab, as a user would type it; GraphiQL sends it in the
    // WebSocket's connection_init.
    let headers = json!({ "Authorization": format!("Bearer {}", customer.access_token) });
    let subscription = format!(
        "subscription {{ orderStatusChanged(orderId: \"{order}\") {{ orderId status previousStatus }} }}"
    );
    let shown = run_playground(&platform, &[&subscription, &headers.to_string()]).await;
    assert_eq!(
        shown["data"]["orderStatusChanged"],
        json!({ "orderId": order, "status": "CONFIRMED", "previousStatus": "PENDING" }),
        "{shown}"
    );
}
