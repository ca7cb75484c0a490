//! Error rendering: every [`AuthError`] becomes an RFC 9457
//! `application/problem+json` body with the stable `code` and the request id.
//! Extractor rejections (bad JSON, missing fields, oversized bodies) are mapped
//! to `AuthError` here too, so a client never sees a bare text error.

pub use authgate_api_types::problem::Problem;
use authgate_core::AuthError;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// What a native handler answers: its body, or an error rendered as
/// problem+json.
pub type ApiResult<T> = Result<T, ApiError>;

/// An [`AuthError`] as an HTTP answer.
#[derive(Debug)]
pub struct ApiError(pub AuthError);

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        ApiError(err)
    }
}

impl From<authgate_store::StoreError> for ApiError {
    fn from(err: authgate_store::StoreError) -> Self {
        ApiError(err.into())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError(json_rejection_to_error(&rejection))
    }
}

/// What went wrong with a JSON body, in the caller's terms.
pub fn json_rejection_to_error(rejection: &JsonRejection) -> AuthError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AuthError::InvalidRequest {
            field: None,
            message: "the request body must be JSON with Content-Type: application/json".into(),
        },
        JsonRejection::JsonSyntaxError(err) => AuthError::MalformedJson(source_text(err)),
        JsonRejection::JsonDataError(err) => {
            let text = err.body_text();
            let detail = text
                .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                .unwrap_or(&text)
                .to_string();
            AuthError::InvalidRequest {
                field: field_of(&detail),
                message: detail,
            }
        }
        JsonRejection::BytesRejection(err) => {
            if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AuthError::PayloadTooLarge
            } else {
                AuthError::InvalidRequest {
                    field: None,
                    message: "the request body could not be read".into(),
                }
            }
        }
        other => AuthError::InvalidRequest {
            field: None,
            message: other.body_text(),
        },
    }
}

/// serde's message without axum's prefix: "missing field `email` at line 1 column 2".
fn source_text(err: &dyn std::error::Error) -> String {
    let mut inner: &dyn std::error::Error = err;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

/// The field serde complains about: `missing field \`email\``, or a path
/// prefix `email: invalid type…`.
fn field_of(detail: &str) -> Option<String> {
    if let Some(rest) = detail.split("field `").nth(1) {
        return rest.split('`').next().map(str::to_string);
    }
    let (path, _) = detail.split_once(": ")?;
    (!path.is_empty() && !path.contains(' ')).then(|| path.to_string())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
        if let AuthError::Internal(detail) = &self.0 {
            tracing::error!(%detail, "internal error");
        }
        let detail = self.0.public_detail();
        let problem = Problem {
            kind: format!(
                "https://authgate.dev/errors/{}",
                kind.code.replace('_', "-")
            ),
            title: kind.title.to_string(),
            status: kind.status,
            code: kind.code.to_string(),
            detail,
            field: self.0.field().map(str::to_string),
            rule: match &self.0 {
                AuthError::InvalidPassword { rule, .. } => Some(rule.code().to_string()),
                _ => None,
            },
            request_id: crate::request_id::current_request_id().filter(|id| !id.is_empty()),
        };
        let status = StatusCode::from_u16(kind.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(problem)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        error_headers(&self.0, response.headers_mut());
        response.extensions_mut().insert(ErrorCode(kind.code));
        response
    }
}

/// The headers an error answer carries, whatever its body format (the
/// native problem+json, the profile's `{message}`, OAuth's error object):
/// `Retry-After` when rate limited, `WWW-Authenticate` when a credential
/// is missing or refused. Written here only.
pub fn error_headers(err: &AuthError, headers: &mut axum::http::HeaderMap) {
    match err {
        AuthError::RateLimited { retry_after_secs }
        | AuthError::TooManyFailedAttempts {
            retry_after_secs: Some(retry_after_secs),
        } => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        AuthError::MissingToken => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        AuthError::InvalidToken { .. } | AuthError::TokenRevoked => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        AuthError::InvalidClient => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="authgate""#),
            );
        }
        _ => {}
    }
}

/// The error code of an answer, for the metrics and the access log.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_missing_field() {
        assert_eq!(
            field_of("missing field `email` at line 1 column 2").as_deref(),
            Some("email")
        );
        assert_eq!(field_of("expected value at line 1 column 1"), None);
        assert_eq!(
            field_of("password: invalid type: integer `5`, expected a string").as_deref(),
            Some("password")
        );
    }
}
