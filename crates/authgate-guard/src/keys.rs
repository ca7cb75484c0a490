//! The key cache: verification keys by `kid`, fetched lazily from a
//! [`KeySource`] and refreshed without a background task.
//!
//! Rules:
//!
//! * The first lookup fetches the key set. While no set was ever fetched, a
//!   failed fetch answers [`GuardError::JwksUnavailable`], and the next attempt
//!   waits `min_refetch_interval`.
//! * A lookup for a `kid` missing from the set refetches it, but such refetches
//!   happen at most once per `min_refetch_interval`: a fetch after which a
//!   looked-up `kid` was still unknown (or that failed) blocks the next one
//!   until the interval has passed, and the lookup answers
//!   [`GuardError::UnknownKey`] meanwhile. Lookups wait on one mutex, so
//!   concurrent lookups reuse the fetch that just happened instead of starting
//!   their own.
//! * A set older than [`MAX_KEY_AGE`] is refetched by the next lookup, while
//!   other lookups keep using the cached keys without waiting; if that fetch
//!   fails the old keys stay in use (retried after the interval).
//! * A lookup makes at most one fetch.
//!
//! Only asymmetric signing keys are kept: RSA, EC P-256 / P-384 and Ed25519
//! keys that have a `kid`, are not marked for encryption, and whose `alg` (if
//! any) is one the guard accepts. Symmetric (`oct`) keys are dropped, so a
//! published secret can never be used to verify an HMAC token.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

use crate::GuardError;
use crate::source::KeySource;

/// A cached key set older than this is refetched by the next validation.
pub(crate) const MAX_KEY_AGE: Duration = Duration::from_secs(60 * 60);

/// The family of a verification key, which decides the algorithms it may verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyKind {
    fn fits(self, alg: Algorithm) -> bool {
        match self {
            KeyKind::Rsa => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            KeyKind::EcP256 => alg == Algorithm::ES256,
            KeyKind::EcP384 => alg == Algorithm::ES384,
            KeyKind::Ed25519 => alg == Algorithm::EdDSA,
        }
    }
}

/// One verification key from the JWKS.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) key: DecodingKey,
    kind: KeyKind,
    /// The JWK's own `alg`, when it declares one.
    alg: Option<Algorithm>,
}

impl VerifyKey {
    /// Build a key from a JWK, or `None` if the guard must not use it.
    fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            return None;
        }
        let kind = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => KeyKind::Rsa,
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => KeyKind::EcP256,
                EllipticCurve::P384 => KeyKind::EcP384,
                _ => return None,
            },
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                KeyKind::Ed25519
            }
            _ => return None,
        };
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(declared) => {
                let alg = Algorithm::try_from(declared).ok()?;
                if !kind.fits(alg) {
                    return None;
                }
                Some(alg)
            }
        };
        let key = DecodingKey::from_jwk(jwk).ok()?;
        Some(Self { key, kind, alg })
    }

    /// Whether this key may verify a token whose header says `alg`.
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|own| own == alg)
    }
}

/// One fetched key set.
struct KeySet {
    keys: HashMap<String, VerifyKey>,
    fetched_at: Instant,
}

impl KeySet {
    fn from_jwks(jwks: &JwkSet) -> Self {
        let mut keys = HashMap::with_capacity(jwks.keys.len());
        for jwk in &jwks.keys {
            let Some(kid) = jwk.common.key_id.as_deref() else {
                continue;
            };
            match VerifyKey::from_jwk(jwk) {
                Some(key) => {
                    keys.entry(kid.to_owned()).or_insert(key);
                }
                None => tracing::debug!(kid, "skipping a JWK the guard cannot use"),
            }
        }
        Self {
            keys,
            fetched_at: Instant::now(),
        }
    }

    fn is_stale(&self, max_age: Duration) -> bool {
        self.fetched_at.elapsed() >= max_age
    }
}

/// What the fetch mutex guards: the rate-limit clocks and the last failure.
#[derive(Default)]
struct FetchState {
    /// When the last fetch of any kind started.
    last_attempt: Option<Instant>,
    /// When the last fetch that left a looked-up kid unknown started.
    last_miss: Option<Instant>,
    /// Why the last fetch failed, if it did.
    last_error: Option<GuardError>,
}

