//! Sealing a secret to the one service that may read it: anyone holding the public
//! [`SealingKey`] can seal, only the holder of the private [`OpeningKey`] can open.
//!
//! Orders seals a customer's payment token to the payments service's key before the token
//! enters its outbox, so the outbox, the broker, dead-letter queues and logs only ever hold
//! ciphertext; a leak of any of them (or of the orders service itself, after the request)
//! reveals no token.
//!
//! The scheme is ECIES on P-256, as in HPKE's base mode: a fresh ephemeral key per message,
//! ECDH with the recipient's static key, HKDF-SHA256 over the shared secret (salted with both
//! public keys) for a one-time ChaCha20-Poly1305 key and nonce. A `context` (the order id) is
//! authenticated with the ciphertext, so a sealed token copied into another order's event does
//! not open. The sealed form is one ASCII string: `v1.<kid>.<ephemeral key>.<ciphertext>`
//! (base64url), `kid` naming the recipient key so keys can rotate.
//!
//! Failures are typed ([`SealError`]): a malformed string, a key this holder does not have,
//! or a ciphertext that fails authentication (tampered, wrong context). None of them says
//! anything about the plaintext.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use p256::elliptic_curve::ecdh::{diffie_hellman, EphemeralSecret, SharedSecret};
use p256::elliptic_curve::rand_core::OsRng;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use p256::{NistP256, PublicKey, SecretKey};
use sha2::{Digest, Sha256};

/// The version prefix of the sealed form.
const VERSION: &str = "v1";
/// Binds the derived key to this scheme.
const INFO: &[u8] = b"emporium sealed v1 chacha20poly1305";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the key is invalid: {0}")]
    Key(String),
    #[error("not a sealed value")]
    Malformed,
    #[error("sealed to a key this service does not hold (kid {0})")]
    UnknownKey(String),
    #[error("the sealed value does not open: tampered, or sealed for another context")]
    Unauthentic,
}

/// The public half: seals values that only the matching [`OpeningKey`] opens.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey {
    public: PublicKey,
    kid: String,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl SealingKey {
    fn new(public: PublicKey) -> Self {
        let digest = Sha256::digest(public.to_encoded_point(true).as_bytes());
        // Like a JWK thumbprint: the same key always gets the same kid, wherever it is loaded.
        let kid = URL_SAFE_NO_PAD.encode(digest).chars().take(16).collect();
        Self { public, kid }
    }

    /// Reads the form [`SealingKey::encode`] writes (base64url of the compressed SEC1 point).
    pub fn decode(encoded: &str) -> Result<Self, SealError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded.trim())
            .map_err(|e| SealError::Key(e.to_string()))?;
        let public =
            PublicKey::from_sec1_bytes(&bytes).map_err(|e| SealError::Key(e.to_string()))?;
        Ok(Self::new(public))
    }

    /// The public key as text, safe to publish.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public.to_encoded_point(true).as_bytes())
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Seals `plaintext` for the holder of the private key, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<String, SealError> {
        let ephemeral = EphemeralSecret::<NistP256>::random(&mut OsRng);
        let ephemeral_public = ephemeral.public_key().to_encoded_point(true);
        let shared = ephemeral.diffie_hellman(&self.public);
        let cipher = Cipher::derive(&shared, ephemeral_public.as_bytes(), &self.public)?;
        let ciphertext = cipher.seal(plaintext, context)?;
        Ok(format!(
            "{VERSION}.{}.{}.{}",
            self.kid,
            URL_SAFE_NO_PAD.encode(ephemeral_public.as_bytes()),
            URL_SAFE_NO_PAD.encode(ciphertext)
        ))
    }
}

/// The private half, as PKCS#8 PEM on disk. Never log it.
#[derive(Clone)]
pub struct OpeningKey {
    secret: SecretKey,
    sealing: SealingKey,
}

impl fmt::Debug for OpeningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpeningKey")
            .field("kid", &self.sealing.kid)
            .finish_non_exhaustive()
    }
}

impl OpeningKey {
    pub fn generate() -> Self {
        Self::from_secret(SecretKey::random(&mut OsRng))
    }

    fn from_secret(secret: SecretKey) -> Self {
        let sealing = SealingKey::new(secret.public_key());
        Self { secret, sealing }
    }

    pub fn from_pem(pem: &str) -> Result<Self, SealError> {
        let secret = SecretKey::from_pkcs8_pem(pem).map_err(|e| SealError::Key(e.to_string()))?;
        Ok(Self::from_secret(secret))
    }

    /// The private key as PKCS#8 PEM, for persisting a generated key.
    pub fn to_pem(&self) -> Result<String, SealError> {
        self.secret
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| SealError::Key(e.to_string()))
    }

    pub fn sealing_key(&self) -> &SealingKey {
        &self.sealing
    }

    pub fn kid(&self) -> &str {
        &self.sealing.kid
    }

    fn open_parts(&self, parts: &SealedParts, context: &[u8]) -> Result<Vec<u8>, SealError> {
        let ephemeral =
            PublicKey::from_sec1_bytes(&parts.ephemeral).map_err(|_| SealError::Malformed)?;
        let shared = diffie_hellman(self.secret.to_nonzero_scalar(), ephemeral.as_affine());
        let cipher = Cipher::derive(&shared, &parts.ephemeral, &self.sealing.public)?;
        cipher.open(&parts.ciphertext, context)
    }
}

/// The private keys of a service: the active one, whose public half it publishes, and the
/// retired ones it still opens with while values sealed to them may be in flight.
#[derive(Debug, Clone)]
pub struct OpeningKeys {
    active: OpeningKey,
    retired: Vec<OpeningKey>,
}

