//! Signing keys: RS256 key pairs kept in the store, parsed once and held in
//! memory (re-parsing an RSA key costs ~0.5 ms per signature), published as a
//! JWKS. The newest key signs; retired keys stay published until every token
//! they signed has expired. A background reload picks up keys rotated by
//! another process (`authgate keys rotate`) or another instance.

use authgate_core::{AuthError, now_millis};
use authgate_store::Store;
use authgate_store::keys::StoredKey;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use std::sync::{Arc, RwLock};

struct ParsedKey {
    kid: String,
    pair: RsaKeyPair,
}

struct KeySet {
    signing: Arc<ParsedKey>,
    jwks: serde_json::Value,
}

/// The embedded provider's keys.
pub struct KeyRing {
    store: Store,
    /// Keys retired longer ago than this are no longer published.
    publish_retired_for_millis: i64,
    current: RwLock<Arc<KeySet>>,
    rng: SystemRandom,
}

fn internal(context: &str) -> impl Fn(aws_lc_rs::error::Unspecified) -> AuthError + '_ {
    move |_| AuthError::Internal(format!("{context} failed"))
}

/// Generate a new RS256 key and store it as the signing key.
pub async fn generate_and_store(store: &Store) -> Result<String, AuthError> {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(internal("RSA key generation"))?;
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
        .map_err(internal("PKCS#8 encoding"))?;
    let kid = key_id(&pair);
    store
        .add_signing_key(&StoredKey {
            kid: kid.clone(),
            alg: "RS256".into(),
            private_der_b64: STANDARD.encode(der.as_ref()),
            created_at: now_millis(),
            retired_at: None,
        })
        .await?;
    Ok(kid)
}

/// A key id derived from the public key (a truncated SHA-256 of its modulus).
fn key_id(pair: &RsaKeyPair) -> String {
    let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &components.n);
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

fn jwk(pair: &RsaKeyPair, kid: &str) -> serde_json::Value {
    let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    serde_json::json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(&components.n),
        "e": URL_SAFE_NO_PAD.encode(&components.e),
    })
}

impl KeyRing {
    /// Load the keys, generating the first one if the store has none.
    pub async fn load(store: Store, publish_retired_for_millis: i64) -> Result<Self, AuthError> {
        if store.signing_keys().await?.is_empty() {
            let kid = generate_and_store(&store).await?;
            tracing::info!(%kid, "generated the first signing key");
        }
        let set = Self::read(&store, publish_retired_for_millis).await?;
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
        for stored in store.signing_keys().await? {
            if stored
                .retired_at
                .is_some_and(|at| at + publish_retired_for_millis < now)
            {
                continue;
            }
            let der = STANDARD
                .decode(&stored.private_der_b64)
                .map_err(|_| AuthError::Internal(format!("key {} is not base64", stored.kid)))?;
            let pair = RsaKeyPair::from_pkcs8(&der)
                .map_err(|_| AuthError::Internal(format!("key {} is unreadable", stored.kid)))?;
            keys.push(jwk(&pair, &stored.kid));
            let parsed = Arc::new(ParsedKey {
                kid: stored.kid,
                pair,
            });
            // Keys come newest first: the first unretired one signs.
            if signing.is_none() && stored.retired_at.is_none() {
                signing = Some(parsed);
            }
        }
        let signing = signing.ok_or_else(|| AuthError::Internal("no active signing key".into()))?;
        Ok(KeySet {
            signing,
            jwks: serde_json::json!({ "keys": keys }),
        })
    }

    /// Re-read the keys from the store (after a rotation elsewhere).
    pub async fn reload(&self) -> Result<(), AuthError> {
        let set = Self::read(&self.store, self.publish_retired_for_millis).await?;
        let kid = set.signing.kid.clone();
        let mut current = self.current.write().expect("key ring lock poisoned");
        if current.signing.kid != kid {
            tracing::info!(%kid, "signing key changed");
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

    /// A compact JWS (RS256) over `claims`, with the signing key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, AuthError> {
        let key = self.snapshot().signing.clone();
        let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": key.kid });
        let mut message = b64_json(&header)?;
        message.push('.');
        message.push_str(&b64_json(claims)?);
        let mut signature = vec![0u8; key.pair.public_modulus_len()];
        key.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                message.as_bytes(),
                &mut signature,
            )
            .map_err(internal("RS256 signature"))?;
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
