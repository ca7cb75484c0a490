//! The axum side of the guard: the [`Authenticated`] extractor and the
//! [`GuardRejection`] response it answers with.
//!
//! The token is read from `Authorization: Bearer <token>` (scheme matched
//! case-insensitively). A request without one — no header, another scheme, an
//! empty token — is `MissingToken`; several `Authorization` headers or a
//! non-ASCII value are `Malformed`.
//!
//! Rejections are `application/problem+json` (RFC 9457) with the stable codes of
//! [`authgate_core::AuthError`] and a `WWW-Authenticate` challenge (RFC 6750).
//! Neither the token nor key-fetch details ever appear in a response.

use std::sync::Arc;

use authgate_core::{AccessClaims, AuthError, Secret};
use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::{Guard, GuardError};

/// A request whose bearer token the [`Guard`] accepted.
///
/// As an extractor it needs `Arc<Guard>` to be reachable from the router state
/// (`Arc<Guard>: FromRef<S>`). Behind a [`GuardLayer`](crate::GuardLayer) the
/// layer has already validated the token and stored an `Authenticated` in the
/// request extensions; the extractor then reuses it instead of validating again
/// (and `Extension<Authenticated>` works as well).
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The validated claims.
    pub claims: AccessClaims,
    /// The bearer token itself, e.g. to call the provider on the user's behalf.
    pub token: Secret,
}

/// Validate the request's bearer token.
pub(crate) async fn authenticate(
    guard: &Guard,
    headers: &HeaderMap,
) -> Result<Authenticated, GuardError> {
    let token = bearer_token(headers)?;
    let claims = guard.validate(token).await?;
    Ok(Authenticated {
        claims,
        token: Secret::new(token),
    })
}

/// The token of the request's `Authorization: Bearer` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, GuardError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(GuardError::MissingToken);
    };
    if values.next().is_some() {
        return Err(GuardError::Malformed);
    }
    let value = value.to_str().map_err(|_| GuardError::Malformed)?.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(GuardError::MissingToken);
    }
    Ok(token)
}

impl<S> FromRequestParts<S> for Authenticated
where
    Arc<Guard>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(done) = parts.extensions.get::<Authenticated>() {
            return Ok(done.clone());
        }
        let guard = Arc::<Guard>::from_ref(state);
        let authenticated = authenticate(&guard, &parts.headers)
            .await
            .map_err(GuardRejection)?;
        parts.extensions.insert(authenticated.clone());
        Ok(authenticated)
    }
}

/// The response to a refused token: `401` (or `503` when the keys cannot be
/// fetched) with an `application/problem+json` body such as
///
/// ```json
/// {"type": "https://authgate.dev/errors/invalid-token", "title": "Invalid token",
///  "status": 401, "code": "invalid_token",
///  "detail": "the access token is not valid: expired"}
/// ```
///
/// and `WWW-Authenticate: Bearer` — with `error="invalid_token"` and the
/// reason as `error_description` when the request did carry a token. The `503`
/// has a plain `Bearer` challenge: the token was not found invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardRejection(pub GuardError);

impl From<GuardError> for GuardRejection {
    fn from(error: GuardError) -> Self {
        Self(error)
    }
}

impl IntoResponse for GuardRejection {
    fn into_response(self) -> Response {
        let challenge = match &self.0 {
            GuardError::MissingToken | GuardError::JwksUnavailable(_) => {
                HeaderValue::from_static("Bearer")
            }
            refused => HeaderValue::from_str(&format!(
                r#"Bearer error="invalid_token", error_description="{}""#,
                refused.reason()
            ))
            .unwrap_or_else(|_| HeaderValue::from_static(r#"Bearer error="invalid_token""#)),
        };
        let error = AuthError::from(self.0);
        let kind = error.kind();
        let status = StatusCode::from_u16(kind.status).unwrap_or(StatusCode::UNAUTHORIZED);
        problem_response(
            status,
            kind.code,
            kind.title,
            &error.public_detail(),
            Some(challenge),
        )
    }
}

/// An `application/problem+json` answer in the style every rejection of this
/// crate uses: `type` is `https://authgate.dev/errors/<code with dashes>`.
pub(crate) fn problem_response(
    status: StatusCode,
    code: &str,
    title: &str,
    detail: &str,
    challenge: Option<HeaderValue>,
) -> Response {
    let body = serde_json::json!({
        "type": format!("https://authgate.dev/errors/{}", code.replace('_', "-")),
        "title": title,
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    let mut response = (
        status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        body.to_string(),
    )
        .into_response();
    if let Some(challenge) = challenge {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                AUTHORIZATION,
                HeaderValue::from_str(value).expect("valid header"),
            );
        }
        map
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for value in ["Bearer abc", "bearer abc", "BEARER   abc ", "  BeArEr abc"] {
            assert_eq!(bearer_token(&headers(&[value])), Ok("abc"), "{value:?}");
        }
    }

    #[test]
    fn no_bearer_token_is_missing_token() {
        for value in ["Basic dXNlcjpwdw==", "Bearer", "Bearer   ", "", "Bearerabc"] {
            assert_eq!(
                bearer_token(&headers(&[value])),
                Err(GuardError::MissingToken),
                "{value:?}"
            );
        }
        assert_eq!(
            bearer_token(&HeaderMap::new()),
            Err(GuardError::MissingToken)
        );
    }

    #[test]
    fn several_authorization_headers_are_malformed() {
        assert_eq!(
            bearer_token(&headers(&["Bearer a", "Bearer b"])),
            Err(GuardError::Malformed)
        );
    }

    #[test]
    fn jwks_unavailable_is_503_without_the_detail() {
        let response =
            GuardRejection(GuardError::JwksUnavailable("10.0.0.7 refused".into())).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
    }
}
