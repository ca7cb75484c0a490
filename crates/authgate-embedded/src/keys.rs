//! Signing keys: key pairs of one of three algorithms (`ES256`, the
//! default for new keys; `RS256`; `EdDSA` over Ed25519) kept in the store
//! with their algorithm, parsed once and held in memory (re-parsing costs up
//! to ~0.5 ms per signature for RSA), published as a JWKS. The newest key
//! signs; retired keys stay published until every token they signed has
//! expired, so switching algorithm at `authgate keys rotate` breaks nothing
//! in flight. A background reload picks up keys rotated by another process
//! or another instance.

use authgate_core::{AuthError, now_millis};
use authgate_store::Store;
use authgate_store::keys::StoredKey;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

/// The JWS algorithm of a signing key (`AUTHGATE_SIGNING_ALG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum SigningAlg {
    /// ECDSA over P-256 with SHA-256: ~20× cheaper to sign than RS256.
    #[default]
    ES256,
    /// RSA PKCS#1 v1.5 with SHA-256, 2048-bit keys: the cheapest to verify.
    RS256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::ES256, SigningAlg::RS256, SigningAlg::EdDSA];

    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }
}

impl<'de> Deserialize<'de> for SigningAlg {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "AUTHGATE_SIGNING_ALG is {name}, not one of ES256, RS256, EdDSA"
            ))
        })
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed private key of one algorithm.
enum KeyPair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

fn internal(context: &str) -> impl Fn(aws_lc_rs::error::Unspecified) -> AuthError + '_ {
    move |_| AuthError::Internal(format!("{context} failed"))
}

impl KeyPair {
    /// A fresh key and its PKCS#8 DER.
    fn generate(alg: SigningAlg) -> Result<(Self, Vec<u8>), AuthError> {
        Ok(match alg {
            SigningAlg::ES256 => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(internal("P-256 key generation"))?;
                let der = pair.to_pkcs8v1().map_err(internal("PKCS#8 encoding"))?;
                let der = der.as_ref().to_vec();
                (KeyPair::Ec(pair), der)
            }
            SigningAlg::RS256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(internal("RSA key generation"))?;
                let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                    .map_err(internal("PKCS#8 encoding"))?;
                let der = der.as_ref().to_vec();
                (KeyPair::Rsa(pair), der)
            }
            SigningAlg::EdDSA => {
                let pair =
                    Ed25519KeyPair::generate().map_err(internal("Ed25519 key generation"))?;
                let der = pair.to_pkcs8v1().map_err(internal("PKCS#8 encoding"))?;
                let der = der.as_ref().to_vec();
                (KeyPair::Ed(pair), der)
            }
        })
    }

    fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Option<Self> {
        match alg {
            SigningAlg::ES256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .ok()
                .map(KeyPair::Ec),
            SigningAlg::RS256 => RsaKeyPair::from_pkcs8(der).ok().map(KeyPair::Rsa),
            SigningAlg::EdDSA => Ed25519KeyPair::from_pkcs8(der).ok().map(KeyPair::Ed),
        }
    }

    fn alg(&self) -> SigningAlg {
        match self {
            KeyPair::Ec(_) => SigningAlg::ES256,
            KeyPair::Rsa(_) => SigningAlg::RS256,
            KeyPair::Ed(_) => SigningAlg::EdDSA,
        }
    }

    /// The public key's bytes that identify it (modulus, point, or key).
    fn public_bytes(&self) -> Vec<u8> {
        match self {
            KeyPair::Ec(pair) => pair.public_key().as_ref().to_vec(),
            KeyPair::Rsa(pair) => PublicKeyComponents::<Vec<u8>>::from(pair.public_key()).n,
            KeyPair::Ed(pair) => pair.public_key().as_ref().to_vec(),
        }
    }

    /// A key id derived from the public key (a truncated SHA-256).
    fn key_id(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.public_bytes());
        URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
    }

    fn jwk(&self, kid: &str) -> serde_json::Value {
        let alg = self.alg().as_str();
        match self {
            KeyPair::Ec(pair) => {
                // Uncompressed SEC 1 point: 0x04 ‖ x ‖ y.
                let point = pair.public_key().as_ref();
                serde_json::json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": alg, "kid": kid,
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                })
            }
            KeyPair::Rsa(pair) => {
                let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                serde_json::json!({
                    "kty": "RSA", "use": "sig", "alg": alg, "kid": kid,
                    "n": URL_SAFE_NO_PAD.encode(&components.n),
                    "e": URL_SAFE_NO_PAD.encode(&components.e),
                })
            }
            KeyPair::Ed(pair) => serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": alg, "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            }),
        }
    }

    /// The JWS signature of `message` (ES256: the fixed 64-byte r ‖ s).
    fn sign(&self, rng: &SystemRandom, message: &[u8]) -> Result<Vec<u8>, AuthError> {
        Ok(match self {
            KeyPair::Ec(pair) => pair
                .sign(rng, message)
                .map_err(internal("ES256 signature"))?
                .as_ref()
                .to_vec(),
            KeyPair::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, rng, message, &mut signature)
                    .map_err(internal("RS256 signature"))?;
                signature
            }
            KeyPair::Ed(pair) => pair.sign(message).as_ref().to_vec(),
        })
    }
}

