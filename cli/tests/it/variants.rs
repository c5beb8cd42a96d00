//! Variants end to end through the router: a product with options created by an admin, found
//! by an option facet, one variant put in the cart, shipped, discounted and taxed at checkout,
//! with the order's totals equal to the authorized payment; stock is kept per variant, so the
//! last unit of one is sold once.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::pricing::{
    apply_code, cart, checkout, choose_method, create_code, create_method, set_address, set_rate,
    totals,
};
use crate::search::{eventually, facet, hits};

const PRODUCT: &str = "id name price { amount } priceRange { min { amount } max { amount } }
    options { name values } stock { onHand reserved available }
    variants { id sku title price { amount } compareAtPrice { amount }
               selectedOptions { name value } stock { onHand reserved available } }";

fn variant(sku: &str, colour: &str, size: &str, price: &str, stock: u32) -> Value {
    json!({
        "sku": sku,
        "selectedOptions": [{ "name": "Colour", "value": colour }, { "name": "Size", "value": size }],
        "price": price,
        "initialStock": stock,
    })
}

/// The variant of `product` titled `title` ("Red / M"), if it has one.
fn titled<'a>(product: &'a Value, title: &str) -> Option<&'a Value> {
    product["variants"]
        .as_array()?
        .iter()
        .find(|v| v["title"] == title)
}

async fn product(platform: &Platform, id: &str) -> Value {
    let query = format!("query($id: ID!) {{ product(id: $id) {{ {PRODUCT} }} }}");
    let data = platform.data(&query, json!({ "id": id }), None).await;
    data["product"].clone()
}

