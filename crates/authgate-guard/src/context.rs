//! The user context for Rust services: who the caller is in authgate's terms
//! (app user, platform role, tenants with their roles and grants) and the
//! role-based decisions made from it.
//!
//! * [`ContextClient`] fetches `GET {authgate}/v1/auth/subject` with the
//!   caller's bearer token and caches the answer per token.
//! * [`CallerContext`] is the axum extractor: it validates the bearer token
//!   locally with the [`Guard`] first (a refused token never reaches authgate),
//!   then fetches the context. It answers [`ContextRejection`] otherwise.
//! * [`CallerContext::require`] / [`CallerContext::require_in`] turn
//!   [`UserContext::decide`] into `Result<Decision, Forbidden>`, and
//!   [`Forbidden`] is a `403` problem response, so a handler can write
//!   `ctx.require_in(&tenant_id, "devices:read")?;`.
//!
//! ## Caching
//!
//! Answers are cached per token, keyed by the SHA-256 of the token (the token
//! itself is never stored). An entry lives for the cache TTL (default 30 s) and
//! never beyond the token's `exp`; a TTL of zero disables the cache. A change in
//! authgate — a revoked session, a new role — is therefore seen within the TTL.
//! Refusals and failures are not cached. The cache holds at most
//! [`DEFAULT_MAX_CACHE_ENTRIES`] entries by default: when full, expired entries
//! are dropped first, then the entry closest to expiry.
//!
//! Concurrent requests with the same uncached token do not wait for each
//! other: each fetches the context itself (duplicate fetches, all of which
//! end up caching the same answer).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authgate_core::authz::{Decision, TenantMembership, UserContext};
use authgate_core::{AuthError, Secret};
use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::header::ACCEPT;
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use thiserror::Error;

use crate::extract::problem_response;
use crate::source::describe;
use crate::{Authenticated, Guard, GuardError, GuardRejection};

/// The path of the user-context endpoint, appended to authgate's base URL.
pub const SUBJECT_PATH: &str = "/v1/auth/subject";

/// How long a cached context is reused by default.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);

/// How many tokens' contexts the cache holds by default.
pub const DEFAULT_MAX_CACHE_ENTRIES: usize = 10_000;

/// How long one request to authgate may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read from authgate; a user context is a few KiB.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The code used when authgate refused a token without a usable `code`.
const FALLBACK_CODE: &str = "invalid_token";

/// Why no user context could be obtained for a token.
///
/// Neither variant contains the token.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ContextError {
    /// authgate answered `401`: the token is missing, invalid, or its session
    /// was signed out or revoked. `code` is authgate's problem code
    /// (`token_revoked`, `invalid_token`, ...; `invalid_token` when the answer
    /// carried none).
    #[error("authgate did not accept the token: {code}")]
    Unauthenticated { code: String },
    /// authgate could not be asked or did not answer with a user context
    /// (connection failure, timeout, `503`, an unexpected status or body).
    /// The text is for the logs; it is never sent to the caller.
    #[error("the user context could not be fetched: {0}")]
    Unavailable(String),
}

/// Fetches and caches the [`UserContext`] of bearer tokens from authgate's
/// `GET /v1/auth/subject`.
///
/// Share one client per process (wrap it in an [`Arc`]): the cache lives in it.
/// Requests time out after 5 s; the default HTTP client follows no redirects.
pub struct ContextClient {
    subject_url: String,
    ttl: Duration,
    /// Building a client only fails if the TLS backend cannot initialise; that
    /// failure is reported on fetch, so constructing a client never fails.
    http: Result<reqwest::Client, String>,
    cache: Mutex<ContextCache>,
}

