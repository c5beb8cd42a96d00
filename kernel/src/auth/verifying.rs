//! Verifying access tokens against a JWKS, fetched from the users service and kept fresh, so a
//! rotated key is accepted by the time it signs.
//!
//! A token that verified is remembered (a bounded map per verifier and its clones), so the same
//! token presented again, by every subgraph one request reaches and by the next requests of the
//! session, costs a lookup instead of a P-256 verification. A remembered token is still refused
//! once it expired or once its key left the JWKS, exactly as a fresh verification would.
//!
//! Failure: a token that is malformed, expired, signed by an unknown key or with wrong claims is
//! refused ([`AuthError`]); a request with such a token is an [`Viewer::InvalidToken`], never an
//! anonymous one. A JWKS that cannot be fetched keeps the keys already known.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

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
    verified: Arc<Mutex<Verified>>,
}

/// The most verified tokens a verifier remembers. Only tokens whose signature verified get in,
/// so filling it takes valid logins, each of which costs its password hash; when it is full,
/// the expired ones go, and if none has, all of them.
const REMEMBERED_TOKENS: usize = 4096;

/// Tokens that verified, with the key that signed them.
#[derive(Default)]
struct Verified {
    by_token: HashMap<String, (String, Claims)>,
}

impl Verified {
    fn remember(&mut self, token: &str, kid: String, claims: Claims, now: i64, leeway: i64) {
        if self.by_token.len() >= REMEMBERED_TOKENS {
            self.by_token
                .retain(|_, (_, claims)| !is_expired(claims, now, leeway));
            if self.by_token.len() >= REMEMBERED_TOKENS {
                self.by_token.clear();
            }
        }
        self.by_token.insert(token.to_owned(), (kid, claims));
    }
}

/// Whether `claims` expired at `now`, allowing `leeway` seconds as the validation does.
fn is_expired(claims: &Claims, now: i64, leeway: i64) -> bool {
    claims.exp < now - leeway
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
            verified: Arc::new(Mutex::new(Verified::default())),
        })
    }

    pub(super) fn current_keys(&self) -> Keys {
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
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
        self.verify_claims_at(token, now)
    }

    /// [`TokenVerifier::verify_claims`] with the clock reading `now` for remembered tokens (a
    /// token verified afresh is checked against the real clock).
    pub(super) fn verify_claims_at(&self, token: &str, now: i64) -> Result<Claims, AuthError> {
        let keys = self.current_keys();
        let leeway = self.validation.leeway as i64;
        if let Some(remembered) = self.remembered(token, &keys, now, leeway) {
            return remembered;
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = keys.get(&kid).ok_or(AuthError::UnknownKey)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                    _ => AuthError::Invalid,
                }
            })?;
        self.lock_verified()
            .remember(token, kid, data.claims.clone(), now, leeway);
        Ok(data.claims)
    }

    /// What verifying `token` again would say, if it verified before: its claims while its
    /// key is still known and it has not expired. `None` when it was never verified, or its
    /// key is gone (then it is verified afresh, and refused).
    pub(super) fn remembered(
        &self,
        token: &str,
        keys: &HashMap<String, DecodingKey>,
        now: i64,
        leeway: i64,
    ) -> Option<Result<Claims, AuthError>> {
        let mut verified = self.lock_verified();
        let (kid, claims) = verified.by_token.get(token)?;
        if !keys.contains_key(kid) {
            verified.by_token.remove(token);
            return None;
        }
        if is_expired(claims, now, leeway) {
            verified.by_token.remove(token);
            return Some(Err(AuthError::Expired));
        }
        Some(Ok(claims.clone()))
    }

    fn lock_verified(&self) -> std::sync::MutexGuard<'_, Verified> {
        // A poisoned map is still a map of tokens that verified: its entries are inserted whole.
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
