//! Payments without I/O: where a payment stands, when it is due for authorization, what an
//! order's new status asks of it, and who may see it.

use std::fmt;

use chrono::{DateTime, Utc};
use emporium_kernel::auth::AuthUser;
use emporium_kernel::events::contract::orders::OrderStatus;
use emporium_kernel::ids::{OrderId, UserId};
use emporium_kernel::money::Money;
use emporium_kernel::sealed::{self, OpeningKeys, SealingKey};
use uuid::Uuid;

/// The longest card token accepted (the test provider's are at most 128 bytes).
pub const MAX_TOKEN_LEN: usize = 256;
/// `failureReason` of a token the provider does not know as one.
pub const INVALID_TOKEN: &str = "INVALID_TOKEN";

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    /// Nothing decided yet: the intent, the reservation or both are still to come.
    Awaiting,
    Authorized,
    Declined,
    /// The order shipped and the authorized amount was taken.
    Captured,
    /// The order was cancelled or rejected after authorization: refunded (or voided).
    Refunded,
    /// The order was closed before payment was decided; nothing will be authorized.
    Abandoned,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Awaiting => "AWAITING",
            Self::Authorized => "AUTHORIZED",
            Self::Declined => "DECLINED",
            Self::Captured => "CAPTURED",
            Self::Refunded => "REFUNDED",
            Self::Abandoned => "ABANDONED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "AWAITING" => Self::Awaiting,
            "AUTHORIZED" => Self::Authorized,
            "DECLINED" => Self::Declined,
            "CAPTURED" => Self::Captured,
            "REFUNDED" => Self::Refunded,
            "ABANDONED" => Self::Abandoned,
            _ => return None,
        })
    }

    /// Whether the customer has a payment to see: one was decided with the provider.
    pub fn is_decided(self) -> bool {
        !matches!(self, Self::Awaiting | Self::Abandoned)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the payment token is empty")]
    Empty,
    #[error("the payment token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    /// Not sealed to one of payments' keys for this order (tampered, copied from another
    /// order, or sealed to a key payments no longer holds).
    #[error("the sealed payment token does not open")]
    Unsealable,
}

/// A card token from checkout. Its `Debug` hides it and it has no `Display`: a token must
/// never reach a log line. Whether the provider knows it is the provider's to say.
#[derive(Clone, PartialEq, Eq)]
pub struct CardToken(String);

impl CardToken {
    pub fn parse(raw: &str) -> Result<Self, TokenError> {
        if raw.is_empty() {
            return Err(TokenError::Empty);
        }
        if raw.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The token itself, for the provider and the store only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardToken(<redacted>)")
    }
}

/// A card token sealed to payments' own key and bound to its order (`kernel::sealed`): the
/// only form in which a token is stored or travels. It is opened in memory for the provider's
/// call and erased from the row by the decision.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCardToken(String);

impl SealedCardToken {
    /// Seals a plaintext token (from an `order.placed` of an orders process older than
    /// sealing) before it is stored.
    pub fn seal(
        token: &CardToken,
        order_id: OrderId,
        key: &SealingKey,
    ) -> Result<Self, sealed::SealError> {
        key.seal(token.expose().as_bytes(), order_id.to_string().as_bytes())
            .map(Self)
    }

    /// A sealed token from `order.placed`, kept only if it opens for `order_id`.
    pub fn received(raw: &str, order_id: OrderId, keys: &OpeningKeys) -> Result<Self, TokenError> {
        let sealed = Self(raw.to_owned());
        sealed.open(order_id, keys)?;
        Ok(sealed)
    }

    /// What the store holds.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_stored(&self) -> &str {
        &self.0
    }

    /// The token for the provider. A stored value that is not sealed is a plaintext token
    /// a payments process older than sealing stored; it is read as such.
    pub fn open(&self, order_id: OrderId, keys: &OpeningKeys) -> Result<CardToken, TokenError> {
        if !sealed::is_sealed(&self.0) {
            return CardToken::parse(&self.0);
        }
        let plaintext = keys
            .open(&self.0, order_id.to_string().as_bytes())
            .map_err(|_| TokenError::Unsealable)?;
        let token = String::from_utf8(plaintext).map_err(|_| TokenError::Unsealable)?;
        CardToken::parse(&token)
    }
}

