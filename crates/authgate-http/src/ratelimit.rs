//! The rate limits at the HTTP edge: each request of a limited route is
//! charged to its group's budget for its client address (see
//! [`crate::client_address`]) through the service's
//! [`Throttle`](authgate_service::protection::Throttle). Over the budget it
//! is answered 429 with `Retry-After`, rendered by the front end's own error
//! format (problem+json on the native API, `{message}` on the profile).
//! The limits that need an identity (per recipient, per user) and the
//! lockout live in the services.

use crate::extract::client_ip;
use crate::problem::ApiError;
use crate::state::AppState;
use authgate_core::AuthError;
use authgate_service::protection::Group;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The state of one limited group of routes.
#[derive(Clone)]
pub struct Limited {
    state: AppState,
    group: Group,
    render: fn(AuthError) -> Response,
}

/// Routes of `group`, refused in `render`'s format; use with
/// `from_fn_with_state(limited(…), charge)`.
pub fn limited(state: &AppState, group: Group, render: fn(AuthError) -> Response) -> Limited {
    Limited {
        state: state.clone(),
        group,
        render,
    }
}

/// Routes of `group` on the native API (problem+json).
pub fn native(state: &AppState, group: Group) -> Limited {
    limited(state, group, |err| ApiError(err).into_response())
}

/// Middleware: charge the request, or refuse it.
pub async fn charge(State(limited): State<Limited>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if let Some(ip) = client_ip(&parts)
        && let Err(err) = limited
            .state
            .protection
            .throttle
            .client(limited.group, ip)
            .await
    {
        return (limited.render)(err);
    }
    next.run(Request::from_parts(parts, body)).await
}
