//! The words of each notification: a title and a body per kind, naming the order and its
//! total. Pure functions, so the wording is tested without a database.

use emporium_kernel::money::{Currency, Money};
use uuid::Uuid;

use crate::domain::{kind_of, Kind, OrderStatus, OrderUpdate, StatusReason};

/// A notification's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub title: String,
    pub body: String,
}

/// The first notification of every account.
pub fn welcome(name: &str) -> Message {
    let name = name.trim();
    let title = if name.is_empty() {
        "Welcome to Emporium".to_owned()
    } else {
        format!("Welcome to Emporium, {name}")
    };
    Message {
        title,
        body: "Your account is ready. Whenever one of your orders moves along, you will find a note about it here.".to_owned(),
    }
}

/// The notification of an order's new status, or `None` when the status deserves none.
pub fn order_update(update: &OrderUpdate) -> Option<(Kind, Message)> {
    let kind = kind_of(update.status)?;
    let order = order_reference(update.order_id);
    let total = amount(update.total);
    let reason = update.reason;
    let message = match update.status {
        OrderStatus::Pending => return None,
        OrderStatus::Confirmed => Message {
            title: format!("Order {order} confirmed"),
            body: format!(
                "Your payment of {total} is authorized and your items are reserved. We will let you know when order {order} ships."
            ),
        },
        OrderStatus::Rejected => Message {
            title: format!("Order {order} could not be placed"),
            body: rejection(&order, &total, reason),
        },
        OrderStatus::Shipped => Message {
            title: format!("Order {order} has shipped"),
            body: format!("Your order {order} ({total}) is on its way."),
        },
        OrderStatus::Delivered => Message {
            title: format!("Order {order} delivered"),
            body: format!("Your order {order} ({total}) has been delivered. Enjoy!"),
        },
        OrderStatus::Cancelled => Message {
            title: format!("Order {order} cancelled"),
            body: cancellation(&order, &total, reason),
        },
    };
    Some((kind, message))
}

/// Why the order was rejected, in plain words.
fn rejection(order: &str, total: &str, reason: Option<StatusReason>) -> String {
    match reason {
        Some(StatusReason::OutOfStock) => format!(
            "Some items of order {order} ({total}) are out of stock, so it was not placed. You have not been charged."
        ),
        Some(StatusReason::PaymentDeclined) => format!(
            "Your payment of {total} for order {order} was declined, so it was not placed. Please check your card and try again."
        ),
        Some(StatusReason::TimedOut) => format!(
            "We could not confirm order {order} ({total}) in time, so it was not placed. Any authorized payment will be released."
        ),
        _ => format!("Order {order} ({total}) could not be placed. You have not been charged."),
    }
}

/// Who cancelled the order, and what happens to the money.
fn cancellation(order: &str, total: &str, reason: Option<StatusReason>) -> String {
    let by = match reason {
        Some(StatusReason::CancelledByCustomer) => "at your request",
        Some(StatusReason::CancelledByAdmin) => "by our team",
        _ => "",
    };
    let cancelled = if by.is_empty() {
        format!("Order {order} ({total}) was cancelled.")
    } else {
        format!("Order {order} ({total}) was cancelled {by}.")
    };
    format!("{cancelled} Any payment taken will be refunded.")
}

/// How an order is named to its customer: "#" and the last 8 hex digits of its id,
/// upper-cased. Not the first 8: an order id is a UUIDv7, whose first 8 digits are the high
/// bits of its timestamp, shared by every order placed within the same minute or so.
pub fn order_reference(order_id: Uuid) -> String {
    let hex = order_id.simple().to_string();
    format!("#{}", hex[hex.len() - 8..].to_uppercase())
}

