//! The payment provider port: authorize an amount against a card token, capture it when the
//! order ships, refund it when a confirmed order is cancelled. Every call carries an
//! idempotency key (the order id and the operation), so a retried call never charges twice.
//!
//! [`TestProvider`] is the provider of this platform: tokens starting `tok_decline` are
//! declined, any other `tok_` token is approved, and anything else is not a token at all. It
//! moves no money, so it refuses to exist in production ([`TestProvider::for_environment`]).
//!
//! A real provider plugs in by implementing [`PaymentProvider`] (authorize, capture, refund,
//! each idempotent per key, returning `Unavailable` for anything worth retrying), giving
//! checkout its token check in place of [`is_test_token`], and being passed to
//! `Payments::new` where the CLI builds the payments service.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use emporium_kernel::money::Money;
use uuid::Uuid;

/// The reason the test provider gives for every declined card.
pub const CARD_DECLINED: &str = "CARD_DECLINED";

/// What the customer's card said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    Approved {
        reference: String,
    },
    /// `reason` is a stable code such as `CARD_DECLINED`: it becomes the payment's
    /// `failureReason` and the reason of `payment.declined`.
    Declined {
        reason: String,
    },
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

/// The test provider asked for in production.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "EMPORIUM_ENV=production, but the only payment provider built in is the test provider, \
     which approves every `tok_` token and moves no money: plug a real provider into the \
     PaymentProvider port (README, \"Payments\") before running in production"
)]
pub struct TestProviderInProduction;

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

/// How the test provider's authorization references start.
const REFERENCE_PREFIX: &str = "auth_";

/// The platform's test provider: deterministic by token, in memory, idempotent per key.
/// Clones share one state, so a test can keep a clone to look at what the service did.
#[derive(Clone, Default)]
pub struct TestProvider {
    state: Arc<TestState>,
}

#[derive(Default)]
struct TestState {
    /// Authorizations by reference.
    authorizations: Mutex<HashMap<String, (Money, State)>>,
    /// Answers already given, by idempotency key.
    answered: Mutex<HashMap<String, Authorization>>,
    /// Calls of `authorize`, repeats included.
    authorize_calls: AtomicUsize,
}

impl TestProvider {
    pub fn new() -> Self {
        Self::default()
    }

    /// The test provider, unless this is production: there it would approve every order
    /// without charging anyone.
    pub fn for_environment(is_production: bool) -> Result<Self, TestProviderInProduction> {
        if is_production {
            return Err(TestProviderInProduction);
        }
        Ok(Self::new())
    }

    /// The amount and whether it was captured and refunded (for tests).
    pub fn state_of(&self, reference: &str) -> Option<(Money, bool, bool)> {
        let authorizations = self.state.authorizations.lock().ok()?;
        authorizations
            .get(reference)
            .map(|(amount, state)| (*amount, state.captured, state.refunded))
    }

    /// How many authorizations were approved (a repeated key approves nothing new).
    pub fn authorization_count(&self) -> usize {
        self.state
            .authorizations
            .lock()
            .map_or(0, |authorizations| authorizations.len())
    }

    /// How many times `authorize` was called, repeats included.
    pub fn authorize_calls(&self) -> usize {
        self.state.authorize_calls.load(Ordering::SeqCst)
    }

    /// The authorization behind `reference`. A real provider keeps its authorizations; this
    /// one keeps them in memory, so after a restart of the process it takes any reference it
    /// could have issued as an open authorization (an order confirmed before the restart can
    /// still be shipped or cancelled).
    fn authorization<'a>(
        authorizations: &'a mut HashMap<String, (Money, State)>,
        reference: &str,
    ) -> Result<&'a mut (Money, State), ProviderError> {
        if !authorizations.contains_key(reference) {
            let issued_here = reference
                .strip_prefix(REFERENCE_PREFIX)
                .is_some_and(|rest| {
                    rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit())
                });
            let forgotten = Money::from_minor(0, emporium_kernel::money::Currency::USD)
                .ok()
                .filter(|_| issued_here)
                .ok_or_else(|| ProviderError::UnknownAuthorization(reference.to_owned()))?;
            authorizations.insert(reference.to_owned(), (forgotten, State::default()));
        }
        authorizations
            .get_mut(reference)
            .ok_or_else(|| ProviderError::UnknownAuthorization(reference.to_owned()))
    }

    /// Runs `change` on the state of the authorization behind `reference`, under the lock.
    fn with_authorization<T>(
        &self,
        reference: &str,
        change: impl FnOnce(&mut State) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let mut authorizations = self
            .state
            .authorizations
            .lock()
            .map_err(|_| Self::lock_failed())?;
        let (_, state) = Self::authorization(&mut authorizations, reference)?;
        change(state)
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
        self.state.authorize_calls.fetch_add(1, Ordering::SeqCst);
        if !is_test_token(token) {
            return Err(ProviderError::InvalidToken);
        }
        let mut answered = self
            .state
            .answered
            .lock()
            .map_err(|_| Self::lock_failed())?;
        if let Some(answer) = answered.get(idempotency_key) {
            return Ok(answer.clone());
        }
        let answer = if token.starts_with("tok_decline") {
            Authorization::Declined {
                reason: CARD_DECLINED.to_owned(),
            }
        } else {
            let reference = format!("{REFERENCE_PREFIX}{}", Uuid::now_v7().simple());
            self.state
                .authorizations
                .lock()
                .map_err(|_| Self::lock_failed())?
                .insert(reference.clone(), (amount, State::default()));
            Authorization::Approved { reference }
        };
        answered.insert(idempotency_key.to_owned(), answer.clone());
        Ok(answer)
    }

    async fn capture(&self, _idempotency_key: &str, reference: &str) -> Result<(), ProviderError> {
        self.with_authorization(reference, |state| {
            if state.refunded {
                return Err(ProviderError::OverRefund);
            }
            // Capturing again is the same capture.
            state.captured = true;
            Ok(())
        })
    }

    async fn refund(&self, _idempotency_key: &str, reference: &str) -> Result<(), ProviderError> {
        self.with_authorization(reference, |state| {
            // Refunding an authorization not captured voids it; refunding twice is the same
            // refund.
            state.refunded = true;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emporium_kernel::money::Currency;

    fn usd(amount: &str) -> Money {
        Money::parse_price(amount, Currency::USD).unwrap()
    }

    #[test]
    fn production_refuses_the_test_provider_with_a_message_saying_what_to_do() {
        assert!(TestProvider::for_environment(false).is_ok());
        let refused = TestProvider::for_environment(true).err().expect("refused");
        let message = refused.to_string();
        assert!(message.contains("EMPORIUM_ENV=production"), "{message}");
        assert!(message.contains("PaymentProvider"), "{message}");
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
        assert_eq!(provider.authorization_count(), 1);
        assert_eq!(provider.authorize_calls(), 2);
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

    #[tokio::test]
    async fn a_restarted_provider_still_captures_and_refunds_what_it_issued() {
        let before = TestProvider::new();
        let Ok(Authorization::Approved { reference }) = before
            .authorize("o9:authorize", "tok_visa", usd("12"))
            .await
        else {
            panic!("approved");
        };
        let after = TestProvider::new();
        after.capture("o9:capture", &reference).await.unwrap();
        after.refund("o9:refund", &reference).await.unwrap();
        assert_eq!(
            after.capture("o9:capture", "auth_not-one-of-ours").await,
            Err(ProviderError::UnknownAuthorization(
                "auth_not-one-of-ours".to_owned()
            ))
        );
    }
}
