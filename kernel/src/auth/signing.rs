//! Signing access tokens: an ES256 key with a stable `kid` (its RFC 7638 thumbprint), and the
//! keyring the users service signs with and publishes as a JWKS (active, next and retired keys).
//!
//! Failure: a key that cannot be generated, parsed or used to sign is [`AuthError::Key`]; the
//! private key never appears in a message or in `Debug` output.

use std::fmt;

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::{AuthError, Claims};

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
