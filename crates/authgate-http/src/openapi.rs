//! The OpenAPI document's frame: title, tags and the bearer scheme. The
//! paths come from the `utoipa::path` annotation beside each handler.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
        (name = "passkeys", description = "WebAuthn passkeys: registration, list, deletion, sign-in"),
        (name = "federation", description = "Identities at external OpenID providers linked to the account"),
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
pub struct ApiDoc;

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
