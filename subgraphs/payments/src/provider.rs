//! The payment provider port: authorize an amount against a card token, capture it when the
//! order ships, refund it when a confirmed order is cancelled. Every call carries an
//! idempotency key (the order id and the operation), so a retried call never charges twice.
//!
//! [`TestProvider`] is the provider of this platform: tokens starting `tok_decline` are
//! declined, any other `tok_` token is approved, and anything else is not a token at all.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use emporium_kernel::money::Money;
use uuid::Uuid;

/// What the customer's card said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    Approved { reference: String },
    Declined { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Not a payment token: the customer's input is wrong (a userError at checkout).
    #[error("not a payment token")]
    InvalidToken,
    /// Capture or refund of an authorization the provider does not know.
    #[error("unknown authorization {0}")]
    UnknownAuthorization(String),
    #[error("refunds exceed what was captured or authorized")]
    OverRefund,
    /// The provider could not be reached: retry later.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider. Implementations must be idempotent per `idempotency_key`.
pub trait PaymentProvider: Send + Sync {
    fn authorize(
        &self,
        idempotency_key: &str,
        token: &str,
        amount: Money,
    ) -> impl Future<Output = Result<Authorization, ProviderError>> + Send;

    fn capture(
        &self,
        idempotency_key: &str,
        reference: &str,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    fn refund(
        &self,
        idempotency_key: &str,
        reference: &str,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
}

/// Whether `token` is shaped like a token of the test provider (checked at checkout).
pub fn is_test_token(token: &str) -> bool {
    token.len() <= 128
        && token.strip_prefix("tok_").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// Where an authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct State {
    captured: bool,
    /// Refunded after a capture, or voided before one.
    refunded: bool,
}

/// The platform's test provider: deterministic by token, in memory, idempotent per key.
#[derive(Default)]
pub struct TestProvider {
    /// Authorizations by reference.
    authorizations: Mutex<HashMap<String, (Money, State)>>,
    /// Answers already given, by idempotency key.
    answered: Mutex<HashMap<String, Authorization>>,
}

impl TestProvider {
    pub fn new() -> Self {
        Self::default()
    }

    /// The amount and whether it was captured and refunded (for tests).
    pub fn state_of(&self, reference: &str) -> Option<(Money, bool, bool)> {
        let authorizations = self.authorizations.lock().ok()?;
        authorizations
            .get(reference)
            .map(|(amount, state)| (*amount, state.captured, state.refunded))
    }

    fn lock_failed() -> ProviderError {
        ProviderError::Unavailable("the test provider's state is poisoned".to_owned())
    }
}

impl PaymentProvider for TestProvider {
    async fn authorize(
        &self,
        idempotency_key: &str,
        token: &str,
        amount: Money,
    ) -> Result<Authorization, ProviderError> {
        if !is_test_token(token) {
            return Err(ProviderError::InvalidToken);
        }
        let mut answered = self.answered.lock().map_err(|_| Self::lock_failed())?;
        if let Some(answer) = answered.get(idempotency_key) {
            return Ok(answer.clone());
        }
        let answer = if token.starts_with("tok_decline") {
            Authorization::Declined {
                reason: "the card was declined".to_owned(),
            }
        } else {
            let reference = format!("auth_{}", Uuid::now_v7().simple());
            self.authorizations
                .lock()
                .map_err(|_| Self::lock_failed())?
                .insert(reference.clone(), (amount, State::default()));
            Authorization::Approved { reference }
        };
        answered.insert(idempotency_key.to_owned(), answer.clone());
        Ok(answer)
    }

    async fn capture(&self, _idempotency_key: &str, reference: &str) -> Result<(), ProviderError> {
        let mut authorizations = self
            .authorizations
            .lock()
            .map_err(|_| Self::lock_failed())?;
        let (_, state) = authorizations
            .get_mut(reference)
            .ok_or_else(|| ProviderError::UnknownAuthorization(reference.to_owned()))?;
        if state.refunded {
            return Err(ProviderError::OverRefund);
        }
        // Capturing again is the same capture.
        state.captured = true;
        Ok(())
    }

    async fn refund(&self, _idempotency_key: &str, reference: &str) -> Result<(), ProviderError> {
        let mut authorizations = self
            .authorizations
            .lock()
            .map_err(|_| Self::lock_failed())?;
        let (_, state) = authorizations
            .get_mut(reference)
            .ok_or_else(|| ProviderError::UnknownAuthorization(reference.to_owned()))?;
        // Refunding an authorization not captured voids it; refunding twice is the same refund.
        state.refunded = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emporium_kernel::money::Currency;

    fn usd(amount: &str) -> Money {
        Money::parse_price(amount, Currency::USD).unwrap()
    }

    #[tokio::test]
    async fn tokens_decide_the_answer() {
        let provider = TestProvider::new();
        assert!(matches!(
            provider
                .authorize("o1:authorize", "tok_visa", usd("10"))
                .await,
            Ok(Authorization::Approved { .. })
        ));
        assert!(matches!(
            provider
                .authorize("o2:authorize", "tok_decline_insufficient", usd("10"))
                .await,
            Ok(Authorization::Declined { .. })
        ));
        for bad in ["visa", "tok_", "tok_a b", "", "TOK_visa"] {
            assert_eq!(
                provider.authorize("o3:authorize", bad, usd("10")).await,
                Err(ProviderError::InvalidToken),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_same_key_authorizes_once() {
        let provider = TestProvider::new();
        let first = provider
            .authorize("o1:authorize", "tok_visa", usd("25.50"))
            .await
            .unwrap();
        let again = provider
            .authorize("o1:authorize", "tok_visa", usd("25.50"))
            .await
            .unwrap();
        assert_eq!(first, again, "a retry gets the same authorization");
        let Authorization::Approved { reference } = first else {
            panic!("approved");
        };
        assert_eq!(provider.authorizations.lock().unwrap().len(), 1);
        provider.capture("o1:capture", &reference).await.unwrap();
        provider.capture("o1:capture", &reference).await.unwrap();
        assert_eq!(
            provider.state_of(&reference),
            Some((usd("25.50"), true, false))
        );
        provider.refund("o1:refund", &reference).await.unwrap();
        provider.refund("o1:refund", &reference).await.unwrap();
        assert_eq!(
            provider.state_of(&reference),
            Some((usd("25.50"), true, true))
        );
        assert_eq!(
            provider.capture("o1:capture-2", &reference).await,
            Err(ProviderError::OverRefund)
        );
        let Ok(Authorization::Approved { reference: voided }) =
            provider.authorize("o4:authorize", "tok_mc", usd("5")).await
        else {
            panic!("approved");
        };
        provider.refund("o4:refund", &voided).await.unwrap();
        assert_eq!(
            provider.state_of(&voided),
            Some((usd("5"), false, true)),
            "voided, never captured"
        );
        assert!(matches!(
            provider.refund("x", "auth_unknown").await,
            Err(ProviderError::UnknownAuthorization(_))
        ));
    }
}
