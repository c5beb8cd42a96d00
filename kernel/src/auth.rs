//! Access tokens: ES256-signed JWTs whose header names the signing key (`kid`), so keys can
//! rotate: the users service signs with its active key and publishes as a JWKS every key that
//! may still verify a live token, and the next key before it signs anything, so every
//! verifier knows it by the time it does; the router and every subgraph verify against it.
//!
//! Identity only ever comes from a verified token, never from plain headers, so a subgraph
//! reached directly is no way around authorization. [`ClientKey`] (which device or address a
//! request comes from) is read from headers, and is therefore only good for telling callers
//! apart when throttling, never for granting anything.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

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

/// An ES256 private key with its `kid`, as PKCS#8 PEM.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    pem: String,
    encoding: EncodingKey,
    public: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, AuthError> {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| AuthError::Key(e.to_string()))?;
        Self::from_pem(&pem)
    }

    pub fn from_pem(pem: &str) -> Result<Self, AuthError> {
        let encoding =
            EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| AuthError::Key(e.to_string()))?;
        let mut public = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .map_err(|e| AuthError::Key(e.to_string()))?;
        // RFC 7638 thumbprint: the same key always gets the same kid, wherever it is loaded.
        let thumbprint = public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| AuthError::Key(e.to_string()))?;
        let kid: String = thumbprint.chars().take(16).collect();
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        public.common.key_algorithm = Some(KeyAlgorithm::ES256);
        Ok(Self {
            kid,
            pem: pem.to_owned(),
            encoding,
            public,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PEM, for persisting a generated key. Never log it.
    pub fn to_pem(&self) -> &str {
        &self.pem
    }

    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| AuthError::Key(e.to_string()))
    }
}

/// The active signing key, the next one (published, not yet signing) and retired public keys
/// that still verify tokens issued before a rotation.
#[derive(Debug, Clone)]
pub struct Keyring {
    active: SigningKey,
    next: Option<Jwk>,
    retired: Vec<Jwk>,
}

impl Keyring {
    pub fn new(active: SigningKey, retired: Vec<SigningKey>) -> Self {
        Self {
            active,
            next: None,
            retired: retired.into_iter().map(|k| k.public).collect(),
        }
    }

    /// The same keyring also publishing `next`, the key that will sign after the rotation:
    /// verifiers that fetch the JWKS meanwhile accept its tokens from the first one.
    pub fn with_next(mut self, next: &SigningKey) -> Self {
        self.next = Some(next.public.clone());
        self
    }

    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    pub fn jwks(&self) -> JwkSet {
        let mut keys = vec![self.active.public.clone()];
        keys.extend(self.next.iter().cloned());
        keys.extend(self.retired.iter().cloned());
        JwkSet { keys }
    }
}

/// Verifies access tokens against a JWKS.
/// Verification keys by `kid`; replaced whole when the JWKS is fetched again.
type Keys = Arc<HashMap<String, DecodingKey>>;

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
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
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
        }
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

#[cfg(test)]
mod tests {
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
