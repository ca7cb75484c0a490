//! # authgate-http
//!
//! Every front end of authgate over HTTP, thin handlers over
//! `authgate-service`: each parses the request, authenticates the bearer
//! through the service's `Authenticator`, calls one service and renders.
//!
//! | module | owns |
//! |---|---|
//! | [`api::v1`] | the native JSON API, one `router()` per URL prefix (`/v1/auth`, `/v1/admin`, `/v1/tenants`, `/v1/authz`) |
//! | [`compat`] | the CognitoApi-compatible profile (`AUTHGATE_COMPAT_COGNITO_API`) |
//! | [`oauth2`] | `/oauth2/token` and authgate's own keys |
//! | [`pages`] | `/oauth2/authorize` and the hosted pages (`/login/…`), server-rendered |
//! | [`ops`] | health, metrics, the OpenAPI document, discovery, JWKS |
//! | [`qr`] | QR codes of `otpauth://` URIs as `data:` URLs |
//! | [`problem`] | the one renderer of errors: problem+json, its status, `Retry-After`, `WWW-Authenticate` |
//! | [`wire`] | service answers → wire types (`authgate-api-types`) |
//! | [`extract`] | JSON bodies, bearer tokens → principals, request metadata |
//! | [`middleware`] | request ids, trusted proxies, security headers, metrics, panics |
//! | [`ratelimit`] | the throttle at the edge |
//! | [`openapi`] | the OpenAPI document's frame |
//! | [`app`] | the assembled router, served with a graceful drain |

pub mod api;
pub mod app;
pub mod client_address;
pub mod compat;
pub mod extract;
pub mod middleware;
pub mod oauth2;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod problem;
pub mod qr;
pub mod ratelimit;
pub mod request_id;
pub mod state;
pub mod wire;

pub use app::App;
pub use authgate_service::{Settings, settings};

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Every route, each documented, with its OpenAPI document.
pub fn router(state: &AppState) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let mut router = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(api::v1::auth::router(state))
        .merge(oauth2::router(state));
    if state.settings.compat_cognito_api {
        router = router.merge(compat::router(state));
    }
    let (router, mut openapi) = router
        .merge(api::v1::authz::router())
        .merge(api::v1::admin::router())
        .merge(api::v1::tenants::router())
        .merge(ops::router())
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .split_for_parts();
    openapi::complete(&mut openapi);
    (router.merge(pages::router(state)), openapi)
}