#[tokio::test]
async fn a_variant_found_by_its_colour_goes_through_checkout_shipped_discounted_and_taxed() {
    let (platform, admin) = Platform::with_admin().await;
    // A colour no other product of this platform has, so the facet counts are this shirt's.
    let colour = format!("Teal{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let sku = unique_sku();
    let mut input = product_input(&sku);
    input["name"] = json!("Emporium Organic Tee");
    input["category"] = json!("Apparel > T-Shirts");
    input["price"] = json!("99.00");
    input["options"] = json!([
        { "name": "Colour", "values": ["Red", colour] },
        { "name": "Size", "values": ["M", "L"] },
    ]);
    input["variants"] = json!([
        variant(&format!("{sku}-RM"), "Red", "M", "20.00", 1),
        variant(&format!("{sku}-RL"), "Red", "L", "22.00", 5),
        variant(&format!("{sku}-TM"), &colour, "M", "25.00", 3),
    ]);
    input["variants"][2]["compareAtPrice"] = json!("30.00");
    let created = create_product(&platform, &admin, input).await;
    assert_eq!(created["userErrors"], json!([]), "{created}");
    let id = created["product"]["id"].as_str().expect("id").to_owned();

    // The lowest variant price, the range, and the stock summed once inventory has it.
    let shirt = product_until(&platform, &id, "stock never summed", |p| {
        p["stock"]["onHand"] == 9
    })
    .await;
    assert_eq!(shirt["price"]["amount"], "20.00", "{shirt}");
    assert_eq!(
        shirt["priceRange"],
        json!({ "min": { "amount": "20.00" }, "max": { "amount": "25.00" } })
    );
    assert_eq!(
        shirt["options"][1],
        json!({ "name": "Size", "values": ["M", "L"] })
    );
    let variant_id = |title: &str| {
        titled(&shirt, title)
            .and_then(|v| v["id"].as_str())
            .unwrap_or_else(|| panic!("no variant {title}: {shirt}"))
            .to_owned()
    };
    let (red_m, teal_m) = (variant_id("Red / M"), variant_id(&format!("{colour} / M")));

    // Found by an option value, with the option facets counted.
    let filter =
        json!({ "filter": { "options": [{ "name": "colour", "value": colour.to_lowercase() }] } });
    let found = eventually(&platform, "", filter, "the shirt by its colour", |r| {
        hits(r).len() == 1
    })
    .await;
    assert_eq!(hits(&found)[0]["product"]["id"], id.as_str());
    assert_eq!(
        facet(&found, "option:Colour"),
        [("Red".to_owned(), 1), (colour.clone(), 1)]
    );
    assert_eq!(
        facet(&found, "option:Size"),
        [("L".to_owned(), 1), ("M".to_owned(), 1)]
    );

    // Shipping, tax and the demo-style code.
    let method = create_method(
        &platform,
        &admin,
        json!({ "name": "Standard", "price": "4.99", "countries": ["DE"] }),
    )
    .await;
    let method_id = method["shippingMethod"]["id"]
        .as_str()
        .expect("method id")
        .to_owned();
    set_rate(&platform, &admin, "DE", "VAT", "0.19").await;
    create_code(
        &platform,
        &admin,
        json!({ "code": "WELCOME10", "kind": "PERCENTAGE", "value": "10" }),
    )
    .await;

    // The product's id does not say which variant; the variant's does.
    let customer = platform.customer().await;
    let mutation = "mutation($id: ID!) { addToCart(productId: $id, quantity: 1) { userErrors { code field } } }";
    let ambiguous = platform
        .data(mutation, json!({ "id": id }), customer.token())
        .await;
    assert_eq!(
        ambiguous["addToCart"]["userErrors"],
        json!([{ "code": "INVALID_INPUT", "field": ["productId"] }]),
        "{ambiguous}"
    );
    add_line(&platform, &customer, "variantId", &teal_m, 2).await;
    let query = "{ cart { items { quantity lineTotal { amount } product { id } variant { id title sku price { amount } compareAtPrice { amount } stock { available } } } } }";
    let data = platform.data(query, json!({}), customer.token()).await;
    let item = &data["cart"]["items"][0];
    assert_eq!(item["product"]["id"], id.as_str(), "{data}");
    assert_eq!(item["variant"]["id"], teal_m.as_str());
    assert_eq!(item["variant"]["title"], format!("{colour} / M"));
    assert_eq!(item["variant"]["sku"], format!("{sku}-TM"));
    assert_eq!(item["variant"]["compareAtPrice"]["amount"], "30.00");
    assert_eq!(item["lineTotal"]["amount"], "50.00");

    assert_eq!(
        cart(&platform, &customer).await["availableShippingMethods"],
        json!([]),
        "no methods before an address"
    );
    set_address(&platform, &customer, "DE").await;
    choose_method(&platform, &customer, &method_id).await;
    let priced = apply_code(&platform, &customer, "WELCOME10").await;
    // 50.00 - 5.00 + 4.99 shipping (untaxed) + 19 % of 45.00 (8.55) = 58.54.
    assert_eq!(
        totals(&priced["cart"]),
        [5000, 500, 499, 855, 5854],
        "{priced}"
    );

    let placed = checkout(&platform, &customer).await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    let order_id = placed["order"]["id"].as_str().expect("order id");
    let order = settled(&platform, &customer, order_id).await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");
    let query =
        "query($id: ID!) { order(id: $id) { total { amount } payment { status amount { amount } }
                items { variantTitle sku quantity unitPrice { amount } variant { id title } } } }";
    let data = platform
        .data(query, json!({ "id": order_id }), customer.token())
        .await;
    let order = &data["order"];
    assert_eq!(order["total"]["amount"], "58.54", "{order}");
    assert_eq!(order["payment"]["status"], "AUTHORIZED");
    assert_eq!(
        order["payment"]["amount"]["amount"],
        order["total"]["amount"]
    );
    assert_eq!(
        order["items"],
        json!([{ "variantTitle": format!("{colour} / M"), "sku": format!("{sku}-TM"), "quantity": 2,
                 "unitPrice": { "amount": "25.00" },
                 "variant": { "id": teal_m, "title": format!("{colour} / M") } }])
    );

    // The last Red M goes to one of two shoppers; the other is told it is out of stock.
    let (first, second) = (platform.customer().await, platform.customer().await);
    for shopper in [&first, &second] {
        add_line(&platform, shopper, "variantId", &red_m, 1).await;
        set_address(&platform, shopper, "DE").await;
        choose_method(&platform, shopper, &method_id).await;
    }
    let (a, b) = tokio::join!(checkout(&platform, &first), checkout(&platform, &second));
    let mut statuses = Vec::new();
    for (shopper, placed) in [(&first, a), (&second, b)] {
        let id = placed["order"]["id"].as_str().expect("order id").to_owned();
        let order = settled(&platform, shopper, &id).await;
        statuses.push(order["status"].as_str().unwrap_or_default().to_owned());
    }
    statuses.sort();
    assert_eq!(statuses, ["CONFIRMED", "REJECTED"]);

    // Per variant and summed: Red M 1 reserved of 1, Teal M 2 of 3, Red L untouched.
    let shirt = product(&platform, &id).await;
    let stock_of = |title: &str| {
        titled(&shirt, title)
            .map(|v| v["stock"].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        stock_of("Red / M"),
        json!({ "onHand": 1, "reserved": 1, "available": 0 })
    );
    assert_eq!(
        stock_of(&format!("{colour} / M")),
        json!({ "onHand": 3, "reserved": 2, "available": 1 })
    );
    assert_eq!(
        shirt["stock"],
        json!({ "onHand": 9, "reserved": 3, "available": 6 }),
        "{shirt}"
    );
}

