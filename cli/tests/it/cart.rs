//! The cart through the router: priced from the orders service's projection of the catalog,
//! one per customer, with clear userErrors for bad input.

use serde_json::{json, Value};

use crate::helpers::*;

const CART: &str = "cart { items { product { id name } quantity lineTotal { amount currency } } subtotal { amount currency } }";

async fn cart(platform: &Platform, session: &Session) -> Value {
    let data = platform
        .data(&format!("{{ {CART} }}"), json!({}), session.token())
        .await;
    data["cart"].clone()
}

async fn change(
    platform: &Platform,
    session: &Session,
    mutation: &str,
    product: &str,
    quantity: i64,
) -> Value {
    let request = format!("mutation($id: ID!, $n: Int!) {{ {mutation}(productId: $id, quantity: $n) {{ {CART} userErrors {{ code field message }} }} }}");
    let variables = json!({ "id": product, "n": quantity });
    let data = platform.data(&request, variables, session.token()).await;
    data[mutation].clone()
}

/// Adds to the cart once the orders service has seen the product (its catalog projection
/// follows the products service's events).
async fn add_when_known(
    platform: &Platform,
    session: &Session,
    product: &str,
    quantity: i64,
) -> Value {
    poll_until(
        &format!("the orders service never knew {product}"),
        Wait::secs(30),
        || change(platform, session, "addToCart", product, quantity),
        |payload| user_error_codes(payload) != ["NOT_FOUND"],
    )
    .await
}

#[tokio::test]
async fn a_customer_fills_changes_and_clears_a_cart_priced_from_the_catalog() {
    let (platform, admin) = Platform::with_admin().await;
    let customer = platform.customer().await;
    let other = platform.customer().await;
    let headphones = new_product(&platform, &admin, json!({ "price": "349.99" })).await;
    let cable = new_product(&platform, &admin, json!({ "price": "0.10" })).await;

    let (_, anonymous) = platform
        .post("{ cart { subtotal { amount } } }", json!({}), None)
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    assert_eq!(
        cart(&platform, &customer).await,
        json!({ "items": [], "subtotal": { "amount": "0.00", "currency": "USD" } })
    );

    let added = add_when_known(&platform, &customer, &headphones, 2).await;
    assert_eq!(added["userErrors"], json!([]), "{added}");
    let added = add_when_known(&platform, &customer, &cable, 3).await;
    assert_eq!(added["userErrors"], json!([]), "{added}");
    let again = change(&platform, &customer, "addToCart", &headphones, 1).await;
    let items = again["cart"]["items"].as_array().expect("items").clone();
    assert_eq!(
        items[0]["product"]["name"], "Sony WH-1000XM5 Wireless Headphones",
        "the router completes the product"
    );
    assert_eq!(
        (
            items[0]["quantity"].clone(),
            items[0]["lineTotal"]["amount"].clone()
        ),
        (json!(3), json!("1049.97"))
    );
    assert_eq!(items[1]["lineTotal"]["amount"], "0.30");
    assert_eq!(
        again["cart"]["subtotal"],
        json!({ "amount": "1050.27", "currency": "USD" })
    );
    assert_eq!(
        cart(&platform, &other).await["items"],
        json!([]),
        "carts are per customer"
    );

    // Bad input is a userError and changes nothing.
    for (product, quantity, code, field) in [
        (headphones.as_str(), 0, "INVALID_INPUT", "quantity"),
        (headphones.as_str(), 100, "INVALID_INPUT", "quantity"),
        (headphones.as_str(), 97, "INVALID_INPUT", "quantity"),
        ("no-such-product", 1, "NOT_FOUND", "productId"),
    ] {
        let refused = change(&platform, &customer, "addToCart", product, quantity).await;
        assert_eq!(user_error_codes(&refused), [code], "{refused}");
        assert_eq!(refused["userErrors"][0]["field"], json!([field]));
        assert!(refused["cart"].is_null());
    }
    assert_eq!(
        cart(&platform, &customer).await["subtotal"]["amount"],
        "1050.27"
    );

    let updated = change(&platform, &customer, "updateCartItem", &headphones, 1).await;
    assert_eq!(updated["cart"]["subtotal"]["amount"], "350.29");
    let missing = change(&platform, &other, "updateCartItem", &headphones, 1).await;
    assert_eq!(user_error_codes(&missing), ["NOT_FOUND"]);
    let removed = change(&platform, &customer, "updateCartItem", &cable, 0).await;
    assert_eq!(removed["cart"]["items"].as_array().map(Vec::len), Some(1));

    // A new catalog price reprices the cart; a deleted product leaves it.
    update_product(&platform, &admin, &headphones, json!({ "price": "299.00" })).await;
    let customers_cart = || cart(&platform, &customer);
    poll_until(
        "the cart was not repriced",
        Wait::secs(30),
        customers_cart,
        |cart| cart["subtotal"]["amount"] == "299.00",
    )
    .await;
    delete_product(&platform, &admin, &headphones).await;
    let stayed = "the deleted product stayed in the cart";
    poll_until(stayed, Wait::secs(30), customers_cart, |cart| {
        cart["items"] == json!([])
    })
    .await;

    add_when_known(&platform, &customer, &cable, 5).await;
    let cleared = platform
        .gql(
            &format!("mutation {{ clearCart {{ {CART} userErrors {{ code }} }} }}"),
            json!({}),
            customer.token(),
        )
        .await;
    assert_eq!(
        cleared["data"]["clearCart"]["cart"]["items"],
        json!([]),
        "{cleared}"
    );
}

#[tokio::test]
async fn concurrent_adds_of_one_product_all_count() {
    let Shop {
        platform,
        customer,
        product,
        ..
    } = Shop::open_with(Options::default(), json!({ "price": "5.00" })).await;
    let first = add_when_known(&platform, &customer, &product, 1).await;
    assert_eq!(first["userErrors"], json!([]), "{first}");

    let adds = (0..10).map(|_| change(&platform, &customer, "addToCart", &product, 2));
    for payload in futures::future::join_all(adds).await {
        assert_eq!(payload["userErrors"], json!([]), "{payload}");
    }
    let items = cart(&platform, &customer).await["items"].clone();
    assert_eq!(items[0]["quantity"], 21, "{items}");
    assert_eq!(items[0]["lineTotal"]["amount"], "105.00");
}
