//! Shopping as a customer does it, through the router: a platform with a product to sell
//! ([`Shop`]), the cart filled once the orders service knows the product, checkout, and the
//! order followed until the saga settles it.
//!
//! Failing: a cart that never takes the product (30 s), a checkout or order query with a
//! GraphQL error or a userError where success is expected, and an order that never reaches
//! what is awaited (60 s) fail the test with the whole answer.

use serde_json::{json, Value};

use super::*;

/// What the order helpers read of an order.
const ORDER: &str = "id status statusReason total { amount currency } customer { id }
    items { product { id } productName unitPrice { amount } quantity lineTotal { amount } }
    shippingAddress { line1 line2 city postalCode country }
    payment { status amount { amount currency } failureReason }
    history { status previousStatus reason at } createdAt updatedAt";

/// A running platform with a signed-in admin and customer, and one product to sell.
pub struct Shop {
    pub platform: Platform,
    pub admin: Session,
    pub customer: Session,
    pub product: String,
}

impl Shop {
    /// A default platform selling the demo product at `price` with `stock` units.
    pub async fn open(price: &str, stock: u32) -> Self {
        Self::open_with(Options::default(), priced(price, stock.into())).await
    }

    /// A platform started with `options`, selling the demo product changed by `product` (as
    /// [`new_product`] takes it).
    pub async fn open_with(options: Options, product: Value) -> Self {
        let platform = Platform::start_with(options).await;
        let admin = platform.admin().await;
        let customer = platform.customer().await;
        let product = new_product(&platform, &admin, product).await;
        Self {
            platform,
            admin,
            customer,
            product,
        }
    }
}

/// A test card the payment provider declines.
pub const DECLINED_CARD: &str = "tok_decline_insufficient_funds";

/// A shipping address in the US.
pub fn address() -> Value {
    json!({ "line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "us" })
}

/// Adds to the cart once the orders service has seen the product.
pub async fn add_to_cart(api: &impl Gql, session: &Session, product: &str, quantity: i64) {
    add_line(api, session, "productId", product, quantity).await;
}

/// `addToCart` naming the line by `argument` (`productId` or `variantId`), retried while the
/// orders service's catalog projection has not seen the product yet.
pub async fn add_line(api: &impl Gql, session: &Session, argument: &str, id: &str, quantity: i64) {
    add_line_within(api, session, argument, id, quantity, Wait::secs(30)).await;
}

/// [`add_line`], waiting as long as `wait` for the orders service to know the product.
pub async fn add_line_within(
    api: &impl Gql,
    session: &Session,
    argument: &str,
    id: &str,
    quantity: i64,
    wait: Wait,
) {
    let mutation = format!("mutation($id: ID!, $n: Int!) {{ addToCart({argument}: $id, quantity: $n) {{ userErrors {{ code message }} }} }}");
    let body = poll_until(
        &format!("addToCart never took {id}"),
        wait,
        || {
            api.gql(
                &mutation,
                json!({ "id": id, "n": quantity }),
                session.token(),
            )
        },
        |body| user_error_codes(&body["data"]["addToCart"]) != ["NOT_FOUND"],
    )
    .await;
    assert_eq!(
        user_error_codes(&body["data"]["addToCart"]),
        Vec::<String>::new(),
        "addToCart: {body}"
    );
}

/// `checkout` to [`address`] with the payment `token` and the idempotency `key`; the payload
/// (a GraphQL error fails the test).
pub async fn checkout(api: &impl Gql, session: &Session, token: &str, key: &str) -> Value {
    let mutation = format!("mutation($input: CheckoutInput!) {{ checkout(input: $input) {{ order {{ {ORDER} }} userErrors {{ code field message }} }} }}");
    let input =
        json!({ "shippingAddress": address(), "paymentToken": token, "idempotencyKey": key });
    let data = api
        .data(&mutation, json!({ "input": input }), session.token())
        .await;
    data["checkout"].clone()
}

/// Checks out and returns the new order's id.
pub async fn place(api: &impl Gql, session: &Session, token: &str) -> String {
    let payload = checkout(api, session, token, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    payload["order"]["id"]
        .as_str()
        .expect("order id")
        .to_owned()
}

/// The order (the fields of [`ORDER`]), as `session` sees them.
pub async fn order(api: &impl Gql, session: &Session, id: &str) -> Value {
    let query = format!("query($id: ID!) {{ order(id: $id) {{ {ORDER} }} }}");
    let data = api.data(&query, json!({ "id": id }), session.token()).await;
    data["order"].clone()
}

/// Polls the order until `done` holds for it.
pub async fn order_until(
    api: &impl Gql,
    session: &Session,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    poll_until(
        &format!("order {id} never became {what}"),
        Wait::secs(60),
        || order(api, session, id),
        done,
    )
    .await
}

/// Polls the order until the saga has settled it (it left PENDING).
pub async fn settled(api: &impl Gql, session: &Session, id: &str) -> Value {
    order_until(api, session, id, "settled", |o| o["status"] != "PENDING").await
}

/// Puts `quantity` of `product` in the cart, checks out paying with `token`, and waits until
/// the order is settled; its id and the settled order.
pub async fn buy(
    api: &impl Gql,
    session: &Session,
    product: &str,
    quantity: i64,
    token: &str,
) -> (String, Value) {
    add_to_cart(api, session, product, quantity).await;
    let id = place(api, session, token).await;
    let order = settled(api, session, &id).await;
    (id, order)
}

/// An order mutation taking the order's id (`shipOrder`, `cancelOrder` ...) as `session`; its
/// payload.
pub async fn transition(api: &impl Gql, session: &Session, mutation: &str, id: &str) -> Value {
    let request = format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ order {{ id status statusReason }} userErrors {{ code message }} }} }}");
    let data = api
        .data(&request, json!({ "id": id }), session.token())
        .await;
    data[mutation].clone()
}