impl fmt::Debug for SealedCardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedCardToken(..)")
    }
}

/// What `order.placed` tells payments: who pays how much, with which card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub user_id: UserId,
    pub amount: Money,
    pub token: SealedCardToken,
}

/// One order's payment as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub order_id: OrderId,
    pub id: Uuid,
    /// `None` until `order.placed` arrived.
    pub user_id: Option<UserId>,
    pub amount: Option<Money>,
    /// Present only while the payment is due or about to be due for authorization.
    pub token: Option<SealedCardToken>,
    pub is_stock_reserved: bool,
    pub status: PaymentStatus,
    /// The provider's id of the authorization, for capture and refund. Never shown to clients.
    pub provider_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Payment {
    /// What to ask the provider to authorize, once the payment is due: its intent is known,
    /// its stock is reserved and nothing has been decided yet.
    pub fn authorization_due(&self) -> Option<(Money, &SealedCardToken)> {
        if self.status != PaymentStatus::Awaiting || !self.is_stock_reserved {
            return None;
        }
        Some((self.amount?, self.token.as_ref()?))
    }

    /// Whether `viewer` may see this payment: it was decided, and the viewer is the customer
    /// who pays or an admin.
    pub fn is_visible_to(&self, viewer: &AuthUser) -> bool {
        self.status.is_decided() && (viewer.is_admin() || self.user_id == Some(viewer.id.into()))
    }
}

/// A decided change of a payment's status, applied only from the statuses it starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Authorize { reference: String },
    Decline { reason: String },
    Capture,
    Refund,
}

impl Transition {
    /// The statuses this change may start from. Applying it from any other changes nothing:
    /// the event was handled already, or lost a race.
    pub fn from(&self) -> &'static [PaymentStatus] {
        use PaymentStatus::*;
        match self {
            Self::Authorize { .. } | Self::Decline { .. } => &[Awaiting],
            Self::Capture => &[Authorized],
            Self::Refund => &[Authorized, Captured],
        }
    }

    pub fn to(&self) -> PaymentStatus {
        match self {
            Self::Authorize { .. } => PaymentStatus::Authorized,
            Self::Decline { .. } => PaymentStatus::Declined,
            Self::Capture => PaymentStatus::Captured,
            Self::Refund => PaymentStatus::Refunded,
        }
    }
}

/// What an order's new status (`order.status_changed`) asks of its payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusEffect {
    /// Shipped: take the authorized amount.
    Capture,
    /// Cancelled or rejected after authorization: give the money back.
    Refund,
    /// Cancelled or rejected before payment was decided: never authorize it.
    Abandon,
    Nothing,
}

/// What `order_status` asks of a payment in `payment` (`None`: no row yet).
pub fn effect_of_order_status(
    order_status: OrderStatus,
    payment: Option<PaymentStatus>,
) -> StatusEffect {
    use OrderStatus::{Cancelled, Rejected, Shipped};
    use PaymentStatus::*;
    match (order_status, payment) {
        (Shipped, Some(Authorized)) => StatusEffect::Capture,
        (Cancelled | Rejected, Some(Authorized | Captured)) => StatusEffect::Refund,
        (Cancelled | Rejected, None | Some(Awaiting)) => StatusEffect::Abandon,
        // Declined, refunded and abandoned payments are closed; PENDING, CONFIRMED and
        // DELIVERED ask nothing of a payment.
        _ => StatusEffect::Nothing,
    }
}

