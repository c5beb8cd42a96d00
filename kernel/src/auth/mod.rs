//! Access tokens: ES256-signed JWTs whose header names the signing key (`kid`), so keys can
//! rotate: the users service signs with its active key and publishes as a JWKS every key that
//! may still verify a live token, and the next key before it signs anything, so every
//! verifier knows it by the time it does; the router and every subgraph verify against it.
//!
//! Identity only ever comes from a verified token, never from plain headers, so a subgraph
//! reached directly is no way around authorization. [`ClientKey`] (which device or address a
//! request comes from) is read from headers, and is therefore only good for telling callers
//! apart when throttling, never for granting anything.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

mod signing;
mod verifying;

pub use signing::{Keyring, SigningKey};
pub use verifying::TokenVerifier;

/// Who issues access tokens, checked on every verification.
pub const ISSUER: &str = "emporium-users";
/// Who access tokens are for: the Emporium API as a whole (router and subgraphs).
pub const AUDIENCE: &str = "emporium";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the access token is malformed")]
    Malformed,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token's signature or claims are invalid")]
    Invalid,
    #[error("the access token was signed by an unknown key")]
    UnknownKey,
    #[error("signing key: {0}")]
    Key(String),
    #[error("fetching the JWKS from {url}: {source}")]
    JwksFetch {
        url: String,
        #[source]
        source: reqwest::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "CUSTOMER",
            Role::Admin => "ADMIN",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "CUSTOMER" => Some(Role::Customer),
            "ADMIN" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The claims of an Emporium access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The login (refresh-token family) the token was issued for, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

impl Claims {
    pub fn new(user_id: Uuid, role: Role, now: i64, ttl_secs: i64) -> Self {
        Self {
            sub: user_id,
            role,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + ttl_secs,
            jti: Uuid::now_v7(),
            sid: None,
        }
    }

    /// The same claims, for the login `session`.
    pub fn for_session(mut self, session: Uuid) -> Self {
        self.sid = Some(session);
        self
    }
}

/// The login (refresh-token family) a verified access token was issued for, if any: put into
/// every GraphQL request's data beside the [`Viewer`], so "every other session" can be told
/// from this one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenSession(pub Option<Uuid>);

/// A signed-in caller, as proven by a verified access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Who is calling: put into every GraphQL request's data by [`crate::http`].
#[derive(Debug, Clone)]
pub enum Viewer {
    Anonymous,
    User(AuthUser),
    /// A token was sent but did not verify. Treated as an error, never as anonymous: a client
    /// with an expired token must learn it has to refresh.
    InvalidToken,
}

impl Viewer {
    /// The signed-in user, `None` when anonymous, an error for a bad token.
    pub fn user(&self) -> Result<Option<AuthUser>, ApiError> {
        match self {
            Viewer::Anonymous => Ok(None),
            Viewer::User(user) => Ok(Some(*user)),
            Viewer::InvalidToken => Err(invalid_token()),
        }
    }

    pub fn require_user(&self) -> Result<AuthUser, ApiError> {
        self.user()?.ok_or_else(ApiError::unauthenticated)
    }

    pub fn require_admin(&self) -> Result<AuthUser, ApiError> {
        let user = self.require_user()?;
        if !user.is_admin() {
            return Err(ApiError::forbidden());
        }
        Ok(user)
    }
}

/// Which client a request comes from, as far as a subgraph can tell: the device's own id
/// (header [`ClientKey::CLIENT_ID_HEADER`], a random value a storefront keeps per device), else
/// the address the nearest proxy saw (the last entry of `X-Forwarded-For`), else
/// "unidentified". Put into every GraphQL request's data by [`crate::http`].
///
/// Headers can be forged by anyone who reaches the service: a key separates callers for
/// throttling (a failing client is slowed down without slowing down the others) and grants
/// nothing. `Debug` never shows it (a device id is a bearer secret of sorts).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    /// The header carrying a device's client id.
    pub const CLIENT_ID_HEADER: &'static str = "x-emporium-client";
    /// Longest client id taken as given; a longer one is cut (it is only a key).
    const MAX_CHARS: usize = 200;

    pub fn from_headers(client_id: Option<&str>, forwarded_for: Option<&str>) -> Self {
        let client_id = client_id.map(str::trim).filter(|id| !id.is_empty());
        if let Some(id) = client_id {
            return Self(format!(
                "id:{}",
                id.chars().take(Self::MAX_CHARS).collect::<String>()
            ));
        }
        let nearest_hop = forwarded_for
            .and_then(|list| list.rsplit(',').next())
            .map(str::trim)
            .filter(|hop| !hop.is_empty());
        match nearest_hop {
            Some(hop) => Self(format!(
                "ip:{}",
                hop.chars().take(Self::MAX_CHARS).collect::<String>()
            )),
            None => Self::default(),
        }
    }

    /// The key as stored: never print it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ClientKey {
    fn default() -> Self {
        Self("unidentified".to_owned())
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientKey(<redacted>)")
    }
}

