//! Rate limits on the public authentication endpoints: a keyed GCRA limiter
//! (governor) per client address. Over the limit: 429 with `Retry-After`.
//! Counters are per process.

use crate::http::extract::client_ip;
use crate::http::problem::ApiError;
use crate::state::AppState;
use authgate_core::AuthError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

#[derive(Clone)]
pub struct RateLimits {
    public: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl RateLimits {
    /// `per_minute` requests per client address; 0 turns limiting off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            public: NonZeroU32::new(per_minute)
                .map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n)))),
        }
    }

    fn check(&self, ip: IpAddr) -> Result<(), AuthError> {
        let Some(limiter) = &self.public else {
            return Ok(());
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AuthError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            }
        })
    }

    /// Forget idle keys so the table does not grow without bound.
    pub fn housekeeping(&self) {
        if let Some(limiter) = &self.public {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Middleware for the public routes.
pub async fn limit_public(State(state): State<AppState>, request: Request, next: Next) -> Response {
    limit(&state, request, next, |err| ApiError(err).into_response()).await
}

/// The same limit for the CognitoApi profile, answered as `{message}`.
pub async fn limit_compat(State(state): State<AppState>, request: Request, next: Next) -> Response {
    limit(&state, request, next, |err| {
        crate::http::compat::CompatError::from(err).into_response()
    })
    .await
}

async fn limit(
    state: &AppState,
    request: Request,
    next: Next,
    refuse: impl FnOnce(AuthError) -> Response,
) -> Response {
    let (parts, body) = request.into_parts();
    if let Some(ip) = client_ip(&parts)
        && let Err(err) = state.rate_limits.check(ip)
    {
        metrics::counter!("authgate_rate_limited_total").increment(1);
        return refuse(err);
    }
    next.run(Request::from_parts(parts, body)).await
}
