//! Where the signing keys come from: [`JwksSource`] names either a JWKS URL
//! (fetched over HTTP by [`HttpKeySource`]) or any [`KeySource`] implementation
//! (an in-process provider, a test double).
//!
//! A source only fetches; caching, rate limiting and key selection live in
//! [`crate::keys`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;

use crate::GuardError;

/// How long one JWKS request may take, connection included.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest JWKS document the guard reads; a real one is a few KiB.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Something that can produce the issuer's current JSON Web Key Set.
///
/// The guard calls [`KeySource::jwks`] lazily, on the first validation, when a
/// token names an unknown `kid` (at most once per
/// [`GuardConfig::min_refetch_interval`](crate::GuardConfig::min_refetch_interval)),
/// when the cached set is older than an hour, and on
/// [`Guard::refresh_keys`](crate::Guard::refresh_keys). Failures should be
/// reported as [`GuardError::JwksUnavailable`].
#[async_trait]
pub trait KeySource: Send + Sync {
    /// Fetch the current key set.
    async fn jwks(&self) -> Result<JwkSet, GuardError>;
}

/// Where a [`Guard`](crate::Guard) gets its verification keys.
#[derive(Clone)]
pub enum JwksSource {
    /// A JWKS document served over HTTP(S), e.g.
    /// `https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json`.
    Url(String),
    /// Any other source of keys.
    Source(Arc<dyn KeySource>),
}

impl fmt::Debug for JwksSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksSource::Url(url) => f.debug_tuple("Url").field(url).finish(),
            JwksSource::Source(_) => f.debug_tuple("Source").field(&"dyn KeySource").finish(),
        }
    }
}

impl JwksSource {
    /// Turn the configuration into the source the guard calls. No I/O happens here.
    pub(crate) fn into_key_source(self) -> Arc<dyn KeySource> {
        match self {
            JwksSource::Url(url) => Arc::new(HttpKeySource::new(url)),
            JwksSource::Source(source) => source,
        }
    }
}

/// Fetches a JWKS document with `GET <url>` (5 s timeout, 1 MiB cap).
pub(crate) struct HttpKeySource {
    url: String,
    /// Building a client only fails if the TLS backend cannot initialise; that
    /// failure is reported on fetch, so constructing a guard never fails.
    client: Result<reqwest::Client, String>,
}

impl HttpKeySource {
    pub(crate) fn new(url: String) -> Self {
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()));
        Self { url, client }
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let mut response = client
            .get(&self.url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| describe("the JWKS request", &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the JWKS endpoint answered {status}"));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err(format!(
                "the JWKS document is larger than {MAX_JWKS_BYTES} bytes"
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| describe("the JWKS request", &e))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!(
                    "the JWKS document is larger than {MAX_JWKS_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body)
            .map_err(|e| format!("the JWKS document is not a valid JWK set: {e}"))
    }
}

/// A reqwest error without its URL (which could carry credentials or tokens);
/// `what` names the request ("the JWKS request").
pub(crate) fn describe(what: &str, error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut text = format!("{what} {kind}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl KeySource for HttpKeySource {
    async fn jwks(&self) -> Result<JwkSet, GuardError> {
        self.fetch().await.map_err(GuardError::JwksUnavailable)
    }
}
