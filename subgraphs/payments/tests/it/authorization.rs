//! Authorization: once the intent and the reservation are both in, whichever came first,
//! once per order however often and however concurrently the events arrive.

use std::sync::Arc;

use emporium_kernel::events::consumer::HandlerError;
use emporium_kernel::money::{Currency, Money};
use emporium_payments::domain::PaymentStatus;
use emporium_payments::provider::{Authorization, ProviderError};
use emporium_payments::{PaymentProvider, TestProvider};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::*;

fn total() -> Money {
    Money::parse_price(TOTAL, Currency::USD).expect("total")
}

#[tokio::test]
async fn an_order_placed_then_reserved_is_authorized_once_and_announced() {
    let fixture = Fixture::new().await;
    let order = Order::approved();

    fixture.deliver(&order.placed()).await;
    assert_eq!(
        fixture.payment(&order).await.status,
        PaymentStatus::Awaiting
    );
    assert_eq!(
        fixture.provider.authorize_calls(),
        0,
        "nothing is authorized before the stock is reserved"
    );
    let reserved = order.reserved();
    fixture.deliver(&reserved).await;

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Authorized);
    assert_eq!(payment.amount, Some(total()));
    assert_eq!(payment.user_id, Some(order.user_id.into()));
    let reference = payment.provider_reference.clone().expect("a reference");
    assert_eq!(
        fixture.provider.state_of(&reference),
        Some((total(), false, false))
    );
    assert_eq!(fixture.provider.authorization_count(), 1);
    assert_eq!(
        fixture.stored_token(&order).await,
        None,
        "the token is dropped once decided"
    );
    let events = fixture.events().await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.event_type, "payment.authorized");
    assert_eq!(event.subject, order.id);
    assert_eq!(event.source, "/subgraphs/payments");
    assert_eq!(event.causationid, reserved.id.to_string());
    assert_eq!(event.correlationid, reserved.correlationid);
    assert_eq!(
        event.data,
        json!({ "orderId": order.id, "paymentId": payment.id, "amount": "1049.97", "currency": "USD" })
    );
    assert_eq!(payment.id.get_version_num(), 7);
}

#[tokio::test]
async fn the_token_is_stored_only_sealed_also_when_an_older_orders_sent_it_in_plaintext() {
    let fixture = Fixture::new().await;
    let sealed = Order::paid_with("tok_secret_sealed");
    let legacy = Order::paid_with("tok_decline_secret_legacy");

    fixture.deliver(&sealed.placed()).await;
    fixture.deliver(&legacy.placed_in_plaintext()).await;
    for order in [&sealed, &legacy] {
        let stored = fixture.stored_token(order).await.expect("a stored token");
        assert!(!stored.contains("secret"), "stored in plaintext: {stored}");
        assert!(emporium_kernel::sealed::is_sealed(&stored), "{stored}");
    }

    fixture.deliver(&sealed.reserved()).await;
    fixture.deliver(&legacy.reserved()).await;
    assert_eq!(
        fixture.payment(&sealed).await.status,
        PaymentStatus::Authorized
    );
    let declined = fixture.payment(&legacy).await;
    assert_eq!(
        (declined.status, declined.failure_reason.as_deref()),
        (PaymentStatus::Declined, Some("CARD_DECLINED")),
        "the provider saw the legacy token itself"
    );
    for order in [&sealed, &legacy] {
        assert_eq!(
            fixture.stored_token(order).await,
            None,
            "erased once decided"
        );
    }
}

#[tokio::test]
async fn a_reservation_arriving_before_its_order_authorizes_all_the_same() {
    let fixture = Fixture::new().await;
    let order = Order::approved();

    fixture.deliver(&order.reserved()).await;
    let waiting = fixture.payment(&order).await;
    assert_eq!(waiting.status, PaymentStatus::Awaiting);
    assert_eq!(waiting.amount, None);
    assert!(waiting.is_stock_reserved);
    fixture.deliver(&order.placed()).await;

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Authorized);
    assert_eq!(payment.amount, Some(total()));
    assert_eq!(payment.id, waiting.id, "the payment keeps its id");
    assert_eq!(fixture.event_types(&order).await, ["payment.authorized"]);
    assert_eq!(
        fixture.events().await[0].data["paymentId"],
        json!(payment.id)
    );
    assert_eq!(fixture.provider.authorization_count(), 1);
}