#[tokio::test]
async fn variants_that_do_not_fit_the_options_are_refused_each_with_its_code_and_nothing_is_written(
) {
    let (platform, admin) = Platform::with_admin().await;
    let sku = unique_sku();
    let shirt = |variants: Value| {
        let mut input = product_input(&sku);
        input["options"] = json!([
            { "name": "Colour", "values": ["Red", "Blue"] },
            { "name": "Size", "values": ["M", "L"] },
        ]);
        input["variants"] = variants;
        input
    };
    let cases = [
        (
            "a variant without the product's Size",
            json!([{ "sku": format!("{sku}-R"), "price": "20.00",
                     "selectedOptions": [{ "name": "Colour", "value": "Red" }] }]),
            ("VARIANT_OPTIONS_MISMATCH", "variants.0.selectedOptions"),
        ),
        (
            "a value the option does not have",
            json!([variant(&format!("{sku}-G"), "Green", "M", "20.00", 1)]),
            ("VARIANT_OPTIONS_MISMATCH", "variants.0.selectedOptions"),
        ),
        (
            "two variants with the same options",
            json!([
                variant(&format!("{sku}-1"), "Red", "M", "20.00", 1),
                variant(&format!("{sku}-2"), "Red", "M", "21.00", 1)
            ]),
            ("DUPLICATE_VARIANT", "variants.1.selectedOptions"),
        ),
        (
            "a negative price",
            json!([variant(&format!("{sku}-N"), "Red", "M", "-1.00", 1)]),
            ("INVALID_INPUT", "variants.0.price"),
        ),
    ];
    for (what, variants, (code, field)) in cases {
        let refused = create_product(&platform, &admin, shirt(variants)).await;
        assert_eq!(refused["product"], Value::Null, "{what}: {refused}");
        let errors = refused["userErrors"].as_array().expect("userErrors");
        let expected: Vec<&str> = ["input"].into_iter().chain(field.split('.')).collect();
        assert!(
            errors
                .iter()
                .any(|e| e["code"] == code && e["field"] == json!(expected)),
            "{what}: expected {code} on {expected:?}, got {refused}"
        );
    }

    // Nothing was written: the SKUs are free, and the same product with good variants is made.
    let made = create_product(
        &platform,
        &admin,
        shirt(json!([
            variant(&format!("{sku}-1"), "Red", "M", "20.00", 1),
            variant(&format!("{sku}-2"), "Blue", "L", "21.00", 1),
        ])),
    )
    .await;
    assert_eq!(made["userErrors"], json!([]), "{made}");
    let data = platform
        .data("{ products(first: 50) { totalCount } }", json!({}), None)
        .await;
    assert_eq!(data["products"]["totalCount"], 1, "{data}");

    // A search filter naming too many option values, or one too long, is refused.
    let option = |value: String| json!({ "name": "Colour", "value": value });
    for options in [
        json!((0..5).map(|i| option(format!("v{i}"))).collect::<Vec<_>>()),
        json!([option("x".repeat(101))]),
        json!([option(" ".to_owned())]),
    ] {
        let query = "query($f: SearchFilter) { search(query: \"\", filter: $f) { totalCount } }";
        let (_, refused) = platform
            .post(query, json!({ "f": { "options": options } }), None)
            .await;
        assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    }
}

/// Polls `product(id)` until `check` holds for it.
async fn product_until(
    platform: &Platform,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let wait = Wait::secs(60).every_ms(100);
    poll_until(what, wait, || product(platform, id), check).await
}

async fn update(platform: &Platform, admin: &Session, id: &str, input: Value) -> Value {
    let mutation = format!("mutation($id: ID!, $input: ProductUpdateInput!) {{ updateProduct(id: $id, input: $input) {{ product {{ {PRODUCT} }} userErrors {{ code field message }} }} }}");
    let data = platform
        .data(
            &mutation,
            json!({ "id": id, "input": input }),
            admin.token(),
        )
        .await;
    data["updateProduct"].clone()
}

