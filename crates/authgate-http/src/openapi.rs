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

/// Marks every operation of `router` (one rate-limit group) with its 429
/// answer; [`complete`] gives it the front end's error body.
pub fn rate_limited<S>(
    mut router: utoipa_axum::router::OpenApiRouter<S>,
) -> utoipa_axum::router::OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        for operation in operations(item) {
            let response = operation
                .responses
                .responses
                .entry("429".into())
                .or_insert_with(|| {
                    utoipa::openapi::RefOr::T(
                        utoipa::openapi::ResponseBuilder::new()
                            .description(TOO_MANY)
                            .build(),
                    )
                });
            if let utoipa::openapi::RefOr::T(response) = response {
                response
                    .headers
                    .entry("Retry-After".into())
                    .or_insert_with(|| retry_after().into());
            }
        }
    }
    router
}

/// The operations of a path, whichever methods it has.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// The description of a 429.
pub const TOO_MANY: &str = "rate_limited (this route's group is over its budget) or too_many_failed_attempts (a lockout): try again after Retry-After seconds";

fn retry_after() -> utoipa::openapi::header::Header {
    utoipa::openapi::header::HeaderBuilder::new()
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::Integer),
        ))
        .description(Some("seconds to wait"))
        .build()
}

/// What every route can answer besides what its handler documents, and
/// the request constraints the server enforces, added once the routes are
/// merged:
/// - error bodies in each front end's own shape: `application/problem+json`
///   on the native API, `{message}` on the CognitoApi profile, OAuth's error
///   object on `/oauth2/*`;
/// - 401 on a bearer route; 400 (malformed), 413 (too large) and 422 (a
///   field wrong or missing) on a route with a body; 422 on a route whose
///   path or query parameters are checked;
/// - in the request schemas ([`tighten`]): the rules every request field
///   obeys by its name.
pub fn complete(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    let mut request_schemas = Vec::new();
    for (path, item) in openapi.paths.paths.iter_mut() {
        for operation in operations(item) {
            let profile = operation
                .tags
                .as_ref()
                .is_some_and(|tags| tags.iter().any(|t| t == "cognitoapi"));
            let errors = if profile {
                ErrorBody::Profile
            } else if path.starts_with("/v1/") {
                ErrorBody::Problem
            } else if path.starts_with("/oauth2/") {
                ErrorBody::OAuth
            } else {
                continue;
            };
            if let Some(RefOr::T(body)) = &operation.request_body {
                for content in body.content.values() {
                    if let RefOr::T(utoipa::openapi::Content {
                        schema: Some(RefOr::Ref(reference)),
                        ..
                    }) = content
                    {
                        request_schemas.push(reference.ref_location.clone());
                    }
                }
            }
            let responses = &mut operation.responses.responses;
            for (status, response) in responses.iter_mut() {
                if let (true, RefOr::T(response)) =
                    (status.starts_with('4') || status.starts_with('5'), response)
                {
                    response.content.clear();
                    response
                        .content
                        .insert(errors.content_type().into(), RefOr::T(errors.content()));
                }
            }
            let mut ensure = |status: &str, description: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::T(errors.response(description)));
            };
            if operation.security.is_some() {
                ensure(
                    "401",
                    "missing_token, invalid_token or token_revoked: the bearer is missing, not valid or signed out",
                );
            }
            for parameter in operation.parameters.iter_mut().flatten() {
                let RefOr::T(parameter) = parameter else {
                    continue;
                };
                // A path's address is one (an optional filter is any text).
                if parameter.name == "email"
                    && parameter.required == utoipa::openapi::Required::True
                {
                    let address = utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                            utoipa::openapi::KnownFormat::Email,
                        )))
                        .max_length(Some(254));
                    parameter.schema = Some(RefOr::T(address.build().into()));
                }
            }
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter {
                    empty_is_absent(parameter);
                }
            }
            if operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                ensure(
                    "422",
                    "invalid_request: a path or query parameter is wrong (the problem's `field` names it)",
                );
            }
            if operation.request_body.is_some() {
                ensure(
                    "400",
                    "malformed: the body is not what its content type says",
                );
                ensure(
                    "413",
                    "payload_too_large: the body is larger than AUTHGATE_MAX_BODY_BYTES",
                );
                if errors != ErrorBody::OAuth {
                    ensure(
                        "422",
                        "invalid_request: a field is missing or wrong (the problem's `field` names it)",
                    );
                }
            }
        }
    }
    link_the_session(openapi);
    if let Some(components) = openapi.components.as_mut() {
        for location in request_schemas {
            let name = location.trim_start_matches("#/components/schemas/");
            if let Some(RefOr::T(schema)) = components.schemas.get_mut(name) {
                tighten(schema);
            }
        }
    }
}

