//! `_entities` straight at each subgraph, for every entity type each one resolves: a
//! subgraph reached directly (not through the router) shows nobody more than the API does.

use serde_json::{json, Value};

use crate::helpers::*;

/// What a viewer got for one entity: `visible`, `null` (resolved to nothing, or the guarded
/// field null) or `error:<CODE>`.
fn outcome(body: &Value, guarded: &str) -> String {
    if let Some(code) = body["errors"][0]["extensions"]["code"].as_str() {
        return format!("error:{code}");
    }
    let entity = &body["data"]["_entities"][0];
    if entity.is_null() || entity[guarded].is_null() {
        return "null".to_owned();
    }
    "visible".to_owned()
}

struct Case {
    subgraph: &'static str,
    typename: &'static str,
    /// The fields asked for; the first is the one whose visibility is judged.
    fields: &'static str,
    guarded: &'static str,
    id: String,
    /// What [anonymous, another customer, the owner, an admin] get.
    expected: [&'static str; 4],
}

#[tokio::test]
async fn every_entity_of_every_subgraph_is_authorized_when_reached_directly() {
    let (platform, admin) = Platform::with_admin().await;
    let owner = platform.customer().await;
    let stranger = platform.customer().await;
    let product = new_product(&platform, &admin, json!({ "initialStock": 5 })).await;
    let (order, _) = buy(&platform, &owner, &product, 1, "tok_visa").await;

    const DENIED_TO_OTHERS: [&str; 4] = [
        "error:UNAUTHENTICATED",
        "error:FORBIDDEN",
        "visible",
        "visible",
    ];
    let cases = [
        Case {
            subgraph: "users",
            typename: "User",
            fields: "email name role createdAt",
            guarded: "email",
            id: owner.user_id.clone(),
            expected: DENIED_TO_OTHERS,
        },
        // Without the email: name, role and createdAt are no one else's business either.
        Case {
            subgraph: "users",
            typename: "User",
            fields: "name role createdAt",
            guarded: "name",
            id: owner.user_id.clone(),
            expected: DENIED_TO_OTHERS,
        },
        Case {
            subgraph: "orders",
            typename: "User",
            fields: "orders { totalCount nodes { id } }",
            guarded: "orders",
            id: owner.user_id.clone(),
            expected: DENIED_TO_OTHERS,
        },
        Case {
            subgraph: "orders",
            typename: "Order",
            fields: "status customer { id } total { amount }",
            guarded: "status",
            id: order.clone(),
            expected: ["error:UNAUTHENTICATED", "null", "visible", "visible"],
        },
        Case {
            subgraph: "payments",
            typename: "Order",
            fields: "payment { status amount { amount } }",
            guarded: "payment",
            id: order.clone(),
            expected: ["null", "null", "visible", "visible"],
        },
        Case {
            subgraph: "notifications",
            typename: "User",
            fields: "notifications { totalCount nodes { body } }",
            guarded: "notifications",
            id: owner.user_id.clone(),
            expected: DENIED_TO_OTHERS,
        },
        // The catalog and its stock are public.
        Case {
            subgraph: "products",
            typename: "Product",
            fields: "name price { amount }",
            guarded: "name",
            id: product.clone(),
            expected: ["visible"; 4],
        },
        Case {
            subgraph: "inventory",
            typename: "Product",
            fields: "stock { onHand available }",
            guarded: "stock",
            id: product.clone(),
            expected: ["visible"; 4],
        },
    ];

    let viewers = [None, stranger.token(), owner.token(), admin.token()];
    let mut seen = Vec::new();
    let mut wanted = Vec::new();
    for case in &cases {
        let query = format!(
            "query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on {} {{ {} }} }} }}",
            case.typename, case.fields
        );
        let representations = json!([{ "__typename": case.typename, "id": case.id }]);
        for (viewer, expected) in viewers.iter().zip(case.expected) {
            let body = platform
                .subgraph_gql(
                    case.subgraph,
                    &query,
                    json!({ "r": representations }),
                    *viewer,
                )
                .await;
            let label = format!("{} {} {}", case.subgraph, case.typename, case.fields);
            seen.push(format!("{label}: {}", outcome(&body, case.guarded)));
            wanted.push(format!("{label}: {expected}"));
            if outcome(&body, case.guarded) == "visible" && case.subgraph == "users" {
                // Whoever may see the user sees the right one.
                assert_eq!(body["data"]["_entities"][0]["name"], "Test Customer");
            }
        }
    }
    assert_eq!(seen, wanted);
}

#[tokio::test]
async fn search_resolves_no_entities_of_its_own() {
    let platform = Platform::start().await;
    let body = platform
        .subgraph_gql(
            "search",
            "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
            json!({ "r": [{ "__typename": "Product", "id": "x" }] }),
            None,
        )
        .await;
    assert!(body["errors"].is_array(), "{body}");
    assert!(
        body["data"].is_null() || body["data"]["_entities"].is_null(),
        "{body}"
    );
}
