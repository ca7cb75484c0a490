//! `POST /oauth2/token`: OAuth 2.0's token endpoint, form-encoded, with
//! OAuth's error format (`{"error","error_description"}`, RFC 6749 §5.2).
//! `client_credentials` for machine clients (credentials in HTTP Basic or in
//! the form), `authorization_code` for app clients (with PKCE), and
//! `refresh_token` for user sessions.

use crate::state::AppState;
use authgate_api_types::oauth::{OAuthError, OAuthTokenResponse, RevokeForm, TokenForm};
use authgate_core::{AuthError, Secret};
use authgate_service::RequestMeta;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// An OAuth error response.
struct OAuthFailure {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthFailure {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }
}

impl From<AuthError> for OAuthFailure {
    fn from(err: AuthError) -> Self {
        let detail = err.public_detail();
        match err {
            AuthError::InvalidClient => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_client", detail)
            }
            AuthError::UnauthorizedClient(_) => {
                Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", detail)
            }
            AuthError::InvalidRequest { field: Some(f), .. } if f == "scope" => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_scope", detail)
            }
            AuthError::InvalidRequest { .. } | AuthError::MalformedJson(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
            }
            AuthError::InvalidRefreshToken
            | AuthError::RefreshTokenReused
            | AuthError::InvalidGrant(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_grant", detail)
            }
            other => {
                let status = StatusCode::from_u16(other.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let error = if status.is_server_error() {
                    "temporarily_unavailable"
                } else {
                    "invalid_request"
                };
                Self::new(status, error, detail)
            }
        }
    }
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Json(OAuthError {
                error: self.error.into(),
                error_description: self.description,
            }),
        )
            .into_response();
        if self.error == "invalid_client" {
            crate::problem::error_headers(&AuthError::InvalidClient, response.headers_mut());
        }
        response
    }
}

/// Client credentials from `Authorization: Basic` or, failing that, the form.
fn client_credentials(
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<(String, Secret), OAuthFailure> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some((scheme, encoded)) = value.trim().split_once(' ')
        && scheme.eq_ignore_ascii_case("basic")
    {
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| OAuthFailure::from(AuthError::InvalidClient))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthFailure::from(AuthError::InvalidClient))?;
        return Ok((id.to_string(), Secret::new(secret)));
    }
    match (&form.client_id, &form.client_secret) {
        (Some(id), Some(secret)) if !id.is_empty() => Ok((id.clone(), secret.clone())),
        _ => Err(AuthError::InvalidClient.into()),
    }
}

/// The client of an `authorization_code` request: HTTP Basic
/// (`client_secret_basic`), or `client_id` in the form with its
/// `client_secret` (`client_secret_post`) or without one (a public client,
/// `none`).
fn code_client(
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<(String, Option<Secret>), OAuthFailure> {
    if headers.contains_key(header::AUTHORIZATION) {
        let (id, secret) = client_credentials(headers, form)?;
        return Ok((id, Some(secret)));
    }
    match &form.client_id {
        Some(id) if !id.is_empty() => Ok((id.clone(), form.client_secret.clone())),
        _ => Err(AuthError::InvalidClient.into()),
    }
}

/// The OAuth token endpoint.
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth2",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = OAuthTokenResponse),
        (status = 400, description = "invalid_request, invalid_grant, invalid_scope, unauthorized_client, unsupported_grant_type", body = OAuthError),
        (status = 401, description = "invalid_client", body = OAuthError)))]
pub async fn token(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    match issue(&state, &meta, &headers, form).await {
        Ok(body) => (
            [
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::PRAGMA, HeaderValue::from_static("no-cache")),
            ],
            Json(body),
        )
            .into_response(),
        Err(failure) => failure.into_response(),
    }
}

