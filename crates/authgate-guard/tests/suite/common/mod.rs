//! Test fixtures shared by the integration tests: an RSA signing key with its
//! JWK, a hand-rolled JWT signer, typical claims, and a [`KeySource`] that
//! counts its fetches and can publish keys or fail on demand.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use authgate_guard::{Guard, GuardConfig, GuardError, JwksSource, KeySource};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};

pub const ISSUER: &str = "https://auth.example.test";
pub const CLIENT: &str = "client-123";

/// The key every test signs with (generated once per test binary).
pub static KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("key-1"));
/// A second key, for rotation and wrong-key tests.
pub static OTHER_KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("key-2"));

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// An RSA key pair with a key id.
pub struct TestKey {
    pub kid: String,
    pair: KeyPair,
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        Self {
            kid: kid.to_string(),
            pair,
        }
    }

    pub fn modulus(&self) -> Vec<u8> {
        PublicKeyComponents::<Vec<u8>>::from(self.pair.public_key()).n
    }

    /// The public JWK, declaring `alg: RS256`.
    pub fn jwk(&self) -> Value {
        let mut jwk = self.jwk_without_alg();
        jwk["alg"] = json!("RS256");
        jwk
    }

    /// The public JWK without an `alg` member.
    pub fn jwk_without_alg(&self) -> Value {
        let public = PublicKeyComponents::<Vec<u8>>::from(self.pair.public_key());
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": b64(&public.n),
            "e": b64(&public.e),
        })
    }

    /// The usual RS256 header naming this key.
    pub fn header(&self) -> Value {
        json!({"alg": "RS256", "typ": "JWT", "kid": self.kid})
    }

    /// An RS256 token over `claims` with the usual header.
    pub fn token(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }

    /// An RS256 (RSASSA-PKCS1-v1_5 SHA-256) signature over any header and claims.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let message = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .expect("RSA signing");
        format!("{message}.{}", b64(signature))
    }
}

/// Claims of a valid access token for [`ISSUER`] and [`CLIENT`], valid for 5 minutes.
pub fn access_claims() -> Value {
    let now = now();
    json!({
        "sub": "user-42",
        "iss": ISSUER,
        "client_id": CLIENT,
        "token_use": "access",
        "scope": "openid profile",
        "auth_time": now,
        "iat": now,
        "exp": now + 300,
        "jti": "jti-1",
        "origin_jti": "session-1",
        "username": "alice",
        "cognito:groups": ["admins"],
    })
}

/// Claims of a valid id token for [`ISSUER`] and [`CLIENT`].
pub fn id_claims() -> Value {
    let now = now();
    json!({
        "sub": "user-42",
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + 300,
        "email": "alice@example.test",
    })
}

/// A [`KeySource`] serving a mutable list of JWKs and counting its fetches.
pub struct CountingSource {
    keys: Mutex<Vec<Value>>,
    fetches: AtomicUsize,
    failing: AtomicBool,
    delay: Duration,
}

impl CountingSource {
    pub fn new(keys: Vec<Value>) -> Arc<Self> {
        Self::with_delay(keys, Duration::ZERO)
    }

    /// A source whose fetches take `delay` (to make concurrent lookups overlap).
    pub fn with_delay(keys: Vec<Value>, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            keys: Mutex::new(keys),
            fetches: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
            delay,
        })
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn publish(&self, jwk: Value) {
        self.keys.lock().expect("keys lock").push(jwk);
    }

    /// Take the key `kid` out of the published set.
    pub fn withdraw(&self, kid: &str) {
        self.keys
            .lock()
            .expect("keys lock")
            .retain(|k| k["kid"] != kid);
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl KeySource for CountingSource {
    async fn jwks(&self) -> Result<JwkSet, GuardError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(GuardError::JwksUnavailable("test source is down".into()));
        }
        let keys = self.keys.lock().expect("keys lock").clone();
        serde_json::from_value(json!({ "keys": keys }))
            .map_err(|e| GuardError::JwksUnavailable(e.to_string()))
    }
}

/// The default configuration for [`ISSUER`] / [`CLIENT`] over `source`.
pub fn config(source: &Arc<CountingSource>) -> GuardConfig {
    GuardConfig::new(ISSUER, CLIENT, JwksSource::Source(source.clone()))
}

/// A guard with the default configuration trusting [`KEY`], and its source.
pub fn guard() -> (Guard, Arc<CountingSource>) {
    let source = CountingSource::new(vec![KEY.jwk()]);
    (Guard::new(config(&source)), source)
}
