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

/// What every route of the native contract can answer besides what its
/// handler documents, added to each operation once the routes are merged:
/// errors as `application/problem+json` (the body every native refusal
/// has), 401 on a bearer route, and 400 (malformed JSON), 413 (too large)
/// and 422 (a field wrong or missing) on a route with a JSON body. The
/// CognitoApi profile (`{message}` errors) and `/oauth2/*` (OAuth's error
/// object) keep their own.
pub fn complete(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let profile = operation
                .tags
                .as_ref()
                .is_some_and(|tags| tags.iter().any(|t| t == "cognitoapi"));
            if !path.starts_with("/v1/") || profile {
                continue;
            }
            let responses = &mut operation.responses.responses;
            for (status, response) in responses.iter_mut() {
                if let (true, RefOr::T(response)) =
                    (status.starts_with('4') || status.starts_with('5'), response)
                {
                    response.content.shift_remove("application/json");
                    response
                        .content
                        .insert(PROBLEM_JSON.into(), RefOr::T(problem_content()));
                }
            }
            let mut ensure = |status: &str, description: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::T(problem_response(description)));
            };
            if operation.security.is_some() {
                ensure(
                    "401",
                    "missing_token, invalid_token or token_revoked: the bearer is missing, not valid or signed out",
                );
            }
            if operation.request_body.is_some() {
                ensure("400", "malformed_json: the body is not JSON");
                ensure(
                    "413",
                    "payload_too_large: the body is larger than AUTHGATE_MAX_BODY_BYTES",
                );
                ensure(
                    "422",
                    "invalid_request: a field is missing or wrong (the problem's `field` names it)",
                );
            }
        }
    }
}

const PROBLEM_JSON: &str = "application/problem+json";

fn problem_content() -> utoipa::openapi::Content {
    utoipa::openapi::ContentBuilder::new()
        .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
        .build()
}

fn problem_response(description: &str) -> utoipa::openapi::Response {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, problem_content())
        .build()
}
