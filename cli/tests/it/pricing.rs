//! Shipping, tax and discount codes through the router: methods offered only once the cart has
//! an address, a 10 % code, the address's country's tax, checkout refusing a cart without a
//! method, and the order's totals adding up to exactly what payments authorized; each
//! `DISCOUNT_*` refusal and each bad admin input with its stable code.

use serde_json::{json, Value};

use crate::helpers::*;

/// The cart as the pricing tests read it.
const CART: &str = "cart { subtotal { amount } discountTotal { amount } shippingTotal { amount }
    taxTotal { amount } total { amount currency } pricesIncludeTax
    shippingAddress { country }
    availableShippingMethods { id name price { amount } estimatedDays }
    shippingMethod { name price { amount } }
    discounts { code kind amount { amount } }
    taxLines { name rate amount { amount } } }";

pub(crate) const ORDER: &str =
    "id status total { amount } subtotal { amount } discountTotal { amount }
    shippingMethodName shippingTotal { amount } taxTotal { amount } pricesIncludeTax
    discounts { code kind amount { amount } } taxLines { name rate amount { amount } }
    payment { status amount { amount currency } }";

/// Runs a mutation and returns its payload (asserting there was no GraphQL error): `field` is
/// the field with its arguments and the declaration of their variables, as
/// `("applyDiscountCode(code: $code)", "$code: String!")`.
pub(crate) async fn mutate(
    platform: &Platform,
    session: &Session,
    (field, args): (&str, &str),
    selection: &str,
    variables: Value,
) -> Value {
    let args = if args.is_empty() {
        String::new()
    } else {
        format!("({args})")
    };
    let mutation = format!(
        "mutation{args} {{ {field} {{ {selection} userErrors {{ code field message }} }} }}"
    );
    let data = platform.data(&mutation, variables, session.token()).await;
    let name = field.split('(').next().unwrap_or(field);
    data[name].clone()
}

pub(crate) async fn cart(platform: &Platform, session: &Session) -> Value {
    let data = platform
        .data(&format!("{{ {CART} }}"), json!({}), session.token())
        .await;
    data["cart"].clone()
}

pub(crate) async fn create_method(platform: &Platform, admin: &Session, input: Value) -> Value {
    let field = (
        "createShippingMethod(input: $input)",
        "$input: ShippingMethodInput!",
    );
    let method =
        "shippingMethod { id name price { amount } freeOverSubtotal { amount } countries }";
    mutate(platform, admin, field, method, json!({ "input": input })).await
}

/// `setTaxRate` for `country`, as the admin.
pub(crate) async fn set_rate(
    platform: &Platform,
    admin: &Session,
    country: &str,
    name: &str,
    rate: &str,
) -> Value {
    let input = json!({ "input": { "country": country, "name": name, "rate": rate } });
    let field = ("setTaxRate(input: $input)", "$input: TaxRateInput!");
    mutate(platform, admin, field, "taxLine { name rate }", input).await
}

pub(crate) async fn create_code(platform: &Platform, admin: &Session, input: Value) -> Value {
    let field = (
        "createDiscountCode(input: $input)",
        "$input: DiscountCodeInput!",
    );
    let code = "discountCode { code kind value usageLimit timesUsed active }";
    mutate(platform, admin, field, code, json!({ "input": input })).await
}

pub(crate) async fn set_address(platform: &Platform, session: &Session, country: &str) -> Value {
    let field = (
        "setCartShippingAddress(address: $address)",
        "$address: AddressInput!",
    );
    let address = json!({ "address": { "line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": country } });
    mutate(platform, session, field, CART, address).await
}

pub(crate) async fn choose_method(platform: &Platform, session: &Session, id: &str) -> Value {
    let field = ("setCartShippingMethod(shippingMethodId: $id)", "$id: ID!");
    mutate(platform, session, field, CART, json!({ "id": id })).await
}

pub(crate) async fn apply_code(platform: &Platform, session: &Session, code: &str) -> Value {
    let field = ("applyDiscountCode(code: $code)", "$code: String!");
    mutate(platform, session, field, CART, json!({ "code": code })).await
}

/// Checks out with the cart's own shipping address.
pub(crate) async fn checkout(platform: &Platform, session: &Session) -> Value {
    let field = ("checkout(input: $input)", "$input: CheckoutInput!");
    let key = uuid::Uuid::new_v4().to_string();
    let input = json!({ "input": { "paymentToken": "tok_visa", "idempotencyKey": key } });
    mutate(
        platform,
        session,
        field,
        &format!("order {{ {ORDER} }}"),
        input,
    )
    .await
}

/// A cart's or order's subtotal, discount, shipping, tax and total, in cents.
pub(crate) fn totals(priced: &Value) -> [i64; 5] {
    [
        "subtotal",
        "discountTotal",
        "shippingTotal",
        "taxTotal",
        "total",
    ]
    .map(|field| amount(&priced[field]))
}