struct ParsedKey {
    kid: String,
    pair: KeyPair,
}

struct KeySet {
    signing: Arc<ParsedKey>,
    jwks: serde_json::Value,
    /// The algorithms of the published keys, signing key first.
    algorithms: Vec<SigningAlg>,
}

/// The embedded provider's keys.
pub struct KeyRing {
    store: Store,
    /// Keys retired longer ago than this are no longer published.
    publish_retired_for_millis: i64,
    current: RwLock<Arc<KeySet>>,
    rng: SystemRandom,
}

/// Generate a new key of `alg` and store it as the signing key: its `kid`.
pub async fn generate_and_store(store: &Store, alg: SigningAlg) -> Result<String, AuthError> {
    let (pair, der) = KeyPair::generate(alg)?;
    let kid = pair.key_id();
    store
        .add_signing_key(&StoredKey {
            kid: kid.clone(),
            alg: alg.as_str().into(),
            private_der_b64: STANDARD.encode(der),
            created_at: now_millis(),
            retired_at: None,
        })
        .await?;
    Ok(kid)
}

impl KeyRing {
    /// Load the keys, generating the first one (of `alg`) if the store has
    /// none. Existing keys keep their algorithm until the next rotation.
    pub async fn load(
        store: Store,
        publish_retired_for_millis: i64,
        alg: SigningAlg,
    ) -> Result<Self, AuthError> {
        if store.signing_keys().await?.is_empty() {
            let kid = generate_and_store(&store, alg).await?;
            tracing::info!(%kid, %alg, "generated the first signing key");
        }
        let set = Self::read(&store, publish_retired_for_millis).await?;
        let signing_alg = set.signing.pair.alg();
        if signing_alg != alg {
            tracing::info!(
                kid = %set.signing.kid,
                signing = %signing_alg,
                configured = %alg,
                "the signing key keeps its algorithm; AUTHGATE_SIGNING_ALG applies from the \
                 next `authgate keys rotate`"
            );
        }
        Ok(Self {
            store,
            publish_retired_for_millis,
            current: RwLock::new(Arc::new(set)),
            rng: SystemRandom::new(),
        })
    }

    async fn read(store: &Store, publish_retired_for_millis: i64) -> Result<KeySet, AuthError> {
        let now = now_millis();
        let mut signing = None;
        let mut keys = Vec::new();
        let mut algorithms = Vec::new();
        for stored in store.signing_keys().await? {
            if stored
                .retired_at
                .is_some_and(|at| at + publish_retired_for_millis < now)
            {
                continue;
            }
            let unreadable = || AuthError::Internal(format!("key {} is unreadable", stored.kid));
            let alg = SigningAlg::from_name(&stored.alg).ok_or_else(|| {
                AuthError::Internal(format!(
                    "key {} has the unknown algorithm {}",
                    stored.kid, stored.alg
                ))
            })?;
            let der = STANDARD
                .decode(&stored.private_der_b64)
                .map_err(|_| unreadable())?;
            let pair = KeyPair::from_pkcs8(alg, &der).ok_or_else(unreadable)?;
            keys.push(pair.jwk(&stored.kid));
            if !algorithms.contains(&alg) {
                algorithms.push(alg);
            }
            let parsed = Arc::new(ParsedKey {
                kid: stored.kid.clone(),
                pair,
            });
            // Keys come newest first: the first unretired one signs.
            if signing.is_none() && stored.retired_at.is_none() {
                signing = Some(parsed);
            }
        }
        let signing = signing.ok_or_else(|| AuthError::Internal("no active signing key".into()))?;
        let first = signing.pair.alg();
        algorithms.retain(|alg| *alg != first);
        algorithms.insert(0, first);
        Ok(KeySet {
            signing,
            jwks: serde_json::json!({ "keys": keys }),
            algorithms,
        })
    }