fn invalid_token() -> ApiError {
    ApiError::new(
        crate::ErrorCode::Unauthenticated,
        "the access token is invalid or expired; sign in or refresh it",
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_signed_token_verifies_against_the_jwks() {
        let key = SigningKey::generate().expect("keygen");
        let keyring = Keyring::new(key.clone(), vec![]);
        let verifier = TokenVerifier::from_jwks(&keyring.jwks()).expect("jwks");
        let user_id = Uuid::now_v7();
        let token = key
            .sign(&Claims::new(user_id, Role::Admin, now(), 60))
            .expect("sign");

        let user = verifier.verify(&token).expect("valid token");
        assert_eq!(
            user,
            AuthUser {
                id: user_id,
                role: Role::Admin
            }
        );
    }

    #[tokio::test]
    async fn a_fetched_verifier_follows_the_published_keys() {
        use std::sync::Mutex;
        let old = SigningKey::generate().expect("keygen");
        let new = SigningKey::generate().expect("keygen");
        let published = Arc::new(Mutex::new(Keyring::new(old.clone(), vec![]).jwks()));
        let served = published.clone();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let jwks = served.lock().expect("lock").clone();
                async move { axum::Json(jwks) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let verifier = TokenVerifier::fetch(&url, 5).await.expect("fetch");
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(verifier.clone().keep_refreshed(
            url,
            std::time::Duration::from_millis(20),
            stop.clone(),
        ));
        let token = new
            .sign(&Claims::new(Uuid::new_v4(), Role::Customer, now(), 60))
            .expect("sign");
        assert!(verifier.verify(&token).is_err(), "not published yet");

        *published.lock().expect("lock") = Keyring::new(new, vec![old]).jwks();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while verifier.verify(&token).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the new key was never fetched"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        stop.cancel();
    }

    #[test]
    fn replacing_the_keys_follows_a_rotation() {
        let old = SigningKey::generate().expect("keygen");
        let new = SigningKey::generate().expect("keygen");
        let verifier =
            TokenVerifier::from_jwks(&Keyring::new(old.clone(), vec![]).jwks()).expect("jwks");
        let claims = Claims::new(Uuid::new_v4(), Role::Customer, now(), 60);
        let old_token = old.sign(&claims).expect("sign");
        let new_token = new.sign(&claims).expect("sign");
        assert!(matches!(
            verifier.verify(&new_token),
            Err(AuthError::UnknownKey)
        ));

        // The users service rotated: the new key signs, the old one is still published.
        let rotated = Keyring::new(new.clone(), vec![old.clone()]).jwks();
        verifier.clone().replace_keys(&rotated).expect("replace");
        assert!(verifier.verify(&new_token).is_ok(), "clones share the keys");
        assert!(verifier.verify(&old_token).is_ok());

        // The old key retired.
        verifier
            .replace_keys(&Keyring::new(new, vec![]).jwks())
            .expect("replace");
        assert!(matches!(
            verifier.verify(&old_token),
            Err(AuthError::UnknownKey)
        ));
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_are_rejected() {
        let key = SigningKey::generate().expect("keygen");
        let verifier =
            TokenVerifier::from_jwks(&Keyring::new(key.clone(), vec![]).jwks()).expect("jwks");
        let token = key
            .sign(&Claims::new(Uuid::now_v7(), Role::Customer, now(), 60))
            .expect("sign");

        // Flip the role claim without re-signing.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = String::from_utf8(engine.decode(&parts[1]).expect("b64")).expect("utf8");
        parts[1] = engine.encode(payload.replace("CUSTOMER", "ADMIN"));
        assert!(matches!(
            verifier.verify(&parts.join(".")),
            Err(AuthError::Invalid)
        ));

        let expired = key
            .sign(&Claims::new(
                Uuid::now_v7(),
                Role::Customer,
                now() - 3600,
                60,
            ))
            .expect("sign");
        assert!(matches!(verifier.verify(&expired), Err(AuthError::Expired)));

        let stranger = SigningKey::generate().expect("keygen");
        let foreign = stranger
            .sign(&Claims::new(Uuid::now_v7(), Role::Admin, now(), 60))
            .expect("sign");
        assert!(matches!(
            verifier.verify(&foreign),
            Err(AuthError::UnknownKey)
        ));
    }

    #[test]
    fn a_remembered_token_is_refused_once_it_expires_or_its_key_retires() {
        let old = SigningKey::generate().expect("keygen");
        let new = SigningKey::generate().expect("keygen");
        let verifier =
            TokenVerifier::from_jwks(&Keyring::new(new.clone(), vec![old.clone()]).jwks())
                .expect("jwks");
        let user_id = Uuid::now_v7();
        let token = old
            .sign(&Claims::new(user_id, Role::Customer, now(), 60))
            .expect("sign");
        let keys = verifier.current_keys();

        assert!(verifier.remembered(&token, &keys, now(), 5).is_none());
        assert_eq!(verifier.verify(&token).expect("valid").id, user_id);
        let remembered = verifier
            .remembered(&token, &keys, now(), 5)
            .expect("a verified token is remembered")
            .expect("and still valid");
        assert_eq!(remembered.sub, user_id);
        assert!(
            verifier
                .clone()
                .remembered(&token, &keys, now(), 5)
                .is_some(),
            "clones share what they verified"
        );

        // An hour later the remembered token has expired, as its claims say.
        assert!(matches!(
            verifier.verify_claims_at(&token, now() + 3600),
            Err(AuthError::Expired)
        ));
        assert_eq!(verifier.verify(&token).expect("valid now").id, user_id);

        // Its key retired: refused, though it verified a moment ago.
        verifier
            .replace_keys(&Keyring::new(new, vec![]).jwks())
            .expect("replace");
        assert!(matches!(
            verifier.verify(&token),
            Err(AuthError::UnknownKey)
        ));
    }

    #[test]
    fn a_next_key_is_published_before_it_signs() {
        let old = SigningKey::generate().expect("keygen");
        let new = SigningKey::generate().expect("keygen");
        let published = Keyring::new(old.clone(), vec![]).with_next(&new);
        let verifier = TokenVerifier::from_jwks(&published.jwks()).expect("jwks");
        let claims = Claims::new(Uuid::now_v7(), Role::Customer, now(), 60);

        let before = published.active().sign(&claims).expect("sign");
        let after = Keyring::new(new, vec![old])
            .active()
            .sign(&claims)
            .expect("sign");

        assert_eq!(published.jwks().keys.len(), 2);
        assert!(verifier.verify(&before).is_ok());
        assert!(verifier.verify(&after).is_ok(), "known before it signed");
    }

    #[test]
    fn retired_keys_still_verify_after_a_rotation() {
        let old = SigningKey::generate().expect("keygen");
        let new = SigningKey::generate().expect("keygen");
        let token = old
            .sign(&Claims::new(Uuid::now_v7(), Role::Customer, now(), 60))
            .expect("sign");
        let verifier =
            TokenVerifier::from_jwks(&Keyring::new(new, vec![old.clone()]).jwks()).expect("jwks");
        assert!(verifier.verify(&token).is_ok());
    }

    #[test]
    fn a_key_keeps_its_kid_across_pem_round_trips() {
        let key = SigningKey::generate().expect("keygen");
        let reloaded = SigningKey::from_pem(key.to_pem()).expect("pem");
        assert_eq!(key.kid(), reloaded.kid());
    }

    #[test]
    fn a_client_is_its_device_id_else_its_nearest_forwarded_address() {
        let by_id = ClientKey::from_headers(Some(" device-1 "), Some("10.0.0.1"));
        let by_address = ClientKey::from_headers(None, Some("198.51.100.7, 10.0.0.1"));
        let unknown = ClientKey::from_headers(Some(" "), Some(" "));
        assert_eq!(by_id.as_str(), "id:device-1");
        assert_eq!(
            by_address.as_str(),
            "ip:10.0.0.1",
            "the hop our proxy added"
        );
        assert_eq!(unknown, ClientKey::default());
        assert!(!format!("{by_id:?}").contains("device-1"));
    }

    #[test]
    fn a_bad_header_is_an_invalid_viewer_not_anonymous() {
        let key = SigningKey::generate().expect("keygen");
        let verifier = TokenVerifier::from_jwks(&Keyring::new(key, vec![]).jwks()).expect("jwks");
        assert!(matches!(verifier.viewer(None), Viewer::Anonymous));
        assert!(matches!(
            verifier.viewer(Some("Bearer nonsense")),
            Viewer::InvalidToken
        ));
    }
}
