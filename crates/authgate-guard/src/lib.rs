//! # authgate-guard
//!
//! Access-token validation for Rust services that sit behind authgate (or
//! Cognito): a service hands the guard the bearer token of a request and gets
//! back the token's [`AccessClaims`](authgate_core::AccessClaims), or a precise
//! [`GuardError`] saying why the token was refused.
//!
//! This crate owns:
//!
//! * [`Guard`] — signature verification against the issuer's JWKS and the
//!   claim checks: `exp`/`nbf` with leeway, exact `iss`, `token_use`, and the
//!   client (`client_id`, or `aud` containing it). Only asymmetric algorithms
//!   are accepted (RS*, PS*, ES256, ES384, EdDSA); `none` and HMAC are refused.
//! * The key cache — keys are fetched lazily from a [`JwksSource`] (a URL or any
//!   [`KeySource`]), refetched when a token names an unknown `kid` (at most once
//!   per [`GuardConfig::min_refetch_interval`], concurrent requests sharing one
//!   fetch) and when the set is more than an hour old.
//! * The HTTP edge — the [`Authenticated`] axum extractor, the [`GuardLayer`]
//!   tower layer, and the [`GuardRejection`] response: `401` (`503` if the keys
//!   cannot be fetched) as `application/problem+json` with a
//!   `WWW-Authenticate: Bearer` challenge.
//! * The user context — [`ContextClient`] fetches the caller's
//!   [`UserContext`] (app user, platform role, tenants with their roles and
//!   grants) from authgate's `GET /v1/auth/subject` and caches it per token;
//!   the [`CallerContext`] extractor validates the token with the guard first,
//!   then fetches the context; [`CallerContext::require`] /
//!   [`CallerContext::require_in`] make the role-based decision and answer
//!   [`Forbidden`] (`403`) when it is no.
//!
//! The guard alone does not issue tokens or check revocation: that is the
//! provider's job. **A service that uses only [`Authenticated`] (or the
//! [`GuardLayer`]) keeps accepting a signed-out user's access tokens until
//! they expire** (`AUTHGATE_ACCESS_TOKEN_TTL`, an hour by default): the
//! signature and claims stay valid after a sign-out, a password reset or a
//! disable. Where that matters, check revocation: take [`CallerContext`],
//! which asks authgate's `GET /v1/auth/subject` and sees a revoked session
//! (`401 token_revoked`) within the context cache's TTL (30 s by default;
//! [`ContextClient::with_cache_ttl`] shortens it), or keep access tokens
//! short-lived. Errors and logs never contain the token.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use authgate_guard::{Authenticated, Guard, GuardConfig, GuardLayer, JwksSource};
//! use axum::{Extension, Router, routing::get};
//!
//! // The extractor validates the token of each request that asks for it.
//! async fn me(auth: Authenticated) -> String {
//!     format!("hello {}", auth.claims.sub)
//! }
//!
//! // Behind the layer the token is already validated; read the result.
//! async fn stats(Extension(auth): Extension<Authenticated>) -> String {
//!     format!("stats for {}", auth.claims.sub)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example";
//!     let guard = Arc::new(Guard::new(GuardConfig::new(
//!         issuer,
//!         "my-app-client-id",
//!         JwksSource::Url(format!("{issuer}/.well-known/jwks.json")),
//!     )));
//!
//!     // Per handler: the extractor finds the guard in the router state
//!     // (any state `S` with `Arc<Guard>: FromRef<S>`).
//!     let api = Router::new()
//!         .route("/me", get(me))
//!         .with_state(Arc::clone(&guard));
//!
//!     // Per router: every request is validated before any handler runs.
//!     let admin = Router::new()
//!         .route("/admin/stats", get(stats))
//!         .layer(GuardLayer::new(guard));
//!
//!     let app = api.merge(admin);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! # Example: the user context and role-based decisions
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use authgate_guard::{CallerContext, ContextClient, Forbidden, Guard, GuardConfig, JwksSource};
//! use axum::extract::{FromRef, Path};
//! use axum::response::Response;
//! use axum::{Json, Router, routing::get};
//!
//! // The extractors find the guard and the context client in the state.
//! #[derive(Clone, FromRef)]
//! struct AppState {
//!     guard: Arc<Guard>,
//!     contexts: Arc<ContextClient>,
//! }
//!
//! // By the time the handler runs, the token was validated and the context
//! // fetched: a missing, invalid or revoked token was answered 401 (503 if
//! // authgate is down). A refused decision is a 403 problem response.
//! async fn devices(ctx: CallerContext, Path(tenant): Path<String>) -> Result<String, Forbidden> {
//!     ctx.require_in(&tenant, "devices:read")?;
//!     let role = ctx.tenant(&tenant).map(|t| t.role.as_str()).unwrap_or("platform");
//!     Ok(format!("devices of {tenant} for {} ({role})", ctx.context.user.id))
//! }
//!
//! // `Forbidden` converts into a `Response`, so `?` works with other errors too.
//! async fn tenants(ctx: CallerContext) -> Result<Json<Vec<String>>, Response> {
//!     ctx.require("tenants:list")?; // a platform grant: no tenant named
//!     Ok(Json(ctx.context.tenants.iter().map(|t| t.id.clone()).collect()))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let authgate = "https://auth.example.com";
//!     let guard = Arc::new(Guard::new(GuardConfig::new(
//!         authgate,
//!         "my-app-client-id",
//!         JwksSource::Url(format!("{authgate}/.well-known/jwks.json")),
//!     )));
//!     // Contexts are cached per token for 30 s by default (never beyond `exp`).
//!     let contexts = Arc::new(ContextClient::new(authgate));
//!
//!     let app = Router::new()
//!         .route("/tenants", get(tenants))
//!         .route("/tenants/{tenant}/devices", get(devices))
//!         .with_state(AppState { guard, contexts });
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```

mod config;
mod context;
mod error;
mod extract;
mod guard;
mod keys;
mod layer;
mod source;

// The authorization types of `authgate_core::authz` that a `CallerContext` hands out.
pub use authgate_core::authz::{Decision, TenantMembership, UserContext};
pub use config::{DEFAULT_LEEWAY, DEFAULT_MIN_REFETCH_INTERVAL, GuardConfig};
pub use context::{
    CallerContext, ContextClient, ContextError, ContextRejection, DEFAULT_CACHE_TTL,
    DEFAULT_MAX_CACHE_ENTRIES, Forbidden, SUBJECT_PATH,
};
pub use error::GuardError;
pub use extract::{Authenticated, GuardRejection};
pub use guard::Guard;
pub use layer::{GuardLayer, GuardService};
pub use source::{JwksSource, KeySource};