/// OpenAPI links from every answer that carries a Session to the refresh
/// that takes its refresh token (sign-in, the challenges, refresh itself),
/// for clients and stateful testing. (The routes that take the access
/// token get no link: a link sets parameters and bodies, not credentials.)
fn link_the_session(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::link::LinkBuilder;
    let refresh = LinkBuilder::new()
        .operation_ref("#/paths/~1v1~1auth~1token~1refresh/post")
        .request_body(Some(
            serde_json::json!({"refreshToken": "$response.body#/refreshToken"}),
        ))
        .description("Refresh this session with its refresh token")
        .build();
    for path in [
        "/v1/auth/sign-in",
        "/v1/auth/challenges/new-password",
        "/v1/auth/challenges/totp",
        "/v1/auth/challenges/mfa-setup",
        "/v1/auth/token/refresh",
        "/v1/auth/passkeys/sign-in/complete",
    ] {
        let answer = openapi
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
            .and_then(|operation| operation.responses.responses.get_mut("200"));
        if let Some(RefOr::T(answer)) = answer {
            answer
                .links
                .insert("refresh".into(), RefOr::T(refresh.clone()));
        }
    }
}

/// An optional query parameter sent empty (`?scope=`) counts as not sent:
/// where its schema has a pattern or a format, it also admits "".
fn empty_is_absent(parameter: &mut utoipa::openapi::path::Parameter) {
    use utoipa::openapi::schema::{Schema, Type};
    use utoipa::openapi::{ObjectBuilder, RefOr, Required, path::ParameterIn};
    if parameter.parameter_in != ParameterIn::Query || parameter.required == Required::True {
        return;
    }
    let Some(RefOr::T(Schema::Object(object))) = &parameter.schema else {
        return;
    };
    if object.pattern.is_none() && object.format.is_none() {
        return;
    }
    let schema = parameter.schema.take().expect("matched above");
    let empty = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(0))
        .build();
    parameter.schema = Some(RefOr::T(Schema::AnyOf(
        utoipa::openapi::schema::AnyOfBuilder::new()
            .item(schema)
            .item(empty)
            .build(),
    )));
}

/// The rules the server applies to request fields by their name, in the
/// request's schema: an `email` is an address, a `phone` has 7 to 15 digits
/// in international form, and a required string is never empty (the
/// services refuse an empty value wherever one is required).
fn tighten(schema: &mut utoipa::openapi::schema::Schema) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{KnownFormat, Schema, SchemaFormat, SchemaType, Type};
    let Schema::Object(object) = schema else {
        return;
    };
    let required = object.required.clone();
    for (name, property) in object.properties.iter_mut() {
        if let Some(RefOr::T(Schema::Object(item))) = match &mut *property {
            RefOr::T(Schema::Array(array)) => match &mut array.items {
                utoipa::openapi::schema::ArrayItems::RefOrSchema(item) => Some(item.as_mut()),
                _ => None,
            },
            _ => None,
        } {
            // No list holds an empty string (grants, scopes, redirect URIs).
            if item.schema_type == SchemaType::Type(Type::String) {
                item.min_length.get_or_insert(1);
            }
            continue;
        }
        let RefOr::T(Schema::Object(field)) = property else {
            continue;
        };
        let is_string = match &field.schema_type {
            SchemaType::Type(Type::String) => true,
            SchemaType::Array(types) => types.contains(&Type::String),
            _ => false,
        };
        if !is_string {
            continue;
        }
        let required = required.contains(name);
        if name == "email" || name.ends_with("Email") || name.ends_with("_email") {
            if required {
                field.format = Some(SchemaFormat::KnownFormat(KnownFormat::Email));
            } else {
                // An empty optional address counts as none.
                field.pattern.get_or_insert(OPTIONAL_EMAIL_PATTERN.into());
            }
            field.max_length.get_or_insert(254);
        } else if name == "phone" || name == "phone_number" {
            field.pattern.get_or_insert(if required {
                PHONE_PATTERN.into()
            } else {
                format!("^$|{PHONE_PATTERN}")
            });
        }
        if required {
            field.min_length.get_or_insert(1);
        }
    }
}

/// What `authgate_core::policy::normalize_email` accepts, or nothing.
const OPTIONAL_EMAIL_PATTERN: &str = r"^$|^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+$";

/// What `authgate_core::policy::normalize_phone` accepts.
const PHONE_PATTERN: &str = r"^[ +().-]*([0-9][ +().-]*){7,15}$";

/// The error body of a front end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ErrorBody {
    Problem,
    Profile,
    OAuth,
}

impl ErrorBody {
    fn content_type(self) -> &'static str {
        match self {
            ErrorBody::Problem => "application/problem+json",
            ErrorBody::Profile | ErrorBody::OAuth => "application/json",
        }
    }

    fn content(self) -> utoipa::openapi::Content {
        let schema = match self {
            ErrorBody::Problem => "Problem",
            ErrorBody::Profile => "CompatMessage",
            ErrorBody::OAuth => "OAuthError",
        };
        utoipa::openapi::ContentBuilder::new()
            .schema(Some(utoipa::openapi::Ref::from_schema_name(schema)))
            .build()
    }

    fn response(self, description: &str) -> utoipa::openapi::Response {
        utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content(self.content_type(), self.content())
            .build()
    }
}