/// Keys by `kid`, fetched from a [`KeySource`] on demand.
pub(crate) struct KeyCache {
    source: Arc<dyn KeySource>,
    min_refetch_interval: Duration,
    max_age: Duration,
    /// The current key set; read without waiting on a fetch in progress.
    current: RwLock<Option<Arc<KeySet>>>,
    /// Serialises fetches, so concurrent lookups share one.
    fetch: Mutex<FetchState>,
}

impl KeyCache {
    pub(crate) fn new(
        source: Arc<dyn KeySource>,
        min_refetch_interval: Duration,
        max_age: Duration,
    ) -> Self {
        Self {
            source,
            min_refetch_interval,
            max_age,
            current: RwLock::new(None),
            fetch: Mutex::new(FetchState::default()),
        }
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, set: KeySet) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(set));
    }

    /// The key named `kid`, fetching the key set if the rules above call for it.
    pub(crate) async fn get(&self, kid: &str) -> Result<VerifyKey, GuardError> {
        let cached = self.snapshot();
        let cached_key = cached
            .as_ref()
            .and_then(|set| Some((set.keys.get(kid)?, set.is_stale(self.max_age))));
        let mut state = match cached_key {
            Some((key, false)) => return Ok(key.clone()),
            // A stale set: this lookup refreshes it, unless another one already
            // is; meanwhile the cached key keeps serving without waiting.
            Some((key, true)) => match self.fetch.try_lock() {
                Ok(state) => state,
                Err(_) => return Ok(key.clone()),
            },
            None => self.fetch.lock().await,
        };
        // Someone may have fetched while this task waited for the lock.
        let current = self.snapshot();
        if let Some(set) = &current
            && !set.is_stale(self.max_age)
            && let Some(key) = set.keys.get(kid)
        {
            return Ok(key.clone());
        }

        // Which fetch this lookup would make, and the rate limit that applies.
        let limited_by = match &current {
            // Never fetched, or the set is old: limited only by failed attempts.
            None => state.last_attempt,
            Some(set) if set.is_stale(self.max_age) => state.last_attempt,
            // A fresh set without this kid: at most one such refetch per interval.
            Some(_) => state.last_miss,
        };
        let may_fetch = limited_by.is_none_or(|at| at.elapsed() >= self.min_refetch_interval);
        if !may_fetch {
            return Self::pick(current.as_deref(), kid, &state);
        }

        let started = Instant::now();
        let outcome = self.fetch_locked(&mut state).await;
        let found = match &outcome {
            Ok(set) => Self::pick(Some(set), kid, &state),
            // Logged by `fetch_locked`; the cached keys (if any) stay in use.
            Err(error) if current.is_none() => Err(error.clone()),
            Err(_) => Self::pick(current.as_deref(), kid, &state),
        };
        if found.is_err() {
            // This fetch did not produce the kid: it counts as this interval's
            // unknown-kid refetch.
            state.last_miss = Some(started);
        }
        found
    }

    /// The key `kid` of `set`, or why there is none.
    fn pick(set: Option<&KeySet>, kid: &str, state: &FetchState) -> Result<VerifyKey, GuardError> {
        match set {
            Some(set) => set.keys.get(kid).cloned().ok_or(GuardError::UnknownKey),
            None => Err(state.last_error.clone().unwrap_or_else(|| {
                GuardError::JwksUnavailable("the signing keys were never fetched".into())
            })),
        }
    }

    /// Fetch the key set now, whatever the rate limit says.
    pub(crate) async fn refresh(&self) -> Result<(), GuardError> {
        let mut state = self.fetch.lock().await;
        self.fetch_locked(&mut state).await.map(drop)
    }

    async fn fetch_locked(&self, state: &mut FetchState) -> Result<Arc<KeySet>, GuardError> {
        state.last_attempt = Some(Instant::now());
        match self.source.jwks().await {
            Ok(jwks) => {
                let set = KeySet::from_jwks(&jwks);
                tracing::debug!(keys = set.keys.len(), "fetched the JWKS");
                self.store(set);
                state.last_error = None;
                self.snapshot().ok_or_else(|| {
                    GuardError::JwksUnavailable("the key set vanished after a fetch".into())
                })
            }
            Err(error) => {
                let error = match error {
                    GuardError::JwksUnavailable(_) => error,
                    other => GuardError::JwksUnavailable(other.to_string()),
                };
                tracing::warn!(%error, "fetching the JWKS failed");
                state.last_error = Some(error.clone());
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Serves a fixed RSA key `k1` and counts fetches; fails while `failing` is set.
    struct Counting {
        fetches: AtomicUsize,
        failing: std::sync::atomic::AtomicBool,
    }

    impl Counting {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                fetches: AtomicUsize::new(0),
                failing: std::sync::atomic::AtomicBool::new(false),
            })
        }
        fn count(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    fn jwks(value: serde_json::Value) -> JwkSet {
        serde_json::from_value(value).expect("test JWKS parses")
    }

    #[async_trait::async_trait]
    impl KeySource for Counting {
        async fn jwks(&self) -> Result<JwkSet, GuardError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            if self.failing.load(Ordering::SeqCst) {
                return Err(GuardError::JwksUnavailable("down".into()));
            }
            Ok(jwks(serde_json::json!({"keys": [
                {"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": "AQAB", "e": "AQAB"}
            ]})))
        }
    }

    #[tokio::test]
    async fn stale_key_set_is_refetched_and_kept_when_the_refetch_fails() {
        let source = Counting::new();
        let cache = KeyCache::new(
            source.clone(),
            Duration::from_millis(10),
            Duration::from_millis(30),
        );
        assert!(cache.get("k1").await.is_ok());
        assert!(cache.get("k1").await.is_ok());
        assert_eq!(source.count(), 1, "fresh keys are served from the cache");

        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(cache.get("k1").await.is_ok());
        assert_eq!(source.count(), 2, "a stale set is refetched");

        source.failing.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(
            cache.get("k1").await.is_ok(),
            "old keys stay in use when the refetch fails"
        );
        assert_eq!(source.count(), 3);
    }

    #[tokio::test]
    async fn first_fetch_failure_is_jwks_unavailable_and_rate_limited() {
        let source = Counting::new();
        source.failing.store(true, Ordering::SeqCst);
        let cache = KeyCache::new(source.clone(), Duration::from_secs(30), MAX_KEY_AGE);
        for _ in 0..3 {
            assert!(matches!(
                cache.get("k1").await,
                Err(GuardError::JwksUnavailable(_))
            ));
        }
        assert_eq!(source.count(), 1);

        source.failing.store(false, Ordering::SeqCst);
        cache.refresh().await.expect("forced refresh succeeds");
        assert!(cache.get("k1").await.is_ok());
        assert_eq!(source.count(), 2);
    }

    #[test]
    fn only_usable_signing_keys_are_kept() {
        let set = KeySet::from_jwks(&jwks(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "mismatch", "alg": "ES256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "p256", "crv": "P-256", "x": "AQAB", "y": "AQAB"},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AQAB", "y": "AQAB"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AQAB"}
        ]})));
        let mut kids: Vec<_> = set.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["ed", "p256", "rsa"]);

        let rsa = &set.keys["rsa"];
        assert!(rsa.fits(Algorithm::RS256) && rsa.fits(Algorithm::PS512));
        assert!(!rsa.fits(Algorithm::ES256) && !rsa.fits(Algorithm::HS256));
        assert!(set.keys["p256"].fits(Algorithm::ES256));
        assert!(!set.keys["p256"].fits(Algorithm::ES384));
        assert!(set.keys["ed"].fits(Algorithm::EdDSA));
    }

    #[test]
    fn a_key_with_its_own_alg_only_fits_that_alg() {
        let set = KeySet::from_jwks(&jwks(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "k", "alg": "RS256", "n": "AQAB", "e": "AQAB"}
        ]})));
        let key = &set.keys["k"];
        assert!(key.fits(Algorithm::RS256));
        assert!(!key.fits(Algorithm::RS512));
        assert!(!key.fits(Algorithm::PS256));
    }
}
