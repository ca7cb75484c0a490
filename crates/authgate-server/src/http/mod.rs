//! The HTTP surface: the router with every route documented in OpenAPI
//! ([`router`]), extractors, error rendering and middleware.

pub mod account_routes;
pub mod admin_routes;
pub mod auth_routes;
pub mod compat;
pub mod dto;
pub mod extract;
pub mod mfa_reset_routes;
pub mod middleware;
pub mod ops_routes;
pub mod problem;

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "authgate",
        description = "A self-hostable Auth API: the service-owned boundary in front of an identity provider."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "The native authentication contract"),
        (name = "mfa", description = "TOTP authenticators"),
        (name = "password", description = "Password reset, change and re-verification"),
        (name = "admin", description = "User administration (platform admins)"),
        (name = "operations", description = "Health, metrics, this document"),
        (name = "discovery", description = "OIDC discovery and keys"),
        (name = "cognitoapi", description = "The CognitoApi-compatible profile (AUTHGATE_COMPAT_COGNITO_API=true): snake_case, errors as {message}"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The accessToken of a Session"))
                    .build(),
            ),
        );
    }
}

/// Every route, each documented; `public` routes get the rate limiter.
pub fn router(state: &AppState) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let public = OpenApiRouter::new()
        .routes(routes!(auth_routes::sign_up))
        .routes(routes!(auth_routes::confirm_sign_up))
        .routes(routes!(auth_routes::resend_confirmation))
        .routes(routes!(auth_routes::sign_in))
        .routes(routes!(auth_routes::refresh))
        .routes(routes!(auth_routes::new_password_challenge))
        .routes(routes!(auth_routes::totp_challenge))
        .routes(routes!(auth_routes::mfa_setup_challenge))
        .routes(routes!(account_routes::request_password_reset))
        .routes(routes!(account_routes::confirm_password_reset))
        .routes(routes!(account_routes::recover_identifier))
        .routes(routes!(mfa_reset_routes::start))
        .routes(routes!(mfa_reset_routes::verify))
        .routes(routes!(mfa_reset_routes::confirm))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::ratelimit::limit_public,
        ));
    let mut router = OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(public);
    if state.settings.compat_cognito_api {
        router = router.merge(compat::router(state));
    }
    let (router, openapi) = router
        .routes(routes!(auth_routes::sign_out))
        .routes(routes!(auth_routes::subject))
        .routes(routes!(account_routes::begin_totp))
        .routes(routes!(account_routes::verify_totp))
        .routes(routes!(account_routes::change_password))
        .routes(routes!(account_routes::verify_password))
        .routes(routes!(admin_routes::create_user, admin_routes::list_users))
        .routes(routes!(admin_routes::get_user, admin_routes::delete_user))
        .routes(routes!(admin_routes::disable_user))
        .routes(routes!(admin_routes::enable_user))
        .routes(routes!(admin_routes::reset_user_password))
        .routes(routes!(admin_routes::audit_events))
        .routes(routes!(ops_routes::live))
        .routes(routes!(ops_routes::ready))
        .routes(routes!(ops_routes::metrics))
        .routes(routes!(ops_routes::openapi))
        .routes(routes!(ops_routes::openid_configuration))
        .routes(routes!(ops_routes::jwks))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .split_for_parts();
    (router, openapi)
}
