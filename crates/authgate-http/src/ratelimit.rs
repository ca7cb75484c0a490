//! The throttle at the HTTP edge: each public request is charged to its
//! client address through the service's [`Throttle`](authgate_service::throttle::Throttle);
//! over the budget it is answered 429 with `Retry-After`, as problem+json on
//! the native API ([`limit_public`]); other front ends render their own format
//! through [`limit`].

use crate::extract::client_ip;
use crate::problem::ApiError;
use crate::state::AppState;
use authgate_core::AuthError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Middleware for the public routes.
pub async fn limit_public(State(state): State<AppState>, request: Request, next: Next) -> Response {
    limit(&state, request, next, |err| ApiError(err).into_response()).await
}

/// Charge the request to its client's budget; over it, answer `refuse`'s
/// rendering of the 429 (each front end renders its own error format).
pub async fn limit(
    state: &AppState,
    request: Request,
    next: Next,
    refuse: impl FnOnce(AuthError) -> Response,
) -> Response {
    let (parts, body) = request.into_parts();
    if let Some(ip) = client_ip(&parts)
        && let Err(err) = state.throttle.check_public(ip)
    {
        metrics::counter!("authgate_rate_limited_total").increment(1);
        return refuse(err);
    }
    next.run(Request::from_parts(parts, body)).await
}