/// A total as a customer reads it: "$699.98" for dollars, "699.98 EUR" for the rest.
pub fn amount(total: Money) -> String {
    if total.currency() == Currency::USD {
        format!("${}", total.to_decimal_string())
    } else {
        format!("{} {}", total.to_decimal_string(), total.currency())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = "0192f0c4-8e1a-7cc4-9d55-3f2b6a4e0c11";

    fn update(
        status: OrderStatus,
        reason: Option<StatusReason>,
        total: &str,
        currency: &str,
    ) -> OrderUpdate {
        OrderUpdate {
            order_id: Uuid::parse_str(ORDER).expect("uuid"),
            status,
            reason,
            total: Money::parse_price(total, Currency::parse(currency).expect("currency"))
                .expect("total"),
        }
    }

    fn render(status: OrderStatus, reason: Option<StatusReason>) -> (Kind, Message) {
        order_update(&update(status, reason, "699.98", "USD")).expect("a notification")
    }

    #[test]
    fn orders_are_named_by_the_random_end_of_their_id() {
        let id = Uuid::parse_str(ORDER).expect("uuid");
        assert_eq!(order_reference(id), "#6A4E0C11");
    }

    #[test]
    fn totals_read_as_dollars_or_amount_and_currency() {
        let usd = Money::parse_price("699.98", Currency::USD).expect("usd");
        let eur = Money::parse_price("5", Currency::parse("EUR").expect("eur")).expect("eur");
        assert_eq!(amount(usd), "$699.98");
        assert_eq!(amount(eur), "5.00 EUR");
    }

    #[test]
    fn a_confirmation_names_the_order_and_its_total() {
        let (kind, message) = render(OrderStatus::Confirmed, None);
        assert_eq!(kind, Kind::OrderConfirmed);
        assert_eq!(message.title, "Order #6A4E0C11 confirmed");
        assert!(message.body.contains("$699.98"), "{}", message.body);
        assert!(message.body.contains("#6A4E0C11"), "{}", message.body);
    }

    #[test]
    fn a_rejection_says_why_in_plain_words() {
        let (kind, stock) = render(OrderStatus::Rejected, Some(StatusReason::OutOfStock));
        let (_, payment) = render(OrderStatus::Rejected, Some(StatusReason::PaymentDeclined));
        let (_, late) = render(OrderStatus::Rejected, Some(StatusReason::TimedOut));
        let (_, unknown) = render(OrderStatus::Rejected, None);
        assert_eq!(kind, Kind::OrderRejected);
        assert!(stock.body.contains("out of stock"), "{}", stock.body);
        assert!(payment.body.contains("payment"), "{}", payment.body);
        assert!(payment.body.contains("declined"), "{}", payment.body);
        assert!(late.body.contains("in time"), "{}", late.body);
        for message in [&stock, &payment, &late, &unknown] {
            assert!(
                !message.body.contains('_'),
                "codes stay out: {}",
                message.body
            );
            assert!(message.body.contains("$699.98"), "{}", message.body);
        }
    }

    #[test]
    fn shipping_delivery_and_cancellation_each_have_their_own_words() {
        let kinds: Vec<(Kind, String)> = [
            (OrderStatus::Shipped, None),
            (OrderStatus::Delivered, None),
            (
                OrderStatus::Cancelled,
                Some(StatusReason::CancelledByCustomer),
            ),
            (OrderStatus::Cancelled, Some(StatusReason::CancelledByAdmin)),
        ]
        .into_iter()
        .map(|(status, reason)| {
            let (kind, message) = render(status, reason);
            assert!(message.title.contains("#6A4E0C11"), "{}", message.title);
            assert!(message.body.contains("$699.98"), "{}", message.body);
            (kind, message.body)
        })
        .collect();
        assert_eq!(kinds[0].0, Kind::OrderShipped);
        assert_eq!(kinds[1].0, Kind::OrderDelivered);
        assert_eq!(kinds[2].0, Kind::OrderCancelled);
        assert!(kinds[2].1.contains("at your request"), "{}", kinds[2].1);
        assert!(kinds[3].1.contains("by our team"), "{}", kinds[3].1);
    }

    #[test]
    fn a_pending_order_deserves_no_notification() {
        assert_eq!(
            order_update(&update(OrderStatus::Pending, None, "1", "USD")),
            None
        );
    }

    #[test]
    fn other_currencies_appear_with_their_code() {
        let (_, message) =
            order_update(&update(OrderStatus::Shipped, None, "699.98", "EUR")).expect("shipped");
        assert!(message.body.contains("699.98 EUR"), "{}", message.body);
    }

    #[test]
    fn the_welcome_greets_by_name_and_copes_without_one() {
        assert_eq!(welcome(" Ann Lee ").title, "Welcome to Emporium, Ann Lee");
        assert_eq!(welcome("  ").title, "Welcome to Emporium");
    }
}
