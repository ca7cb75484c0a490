//! The CognitoApi-compatible profile (`AUTHGATE_COMPAT_COGNITO_API=true`):
//! the paths and snake_case payloads of the open-source CognitoApi, served by
//! thin handlers over the same services as the native contract. Errors are
//! `{"message": …}` with the status of the native error table (never
//! problem+json here). `user_id` is the provider subject (Cognito's `sub`, as
//! the original answers it).

pub mod handlers;

use crate::problem::{ErrorCode, json_rejection_to_error};
use crate::state::AppState;
use authgate_core::AuthError;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every route of the profile. The routes a stranger can call are rate
/// limited per client address in the native groups (the original relied on
/// a WAF for that), refused as `{message}`.
pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    use crate::ratelimit::{charge, limited};
    use authgate_service::protection::Group;
    let group = |group| {
        from_fn_with_state(
            limited(state, group, |err| CompatError::from(err).into_response()),
            charge,
        )
    };
    let sign_up = crate::openapi::rate_limited(
        OpenApiRouter::new()
            .routes(routes!(handlers::create_user))
            .routes(routes!(handlers::confirm_user))
            .routes(routes!(handlers::resend_confirmation_code))
            .route_layer(group(Group::SignUp)),
    );
    let signing_in = crate::openapi::rate_limited(
        OpenApiRouter::new()
            .routes(routes!(handlers::login))
            .routes(routes!(handlers::mfa_verify))
            .routes(routes!(handlers::confirm_mfa))
            .routes(routes!(handlers::passkey_login_start))
            .routes(routes!(handlers::passkey_login_complete))
            .route_layer(group(Group::SignIn)),
    );
    let recovery = crate::openapi::rate_limited(
        OpenApiRouter::new()
            .routes(routes!(handlers::forgot_password))
            .routes(routes!(handlers::confirm_password))
            .routes(routes!(handlers::mfa_reset_start))
            .routes(routes!(handlers::mfa_reset_verify))
            .routes(routes!(handlers::mfa_reset_confirm))
            .route_layer(group(Group::Recovery)),
    );
    let token = crate::openapi::rate_limited(
        OpenApiRouter::new()
            .routes(routes!(handlers::refresh_token))
            .route_layer(group(Group::Token)),
    );
    OpenApiRouter::new()
        .merge(sign_up)
        .merge(signing_in)
        .merge(recovery)
        .merge(token)
        .routes(routes!(handlers::delete_user))
        .routes(routes!(handlers::reset_password))
        .routes(routes!(handlers::change_password))
        .routes(routes!(handlers::userinfo))
        .routes(routes!(handlers::logout))
        .routes(routes!(handlers::passkey_register_start))
        .routes(routes!(handlers::passkey_register_complete))
        .routes(routes!(handlers::passkey_list))
        .routes(routes!(handlers::passkey_delete))
        .route_layer(axum::middleware::map_response(bare_errors))
}

/// axum's own answers on the profile's routes (405 for another method) as
/// `{message}`, keeping their status.
async fn bare_errors(response: Response) -> Response {
    match crate::middleware::bare_error(&response) {
        Some(error) => {
            let status = response.status();
            let mut answer = CompatError::from(error).into_response();
            *answer.status_mut() = status;
            answer
        }
        None => response,
    }
}

/// The error body of the profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompatMessage {
    pub message: String,
}

/// An error of the profile: `{message}` with the native table's status.
#[derive(Debug)]
pub struct CompatError(AuthError);

impl From<AuthError> for CompatError {
    fn from(err: AuthError) -> Self {
        CompatError(err)
    }
}

impl From<JsonRejection> for CompatError {
    fn from(rejection: JsonRejection) -> Self {
        CompatError(json_rejection_to_error(&rejection))
    }
}

impl IntoResponse for CompatError {
    fn into_response(self) -> Response {
        let err = self.0;
        let kind = err.kind();
        if let AuthError::Internal(detail) = &err {
            tracing::error!(%detail, "internal error");
        }
        let status = StatusCode::from_u16(kind.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            Json(CompatMessage {
                message: err.public_detail(),
            }),
        )
            .into_response();
        crate::problem::error_headers(&err, response.headers_mut());
        response.extensions_mut().insert(ErrorCode(kind.code));
        response
    }
}

/// `axum::Json` whose rejections are `{message}` answers (bad JSON: 400).
pub struct CompatJson<T>(pub T);

impl<S, T> FromRequest<S> for CompatJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = CompatError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(CompatJson(value))
    }
}