#[tokio::test]
async fn a_declined_card_declines_the_payment_and_says_why() {
    let fixture = Fixture::new().await;
    let order = Order::paid_with("tok_decline_insufficient_funds");

    fixture.deliver(&order.placed()).await;
    fixture.deliver(&order.reserved()).await;

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Declined);
    assert_eq!(payment.failure_reason.as_deref(), Some("CARD_DECLINED"));
    assert_eq!(payment.provider_reference, None);
    assert_eq!(fixture.provider.authorization_count(), 0);
    assert_eq!(fixture.stored_token(&order).await, None);
    let events = fixture.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "payment.declined");
    assert_eq!(
        events[0].data,
        json!({ "orderId": order.id, "paymentId": payment.id, "reason": "CARD_DECLINED" })
    );
}

#[tokio::test]
async fn a_token_the_provider_refuses_declines_the_payment_instead_of_retrying() {
    let fixture = Fixture::new().await;
    let order = Order::paid_with("not-a-token");

    fixture.deliver(&order.reserved()).await;
    fixture.deliver(&order.placed()).await;

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Declined);
    assert_eq!(payment.failure_reason.as_deref(), Some("INVALID_TOKEN"));
    assert_eq!(fixture.event_types(&order).await, ["payment.declined"]);
}

#[tokio::test]
async fn redelivered_events_authorize_and_publish_once() {
    let fixture = Fixture::new().await;
    let order = Order::approved();
    let (placed, reserved) = (order.placed(), order.reserved());

    for envelope in [&placed, &reserved, &placed, &reserved] {
        fixture.deliver(envelope).await;
    }

    assert_eq!(
        fixture.payment(&order).await.status,
        PaymentStatus::Authorized
    );
    assert_eq!(fixture.event_types(&order).await, ["payment.authorized"]);
    assert_eq!(
        fixture.provider.authorize_calls(),
        1,
        "a decided payment is not sent to the provider again"
    );
    assert_eq!(fixture.provider.authorization_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_deliveries_of_both_events_authorize_and_publish_once_per_order() {
    let fixture = Fixture::new().await;
    let deliver = |envelope: Envelope| {
        let handler = fixture.handler.clone();
        tokio::spawn(async move { handler.handle(&envelope).await })
    };

    for i in 0..16 {
        let declined = i % 4 == 0;
        let order = if declined {
            Order::paid_with("tok_decline")
        } else {
            Order::approved()
        };
        let (placed, reserved) = (order.placed(), order.reserved());
        // Each event twice, all four deliveries at once on the runtime's threads.
        let outcomes = tokio::join!(
            deliver(placed.clone()),
            deliver(reserved.clone()),
            deliver(reserved),
            deliver(placed),
        );
        for outcome in [outcomes.0, outcomes.1, outcomes.2, outcomes.3] {
            outcome.expect("task").expect("every delivery succeeds");
        }

        let expected = if declined {
            "payment.declined"
        } else {
            "payment.authorized"
        };
        assert_eq!(fixture.event_types(&order).await, [expected], "order {i}");
    }
    assert_eq!(
        fixture.provider.authorization_count(),
        12,
        "one authorization per approved order"
    );
}

/// A provider that is unavailable for its first `failures` authorizations.
#[derive(Clone)]
struct FlakyProvider {
    inner: TestProvider,
    failures: Arc<Semaphore>,
}

impl PaymentProvider for FlakyProvider {
    async fn authorize(
        &self,
        idempotency_key: &str,
        token: &str,
        amount: Money,
    ) -> Result<Authorization, ProviderError> {
        if let Ok(failure) = self.failures.try_acquire() {
            failure.forget();
            return Err(ProviderError::Unavailable("connection refused".to_owned()));
        }
        self.inner.authorize(idempotency_key, token, amount).await
    }

    async fn capture(&self, key: &str, reference: &str) -> Result<(), ProviderError> {
        self.inner.capture(key, reference).await
    }

    async fn refund(&self, key: &str, reference: &str) -> Result<(), ProviderError> {
        self.inner.refund(key, reference).await
    }
}

#[tokio::test]
async fn an_unavailable_provider_is_retried_and_then_authorizes_once() {
    let provider = FlakyProvider {
        inner: TestProvider::new(),
        failures: Arc::new(Semaphore::new(1)),
    };
    let fixture = Fixture::with_provider(provider).await;
    let order = Order::approved();
    fixture.deliver(&order.placed()).await;
    let reserved = order.reserved();

    let first = fixture.try_deliver(&reserved).await;

    assert!(
        matches!(first, Err(HandlerError::Retryable(_))),
        "{first:?}"
    );
    assert_eq!(
        fixture.payment(&order).await.status,
        PaymentStatus::Awaiting
    );
    assert!(fixture.events().await.is_empty());
    fixture.deliver(&reserved).await;
    assert_eq!(
        fixture.payment(&order).await.status,
        PaymentStatus::Authorized
    );
    assert_eq!(fixture.event_types(&order).await, ["payment.authorized"]);
    assert_eq!(fixture.provider.inner.authorization_count(), 1);
}

#[tokio::test]
async fn malformed_events_fail_permanently_and_change_nothing() {
    let fixture = Fixture::new().await;
    let order = Order::approved();
    let mut no_token = order.placed();
    no_token.data["paymentTokenSealed"] = json!(null);
    let mut sealed_for_another_order = order.placed();
    sealed_for_another_order.data["paymentTokenSealed"] =
        Order::approved().placed().data["paymentTokenSealed"].clone();
    let mut bad_total = order.placed();
    bad_total.data["total"] = json!("10.999");
    let mut bad_currency = order.placed();
    bad_currency.data["currency"] = json!("dollars");
    let no_order = envelope("inventory.reserved", "x", json!({ "items": [] }));
    let not_an_order = envelope(
        "inventory.reserved",
        "o-1",
        json!({ "orderId": "o-1", "items": [] }),
    );
    let blank_order = envelope(
        "order.status_changed",
        "x",
        json!({ "orderId": " ", "status": "CANCELLED" }),
    );
    let unknown = envelope(
        "payment.authorized",
        &order.id,
        json!({ "orderId": order.id }),
    );

    for envelope in [
        no_token,
        sealed_for_another_order,
        bad_total,
        bad_currency,
        no_order,
        not_an_order,
        blank_order,
        unknown,
    ] {
        let outcome = fixture.try_deliver(&envelope).await;
        assert!(
            matches!(outcome, Err(HandlerError::Permanent(_))),
            "{}: {outcome:?}",
            envelope.event_type
        );
    }
    assert_eq!(
        fixture.store.find(order.order_id()).await.expect("find"),
        None
    );
}

/// A provider whose authorizations wait for the test to let them answer.
#[derive(Clone)]
struct GatedProvider {
    inner: TestProvider,
    entered: Arc<Semaphore>,
    release: Arc<Semaphore>,
}

impl PaymentProvider for GatedProvider {
    async fn authorize(
        &self,
        idempotency_key: &str,
        token: &str,
        amount: Money,
    ) -> Result<Authorization, ProviderError> {
        self.entered.add_permits(1);
        let permit = self
            .release
            .acquire()
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        permit.forget();
        self.inner.authorize(idempotency_key, token, amount).await
    }

    async fn capture(&self, key: &str, reference: &str) -> Result<(), ProviderError> {
        self.inner.capture(key, reference).await
    }

    async fn refund(&self, key: &str, reference: &str) -> Result<(), ProviderError> {
        self.inner.refund(key, reference).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_closed_while_the_provider_answers_has_its_authorization_voided() {
    let provider = GatedProvider {
        inner: TestProvider::new(),
        entered: Arc::new(Semaphore::new(0)),
        release: Arc::new(Semaphore::new(0)),
    };
    let fixture = Fixture::with_provider(provider.clone()).await;
    let order = Order::approved();
    fixture.deliver(&order.placed()).await;
    let handler = fixture.handler.clone();
    let reserved = order.reserved();
    let authorizing = tokio::spawn(async move { handler.handle(&reserved).await });
    provider
        .entered
        .acquire()
        .await
        .expect("the provider is asked")
        .forget();

    // The order times out and is rejected while the provider is still answering.
    fixture
        .deliver(&order.status_changed("REJECTED", "PENDING", Some("TIMED_OUT")))
        .await;
    provider.release.add_permits(1);
    authorizing.await.expect("task").expect("handled");

    let payment = fixture.payment(&order).await;
    assert_eq!(payment.status, PaymentStatus::Abandoned);
    assert!(
        fixture.events().await.is_empty(),
        "no payment.authorized for an abandoned payment"
    );
    // The provider answers a repeated key with its first answer: the approval that was voided.
    let Ok(Authorization::Approved { reference }) = provider
        .inner
        .authorize(&format!("{}:authorize", order.id), &order.token, total())
        .await
    else {
        panic!("the provider approved the first time");
    };
    assert_eq!(
        provider.inner.state_of(&reference),
        Some((total(), false, true)),
        "voided, never captured"
    );
}
