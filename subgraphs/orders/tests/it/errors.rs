//! Failures the client did not cause reach it as INTERNAL, with no driver or SQL text.

use async_graphql::Request;
use emporium_kernel::auth::{AuthUser, Role, Viewer};
use emporium_orders::LiveFeed;
use uuid::Uuid;

use crate::Fixture;

/// A store whose tables are gone fails every read; each resolver's error must still carry the
/// INTERNAL code and the generic message, never what Postgres said.
#[tokio::test]
async fn a_store_failure_reaches_the_client_as_internal_with_no_driver_text() {
    let fx = Fixture::new().await;
    let schema =
        emporium_orders::schema(fx.store.clone(), fx.orders.clone(), LiveFeed::new(), |t| {
            t.starts_with("tok_")
        });
    sqlx::query("DROP TABLE cart_items, order_history, order_items, orders CASCADE")
        .execute(fx.store.pool())
        .await
        .expect("drop the tables");
    let customer = Viewer::User(AuthUser {
        id: Uuid::now_v7(),
        role: Role::Customer,
    });

    for query in [
        "{ cart { subtotal { amount } } }",
        "{ orders(first: 5) { totalCount } }",
        "mutation { clearCart { cart { subtotal { amount } } } }",
    ] {
        let response = schema
            .execute(Request::new(query).data(customer.clone()))
            .await;

        let json = serde_json::to_value(&response).expect("json");
        let errors = json["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{query}: {json}");
        assert_eq!(
            errors[0]["extensions"]["code"], "INTERNAL",
            "{query}: {json}"
        );
        assert_eq!(errors[0]["message"], "internal error", "{query}: {json}");
        let text = json.to_string();
        for leaked in [
            "relation",
            "cart_items",
            "order_items",
            "does not exist",
            "42P01",
        ] {
            assert!(!text.contains(leaked), "{query} leaked {leaked:?}: {text}");
        }
    }
}
