//! Extractors: a JSON body whose rejections become problem+json
//! ([`ApiJson`]), the authenticated caller ([`Caller`]: the guard's validation
//! plus the provider's session check), and the request metadata
//! ([`RequestMeta`]) that audit events carry.

use crate::http::problem::ApiError;
use crate::services::{Caller, Principal, RequestMeta};
use crate::state::AppState;
use authgate_core::{AuthError, Secret};
use authgate_guard::{Guard, GuardError};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::net::SocketAddr;

/// `axum::Json` with problem+json rejections that name the failing field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}

/// The bearer token of `Authorization: Bearer …`, if any.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    bearer_from_headers(&parts.headers)
}

/// The bearer token of the `Authorization` header of `headers`, if any.
pub fn bearer_from_headers(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let token = bearer_token(parts).ok_or(AuthError::MissingToken)?;
        let caller = caller_from_token(state, &state.guard, token).await?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// The caller behind a token: the guard's validation plus the provider's
/// session check. The one path from a token to a [`Caller`], whether the
/// token came as a bearer header or in a body (CognitoApi profile).
pub async fn caller_from_token(
    state: &AppState,
    guard: &Guard,
    token: &str,
) -> Result<Caller, AuthError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    let claims = guard.validate(token).await.map_err(AuthError::from)?;
    state.auth.check_session(&claims).await?;
    Ok(Caller {
        claims,
        token: Secret::new(token),
    })
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let token = bearer_token(parts).ok_or(AuthError::MissingToken)?;
        let principal = principal_from_token(state, token).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// A user's access token, or a machine client's. Machine tokens carry
/// authgate's own issuer: with a provider of another issuer (Cognito) they
/// go straight to the machine guard; with the embedded provider (one issuer,
/// one key ring) the user guard refuses them for their client and the
/// machine guard takes over. Either way authgate's keys must have signed
/// the token, for a client that still exists.
pub async fn principal_from_token(state: &AppState, token: &str) -> Result<Principal, AuthError> {
    let token = token.trim();
    let machine_issuer = state.settings.issuer();
    if state.auth.provider().issuer() != machine_issuer
        && authgate_core::token::unverified_claims(token).is_some_and(|c| c.iss == machine_issuer)
    {
        let claims = state.machine_guard.validate(token).await?;
        return Ok(Principal::Client(state.auth.machine_caller(&claims).await?));
    }
    match state.guard.validate(token).await {
        Ok(claims) => {
            state.auth.check_session(&claims).await?;
            Ok(Principal::User(Box::new(Caller {
                claims,
                token: Secret::new(token),
            })))
        }
        Err(refused @ GuardError::WrongClient) => match state.machine_guard.validate(token).await {
            Ok(claims) if claims.client_id.as_deref() == Some(claims.sub.as_str()) => {
                Ok(Principal::Client(state.auth.machine_caller(&claims).await?))
            }
            _ => Err(refused.into()),
        },
        Err(refused) => Err(refused.into()),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestMeta {
            ip: client_ip(parts).map(|ip| ip.to_string()),
            request_id: parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        })
    }
}

/// The peer address of the connection.
pub fn client_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}