impl fmt::Debug for ContextClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextClient")
            .field("subject_url", &self.subject_url)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl ContextClient {
    /// A client for the authgate at `authgate_base_url` (e.g.
    /// `https://auth.example.com`; a trailing `/` is ignored), caching for
    /// [`DEFAULT_CACHE_TTL`]. Does no I/O.
    pub fn new(authgate_base_url: impl AsRef<str>) -> Self {
        let base = authgate_base_url.as_ref().trim_end_matches('/');
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()));
        Self {
            subject_url: format!("{base}{SUBJECT_PATH}"),
            ttl: DEFAULT_CACHE_TTL,
            http,
            cache: Mutex::new(ContextCache::new(DEFAULT_MAX_CACHE_ENTRIES)),
        }
    }

    /// How long a fetched context is reused for the same token (never beyond
    /// the token's `exp`). `Duration::ZERO` disables the cache.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The most tokens the cache holds (default [`DEFAULT_MAX_CACHE_ENTRIES`]).
    /// `0` disables the cache.
    pub fn with_max_cache_entries(mut self, max: usize) -> Self {
        self.cache = Mutex::new(ContextCache::new(max));
        self
    }

    /// Use this HTTP client (proxies, custom roots, ...). The 5 s timeout is
    /// still applied to each request.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Ok(client);
        self
    }

    /// The user context of `token`, whose `exp` (Unix seconds) bounds how long
    /// the answer is cached. Served from the cache when a fresh entry exists.
    pub async fn context(&self, token: &Secret, exp: i64) -> Result<UserContext, ContextError> {
        let caching = !self.ttl.is_zero();
        let key = caching.then(|| cache_key(token.expose()));
        if let Some(key) = &key
            && let Some(hit) = self.lock_cache().get(key, Instant::now())
        {
            return Ok(hit);
        }

        let started = Instant::now();
        let lifetime = self.ttl.min(time_until(exp));
        let result = self.fetch(token).await;
        match &result {
            Ok(context) => {
                if let Some(key) = key
                    && !lifetime.is_zero()
                {
                    self.lock_cache().insert(
                        key,
                        context.clone(),
                        started + lifetime,
                        Instant::now(),
                    );
                }
            }
            Err(ContextError::Unauthenticated { code }) => {
                tracing::debug!(code, "authgate refused a bearer token");
            }
            Err(ContextError::Unavailable(detail)) => {
                tracing::warn!(%detail, "fetching the user context failed");
            }
        }
        result
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, ContextCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch(&self, token: &Secret) -> Result<UserContext, ContextError> {
        let client = self
            .http
            .as_ref()
            .map_err(|e| ContextError::Unavailable(e.clone()))?;
        let response = client
            .get(&self.subject_url)
            .bearer_auth(token.expose())
            .header(ACCEPT, "application/json")
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| ContextError::Unavailable(describe("the subject request", &e)))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            let body = read_body(response).await.unwrap_or_default();
            return Err(ContextError::Unauthenticated {
                code: problem_code(&body),
            });
        }
        if status != StatusCode::OK {
            return Err(ContextError::Unavailable(format!(
                "authgate answered {status}"
            )));
        }
        let body = read_body(response)
            .await
            .map_err(ContextError::Unavailable)?;
        serde_json::from_slice(&body).map_err(|e| {
            ContextError::Unavailable(format!("the subject answer is not a user context: {e}"))
        })
    }
}

