use async_graphql::Request;
use emporium_kernel::auth::{AuthUser, Role, Viewer};
use emporium_kernel::events::consumer::Handler;
use emporium_kernel::ids::UserId;
use emporium_orders::saga::SagaHandler;
use emporium_orders::LiveFeed;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{reply, Fixture};

/// One page of orders resolves each order's lines and history (batched over the page) to
/// that order and no other.
#[tokio::test]
async fn a_page_of_orders_shows_each_order_its_own_lines_and_history() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let cable = fx.product("Cable", "0.10").await;
    let lamp = fx.product("Lamp", "20.00").await;

    let first = fx.customer_with(&tv, 1).await;
    fx.add(first, &cable, 2).await;
    let first_order = fx.place(first).await;
    let second = fx.customer_with(&lamp, 4).await;
    let second_order = fx.place(second).await;
    let third = fx.customer_with(&cable, 7).await;
    let third_order = fx.place(third).await;
    let saga = SagaHandler::new(fx.orders.clone());
    saga.handle(&reply("payment.authorized", second_order.id, json!({})))
        .await
        .expect("confirm");
    saga.handle(&reply(
        "inventory.rejected",
        third_order.id,
        json!({ "reason": "OUT_OF_STOCK" }),
    ))
    .await
    .expect("reject");

    let schema =
        emporium_orders::schema(fx.store.clone(), fx.orders.clone(), LiveFeed::new(), |t| {
            t.starts_with("tok_")
        });
    let admin = Viewer::User(AuthUser {
        id: Uuid::now_v7(),
        role: Role::Admin,
    });
    let response = schema
        .execute(
            Request::new(
                "{ orders(first: 10) { nodes { id status
                     items { productName quantity lineTotal { amount } }
                     history { status } } } }",
            )
            .data(admin),
        )
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().expect("json");
    let summary: Vec<(String, Value, Value)> = data["orders"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|order| {
            let items = order["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| json!([i["productName"], i["quantity"], i["lineTotal"]["amount"]]))
                .collect();
            let history = order["history"]
                .as_array()
                .expect("history")
                .iter()
                .map(|h| h["status"].clone())
                .collect();
            (order["id"].as_str().expect("id").to_owned(), items, history)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                third_order.id.to_string(),
                json!([["Cable", 7, "0.70"]]),
                json!(["PENDING", "REJECTED"])
            ),
            (
                second_order.id.to_string(),
                json!([["Lamp", 4, "80.00"]]),
                json!(["PENDING", "CONFIRMED"])
            ),
            (
                first_order.id.to_string(),
                json!([["Television", 1, "349.99"], ["Cable", 2, "0.20"]]),
                json!(["PENDING"])
            ),
        ]
    );
}

/// A page and its `totalCount` come from one snapshot: while orders are being placed, every
/// page that holds all of them counts exactly what it lists.
#[tokio::test]
async fn a_page_counts_what_it_lists_while_orders_are_placed() {
    use emporium_orders::orders::OrderFilter;

    let fx = Fixture::new().await;
    let lamp = fx.product("Lamp", "20.00").await;
    let customer = UserId::from(Uuid::now_v7());
    let placing = async {
        for _ in 0..40 {
            fx.add(customer, &lamp, 1).await;
            fx.place(customer).await;
        }
    };
    let listing = async {
        let mut pages = 0;
        let mut mismatches = Vec::new();
        loop {
            let (orders, more, total) = fx
                .orders
                .list(
                    OrderFilter {
                        user: Some(customer),
                        status: None,
                    },
                    None,
                    100,
                )
                .await
                .expect("list");
            pages += 1;
            assert!(!more);
            if i64::try_from(orders.len()).expect("len") != total {
                mismatches.push((orders.len(), total));
            }
            if orders.len() == 40 {
                return (pages, mismatches);
            }
        }
    };
    let ((), (pages, mismatches)) = tokio::join!(placing, listing);
    assert!(pages > 1);
    assert_eq!(
        mismatches,
        [],
        "pages listing n orders but counting another"
    );
}
