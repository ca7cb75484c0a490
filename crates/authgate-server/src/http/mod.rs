//! The HTTP surface: the router with every route documented in OpenAPI
//! ([`router`]), extractors, error rendering and middleware.

pub mod account_routes;
pub mod admin_routes;
pub mod auth_routes;
pub mod authz_dto;
pub mod authz_routes;
pub mod compat;
pub mod dto;
pub mod extract;
pub mod mfa_reset_routes;
pub mod middleware;
pub mod oauth_routes;
pub mod ops_routes;
pub mod problem;
pub mod tenant_routes;

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
        (name = "admin", description = "User and catalog administration (platform admins, or machine clients with the admin scope)"),
        (name = "tenants", description = "Tenants (workspaces) and their members"),
        (name = "authorization", description = "The user context, the authorization catalog, decisions and the gateway authorizer"),
        (name = "oauth2", description = "OAuth 2.0 token endpoint (client_credentials, refresh_token)"),
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
        .routes(routes!(oauth_routes::token))
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
        .routes(routes!(authz_routes::subject))
        .routes(routes!(authz_routes::catalog))
        .routes(routes!(authz_routes::check))
        .routes(routes!(authz_routes::forward))
        .routes(routes!(authz_routes::list_roles, authz_routes::create_role))
        .routes(routes!(
            authz_routes::get_role,
            authz_routes::update_role,
            authz_routes::delete_role
        ))
        .routes(routes!(authz_routes::set_platform_role))
        .routes(routes!(authz_routes::list_clients))
        .routes(routes!(authz_routes::revoke_client))
        .routes(routes!(
            authz_routes::list_policies,
            authz_routes::create_policy
        ))
        .routes(routes!(
            authz_routes::get_policy,
            authz_routes::put_policy,
            authz_routes::delete_policy
        ))
        .routes(routes!(
            tenant_routes::create_tenant,
            tenant_routes::list_tenants
        ))
        .routes(routes!(
            tenant_routes::get_tenant,
            tenant_routes::rename_tenant,
            tenant_routes::delete_tenant
        ))
        .routes(routes!(
            tenant_routes::list_members,
            tenant_routes::add_member
        ))
        .routes(routes!(tenant_routes::withdraw_invitation))
        .routes(routes!(
            tenant_routes::change_member_role,
            tenant_routes::remove_member
        ))
        .routes(routes!(account_routes::begin_totp))
        .routes(routes!(account_routes::verify_totp))
        .routes(routes!(
            account_routes::regenerate_recovery_codes,
            account_routes::recovery_codes_left
        ))
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
        .routes(routes!(ops_routes::machine_jwks))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .split_for_parts();
    (router, openapi)
}
