//! Cross-cutting middleware: the request id carried into problem bodies,
//! problem+json for the answers axum produces itself (404, 405, panics), and
//! request metrics by route and status.

use crate::http::problem::ApiError;
use authgate_core::AuthError;
use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

tokio::task_local! {
    /// The id of the request being served, for problem bodies.
    pub static REQUEST_ID: String;
}

/// The current request id, inside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs the request inside a scope that knows its request id, and turns bare
/// error answers (no body type: axum's own 404/405/413) into problem+json.
pub async fn request_scope(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    REQUEST_ID
        .scope(id, async move {
            let response = next.run(request).await;
            let Some(error) = bare_error(&response) else {
                return response;
            };
            let status = response.status();
            let mut problem = ApiError(error).into_response();
            // Keep the original status (e.g. 408) when it is more precise.
            *problem.status_mut() = status;
            problem
        })
        .await
}

/// The error of a bare error answer (no body type, or text: axum's own
/// 404/405/413 and rejections), to render in the contract's error shape;
/// `None` for every other answer.
pub fn bare_error(response: &Response) -> Option<AuthError> {
    let bare = !response.headers().contains_key(header::CONTENT_TYPE)
        || response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    let status = response.status();
    if !(bare && (status.is_client_error() || status.is_server_error())) {
        return None;
    }
    Some(match status {
        StatusCode::NOT_FOUND => AuthError::NotFound("route".into()),
        StatusCode::METHOD_NOT_ALLOWED => AuthError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => AuthError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::BAD_REQUEST => AuthError::InvalidRequest {
            field: None,
            message: "the request could not be read".into(),
        },
        _ if status.is_server_error() => AuthError::Internal(format!("bare {status} answer")),
        _ => return None,
    })
}

/// Counts `authgate_http_requests_total{route,method,status}` and observes
/// `authgate_http_request_duration_seconds{route}`.
pub async fn track_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().as_str().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "authgate_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => status,
    )
    .increment(1);
    metrics::histogram!("authgate_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Answer for a panic inside a handler: a 500 problem, never a dropped connection.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError(AuthError::Internal("a handler panicked".into())).into_response()
}