/// The body of an answer, at most [`MAX_BODY_BYTES`].
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let too_large = || format!("the subject answer is larger than {MAX_BODY_BYTES} bytes");
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| describe("reading the subject answer", &e))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `code` of a problem body, if it is a plausible one (1 to 64 characters
/// of `a-z`, `0-9`, `_`): it ends up in a response header and body.
fn problem_code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|problem| problem.get("code")?.as_str().map(str::to_string))
        .filter(|code| {
            !code.is_empty()
                && code.len() <= 64
                && code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .unwrap_or_else(|| FALLBACK_CODE.to_string())
}

/// The cache key of a token: its SHA-256.
fn cache_key(token: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut key = [0; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

/// The time left until `exp` (Unix seconds); zero once it has passed.
fn time_until(exp: i64) -> Duration {
    let Ok(exp) = u64::try_from(exp) else {
        return Duration::ZERO;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_secs(exp).saturating_sub(now)
}

/// The bounded map from token hash to context.
struct ContextCache {
    entries: HashMap<[u8; 32], CacheEntry>,
    max: usize,
}

struct CacheEntry {
    context: UserContext,
    expires_at: Instant,
}

impl ContextCache {
    fn new(max: usize) -> Self {
        Self {
            entries: HashMap::new(),
            max,
        }
    }

    /// The fresh entry for `key`; an expired one is dropped.
    fn get(&mut self, key: &[u8; 32], now: Instant) -> Option<UserContext> {
        let entry = self.entries.get(key)?;
        if entry.expires_at > now {
            return Some(entry.context.clone());
        }
        self.entries.remove(key);
        None
    }

    /// Store `context` until `expires_at`, making room first when full:
    /// expired entries go, then the one closest to expiry.
    fn insert(&mut self, key: [u8; 32], context: UserContext, expires_at: Instant, now: Instant) {
        if self.max == 0 || expires_at <= now {
            return;
        }
        if !self.entries.contains_key(&key) && self.entries.len() >= self.max {
            self.entries.retain(|_, entry| entry.expires_at > now);
            while self.entries.len() >= self.max {
                let Some(soonest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.expires_at)
                    .map(|(key, _)| *key)
                else {
                    break;
                };
                self.entries.remove(&soonest);
            }
        }
        self.entries.insert(
            key,
            CacheEntry {
                context,
                expires_at,
            },
        );
    }
}

/// A request whose bearer token the [`Guard`] accepted, with the caller's
/// [`UserContext`] from authgate.
///
/// As an extractor it needs `Arc<Guard>: FromRef<S>` and
/// `Arc<ContextClient>: FromRef<S>` for the router state `S`. The token is
/// validated locally first — exactly as the [`Authenticated`] extractor does,
/// reusing the result of a [`GuardLayer`](crate::GuardLayer) — so a refused
/// token is answered `401` without asking authgate. The extracted value is
/// stored in the request extensions, so extracting it again in the same
/// request (a middleware, then the handler) does not fetch again.
#[derive(Clone, Debug)]
pub struct CallerContext {
    /// The validated token and its claims.
    pub auth: Authenticated,
    /// The caller as authgate knows them.
    pub context: UserContext,
}

impl CallerContext {
    /// Allow `action` outside any tenant: only the platform role's grants count.
    /// A grant held in a tenant only is refused with reason `tenant_required`.
    pub fn require(&self, action: &str) -> Result<Decision, Forbidden> {
        allowed(self.context.decide(action, None))
    }

    /// Allow `action` in `tenant_id`: the platform role's grants, or those of
    /// the caller's role in that tenant. Refusals carry the reason
    /// `not_a_member` or `no_grant`.
    pub fn require_in(&self, tenant_id: &str, action: &str) -> Result<Decision, Forbidden> {
        allowed(self.context.decide(action, Some(tenant_id)))
    }

    /// The caller's membership of `tenant_id`, if any.
    pub fn tenant(&self, tenant_id: &str) -> Option<&TenantMembership> {
        self.context.tenant(tenant_id)
    }
}

fn allowed(decision: Decision) -> Result<Decision, Forbidden> {
    if decision.allowed {
        Ok(decision)
    } else {
        Err(Forbidden(decision))
    }
}

impl<S> FromRequestParts<S> for CallerContext
where
    Arc<Guard>: FromRef<S>,
    Arc<ContextClient>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ContextRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(done) = parts.extensions.get::<CallerContext>() {
            return Ok(done.clone());
        }
        let auth = Authenticated::from_request_parts(parts, state).await?;
        let client = Arc::<ContextClient>::from_ref(state);
        let context = client.context(&auth.token, auth.claims.exp).await?;
        let caller = CallerContext { auth, context };
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// Why [`CallerContext`] could not be extracted.
///
/// As a response: the guard's refusals exactly as [`GuardRejection`];
/// authgate's `401` as a `401` problem with authgate's code (e.g.
/// `token_revoked`) and `WWW-Authenticate: Bearer error="invalid_token",
/// error_description="<code>"`; an unavailable authgate as `503`
/// `provider_unavailable` (the detail is logged, never sent).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContextRejection {
    /// The guard refused the token; authgate was not asked.
    #[error(transparent)]
    Guard(GuardError),
    /// authgate refused the token, or could not be asked.
    #[error(transparent)]
    Context(ContextError),
}

impl From<GuardRejection> for ContextRejection {
    fn from(rejection: GuardRejection) -> Self {
        Self::Guard(rejection.0)
    }
}

impl From<ContextError> for ContextRejection {
    fn from(error: ContextError) -> Self {
        Self::Context(error)
    }
}

impl IntoResponse for ContextRejection {
    fn into_response(self) -> Response {
        match self {
            ContextRejection::Guard(error) => GuardRejection(error).into_response(),
            ContextRejection::Context(ContextError::Unavailable(_)) => {
                let error = AuthError::ProviderUnavailable;
                let kind = error.kind();
                problem_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    kind.code,
                    kind.title,
                    &error.public_detail(),
                    Some(HeaderValue::from_static("Bearer")),
                )
            }
            ContextRejection::Context(ContextError::Unauthenticated { code }) => {
                let known = match code.as_str() {
                    "token_revoked" => Some(AuthError::TokenRevoked),
                    "missing_token" => Some(AuthError::MissingToken),
                    _ => None,
                };
                let (title, detail) = match &known {
                    Some(error) => (error.kind().title, error.public_detail()),
                    None => (
                        "Invalid token",
                        format!("authgate did not accept the access token: {code}"),
                    ),
                };
                let challenge = HeaderValue::from_str(&format!(
                    r#"Bearer error="invalid_token", error_description="{code}""#
                ))
                .unwrap_or_else(|_| HeaderValue::from_static(r#"Bearer error="invalid_token""#));
                problem_response(
                    StatusCode::UNAUTHORIZED,
                    &code,
                    title,
                    &detail,
                    Some(challenge),
                )
            }
        }
    }
}

impl From<ContextRejection> for Response {
    fn from(rejection: ContextRejection) -> Self {
        rejection.into_response()
    }
}

/// A refused [`Decision`]: `403` with an `application/problem+json` body
///
/// ```json
/// {"type": "https://authgate.dev/errors/forbidden", "title": "Forbidden",
///  "status": 403, "code": "forbidden",
///  "detail": "the caller is not a member of this tenant", "reason": "not_a_member"}
/// ```
///
/// It converts into an axum [`Response`] (`From`), so `?` works in handlers
/// returning `Result<_, Forbidden>` or `Result<_, Response>`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("forbidden ({}): {}", .0.reason, .0.detail)]
pub struct Forbidden(pub Decision);

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "https://authgate.dev/errors/forbidden",
            "title": "Forbidden",
            "status": 403,
            "code": "forbidden",
            "detail": self.0.detail,
            "reason": self.0.reason,
        });
        (
            StatusCode::FORBIDDEN,
            [(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            body.to_string(),
        )
            .into_response()
    }
}

impl From<Forbidden> for Response {
    fn from(forbidden: Forbidden) -> Self {
        forbidden.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authgate_core::authz::{ContextUser, MfaState};

    fn context(id: &str) -> UserContext {
        UserContext {
            user: ContextUser {
                id: id.into(),
                sub: id.into(),
                email: None,
                name: None,
                created_at: String::new(),
            },
            provider: "embedded".into(),
            platform_role: None,
            platform_grants: vec![],
            mfa: MfaState { totp: false },
            tenants: vec![],
        }
    }

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn cache_keys_are_the_sha256_of_the_token() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            cache_key("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "the key is the digest, not the token"
        );
        assert_ne!(cache_key("token-a"), cache_key("token-b"));
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first() {
        let now = Instant::now();
        let mut cache = ContextCache::new(2);
        cache.insert(
            key(1),
            context("expired"),
            now + Duration::from_millis(1),
            now,
        );
        cache.insert(key(2), context("live"), now + Duration::from_secs(60), now);
        let later = now + Duration::from_millis(5);
        cache.insert(
            key(3),
            context("new"),
            later + Duration::from_secs(60),
            later,
        );
        assert_eq!(cache.entries.len(), 2);
        assert!(cache.get(&key(1), later).is_none());
        assert_eq!(
            cache.get(&key(2), later).map(|c| c.user.id),
            Some("live".into())
        );
        assert_eq!(
            cache.get(&key(3), later).map(|c| c.user.id),
            Some("new".into())
        );
    }

    #[test]
    fn a_full_cache_of_live_entries_drops_the_one_closest_to_expiry() {
        let now = Instant::now();
        let mut cache = ContextCache::new(2);
        cache.insert(key(1), context("long"), now + Duration::from_secs(60), now);
        cache.insert(key(2), context("short"), now + Duration::from_secs(10), now);
        cache.insert(key(3), context("new"), now + Duration::from_secs(30), now);
        assert_eq!(cache.entries.len(), 2);
        assert!(cache.get(&key(2), now).is_none());
        assert!(cache.get(&key(1), now).is_some());
        assert!(cache.get(&key(3), now).is_some());

        // Replacing an existing key evicts nothing.
        cache.insert(key(1), context("long2"), now + Duration::from_secs(60), now);
        assert_eq!(cache.entries.len(), 2);
        assert!(cache.get(&key(3), now).is_some());
    }

    #[test]
    fn expired_entries_are_not_served_and_a_zero_bound_caches_nothing() {
        let now = Instant::now();
        let mut cache = ContextCache::new(10);
        cache.insert(key(1), context("a"), now + Duration::from_secs(1), now);
        assert!(cache.get(&key(1), now).is_some());
        assert!(cache.get(&key(1), now + Duration::from_secs(1)).is_none());
        assert!(
            cache.entries.is_empty(),
            "an expired entry is dropped on lookup"
        );

        let mut off = ContextCache::new(0);
        off.insert(key(1), context("a"), now + Duration::from_secs(1), now);
        assert!(off.entries.is_empty());
    }

    #[test]
    fn problem_codes_are_kept_only_when_plausible() {
        assert_eq!(
            problem_code(br#"{"code":"token_revoked","status":401}"#),
            "token_revoked"
        );
        for body in [
            &b""[..],
            b"not json",
            br#"{"status":401}"#,
            br#"{"code":""}"#,
            br#"{"code":"Bad Code"}"#,
            br#"{"code":"x\"y"}"#,
            br#"{"code":7}"#,
        ] {
            assert_eq!(problem_code(body), FALLBACK_CODE, "{body:?}");
        }
        let long = format!(r#"{{"code":"{}"}}"#, "a".repeat(65));
        assert_eq!(problem_code(long.as_bytes()), FALLBACK_CODE);
    }

    #[test]
    fn time_until_exp_is_zero_once_past() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs() as i64;
        assert_eq!(time_until(now - 10), Duration::ZERO);
        assert_eq!(time_until(-1), Duration::ZERO);
        let left = time_until(now + 100);
        assert!(left > Duration::from_secs(98) && left <= Duration::from_secs(100));
    }
}
