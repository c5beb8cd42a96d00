//! `Order.payment` through the real router: shown to the order's customer and to admins,
//! never to anyone else, and only once payment was decided.

use emporium_kernel::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::*;

async fn decided(fixture: &Fixture, order: &Order) {
    fixture.deliver(&order.placed()).await;
    fixture.deliver(&order.reserved()).await;
}

fn payment_of(response: &Value) -> &Value {
    assert_eq!(response["errors"], Value::Null, "{response}");
    &response["data"]["_entities"][0]["payment"]
}

#[tokio::test]
async fn a_payment_shows_to_its_customer_and_to_admins_only() {
    let fixture = Fixture::new().await;
    let order = Order::approved();
    decided(&fixture, &order).await;
    let payment = fixture.payment(&order).await;
    let app = spawn_app(fixture.store.clone()).await;
    let customer = app.token(order.user_id, Role::Customer);
    let admin = app.token(Uuid::now_v7(), Role::Admin);
    let stranger = app.token(Uuid::now_v7(), Role::Customer);

    // Another customer's order in the same request (its payment loads in the same batch).
    let other = Order::approved();
    decided(&fixture, &other).await;
    let other_payment = fixture.payment(&other).await;

    let as_customer = order_payments(&app, &[&order.id, &other.id], Some(&customer)).await;
    let as_admin = order_payments(&app, &[&order.id, &other.id], Some(&admin)).await;
    let as_stranger = order_payments(&app, &[&order.id], Some(&stranger)).await;
    let as_anonymous = order_payments(&app, &[&order.id], None).await;

    let shown = payment_of(&as_customer);
    assert_eq!(
        *shown,
        json!({
            "id": payment.id.to_string(),
            "status": "AUTHORIZED",
            "amount": { "amount": "1049.97", "currency": "USD" },
            "failureReason": null,
            "createdAt": shown["createdAt"],
        })
    );
    assert!(shown["createdAt"]
        .as_str()
        .is_some_and(|at| at.contains('T')));
    assert_eq!(as_customer["data"]["_entities"][0]["id"], order.id);
    assert_eq!(as_customer["data"]["_entities"][1]["id"], other.id);
    assert_eq!(
        as_customer["data"]["_entities"][1]["payment"],
        Value::Null,
        "another customer's payment, loaded in the same batch, stays hidden"
    );
    assert_eq!(payment_of(&as_admin), shown);
    assert_eq!(
        as_admin["data"]["_entities"][1]["payment"]["id"],
        other_payment.id.to_string()
    );
    assert_eq!(*payment_of(&as_stranger), Value::Null);
    assert_eq!(*payment_of(&as_anonymous), Value::Null);
}

#[tokio::test]
async fn a_declined_payment_shows_why_and_an_undecided_one_not_at_all() {
    let fixture = Fixture::new().await;
    let declined = Order::paid_with("tok_decline");
    decided(&fixture, &declined).await;
    let awaiting = Order::approved();
    fixture.deliver(&awaiting.placed()).await;
    let abandoned = Order::approved();
    fixture
        .deliver(&abandoned.status_changed("CANCELLED", "PENDING", Some("CANCELLED_BY_CUSTOMER")))
        .await;
    let app = spawn_app(fixture.store.clone()).await;
    let admin = app.token(Uuid::now_v7(), Role::Admin);
    let customer = app.token(awaiting.user_id, Role::Customer);

    let response = order_payments(
        &app,
        &[&declined.id, &awaiting.id, &abandoned.id, "no-such-order"],
        Some(&admin),
    )
    .await;
    let own_awaiting = order_payments(&app, &[&awaiting.id], Some(&customer)).await;

    assert_eq!(response["errors"], Value::Null, "{response}");
    let entities = &response["data"]["_entities"];
    assert_eq!(entities[0]["payment"]["status"], "DECLINED");
    assert_eq!(entities[0]["payment"]["failureReason"], "CARD_DECLINED");
    for i in 1..4 {
        assert_eq!(entities[i]["payment"], Value::Null, "{}", entities[i]);
    }
    assert_eq!(*payment_of(&own_awaiting), Value::Null);
}

#[tokio::test]
async fn an_invalid_access_token_is_an_error_not_an_anonymous_viewer() {
    let fixture = Fixture::new().await;
    let order = Order::approved();
    decided(&fixture, &order).await;
    let app = spawn_app(fixture.store.clone()).await;

    let response = order_payments(&app, &[&order.id], Some("not-a-valid-token")).await;

    assert_eq!(
        response["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{response}"
    );
}

#[tokio::test]
async fn the_published_token_key_seals_tokens_that_payments_opens() {
    let fixture = Fixture::new().await;
    let app = spawn_app(fixture.store.clone()).await;
    let published: emporium_payments::PublishedTokenKey =
        reqwest::get(format!("{}{}", app.url, emporium_payments::TOKEN_KEY_PATH))
            .await
            .expect("GET the token key")
            .error_for_status()
            .expect("served")
            .json()
            .await
            .expect("JSON");
    let key = emporium_kernel::sealed::SealingKey::decode(&published.key).expect("a public key");
    assert_eq!(key.kid(), published.kid);

    // Sealed as orders seals it, with only the published key.
    let order = Order::approved();
    let mut placed = order.placed();
    placed.data["paymentTokenSealed"] =
        json!(key.seal(b"tok_visa", order.id.as_bytes()).expect("seal"));
    fixture.deliver(&placed).await;
    fixture.deliver(&order.reserved()).await;
    assert_eq!(
        fixture.payment(&order).await.status,
        emporium_payments::domain::PaymentStatus::Authorized
    );
}