async fn issue(
    state: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<OAuthTokenResponse, OAuthFailure> {
    let Form(form) = form.map_err(|e| {
        OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "the body must be application/x-www-form-urlencoded: {}",
                e.body_text()
            ),
        )
    })?;
    match form.grant_type.as_deref() {
        Some("client_credentials") => {
            let (id, secret) = client_credentials(headers, &form)?;
            let token = state
                .clients
                .client_credentials(meta, &id, &secret, form.scope.as_deref())
                .await?;
            Ok(OAuthTokenResponse {
                access_token: token.access_token.expose().to_string(),
                token_type: "Bearer".into(),
                expires_in: token.expires_in,
                scope: Some(token.scopes.join(" ")),
                id_token: None,
                refresh_token: None,
            })
        }
        Some("refresh_token")
            if form
                .refresh_token
                .as_ref()
                .is_some_and(|t| state.authorization.is_client_refresh_token(t)) =>
        {
            // A code flow's token: only for the client it was issued to.
            let (id, secret) = code_client(headers, &form)?;
            let refresh = form.refresh_token.clone().unwrap_or_default();
            let tokens = state
                .authorization
                .refresh(meta, &id, secret.as_ref(), &refresh)
                .await?;
            Ok(OAuthTokenResponse {
                access_token: tokens.access_token.expose().to_string(),
                token_type: "Bearer".into(),
                expires_in: tokens.expires_in,
                scope: Some(tokens.scope),
                id_token: tokens.id_token.map(|t| t.expose().to_string()),
                refresh_token: tokens.refresh_token.map(|t| t.expose().to_string()),
            })
        }
        Some("refresh_token") => {
            let refresh = form
                .refresh_token
                .clone()
                .unwrap_or_else(|| Secret::new(""));
            let session =
                state
                    .sessions
                    .refresh(meta, &refresh)
                    .await
                    .map_err(|err| match err {
                        AuthError::InvalidRequest { .. } => OAuthFailure::new(
                            StatusCode::BAD_REQUEST,
                            "invalid_request",
                            "refresh_token is missing",
                        ),
                        other => other.into(),
                    })?;
            Ok(OAuthTokenResponse {
                access_token: session.tokens.access_token.expose().to_string(),
                token_type: "Bearer".into(),
                expires_in: session.tokens.expires_in,
                scope: None,
                id_token: Some(session.tokens.id_token.expose().to_string()),
                refresh_token: session
                    .tokens
                    .refresh_token
                    .as_ref()
                    .map(|t| t.expose().to_string()),
            })
        }
        Some("authorization_code") => {
            let (id, secret) = code_client(headers, &form)?;
            let code = form.code.clone().unwrap_or_else(|| Secret::new(""));
            let tokens = state
                .authorization
                .exchange_code(
                    meta,
                    &id,
                    secret.as_ref(),
                    &code,
                    form.redirect_uri.as_deref(),
                    form.code_verifier.as_deref(),
                )
                .await?;
            Ok(OAuthTokenResponse {
                access_token: tokens.access_token.expose().to_string(),
                token_type: "Bearer".into(),
                expires_in: tokens.expires_in,
                scope: Some(tokens.scope),
                id_token: tokens.id_token.map(|t| t.expose().to_string()),
                refresh_token: tokens.refresh_token.map(|t| t.expose().to_string()),
            })
        }
        Some(other) => Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "grant_type {} is not supported: use authorization_code, client_credentials or refresh_token",
                other.chars().take(40).collect::<String>()
            ),
        )),
        None => Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is missing",
        )),
    }
}

/// `POST /oauth2/revoke` (RFC 7009): the form's `token` (a code flow's
/// refresh or access token), by the client it was issued to. 200 whether or
/// not there was anything to revoke.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth2",
    request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "revoked, or nothing to revoke"),
        (status = 401, description = "invalid_client", body = OAuthError)))]
pub async fn revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Response {
    let answer = async {
        let Form(form) = form.map_err(|e| {
            OAuthFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "the body must be application/x-www-form-urlencoded: {}",
                    e.body_text()
                ),
            )
        })?;
        let token = form
            .token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                OAuthFailure::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "token is missing",
                )
            })?;
        let client_form = TokenForm {
            client_id: form.client_id.clone(),
            client_secret: form.client_secret.clone(),
            ..TokenForm::default()
        };
        let (id, secret) = code_client(&headers, &client_form)?;
        state
            .authorization
            .revoke(&meta, &id, secret.as_ref(), &token)
            .await?;
        Ok::<(), OAuthFailure>(())
    }
    .await;
    match answer {
        Ok(()) => (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            StatusCode::OK,
        )
            .into_response(),
        Err(failure) => failure.into_response(),
    }
}

/// OpenID Connect's UserInfo: the bearer's `sub`, and `email`,
/// `email_verified` and `name` as its scopes allow. A missing or refused
/// token is a 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
#[utoipa::path(method(get, post), path = "/oauth2/userInfo", tag = "oauth2", security(("bearer" = [])),
    responses((status = 200, content_type = "application/json", body = Object),
        (status = 401, description = "invalid_token", body = OAuthError)))]
pub async fn user_info(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let refused = |err: AuthError| {
        let description = err.public_detail();
        let mut response =
            OAuthFailure::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
                .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        response
    };
    let Some(token) = crate::extract::bearer_from_headers(&headers) else {
        return refused(AuthError::MissingToken);
    };
    let caller = match state.authn.user(token).await {
        Ok(caller) => caller,
        Err(err) => return refused(err),
    };
    match state.authorization.user_info(&caller).await {
        Ok(info) => (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Json(info),
        )
            .into_response(),
        Err(err) => OAuthFailure::from(err).into_response(),
    }
}

/// authgate's own keys: they verify machine-client tokens (issuer
/// `AUTHGATE_PUBLIC_URL`) whatever the provider; with the embedded provider
/// they are also the keys of `/.well-known/jwks.json`.
#[utoipa::path(get, path = "/oauth2/jwks.json", tag = "oauth2",
    responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn machine_jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.discovery.machine_jwks()),
    )
}

/// `/oauth2`: the token endpoint (the `token` rate-limit group, refused as
/// an OAuth error object with `Retry-After`) and authgate's own keys.
pub fn router(state: &AppState) -> utoipa_axum::router::OpenApiRouter<AppState> {
    use authgate_service::protection::Group;
    use utoipa_axum::routes;
    let refuse = |err: AuthError| {
        let mut response = OAuthFailure::from(err.clone()).into_response();
        crate::problem::error_headers(&err, response.headers_mut());
        response
    };
    crate::openapi::rate_limited(
        utoipa_axum::router::OpenApiRouter::new()
            .routes(routes!(token))
            .routes(routes!(revoke))
            .route_layer(axum::middleware::from_fn_with_state(
                crate::ratelimit::limited(state, Group::Token, refuse),
                crate::ratelimit::charge,
            )),
    )
    .routes(routes!(machine_jwks))
    .routes(routes!(user_info))
    .route(
        "/oauth2/userinfo",
        axum::routing::get(user_info).post(user_info),
    )
}
