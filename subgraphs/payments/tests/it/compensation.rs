//! What an order's later statuses do to its payment: shipping captures, cancelling refunds,
//! closing an order before payment was decided abandons it for good.

use emporium_kernel::money::{Currency, Money};
use emporium_payments::domain::PaymentStatus;
use serde_json::json;

use crate::*;

async fn authorized(fixture: &Fixture) -> Order {
    let order = Order::approved();
    fixture.deliver(&order.placed()).await;
    fixture.deliver(&order.reserved()).await;
    assert_eq!(
        fixture.payment(&order).await.status,
        PaymentStatus::Authorized
    );
    order
}

fn total() -> Money {
    Money::parse_price(TOTAL, Currency::USD).expect("total")
}

#[tokio::test]
async fn shipping_an_order_captures_its_payment_once() {
    let fixture = Fixture::new().await;
    let order = authorized(&fixture).await;
    let shipped = order.status_changed("SHIPPED", "CONFIRMED", None);

    fixture.deliver(&shipped).await;
    fixture.deliver(&shipped).await;
    fixture
        .deliver(&order.status_changed("DELIVERED", "SHIPPED", None))
        .await;

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Captured);
    let reference = payment.provider_reference.clone().expect("reference");
    assert_eq!(
        fixture.provider.state_of(&reference),
        Some((total(), true, false))
    );
    assert_eq!(
        fixture.event_types(&order).await,
        ["payment.authorized", "payment.captured"]
    );
    let captured = fixture.events().await.pop().expect("an event");
    assert_eq!(captured.causationid, shipped.id.to_string());
    assert_eq!(
        captured.data,
        json!({ "orderId": order.id, "paymentId": payment.id, "amount": "1049.97", "currency": "USD" })
    );
}

#[tokio::test]
async fn cancelling_an_authorized_order_refunds_its_payment_once() {
    let fixture = Fixture::new().await;
    let order = authorized(&fixture).await;
    let cancelled = order.status_changed("CANCELLED", "CONFIRMED", Some("CANCELLED_BY_CUSTOMER"));

    fixture.deliver(&cancelled).await;
    fixture.deliver(&cancelled).await;

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Refunded);
    let reference = payment.provider_reference.clone().expect("reference");
    assert_eq!(
        fixture.provider.state_of(&reference),
        Some((total(), false, true)),
        "the authorization is voided"
    );
    assert_eq!(
        fixture.event_types(&order).await,
        ["payment.authorized", "payment.refunded"]
    );
    let refunded = fixture.events().await.pop().expect("an event");
    assert_eq!(
        refunded.data,
        json!({ "orderId": order.id, "paymentId": payment.id, "amount": "1049.97", "currency": "USD" })
    );
    // A late shipping event (it cannot happen after a cancellation) captures nothing.
    fixture
        .deliver(&order.status_changed("SHIPPED", "CONFIRMED", None))
        .await;
    assert_eq!(
        fixture.payment(&order).await.status,
        PaymentStatus::Refunded
    );
}

#[tokio::test]
async fn a_captured_payment_is_refunded_when_its_order_is_cancelled() {
    let fixture = Fixture::new().await;
    let order = authorized(&fixture).await;
    fixture
        .deliver(&order.status_changed("SHIPPED", "CONFIRMED", None))
        .await;

    fixture
        .deliver(&order.status_changed("CANCELLED", "SHIPPED", Some("CANCELLED_BY_ADMIN")))
        .await;

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Refunded);
    let reference = payment.provider_reference.clone().expect("reference");
    assert_eq!(
        fixture.provider.state_of(&reference),
        Some((total(), true, true))
    );
    assert_eq!(
        fixture.event_types(&order).await,
        ["payment.authorized", "payment.captured", "payment.refunded"]
    );
}

#[tokio::test]
async fn an_order_rejected_before_its_reservation_is_abandoned_and_never_authorized() {
    let fixture = Fixture::new().await;
    let order = Order::approved();
    fixture.deliver(&order.placed()).await;

    fixture
        .deliver(&order.status_changed("REJECTED", "PENDING", Some("TIMED_OUT")))
        .await;
    fixture.deliver(&order.reserved()).await;

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Abandoned);
    assert_eq!(fixture.stored_token(&order).await, None);
    assert_eq!(fixture.provider.authorize_calls(), 0);
    assert!(fixture.events().await.is_empty());
}

#[tokio::test]
async fn an_order_rejected_before_any_other_event_is_abandoned_for_good() {
    let fixture = Fixture::new().await;
    let order = Order::approved();

    fixture
        .deliver(&order.status_changed("REJECTED", "PENDING", Some("OUT_OF_STOCK")))
        .await;
    fixture.deliver(&order.reserved()).await;
    fixture.deliver(&order.placed()).await;

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Abandoned);
    assert_eq!(
        payment.amount,
        Some(total()),
        "the intent is still recorded"
    );
    assert_eq!(
        fixture.stored_token(&order).await,
        None,
        "but not its token"
    );
    assert_eq!(fixture.provider.authorize_calls(), 0);
    assert!(fixture.events().await.is_empty());
}

#[tokio::test]
async fn closing_an_order_whose_payment_was_declined_changes_nothing() {
    let fixture = Fixture::new().await;
    let order = Order::paid_with("tok_decline");
    fixture.deliver(&order.placed()).await;
    fixture.deliver(&order.reserved()).await;

    fixture
        .deliver(&order.status_changed("REJECTED", "PENDING", Some("PAYMENT_DECLINED")))
        .await;
    fixture
        .deliver(&order.status_changed("CANCELLED", "PENDING", Some("CANCELLED_BY_ADMIN")))
        .await;

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Declined);
    assert_eq!(fixture.event_types(&order).await, ["payment.declined"]);
}

#[tokio::test]
async fn statuses_that_ask_nothing_of_a_payment_leave_it_alone() {
    let fixture = Fixture::new().await;
    let order = authorized(&fixture).await;
    let unknown = Order::approved();

    fixture
        .deliver(&order.status_changed("CONFIRMED", "PENDING", None))
        .await;
    fixture
        .deliver(&unknown.status_changed("SHIPPED", "CONFIRMED", None))
        .await;

    assert_eq!(
        fixture.payment(&order).await.status,
        PaymentStatus::Authorized
    );
    assert_eq!(
        fixture.store.find(unknown.order_id()).await.expect("find"),
        None
    );
    assert_eq!(fixture.events().await.len(), 1);
}