    /// Re-read the keys from the store (after a rotation elsewhere).
    pub async fn reload(&self) -> Result<(), AuthError> {
        let set = Self::read(&self.store, self.publish_retired_for_millis).await?;
        let kid = set.signing.kid.clone();
        let mut current = self.current.write().expect("key ring lock poisoned");
        if current.signing.kid != kid {
            tracing::info!(%kid, alg = %set.signing.pair.alg(), "signing key changed");
        }
        *current = Arc::new(set);
        Ok(())
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.current.read().expect("key ring lock poisoned").clone()
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.snapshot().jwks.clone()
    }

    pub fn signing_kid(&self) -> String {
        self.snapshot().signing.kid.clone()
    }

    /// The algorithms of the published keys, the signing key's first (for
    /// discovery's `id_token_signing_alg_values_supported`).
    pub fn algorithms(&self) -> Vec<SigningAlg> {
        self.snapshot().algorithms.clone()
    }

    /// A compact JWS over `claims`, with the signing key's `alg` and `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, AuthError> {
        let key = self.snapshot().signing.clone();
        let header =
            serde_json::json!({ "alg": key.pair.alg().as_str(), "typ": "JWT", "kid": key.kid });
        let mut message = b64_json(&header)?;
        message.push('.');
        message.push_str(&b64_json(claims)?);
        let signature = key.pair.sign(&self.rng, message.as_bytes())?;
        message.push('.');
        message.push_str(&URL_SAFE_NO_PAD.encode(&signature));
        Ok(message)
    }
}

fn b64_json<T: Serialize + ?Sized>(value: &T) -> Result<String, AuthError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| AuthError::Internal(format!("claims encoding: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each algorithm's token verifies with an independent library
    /// (jsonwebtoken) against the published JWK, and only for its own `alg`.
    #[test]
    fn tokens_of_each_algorithm_verify_against_the_published_jwk() {
        let rng = SystemRandom::new();
        for alg in SigningAlg::ALL {
            let (generated, der) = KeyPair::generate(alg).unwrap();
            let pair = KeyPair::from_pkcs8(alg, &der).expect("the stored form parses back");
            assert_eq!(pair.key_id(), generated.key_id());
            let kid = pair.key_id();
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(pair.jwk(&kid)).unwrap();
            let header = serde_json::json!({ "alg": alg.as_str(), "typ": "JWT", "kid": kid });
            let mut token = b64_json(&header).unwrap();
            token.push('.');
            token.push_str(
                &b64_json(&serde_json::json!({"sub": "s", "exp": 4_000_000_000u64})).unwrap(),
            );
            let signature = pair.sign(&rng, token.as_bytes()).unwrap();
            token.push('.');
            token.push_str(&URL_SAFE_NO_PAD.encode(signature));

            let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let expected: jsonwebtoken::Algorithm = alg.as_str().parse().unwrap();
            let mut validation = jsonwebtoken::Validation::new(expected);
            validation.validate_aud = false;
            let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(claims.claims["sub"], "s");

            // Another key of the same algorithm does not verify it.
            let (other, _) = KeyPair::generate(alg).unwrap();
            let other_jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(other.jwk("other")).unwrap();
            let other_key = jsonwebtoken::DecodingKey::from_jwk(&other_jwk).unwrap();
            assert!(
                jsonwebtoken::decode::<serde_json::Value>(&token, &other_key, &validation).is_err(),
                "{alg}"
            );
        }
    }

    #[test]
    fn a_key_parses_only_as_its_own_algorithm() {
        for alg in SigningAlg::ALL {
            let (_, der) = KeyPair::generate(alg).unwrap();
            for other in SigningAlg::ALL.into_iter().filter(|o| *o != alg) {
                assert!(
                    KeyPair::from_pkcs8(other, &der).is_none(),
                    "{alg} as {other}"
                );
            }
        }
    }
}