pub(crate) fn amount(value: &Value) -> i64 {
    let text = value["amount"].as_str().expect("an amount");
    let (whole, cents) = text.split_once('.').expect("two decimals");
    whole.parse::<i64>().expect("whole") * 100 + cents.parse::<i64>().expect("cents")
}

#[tokio::test]
async fn shipping_a_ten_percent_code_and_the_countrys_tax_add_up_to_the_authorized_payment() {
    let Shop {
        platform,
        admin,
        customer,
        product,
    } = Shop::open("40.00", 10).await;
    let standard = create_method(
        &platform,
        &admin,
        json!({ "name": "Standard", "price": "5", "countries": ["us"], "estimatedDays": 5 }),
    )
    .await;
    assert_eq!(standard["userErrors"], json!([]), "{standard}");
    assert_eq!(standard["shippingMethod"]["countries"], json!(["US"]));
    let express = create_method(
        &platform,
        &admin,
        json!({ "name": "Express", "price": "15.00", "freeOverSubtotal": "100", "countries": ["US", "DE"] }),
    )
    .await;
    assert_eq!(express["userErrors"], json!([]), "{express}");
    let rate = set_rate(&platform, &admin, "US", "Sales tax", "0.0725").await;
    assert_eq!(
        rate["taxLine"],
        json!({ "name": "Sales tax", "rate": "0.0725" })
    );
    let code = create_code(
        &platform,
        &admin,
        json!({ "code": "Welcome10", "kind": "PERCENTAGE", "value": "10" }),
    )
    .await;
    assert_eq!(code["discountCode"]["code"], "WELCOME10", "{code}");

    add_to_cart(&platform, &customer, &product, 2).await;
    // No address yet: nothing is offered, nothing can be chosen.
    let before = cart(&platform, &customer).await;
    assert_eq!(before["availableShippingMethods"], json!([]), "{before}");
    assert_eq!(before["shippingAddress"], Value::Null);
    let standard_id = standard["shippingMethod"]["id"].as_str().expect("id");
    let early = choose_method(&platform, &customer, standard_id).await;
    assert_eq!(user_error_codes(&early), ["SHIPPING_METHOD_UNAVAILABLE"]);

    let addressed = set_address(&platform, &customer, "us").await;
    assert_eq!(addressed["userErrors"], json!([]), "{addressed}");
    let offered: Vec<(String, String)> = addressed["cart"]["availableShippingMethods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_owned(),
                m["price"]["amount"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        offered,
        [
            ("Standard".to_owned(), "5.00".to_owned()),
            ("Express".to_owned(), "15.00".to_owned())
        ]
    );
    // Methods serve the address and none is chosen: checkout refuses.
    let refused = checkout(&platform, &customer).await;
    assert_eq!(user_error_codes(&refused), ["SHIPPING_METHOD_REQUIRED"]);
    assert_eq!(refused["order"], Value::Null);

    let chosen = choose_method(&platform, &customer, standard_id).await;
    assert_eq!(
        chosen["cart"]["shippingMethod"]["name"], "Standard",
        "{chosen}"
    );
    let discounted = apply_code(&platform, &customer, "welcome10").await;
    let priced = &discounted["cart"];
    // 80.00 - 8.00 (10 %) + 5.00 shipping (not taxed) + 7.25 % of 72.00 (5.22) = 82.22.
    assert_eq!(
        priced["discounts"],
        json!([{ "code": "WELCOME10", "kind": "PERCENTAGE", "amount": { "amount": "8.00" } }])
    );
    assert_eq!(
        priced["taxLines"],
        json!([{ "name": "Sales tax", "rate": "0.0725", "amount": { "amount": "5.22" } }])
    );
    assert_eq!(totals(priced), [8000, 800, 500, 522, 8222], "{priced}");
    assert_eq!(priced["pricesIncludeTax"], false);

    let placed = checkout(&platform, &customer).await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    let id = placed["order"]["id"].as_str().expect("order id");
    let order = settled(&platform, &customer, id).await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");
    let data = platform
        .data(
            &format!("query($id: ID!) {{ order(id: $id) {{ {ORDER} }} }}"),
            json!({ "id": id }),
            customer.token(),
        )
        .await;
    let order = &data["order"];
    assert_eq!(order["shippingMethodName"], "Standard", "{order}");
    assert_eq!(order["discounts"][0]["code"], "WELCOME10");
    assert_eq!(order["taxLines"][0]["amount"]["amount"], "5.22");
    let (subtotal, discount, shipping, tax, total) = (
        amount(&order["subtotal"]),
        amount(&order["discountTotal"]),
        amount(&order["shippingTotal"]),
        amount(&order["taxTotal"]),
        amount(&order["total"]),
    );
    assert_eq!(subtotal - discount + shipping + tax, total, "{order}");
    assert_eq!(total, 8222);
    assert_eq!(order["payment"]["status"], "AUTHORIZED", "{order}");
    assert_eq!(
        order["payment"]["amount"]["amount"],
        order["total"]["amount"]
    );

    // The code's use is counted; admins see it.
    let query =
        "{ discountCodes { totalCount nodes { code timesUsed } } shippingMethods { name } }";
    let data = platform.data(query, json!({}), admin.token()).await;
    assert_eq!(
        data["discountCodes"],
        json!({ "totalCount": 1, "nodes": [{ "code": "WELCOME10", "timesUsed": 1 }] }),
        "{data}"
    );
    assert_eq!(
        data["shippingMethods"],
        json!([{ "name": "Standard" }, { "name": "Express" }])
    );
    let (_, forbidden) = platform
        .post(
            "{ discountCodes { totalCount } }",
            json!({}),
            customer.token(),
        )
        .await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");
}

#[tokio::test]
async fn each_code_that_does_not_apply_and_each_bad_admin_input_has_its_stable_code() {
    let (platform, admin) = Platform::with_admin().await;
    let product = new_product(&platform, &admin, priced("40.00", 10)).await;
    let past = "2020-01-01T00:00:00Z";
    let future = "2999-01-01T00:00:00Z";
    for input in [
        json!({ "code": "ENDED", "kind": "PERCENTAGE", "value": "10", "endsAt": past }),
        json!({ "code": "LATER", "kind": "PERCENTAGE", "value": "10", "startsAt": future }),
        json!({ "code": "BIGSPEND", "kind": "FIXED_AMOUNT", "value": "20", "minimumSubtotal": "100" }),
        json!({ "code": "ONCE", "kind": "FREE_SHIPPING", "value": "0", "usageLimit": 1 }),
        json!({ "code": "HUGE", "kind": "FIXED_AMOUNT", "value": "500" }),
        json!({ "code": "RETIRED", "kind": "PERCENTAGE", "value": "5" }),
    ] {
        let created = create_code(&platform, &admin, input).await;
        assert_eq!(created["userErrors"], json!([]), "{created}");
    }
    let deactivate = ("deactivateDiscountCode(code: $code)", "$code: String!");
    let what_is_left = "discountCode { code active }";
    let code = json!({ "code": "retired" });
    let retired = mutate(&platform, &admin, deactivate, what_is_left, code).await;
    assert_eq!(
        retired["discountCode"],
        json!({ "code": "RETIRED", "active": false })
    );

    // Bad admin input: each on its field, nothing written.
    let taken = create_code(
        &platform,
        &admin,
        json!({ "code": "once", "kind": "PERCENTAGE", "value": "10" }),
    )
    .await;
    assert_eq!(user_error_codes(&taken), ["DISCOUNT_CODE_TAKEN"]);
    let over = create_code(
        &platform,
        &admin,
        json!({ "code": "MORETHANALL", "kind": "PERCENTAGE", "value": "150" }),
    )
    .await;
    assert_eq!(user_error_codes(&over), ["INVALID_INPUT"]);
    assert_eq!(over["userErrors"][0]["field"], json!(["input", "value"]));
    let negative = create_method(
        &platform,
        &admin,
        json!({ "name": "Odd", "price": "-1", "countries": ["XX1"] }),
    )
    .await;
    assert_eq!(
        user_error_codes(&negative),
        ["INVALID_INPUT", "INVALID_INPUT"]
    );
    let bad_rate = set_rate(&platform, &admin, "DE", "VAT", "19").await;
    assert_eq!(user_error_codes(&bad_rate), ["INVALID_INPUT"]);
    let customer = platform.customer().await;
    let mutation = "mutation { createDiscountCode(input: { code: \"MINE\", kind: PERCENTAGE, value: \"90\" }) { userErrors { code } } }";
    let (_, forbidden) = platform.post(mutation, json!({}), customer.token()).await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");
    let data = platform
        .data("{ discountCodes { totalCount } }", json!({}), admin.token())
        .await;
    assert_eq!(data["discountCodes"]["totalCount"], 6, "{data}");

    // A method for another country is not the cart's to choose.
    let france = create_method(
        &platform,
        &admin,
        json!({ "name": "Colissimo", "price": "7", "countries": ["FR"] }),
    )
    .await;
    let france_id = france["shippingMethod"]["id"].as_str().expect("id");
    add_to_cart(&platform, &customer, &product, 1).await;
    set_address(&platform, &customer, "US").await;
    let elsewhere = choose_method(&platform, &customer, france_id).await;
    assert_eq!(
        user_error_codes(&elsewhere),
        ["SHIPPING_METHOD_UNAVAILABLE"]
    );
    assert_eq!(
        elsewhere["userErrors"][0]["field"],
        json!(["shippingMethodId"])
    );

    for (code, expected) in [
        ("NOSUCHCODE", "DISCOUNT_NOT_FOUND"),
        ("no such code", "DISCOUNT_NOT_FOUND"),
        ("ENDED", "DISCOUNT_EXPIRED"),
        ("RETIRED", "DISCOUNT_EXPIRED"),
        ("LATER", "DISCOUNT_NOT_APPLICABLE"),
        ("BIGSPEND", "DISCOUNT_NOT_APPLICABLE"),
    ] {
        let refused = apply_code(&platform, &customer, code).await;
        assert_eq!(user_error_codes(&refused), [expected], "{code}: {refused}");
        assert_eq!(refused["cart"], Value::Null);
    }
    assert_eq!(cart(&platform, &customer).await["discounts"], json!([]));

    // A fixed amount bigger than the subtotal takes the subtotal, never more.
    let huge = apply_code(&platform, &customer, "HUGE").await;
    assert_eq!(huge["userErrors"], json!([]), "{huge}");
    assert_eq!(huge["cart"]["discountTotal"]["amount"], "40.00");
    assert_eq!(huge["cart"]["total"]["amount"], "0.00");
    let remove = ("removeDiscountCode(code: $code)", "$code: String!");
    let what_is_left = "cart { discounts { code } total { amount } }";
    let code = json!({ "code": "huge" });
    let removed = mutate(&platform, &customer, remove, what_is_left, code).await;
    assert_eq!(
        removed["cart"],
        json!({ "discounts": [], "total": { "amount": "40.00" } })
    );

    // ONCE has one use: the first order takes it, the next shopper is told.
    let once = apply_code(&platform, &customer, "ONCE").await;
    assert_eq!(once["userErrors"], json!([]), "{once}");
    let placed = checkout(&platform, &customer).await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    assert_eq!(placed["order"]["discounts"][0]["code"], "ONCE");
    let next = platform.customer().await;
    add_to_cart(&platform, &next, &product, 1).await;
    let exhausted = apply_code(&platform, &next, "ONCE").await;
    assert_eq!(user_error_codes(&exhausted), ["DISCOUNT_LIMIT_REACHED"]);
    // Without an address on the cart or in the input, checkout asks for one.
    let no_address = checkout(&platform, &next).await;
    assert_eq!(user_error_codes(&no_address), ["INVALID_INPUT"]);
    assert_eq!(
        no_address["userErrors"][0]["field"],
        json!(["input", "shippingAddress"])
    );
}

#[tokio::test]
async fn with_prices_including_tax_the_cart_shows_the_tax_contained_and_adds_nothing() {
    let options = Options {
        env: vec![("EMPORIUM_PRICES_INCLUDE_TAX", "true".to_owned())],
        ..Options::default()
    };
    let Shop {
        platform,
        admin,
        customer,
        product,
    } = Shop::open_with(options, json!({ "price": "119.00" })).await;
    let rate = set_rate(&platform, &admin, "DE", "VAT", "0.19").await;
    assert_eq!(rate["userErrors"], json!([]), "{rate}");
    add_to_cart(&platform, &customer, &product, 1).await;
    let addressed = set_address(&platform, &customer, "DE").await;
    let priced = &addressed["cart"];
    assert_eq!(priced["pricesIncludeTax"], true, "{addressed}");
    // 119.00 contains 19.00 of VAT; the total is the price.
    assert_eq!(
        priced["taxLines"],
        json!([{ "name": "VAT", "rate": "0.19", "amount": { "amount": "19.00" } }])
    );
    assert_eq!(priced["taxTotal"]["amount"], "0.00");
    assert_eq!(priced["total"]["amount"], "119.00");
}

#[tokio::test]
async fn the_demo_shop_has_its_shipping_methods_and_welcome10() {
    let platform = Platform::start_with(Options::demo_catalog()).await;
    let admin = platform.admin().await;
    let query = "{ shippingMethods { name price { amount } freeOverSubtotal { amount } countries } discountCodes { nodes { code kind value } } }";
    let data = platform.data(query, json!({}), admin.token()).await;
    assert_eq!(
        data["shippingMethods"],
        json!([
            { "name": "Standard", "price": { "amount": "4.99" }, "freeOverSubtotal": null, "countries": [] },
            { "name": "Express", "price": { "amount": "14.99" }, "freeOverSubtotal": { "amount": "100.00" }, "countries": ["US", "DE", "FR", "GB"] }
        ]),
        "{data}"
    );
    assert_eq!(
        data["discountCodes"]["nodes"],
        json!([{ "code": "WELCOME10", "kind": "PERCENTAGE", "value": "10" }])
    );
}