#[tokio::test]
async fn an_update_reprices_keeps_adds_and_drops_variants_and_everything_follows() {
    let (platform, admin) = Platform::with_admin().await;
    let sku = unique_sku();
    let mut input = product_input(&sku);
    input["options"] = json!([
        { "name": "Colour", "values": ["Red", "Blue"] },
        { "name": "Size", "values": ["M", "L"] },
    ]);
    input["variants"] = json!([
        variant(&format!("{sku}-RM"), "Red", "M", "20.00", 2),
        variant(&format!("{sku}-BL"), "Blue", "L", "22.00", 3),
    ]);
    let created = create_product(&platform, &admin, input).await;
    let id = created["product"]["id"].as_str().expect("id").to_owned();
    let shirt = product_until(&platform, &id, "stock summed", |p| {
        p["stock"]["onHand"] == 5
    })
    .await;
    let variant_id = |product: &Value, title: &str| {
        titled(product, title)
            .and_then(|v| v["id"].as_str())
            .map(str::to_owned)
    };
    let red_m = variant_id(&shirt, "Red / M").expect("Red / M");
    let blue_l = variant_id(&shirt, "Blue / L").expect("Blue / L");
    let customer = platform.customer().await;
    add_line(&platform, &customer, "variantId", &red_m, 1).await;
    add_line(&platform, &customer, "variantId", &blue_l, 1).await;

    // Refused, each with its code, and nothing changes: a price for a product with variants,
    // options without variants, a variant SKU another product has, options for a product
    // without them.
    let other = new_product(&platform, &admin, json!({})).await;
    let query = "query($id: ID!) { product(id: $id) { sku } }";
    let data = platform.data(query, json!({ "id": other }), None).await;
    let taken_sku = data["product"]["sku"].as_str().expect("sku").to_owned();
    let new_options = json!([
        { "name": "Colour", "values": ["Red", "Green"] },
        { "name": "Size", "values": ["M", "S"] },
    ]);
    for (what, input, code, field) in [
        (
            "a price",
            json!({ "price": "1.00" }),
            "INVALID_INPUT",
            json!(["input", "price"]),
        ),
        (
            "options alone",
            json!({ "options": new_options }),
            "INVALID_INPUT",
            json!(["input", "variants"]),
        ),
        (
            "a taken sku",
            json!({ "options": new_options, "variants": [variant(&taken_sku, "Red", "M", "18.00", 0)] }),
            "SKU_TAKEN",
            json!(["input", "variants"]),
        ),
    ] {
        let refused = update(&platform, &admin, &id, input).await;
        assert_eq!(refused["product"], Value::Null, "{what}: {refused}");
        assert_eq!(refused["userErrors"][0]["code"], code, "{what}: {refused}");
        assert_eq!(
            refused["userErrors"][0]["field"], field,
            "{what}: {refused}"
        );
    }
    let plain = update(
        &platform,
        &admin,
        &other,
        json!({ "options": new_options, "variants": [variant(&format!("{sku}-X"), "Red", "M", "1.00", 0)] }),
    )
    .await;
    assert_eq!(plain["userErrors"][0]["code"], "INVALID_INPUT", "{plain}");
    assert_eq!(plain["userErrors"][0]["field"], json!(["input", "options"]));
    assert_eq!(product(&platform, &id).await["variants"], shirt["variants"]);

    // Red M repriced (same SKU: same id, same stock), Blue L dropped, Green S added with 4.
    let updated = update(
        &platform,
        &admin,
        &id,
        json!({ "options": new_options, "variants": [
            variant(&format!("{sku}-RM"), "Red", "M", "18.00", 99),
            variant(&format!("{sku}-GS"), "Green", "S", "25.00", 4),
        ] }),
    )
    .await;
    assert_eq!(updated["userErrors"], json!([]), "{updated}");
    let after = &updated["product"];
    assert_eq!(after["price"]["amount"], "18.00");
    assert_eq!(
        variant_id(after, "Red / M").as_deref(),
        Some(red_m.as_str())
    );
    assert_eq!(variant_id(after, "Blue / L"), None);
    let green_s = variant_id(after, "Green / S").expect("Green / S");

    // The inventory stocks the new variant and forgets the dropped one; the kept one keeps
    // its 2 (not the 99 sent with it).
    let stocked = product_until(&platform, &id, "the new variant stocked", |p| {
        p["stock"]["onHand"] == 6
    })
    .await;
    let stock_of = |title: &str| titled(&stocked, title).map(|v| v["stock"]["onHand"].clone());
    assert_eq!(stock_of("Red / M"), Some(json!(2)));
    assert_eq!(stock_of("Green / S"), Some(json!(4)));

    // The cart keeps the Red M at its new price and drops the Blue L.
    let followed = json!([{ "variant": { "id": red_m }, "lineTotal": { "amount": "18.00" } }]);
    poll_until(
        "cart never followed",
        Wait::secs(60).every_ms(100),
        || {
            platform.gql(
                "{ cart { items { variant { id } lineTotal { amount } } } }",
                json!({}),
                customer.token(),
            )
        },
        |body| body["data"]["cart"]["items"] == followed,
    )
    .await;
    // The new variant can be bought; search facets follow the options.
    add_line(&platform, &customer, "variantId", &green_s, 1).await;
    let found = eventually(
        &platform,
        "",
        json!({ "filter": { "options": [{ "name": "Colour", "value": "Green" }] } }),
        "the green variant searchable",
        |r| hits(r).len() == 1,
    )
    .await;
    assert_eq!(
        facet(&found, "option:Colour"),
        [("Green".to_owned(), 1), ("Red".to_owned(), 1)]
    );
}