impl OpeningKeys {
    pub fn new(active: OpeningKey, retired: Vec<OpeningKey>) -> Self {
        Self { active, retired }
    }

    /// The key others should seal to.
    pub fn sealing_key(&self) -> &SealingKey {
        self.active.sealing_key()
    }

    /// Opens a value sealed to any of these keys with the same `context`.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, SealError> {
        let parts = SealedParts::parse(sealed)?;
        let key = std::iter::once(&self.active)
            .chain(&self.retired)
            .find(|key| key.kid() == parts.kid)
            .ok_or_else(|| SealError::UnknownKey(parts.kid.clone()))?;
        key.open_parts(&parts, context)
    }
}

/// Whether `value` has the shape of a sealed value (it may still not open).
pub fn is_sealed(value: &str) -> bool {
    SealedParts::parse(value).is_ok()
}

struct SealedParts {
    kid: String,
    ephemeral: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl SealedParts {
    fn parse(sealed: &str) -> Result<Self, SealError> {
        let mut parts = sealed.split('.');
        let (Some(VERSION), Some(kid), Some(ephemeral), Some(ciphertext), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(SealError::Malformed);
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| SealError::Malformed)
        };
        Ok(Self {
            kid: kid.to_owned(),
            ephemeral: decode(ephemeral)?,
            ciphertext: decode(ciphertext)?,
        })
    }
}

/// A one-time AEAD key and nonce derived from one ECDH.
struct Cipher {
    cipher: ChaCha20Poly1305,
    nonce: [u8; 12],
}

impl Cipher {
    fn derive(
        shared: &SharedSecret<NistP256>,
        ephemeral_public: &[u8],
        recipient: &PublicKey,
    ) -> Result<Self, SealError> {
        let salt = [
            ephemeral_public,
            recipient.to_encoded_point(true).as_bytes(),
        ]
        .concat();
        let mut okm = [0u8; 44];
        shared
            .extract::<Sha256>(Some(&salt))
            .expand(INFO, &mut okm)
            .map_err(|e| SealError::Key(e.to_string()))?;
        let (key, nonce) = okm.split_at(32);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        Ok(Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
            nonce,
        })
    }

    fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        self.cipher
            .encrypt(
                Nonce::from_slice(&self.nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| SealError::Key("encryption failed".to_owned()))
    }

    fn open(&self, ciphertext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        self.cipher
            .decrypt(
                Nonce::from_slice(&self.nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| SealError::Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_the_private_key_and_its_context_only() {
        let key = OpeningKey::generate();
        let keys = OpeningKeys::new(key.clone(), vec![]);
        let sealed = key
            .sealing_key()
            .seal(b"tok_secret_visa", b"order-1")
            .expect("seal");
        assert!(!sealed.contains("secret"), "{sealed}");
        assert!(is_sealed(&sealed));
        assert_eq!(
            keys.open(&sealed, b"order-1").expect("open"),
            b"tok_secret_visa"
        );
        assert_eq!(keys.open(&sealed, b"order-2"), Err(SealError::Unauthentic));

        let other = OpeningKeys::new(OpeningKey::generate(), vec![]);
        assert!(matches!(
            other.open(&sealed, b"order-1"),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn sealing_twice_gives_different_values() {
        let key = OpeningKey::generate();
        let a = key.sealing_key().seal(b"tok_visa", b"o").expect("seal");
        let b = key.sealing_key().seal(b"tok_visa", b"o").expect("seal");
        assert_ne!(a, b, "a fresh ephemeral key each time");
    }

    #[test]
    fn a_tampered_or_malformed_value_does_not_open() {
        let key = OpeningKey::generate();
        let keys = OpeningKeys::new(key.clone(), vec![]);
        let sealed = key.sealing_key().seal(b"tok_visa", b"o").expect("seal");
        let mut parts: Vec<String> = sealed.split('.').map(str::to_owned).collect();
        let mut ciphertext = URL_SAFE_NO_PAD.decode(&parts[3]).expect("b64");
        ciphertext[0] ^= 1;
        parts[3] = URL_SAFE_NO_PAD.encode(ciphertext);
        assert_eq!(
            keys.open(&parts.join("."), b"o"),
            Err(SealError::Unauthentic)
        );
        for bad in [
            "",
            "tok_visa",
            "v1.a.b",
            "v2.a.b.c",
            "v1.x.!!.c",
            &format!("{sealed}.x"),
        ] {
            assert!(!is_sealed(bad) || keys.open(bad, b"o").is_err(), "{bad}");
        }
        assert_eq!(keys.open("tok_visa", b"o"), Err(SealError::Malformed));
    }

    #[test]
    fn keys_survive_pem_and_text_and_retired_keys_still_open() {
        let old = OpeningKey::generate();
        let reloaded = OpeningKey::from_pem(&old.to_pem().expect("pem")).expect("from pem");
        assert_eq!(reloaded.kid(), old.kid());
        let published = SealingKey::decode(&old.sealing_key().encode()).expect("decode");
        assert_eq!(&published, old.sealing_key());

        let sealed_to_old = published.seal(b"tok_visa", b"o").expect("seal");
        let rotated = OpeningKeys::new(OpeningKey::generate(), vec![reloaded]);
        assert_ne!(rotated.sealing_key().kid(), old.kid());
        assert_eq!(
            rotated.open(&sealed_to_old, b"o").expect("open"),
            b"tok_visa"
        );
        assert!(!format!("{old:?}").contains("BEGIN"));
    }
}
