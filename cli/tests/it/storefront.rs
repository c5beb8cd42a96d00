//! The React storefront, served by the router at `/` and driven in headless Chromium
//! (tests/browser/storefront.mjs) against a whole platform, as a shopper and an admin would.
//!
//! The storefront is built first (scripts/build-storefront.sh: a no-op when the build is
//! current). A failing browser run prints why and where it saved its screenshots.

use std::process::Command;
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::helpers::*;

/// Builds storefront/dist once per test binary (concurrent tests wait for the first).
fn ensure_storefront_built() {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *built {
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/build-storefront.sh"
    );
    let output = Command::new(script)
        .output()
        .expect("scripts/build-storefront.sh runs");
    assert!(
        output.status.success(),
        "building the storefront failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    *built = true;
}

async fn storefront_platform(access_token_ttl_secs: Option<u64>) -> Platform {
    tokio::task::spawn_blocking(ensure_storefront_built)
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
    Platform::start_with(Options {
        storefront: true,
        access_token_ttl_secs,
        ..Options::default()
    })
    .await
}

/// Runs a scenario of tests/browser/storefront.mjs; its JSON findings.
async fn run_browser(platform: &Platform, scenario: &str, params: Value) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/browser/storefront.mjs"
    );
    let failures = std::env::temp_dir().join("emporium-storefront-failures");
    let base = platform.router.clone();
    let scenario_name = scenario.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args([script, &base, &scenario_name, &params.to_string()])
            .env("FAILURE_DIR", &failures)
            .output()
    })
    .await
    .expect("join")
    .expect("node runs (the test command installs it and tests/browser's packages)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the storefront's {scenario} scenario failed:\n{stderr}"
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{scenario} printed no JSON ({e}):\n{}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Creates a product and returns its id, panicking unless it succeeded.
async fn product(platform: &Platform, admin: &Session, input: Value) -> String {
    let mut full = json!({
        "sku": unique_sku(),
        "description": "Made for the storefront's browser test.",
        "attributes": [{ "name": "Color", "value": "Black" }],
    });
    if let (Some(full), Some(input)) = (full.as_object_mut(), input.as_object()) {
        full.extend(input.clone());
    }
    let payload = create_product(platform, admin, full).await;
    payload["product"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createProduct: {payload}"))
        .to_owned()
}

/// Waits until a search for `query` finds `count` products with their stock, as the
/// storefront will ask for them (the index and the stock counts follow events).
async fn until_searchable(platform: &Platform, query: &str, count: usize, in_stock: usize) {
    let search = "query($q: String!) { search(query: $q, first: 50) { nodes { product { stock { available } } } } }";
    let shown = |body: &Value| {
        let nodes = body["data"]["search"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let stocked = nodes
            .iter()
            .filter(|n| n["product"]["stock"]["available"].as_i64() > Some(0))
            .count();
        nodes.len() == count && stocked == in_stock
    };
    poll_until(
        "search never showed the products",
        Wait::secs(180).every_ms(200),
        || platform.gql(search, json!({ "q": query }), None),
        shown,
    )
    .await;
}

#[tokio::test]
async fn the_router_serves_the_storefront_beside_the_api() {
    let platform = storefront_platform(None).await;
    let http = platform.http();
    let get = |path: &str| http.get(format!("{}{path}", platform.router));

    let page = get("/").send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.expect("html");
    assert!(html.contains("<div id=\"root\">"), "{html}");

    // Deep links get the app; missing files do not.
    let deep = get("/orders/0b5e8c1e-1f1a-4c7e-9d43-3f0c9f1d2a10")
        .send()
        .await
        .expect("deep link");
    assert_eq!(deep.status(), 200);
    assert_eq!(deep.text().await.expect("html"), html);
    assert_eq!(
        get("/assets/missing-123.js")
            .send()
            .await
            .expect("missing")
            .status(),
        404
    );

    // The hashed script: its type, a year of caching, gzipped for clients that accept it.
    let script = html
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .unwrap_or_else(|| panic!("no script in {html}"));
    let asset = get(script)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("asset");
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(asset.headers()["content-encoding"], "gzip");

    // No path leaves the build, however it is spelled.
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/assets/..%2f..%2fCargo.toml",
        "/..%2f..%2fCargo.toml",
        "/assets/%2e%2e/%2e%2e/Cargo.toml",
    ] {
        let response = get(path).send().await.expect("traversal attempt");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert!(
            !body.contains("[workspace]"),
            "{path} served Cargo.toml ({status})"
        );
    }

    // The API and the playground are where they were.
    let playground = get("/graphql")
        .header("accept", "text/html")
        .send()
        .await
        .expect("playground");
    assert!(playground.text().await.expect("html").contains("graphiql"));
    let body = platform.gql("{ __typename }", json!({}), None).await;
    assert_eq!(body["data"]["__typename"], "Query");
    assert_eq!(get("/health").send().await.expect("health").status(), 200);
}

#[tokio::test]
async fn a_shopper_searches_with_a_typo_then_a_facet_then_a_sort_and_sees_products_safely() {
    let platform = storefront_platform(None).await;
    let admin = platform.admin().await;
    let hostile = "<img src=x onerror=\"window.__xss=true\"> Lamp";
    product(&platform, &admin, json!({ "name": "Aurora Wireless Headphones", "category": "Audio > Headphones", "brand": "Sony", "price": "199.00", "initialStock": 5 })).await;
    product(&platform, &admin, json!({ "name": "Breeze Studio Headphones", "category": "Audio > Headphones", "brand": "Acme", "price": "89.50", "initialStock": 3 })).await;
    product(&platform, &admin, json!({ "name": "Cobalt Headphones Stand", "category": "Home > Desk", "brand": "Acme", "price": "25.00", "initialStock": 4 })).await;
    let sold_out = product(&platform, &admin, json!({ "name": "Ember Speaker", "category": "Audio > Speakers", "brand": "Acme", "price": "59.00", "initialStock": 0 })).await;
    product(&platform, &admin, json!({ "name": hostile, "category": "Home > Lighting", "brand": "Acme", "price": "30.00", "initialStock": 2 })).await;
    until_searchable(&platform, "", 5, 4).await;

    let found = run_browser(
        &platform,
        "catalogue",
        json!({
            "typo": "headphnes",
            "typoMatch": "Aurora Wireless",
            "typoCount": 3,
            "facet": "Audio",
            "facetCount": 2,
            "byPrice": ["Breeze Studio Headphones", "Aurora Wireless Headphones"],
            "product": { "name": "Aurora Wireless Headphones", "price": "$199.00", "attribute": "Color", "available": 5 },
            "soldOut": sold_out,
            "hostileQuery": "lamp",
            "hostileName": hostile,
        }),
    )
    .await;

    // Printed, not asserted: the time from the last keystroke to the updated results.
    eprintln!(
        "storefront: keystroke to results through the router: {} ms",
        found["keystrokeToResultsMs"]
    );
    assert_eq!(found["hostileShownAsText"], true, "{found}");
}

#[tokio::test]
async fn a_shopper_signs_up_from_the_cart_checks_out_and_watches_the_order_live() {
    const TTL_SECS: u64 = 30; // the shortest the platform accepts
    let platform = storefront_platform(Some(TTL_SECS)).await;
    let admin = platform.admin().await;
    // A product with an option: the brass finish in stock, the black one sold out.
    let name = "Harbor Desk Lamp";
    let sku = unique_sku();
    let id = product(
        &platform,
        &admin,
        json!({ "name": name, "category": "Home > Lighting", "brand": "Acme", "price": "42.00",
                "options": [{ "name": "Finish", "values": ["Brass", "Black"] }],
                "variants": [
                    { "sku": format!("{sku}-BR"), "price": "42.00", "initialStock": 10,
                      "selectedOptions": [{ "name": "Finish", "value": "Brass" }] },
                    { "sku": format!("{sku}-BK"), "price": "48.00", "initialStock": 0,
                      "selectedOptions": [{ "name": "Finish", "value": "Black" }] },
                ] }),
    )
    .await;
    until_searchable(&platform, "harbor", 1, 1).await;
    let query = "query($id: ID!) { product(id: $id) { variants { id title } } }";
    let body = platform.gql(query, json!({ "id": id }), None).await;
    let brass = body["data"]["product"]["variants"]
        .as_array()
        .and_then(|variants| variants.iter().find(|v| v["title"] == "Brass"))
        .and_then(|v| v["id"].as_str())
        .unwrap_or_else(|| panic!("no Brass variant: {body}"))
        .to_owned();
    // The orders service learns of the product from events: wait until a cart takes it.
    let probe = platform.customer().await;
    let add = "mutation($v: ID!) { addToCart(variantId: $v, quantity: 1) { userErrors { code } } }";
    poll_until(
        "the cart never took the product",
        Wait::secs(180).every_ms(200),
        || platform.gql(add, json!({ "v": brass }), probe.token()),
        |body| body["data"]["addToCart"]["userErrors"] == json!([]),
    )
    .await;

    // Shipping, tax and a code for the shopper to choose and apply in the browser.
    for (mutation, input) in [
        (
            "createShippingMethod(input: $input) { userErrors { code } }",
            json!({ "name": "Standard", "price": "5.00", "countries": ["US"], "estimatedDays": 4 }),
        ),
        (
            "setTaxRate(input: $input) { userErrors { code } }",
            json!({ "country": "US", "name": "Sales tax", "rate": "0.1" }),
        ),
        (
            "createDiscountCode(input: $input) { userErrors { code } }",
            json!({ "code": "BROWSER10", "kind": "PERCENTAGE", "value": "10" }),
        ),
    ] {
        let (kind, _) = mutation.split_once('(').expect("a field");
        let input_type = match kind {
            "createShippingMethod" => "ShippingMethodInput!",
            "setTaxRate" => "TaxRateInput!",
            _ => "DiscountCodeInput!",
        };
        let body = platform
            .gql(
                &format!("mutation($input: {input_type}) {{ {mutation} }}"),
                json!({ "input": input }),
                admin.token(),
            )
            .await;
        assert_eq!(body["data"][kind]["userErrors"], json!([]), "{body}");
    }

    let found = run_browser(
        &platform,
        "journey",
        json!({
            // 42.00 - 4.20 (BROWSER10) + 5.00 shipping + 10 % of 37.80 (3.78) = 46.58.
            "discountCode": "BROWSER10",
            "taxLine": "Sales tax 10 %",
            "expectedTotal": "$46.58",
            "productId": id,
            "productName": name,
            "searchWord": "harbor",
            "option": { "name": "Finish", "chosen": "Brass", "chosenPrice": "$42.00", "soldOut": "Black" },
            "email": unique_email(),
            "password": PASSWORD,
            "adminEmail": ADMIN_EMAIL,
            "adminPassword": ADMIN_PASSWORD,
            "accessTokenTtlSecs": TTL_SECS,
        }),
    )
    .await;
    eprintln!("storefront journey: {found}");

    // One order per checkout attempt, however often "Place order" was clicked. (A new admin
    // session: the first one's access token has expired meanwhile.)
    let admin = platform.admin().await;
    let query = "{ orders(first: 10) { totalCount nodes { id status statusReason } } }";
    let body = platform.gql(query, json!({}), admin.token()).await;
    let orders = &body["data"]["orders"];
    assert_eq!(orders["totalCount"], 2, "{body}");
    let status_of = |id: &Value| {
        orders["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|n| &n["id"] == id))
            .map(|n| (n["status"].clone(), n["statusReason"].clone()))
    };
    assert_eq!(
        status_of(&found["confirmedOrder"]),
        Some((json!("SHIPPED"), Value::Null)),
        "{body}"
    );
    // The order placed from the browser keeps the summary's amounts, and payments charged
    // exactly its total.
    let query = "query($id: ID!) { order(id: $id) { total { amount } discountTotal { amount } shippingTotal { amount } taxTotal { amount } payment { amount { amount } } } }";
    let body = platform
        .gql(
            query,
            json!({ "id": found["confirmedOrder"] }),
            admin.token(),
        )
        .await;
    assert_eq!(
        body["data"]["order"],
        json!({
            "total": { "amount": "46.58" },
            "discountTotal": { "amount": "4.20" },
            "shippingTotal": { "amount": "5.00" },
            "taxTotal": { "amount": "3.78" },
            "payment": { "amount": { "amount": "46.58" } }
        }),
        "{body}"
    );
    assert_eq!(
        status_of(&found["rejectedOrder"]),
        Some((json!("REJECTED"), json!("PAYMENT_DECLINED"))),
        "{body}"
    );
}

#[tokio::test]
async fn a_shopper_resets_a_forgotten_password_and_confirms_the_email_from_mailed_links() {
    tokio::task::spawn_blocking(ensure_storefront_built)
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
    let smtp = emporium_kernel::testing::TestSmtp::start(free_port());
    // Links point at this platform's router: EMPORIUM_PUBLIC_URL's default.
    let platform = Platform::start_with(Options {
        storefront: true,
        env: vec![("EMPORIUM_SMTP_URL", smtp.url())],
        ..Options::default()
    })
    .await;
    let email = unique_email();
    let session = platform.register(&email, "Browser Shopper").await;
    let verification = smtp
        .wait_for_messages_to(&email, 1)
        .await
        .iter()
        .find_map(|m| m.link_containing("/verify-email?token="))
        .expect("a verification link");
    assert!(verification.starts_with(&platform.router), "{verification}");

    let verified = run_browser(&platform, "verifyEmail", json!({ "link": verification })).await;
    assert_eq!(verified, json!({ "verified": true }));
    let me = platform
        .gql("{ me { emailVerified } }", json!({}), session.token())
        .await;
    assert_eq!(me["data"]["me"]["emailVerified"], json!(true));

    run_browser(&platform, "forgotPassword", json!({ "email": email })).await;
    // The verification link, the welcome's copy, then the reset link.
    let reset = smtp
        .wait_for_messages_to(&email, 3)
        .await
        .iter()
        .find_map(|m| m.link_containing("/reset-password?token="))
        .expect("a reset link");
    let done = run_browser(
        &platform,
        "resetPassword",
        json!({ "link": reset, "password": "a brand new password" }),
    )
    .await;
    assert_eq!(done, json!({ "signedIn": true, "reuseRefused": true }));
    Session::from_payload(&platform.login(&email, "a brand new password").await);
}
