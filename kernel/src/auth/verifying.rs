//! Verifying access tokens against a JWKS, fetched from the users service and kept fresh, so a
//! rotated key is accepted by the time it signs.
//!
//! Failure: a token that is malformed, expired, signed by an unknown key or with wrong claims is
//! refused ([`AuthError`]); a request with such a token is an [`Viewer::InvalidToken`], never an
//! anonymous one. A JWKS that cannot be fetched keeps the keys already known.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::{AuthError, AuthUser, Claims, TokenSession, Viewer, AUDIENCE, ISSUER};

/// Verification keys by `kid`; replaced whole when the JWKS is fetched again.
type Keys = Arc<HashMap<String, DecodingKey>>;

/// Verifies access tokens against a JWKS.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Arc<std::sync::RwLock<Keys>>,
    validation: Arc<Validation>,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.current_keys();
        f.debug_struct("TokenVerifier")
            .field("kids", &keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn decoding_keys(jwks: &JwkSet) -> Result<HashMap<String, DecodingKey>, AuthError> {
    let mut keys = HashMap::new();
    for jwk in &jwks.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| AuthError::Key(e.to_string()))?;
        keys.insert(kid, key);
    }
    Ok(keys)
}

async fn get_jwks(client: &reqwest::Client, url: &str) -> Result<JwkSet, reqwest::Error> {
    client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json::<JwkSet>()
        .await
}

impl TokenVerifier {
    pub fn from_jwks(jwks: &JwkSet) -> Result<Self, AuthError> {
        let keys = decoding_keys(jwks)?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Clocks of one deployment agree closely; a short leeway keeps expiry meaningful.
        validation.leeway = 5;
        Ok(Self {
            keys: Arc::new(std::sync::RwLock::new(Arc::new(keys))),
            validation: Arc::new(validation),
        })
    }

    fn current_keys(&self) -> Keys {
        // A poisoned lock still holds a complete key set: writers only swap the Arc.
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the keys with those of `jwks` (a rotation added or retired some).
    pub fn replace_keys(&self, jwks: &JwkSet) -> Result<(), AuthError> {
        let keys = Arc::new(decoding_keys(jwks)?);
        match self.keys.write() {
            Ok(mut current) => *current = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
        Ok(())
    }

    /// Fetches the JWKS at `url` again every `interval` until `shutdown`, so a service that
    /// got its keys over the network follows key rotations without a restart. A failed
    /// fetch keeps the keys it has.
    pub async fn keep_refreshed(
        self,
        url: String,
        interval: std::time::Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let client = reqwest::Client::new();
        crate::service::every(interval, &shutdown, || async {
            match get_jwks(&client, &url).await {
                Ok(jwks) => {
                    if let Err(err) = self.replace_keys(&jwks) {
                        tracing::warn!(%url, error = %err, "the fetched JWKS is unusable; keeping the current keys");
                    }
                }
                Err(err) => {
                    tracing::warn!(%url, error = %err, "could not refresh the JWKS; keeping the current keys");
                }
            }
        })
        .await;
    }

    /// Fetches the users service's JWKS, retrying while it starts up.
    pub async fn fetch(url: &str, attempts: u32) -> Result<Self, AuthError> {
        let client = reqwest::Client::new();
        let mut delay = std::time::Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match get_jwks(&client, url).await {
                Ok(jwks) => return Self::from_jwks(&jwks),
                Err(source) if attempt >= attempts => {
                    return Err(AuthError::JwksFetch {
                        url: url.to_owned(),
                        source,
                    })
                }
                Err(err) => {
                    tracing::warn!(%url, attempt, error = %err, "JWKS not reachable yet, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(2));
                    attempt += 1;
                }
            }
        }
    }

    pub fn verify(&self, token: &str) -> Result<AuthUser, AuthError> {
        self.verify_claims(token).map(|claims| AuthUser {
            id: claims.sub,
            role: claims.role,
        })
    }

    fn verify_claims(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let keys = self.current_keys();
        let key = keys.get(&kid).ok_or(AuthError::UnknownKey)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                    _ => AuthError::Invalid,
                }
            })?;
        Ok(data.claims)
    }

    /// The viewer for an `Authorization` header value (or its absence).
    pub fn viewer(&self, authorization: Option<&str>) -> Viewer {
        self.authenticate(authorization).0
    }

    /// The viewer for an `Authorization` header value, and the login its token belongs to.
    pub fn authenticate(&self, authorization: Option<&str>) -> (Viewer, TokenSession) {
        let Some(value) = authorization else {
            return (Viewer::Anonymous, TokenSession::default());
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        match self.verify_claims(token) {
            Ok(claims) => (
                Viewer::User(AuthUser {
                    id: claims.sub,
                    role: claims.role,
                }),
                TokenSession(claims.sid),
            ),
            Err(err) => {
                tracing::debug!(error = %err, "rejected access token");
                (Viewer::InvalidToken, TokenSession::default())
            }
        }
    }
}
