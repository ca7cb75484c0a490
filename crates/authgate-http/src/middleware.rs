//! Cross-cutting middleware: the client address and the request id (a
//! client's own only from a trusted proxy) carried into problem bodies, problem+json for the answers
//! axum produces itself (404, 405, panics), the security headers of every
//! answer, and request metrics by route and status.

use crate::problem::ApiError;
use crate::request_id::REQUEST_ID;
use authgate_core::AuthError;
use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

/// The proxies authgate trusts (`AUTHGATE_TRUSTED_PROXIES`: CIDRs or
/// addresses, comma-separated): only a request from one of them may name
/// its client (`X-Forwarded-For`, `Forwarded`) and its own `X-Request-Id`.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Parse the setting; the error names the entry that is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an address or a CIDR (e.g. 10.0.0.0/8)"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// A request id a proxy may pass on: 1 to 128 visible ASCII characters.
fn acceptable_request_id(value: &axum::http::HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Who sent the request, once for all that follows: its
/// [`ClientAddress`](crate::client_address::ClientAddress) (the peer, or the
/// client a trusted proxy forwards), and its id — a trusted proxy's
/// `X-Request-Id` is kept, any other client's is replaced by a fresh one (so
/// a client cannot write what it likes into audit rows and logs).
pub async fn identify_client(
    axum::extract::State(proxies): axum::extract::State<std::sync::Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    if let Some(peer) = peer {
        let client = crate::client_address::resolve(peer, request.headers(), &proxies);
        request
            .extensions_mut()
            .insert(crate::client_address::ClientAddress(client));
    }
    let keep = peer.is_some_and(|ip| proxies.contains(ip))
        && request
            .headers()
            .get("x-request-id")
            .is_some_and(acceptable_request_id);
    if !keep {
        let id = uuid::Uuid::new_v4().to_string();
        if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
            request.headers_mut().insert("x-request-id", value);
        }
    }
    next.run(request).await
}

/// The headers of every answer: `Cache-Control: no-store` unless the route
/// chose its own (tokens, codes and contexts are never cached),
/// `X-Content-Type-Options: nosniff`, and HSTS when the public URL is https.
pub async fn security_headers(
    axum::extract::State(https): axum::extract::State<bool>,
    request: Request,
    next: Next,
) -> Response {
    use axum::http::HeaderValue;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
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
