//! What a checkout request must hold before anything is stored: a shipping address, a
//! payment token of the provider's shape, and an idempotency key. A [`CheckoutRequest`] is
//! built only by [`CheckoutRequest::parse`], so one that exists is valid; parsing reports every
//! problem at once, each naming the input field it is about.

use serde::{Deserialize, Serialize};

/// The longest text of an address line, a city or a postal code.
pub const MAX_ADDRESS_FIELD: usize = 200;
/// The longest idempotency key (clients usually send a UUID).
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// A shipping address as stored with the order (trimmed; `country` an ISO 3166-1 alpha-2
/// code in upper case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl Address {
    /// The address trimmed and checked, or every problem with it (each on its field below
    /// `shippingAddress`): what checkout and the cart's shipping address accept.
    pub fn parse(self) -> Result<Address, Vec<Invalid>> {
        let mut problems = Vec::new();
        let address = self.checked(&mut problems);
        if problems.is_empty() {
            Ok(address)
        } else {
            Err(problems)
        }
    }

    fn checked(self, problems: &mut Vec<Invalid>) -> Address {
        let line1 = required(&self.line1, &["shippingAddress", "line1"], problems);
        let line2 = self
            .line2
            .as_deref()
            .map(|line| required(line, &["shippingAddress", "line2"], &mut Vec::new()))
            .filter(|line| !line.is_empty());
        if line2
            .as_ref()
            .is_some_and(|line| line.chars().count() > MAX_ADDRESS_FIELD)
        {
            problems.push(Invalid {
                field: &["shippingAddress", "line2"],
                message: format!("must be at most {MAX_ADDRESS_FIELD} characters"),
            });
        }
        let city = required(&self.city, &["shippingAddress", "city"], problems);
        let postal_code = required(
            &self.postal_code,
            &["shippingAddress", "postalCode"],
            problems,
        );
        let country = self.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            problems.push(Invalid {
                field: &["shippingAddress", "country"],
                message: "must be a two-letter ISO 3166 country code, such as US or DE".to_owned(),
            });
        }
        Address {
            line1,
            line2,
            city,
            postal_code,
            country,
        }
    }
}

/// A checkout as the client sent it, trimmed and checked.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    address: Address,
    payment_token: String,
    idempotency_key: String,
}

/// One problem with the input: the field's path below `input` and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {message}", field.join("."))]
pub struct Invalid {
    pub field: &'static [&'static str],
    pub message: String,
}

fn required(value: &str, field: &'static [&'static str], problems: &mut Vec<Invalid>) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        problems.push(Invalid {
            field,
            message: "is required".to_owned(),
        });
    } else if trimmed.chars().count() > MAX_ADDRESS_FIELD {
        problems.push(Invalid {
            field,
            message: format!("must be at most {MAX_ADDRESS_FIELD} characters"),
        });
    }
    trimmed.to_owned()
}

impl CheckoutRequest {
    /// Trims and checks every field; all problems at once, so a form can mark each.
    /// `is_token` is the payment provider's idea of a well-formed token.
    pub fn parse(
        address: Address,
        payment_token: &str,
        idempotency_key: &str,
        is_token: impl Fn(&str) -> bool,
    ) -> Result<Self, Vec<Invalid>> {
        let mut problems = Vec::new();
        let address = address.checked(&mut problems);
        let payment_token = payment_token.trim();
        if !is_token(payment_token) {
            problems.push(Invalid {
                field: &["paymentToken"],
                message: "is not a payment token".to_owned(),
            });
        }
        let idempotency_key = idempotency_key.trim();
        if idempotency_key.is_empty() || idempotency_key.chars().count() > MAX_IDEMPOTENCY_KEY {
            problems.push(Invalid {
                field: &["idempotencyKey"],
                message: format!("must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            address,
            payment_token: payment_token.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
        })
    }

    /// The shipping address (trimmed; the country upper-case).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The payment provider's token (trimmed).
    pub fn payment_token(&self) -> &str {
        &self.payment_token
    }

    /// The client's idempotency key (trimmed).
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// What the idempotency key promises to repeat: the same address and token. (The cart is
    /// not part of it: the replay answers with the order the first request placed.)
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        let address = serde_json::to_string(&self.address).unwrap_or_default();
        hasher.update(address.as_bytes());
        hasher.update([0]);
        hasher.update(self.payment_token.as_bytes());
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> Address {
        Address {
            line1: " 1 Main St ".into(),
            line2: Some("  ".into()),
            city: "Springfield".into(),
            postal_code: "12345".into(),
            country: "us".into(),
        }
    }

    fn token(t: &str) -> bool {
        t.starts_with("tok_")
    }

    #[test]
    fn a_good_request_is_trimmed_and_normalised() {
        let request = CheckoutRequest::parse(address(), " tok_visa ", " key-1 ", token).unwrap();
        assert_eq!(request.address.line1, "1 Main St");
        assert_eq!(request.address.line2, None);
        assert_eq!(request.address.country, "US");
        assert_eq!(request.payment_token, "tok_visa");
        assert_eq!(request.idempotency_key, "key-1");
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let bad = Address {
            line1: "".into(),
            line2: Some("x".repeat(201)),
            city: " ".into(),
            postal_code: "1".into(),
            country: "United States".into(),
        };
        let problems = CheckoutRequest::parse(bad, "card-4242", "", token).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field.join(".")).collect();
        assert_eq!(problems[0].to_string(), "shippingAddress.line1 is required");
        assert_eq!(
            fields,
            [
                "shippingAddress.line1",
                "shippingAddress.line2",
                "shippingAddress.city",
                "shippingAddress.country",
                "paymentToken",
                "idempotencyKey"
            ]
        );
    }

    #[test]
    fn the_digest_changes_with_the_address_or_the_token_only() {
        let a = CheckoutRequest::parse(address(), "tok_visa", "k", token).unwrap();
        let same = CheckoutRequest::parse(address(), "tok_visa", "other", token).unwrap();
        let other_token = CheckoutRequest::parse(address(), "tok_mc", "k", token).unwrap();
        let mut moved = address();
        moved.city = "Shelbyville".into();
        let other_city = CheckoutRequest::parse(moved, "tok_visa", "k", token).unwrap();
        assert_eq!(a.digest(), same.digest());
        assert_ne!(a.digest(), other_token.digest());
        assert_ne!(a.digest(), other_city.digest());
    }
}