/// The provider's idempotency key of `operation` on `order_id`'s payment: a retried call is
/// the same call.
pub fn idempotency_key(order_id: OrderId, operation: &str) -> String {
    format!("{order_id}:{operation}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use emporium_kernel::auth::Role;
    use emporium_kernel::money::Currency;

    fn payment(status: PaymentStatus) -> Payment {
        Payment {
            order_id: Uuid::now_v7().into(),
            id: Uuid::now_v7(),
            user_id: Some(Uuid::now_v7().into()),
            amount: Some(Money::parse_price("10.00", Currency::USD).expect("price")),
            token: Some(SealedCardToken::from_stored("tok_visa".to_owned())),
            is_stock_reserved: true,
            status,
            provider_reference: None,
            failure_reason: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_payment_is_due_once_its_intent_and_its_stock_are_both_there() {
        let ready = payment(PaymentStatus::Awaiting);
        assert!(ready.authorization_due().is_some());

        let unreserved = Payment {
            is_stock_reserved: false,
            ..ready.clone()
        };
        assert_eq!(unreserved.authorization_due(), None);
        let no_intent = Payment {
            user_id: None,
            amount: None,
            token: None,
            ..ready.clone()
        };
        assert_eq!(no_intent.authorization_due(), None);
        for status in [
            PaymentStatus::Authorized,
            PaymentStatus::Declined,
            PaymentStatus::Abandoned,
        ] {
            assert_eq!(payment(status).authorization_due(), None, "{status:?}");
        }
    }

    #[test]
    fn order_statuses_capture_refund_or_abandon() {
        use OrderStatus as O;
        use PaymentStatus::*;
        use StatusEffect as E;
        let cases = [
            (O::Shipped, Some(Authorized), E::Capture),
            (O::Shipped, Some(Captured), E::Nothing),
            (O::Shipped, Some(Awaiting), E::Nothing),
            (O::Cancelled, Some(Authorized), E::Refund),
            (O::Cancelled, Some(Captured), E::Refund),
            (O::Rejected, Some(Authorized), E::Refund),
            (O::Cancelled, Some(Awaiting), E::Abandon),
            (O::Rejected, None, E::Abandon),
            (O::Rejected, Some(Declined), E::Nothing),
            (O::Cancelled, Some(Refunded), E::Nothing),
            (O::Cancelled, Some(Abandoned), E::Nothing),
            (O::Confirmed, Some(Authorized), E::Nothing),
            (O::Delivered, Some(Captured), E::Nothing),
            (O::Pending, None, E::Nothing),
        ];
        for (order_status, payment, expected) in cases {
            assert_eq!(
                effect_of_order_status(order_status, payment),
                expected,
                "{order_status:?} with {payment:?}"
            );
        }
    }

    #[test]
    fn only_the_payer_and_admins_see_a_decided_payment() {
        let authorized = payment(PaymentStatus::Authorized);
        let payer = AuthUser {
            id: authorized.user_id.expect("user").into(),
            role: Role::Customer,
        };
        let stranger = AuthUser {
            id: Uuid::now_v7(),
            role: Role::Customer,
        };
        let admin = AuthUser {
            id: Uuid::now_v7(),
            role: Role::Admin,
        };
        assert!(authorized.is_visible_to(&payer));
        assert!(authorized.is_visible_to(&admin));
        assert!(!authorized.is_visible_to(&stranger));
        for undecided in [PaymentStatus::Awaiting, PaymentStatus::Abandoned] {
            assert!(!payment(undecided).is_visible_to(&admin), "{undecided:?}");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        use PaymentStatus::*;
        for status in [
            Awaiting, Authorized, Declined, Captured, Refunded, Abandoned,
        ] {
            assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(PaymentStatus::parse("authorized"), None);
    }

    #[test]
    fn card_tokens_never_show_in_debug_output() {
        let token = CardToken::parse("tok_secret_visa").expect("token");
        assert!(!format!("{token:?}").contains("secret"));
        assert_eq!(CardToken::parse(""), Err(TokenError::Empty));
        let keys = OpeningKeys::new(sealed::OpeningKey::generate(), vec![]);
        let (order, other): (OrderId, OrderId) = (Uuid::now_v7().into(), Uuid::now_v7().into());
        let sealed = SealedCardToken::seal(&token, order, keys.sealing_key()).expect("seal");
        assert!(!sealed.as_stored().contains("secret"));
        assert!(!format!("{sealed:?}").contains("secret"));
        assert_eq!(sealed.open(order, &keys), Ok(token.clone()));
        assert_eq!(sealed.open(other, &keys), Err(TokenError::Unsealable));
        assert_eq!(
            SealedCardToken::received(sealed.as_stored(), other, &keys),
            Err(TokenError::Unsealable)
        );
        assert_eq!(
            SealedCardToken::from_stored("tok_secret_visa".to_owned()).open(order, &keys),
            Ok(token),
            "a plaintext token stored before sealing is still read"
        );
        assert_eq!(
            CardToken::parse(&"t".repeat(MAX_TOKEN_LEN + 1)),
            Err(TokenError::TooLong)
        );
    }
}
