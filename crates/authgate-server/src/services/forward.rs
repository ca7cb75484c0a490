//! The gateway authorizer behind `GET /v1/authz/forward` (nginx
//! `auth_request`, Envoy `ext_authz`, Traefik `ForwardAuth`): route rules that
//! map the original method and path to a grant, and the identity headers of
//! an allowed request.
//!
//! Rules (`AUTHGATE_FORWARD_RULES`) are separated by `;` or new lines, each
//! `METHODS PATH GRANT`: `METHODS` is `*` or a comma list (`GET,HEAD`);
//! `PATH` is `/`-separated segments where `*` matches one segment, `{tenant}`
//! matches one segment and names the tenant the grant is checked in, and a
//! final `**` matches the rest. The first matching rule wins. A request no
//! rule matches needs only a valid access token, or is refused when
//! `AUTHGATE_FORWARD_DEFAULT=deny`. Paths are percent-decoded and their dot
//! segments resolved before matching, so `/api/x/../admin` is `/api/admin`.

use crate::services::AuthService;
use crate::services::authz::{CheckRequest, MAX_RESOURCE_LEN, Principal};
use authgate_core::AuthError;
use authgate_core::authz::{Decision, validate_grant};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Any,
    Tenant,
    Rest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RouteRule {
    /// `None`: any method.
    methods: Option<Vec<String>>,
    segments: Vec<Segment>,
    grant: String,
}

/// The configured rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRules {
    rules: Vec<RouteRule>,
    deny_unmatched: bool,
}

/// Where a request lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMatch {
    /// The request needs `grant`, in `tenant` when the rule names one.
    Grant {
        grant: String,
        tenant: Option<String>,
    },
    /// No rule: a valid token is enough.
    Authenticated,
    /// No rule, and unmatched requests are refused.
    Unmatched,
}

impl RouteRules {
    /// Parse `text`; the error names the rule that is wrong.
    pub fn parse(text: &str, deny_unmatched: bool) -> Result<Self, String> {
        let mut rules = Vec::new();
        for line in text
            .split([';', '\n'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [methods, path, grant] = parts[..] else {
                return Err(format!(
                    "route rule {line:?}: expected `METHODS PATH GRANT`"
                ));
            };
            let methods = if methods == "*" {
                None
            } else {
                Some(
                    methods
                        .split(',')
                        .map(|m| m.trim().to_ascii_uppercase())
                        .collect(),
                )
            };
            if !path.starts_with('/') {
                return Err(format!("route rule {line:?}: the path must start with /"));
            }
            let raw: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let mut segments = Vec::new();
            for (i, segment) in raw.iter().enumerate() {
                segments.push(match *segment {
                    "**" if i + 1 == raw.len() => Segment::Rest,
                    "**" => return Err(format!("route rule {line:?}: ** may only end a path")),
                    "*" => Segment::Any,
                    "{tenant}" if segments.contains(&Segment::Tenant) => {
                        return Err(format!("route rule {line:?}: one {{tenant}} per path"));
                    }
                    "{tenant}" => Segment::Tenant,
                    literal => Segment::Literal(literal.to_string()),
                });
            }
            validate_grant(grant).map_err(|m| format!("route rule {line:?}: the grant {m}"))?;
            rules.push(RouteRule {
                methods,
                segments,
                grant: grant.to_string(),
            });
        }
        Ok(Self {
            rules,
            deny_unmatched,
        })
    }

    pub fn resolve(&self, method: &str, uri: &str) -> RouteMatch {
        let Some(path) = normalize_path(uri) else {
            return RouteMatch::Unmatched;
        };
        let method = method.to_ascii_uppercase();
        for rule in &self.rules {
            if let Some(methods) = &rule.methods
                && !methods.contains(&method)
            {
                continue;
            }
            if let Some(tenant) = match_segments(&rule.segments, &path) {
                return RouteMatch::Grant {
                    grant: rule.grant.clone(),
                    tenant,
                };
            }
        }
        if self.deny_unmatched {
            RouteMatch::Unmatched
        } else {
            RouteMatch::Authenticated
        }
    }
}

/// The segments of a request path: no query, percent-decoded, dot segments
/// resolved. `None` when it does not decode to UTF-8.
fn normalize_path(uri: &str) -> Option<Vec<String>> {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let decoded = percent_decode(path)?;
    let mut out: Vec<String> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other.to_string()),
        }
    }
    Some(out)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(value) =
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?, 16)
        {
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The resource a gateway request names for policies: its path without the
/// query, at most [`MAX_RESOURCE_LEN`] bytes (cut at a character boundary).
fn resource_of(uri: &str) -> &str {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let mut end = path.len().min(MAX_RESOURCE_LEN);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

/// Match, returning the `{tenant}` segment (if the rule has one).
fn match_segments(rule: &[Segment], path: &[String]) -> Option<Option<String>> {
    let mut tenant = None;
    for (i, segment) in rule.iter().enumerate() {
        match segment {
            Segment::Rest => return Some(tenant),
            _ if i >= path.len() => return None,
            Segment::Literal(literal) if *literal != path[i] => return None,
            Segment::Literal(_) | Segment::Any => {}
            Segment::Tenant => tenant = Some(path[i].clone()),
        }
    }
    (rule.len() == path.len()).then_some(tenant)
}

/// An allowed forward request: the decision and the identity headers.
#[derive(Debug, Clone)]
pub struct Forwarded {
    pub decision: Decision,
    pub headers: Vec<(&'static str, String)>,
}

impl AuthService {
    /// Decide a gateway request. `Ok` with `allowed = false` is a 403.
    pub async fn forward(
        &self,
        principal: &Principal,
        method: &str,
        uri: &str,
        tenant_header: Option<&str>,
        ip: Option<&str>,
    ) -> Result<Forwarded, AuthError> {
        let (decision, tenant, context) = match self.forward_rules.resolve(method, uri) {
            RouteMatch::Unmatched => (
                Decision::deny("no_route", "no route rule covers this request"),
                None,
                None,
            ),
            RouteMatch::Authenticated => (
                Decision::allow(
                    "authenticated",
                    "no route rule names a grant: a valid token is enough",
                ),
                tenant_header.map(str::to_string),
                None,
            ),
            RouteMatch::Grant { grant, tenant } => {
                let tenant = tenant.or_else(|| tenant_header.map(str::to_string));
                let request = CheckRequest {
                    action: &grant,
                    resource: Some(resource_of(uri)),
                    tenant_id: tenant.as_deref(),
                    ip,
                };
                match self.decide(principal, request).await {
                    Ok((decision, context)) => (decision, tenant, context),
                    // A path segment that is not a tenant id: not a member.
                    Err(AuthError::InvalidRequest {
                        field: Some(field), ..
                    }) if field == "tenantId" => (
                        Decision::deny("not_a_member", "the caller is not a member of this tenant"),
                        tenant,
                        None,
                    ),
                    Err(other) => return Err(other),
                }
            }
        };
        let tenant = tenant.filter(|t| uuid::Uuid::parse_str(t).is_ok());
        let mut headers = Vec::new();
        if decision.allowed {
            match principal {
                Principal::User(caller) => {
                    let context = match context {
                        Some(context) => context,
                        None => self.user_context(caller).await?,
                    };
                    let mut roles = Vec::new();
                    if let Some(role) = &context.platform_role {
                        roles.push(format!("platform:{role}"));
                    }
                    if let Some(membership) = tenant.as_deref().and_then(|t| context.tenant(t)) {
                        roles.push(format!("tenant:{}", membership.role));
                    }
                    headers.push(("x-auth-user-id", context.user.id.clone()));
                    headers.push(("x-auth-subject", context.user.sub.clone()));
                    headers.push(("x-auth-roles", roles.join(",")));
                }
                Principal::Client(client) => {
                    headers.push(("x-auth-client-id", client.client_id.clone()));
                    headers.push(("x-auth-subject", client.client_id.clone()));
                    headers.push((
                        "x-auth-roles",
                        client
                            .scopes
                            .iter()
                            .map(|s| format!("scope:{s}"))
                            .collect::<Vec<_>>()
                            .join(","),
                    ));
                }
            }
        }
        if let Some(tenant) = tenant {
            headers.push(("x-auth-tenant-id", tenant));
        }
        Ok(Forwarded { decision, headers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RouteRules {
        RouteRules::parse(
            "GET,HEAD /api/t/{tenant}/devices/** devices:read;\n\
             POST /api/t/{tenant}/devices/** devices:write\n\
             * /api/admin/** platform:admin; GET /api/*/status status:read",
            false,
        )
        .unwrap()
    }

    fn grant(g: &str, t: Option<&str>) -> RouteMatch {
        RouteMatch::Grant {
            grant: g.into(),
            tenant: t.map(str::to_string),
        }
    }

    #[test]
    fn rules_map_method_and_path_to_a_grant_and_tenant() {
        let r = rules();
        assert_eq!(
            r.resolve("GET", "/api/t/abc/devices/1?x=y"),
            grant("devices:read", Some("abc"))
        );
        assert_eq!(
            r.resolve("get", "/api/t/abc/devices"),
            grant("devices:read", Some("abc"))
        );
        assert_eq!(
            r.resolve("POST", "/api/t/abc/devices/1"),
            grant("devices:write", Some("abc"))
        );
        assert_eq!(
            r.resolve("DELETE", "/api/t/abc/devices/1"),
            RouteMatch::Authenticated
        );
        assert_eq!(
            r.resolve("PUT", "/api/admin/users"),
            grant("platform:admin", None)
        );
        assert_eq!(
            r.resolve("GET", "/api/x/status"),
            grant("status:read", None)
        );
        assert_eq!(
            r.resolve("GET", "/api/x/y/status"),
            RouteMatch::Authenticated
        );
    }

    #[test]
    fn dot_segments_and_encodings_cannot_dodge_a_rule() {
        let r = rules();
        assert_eq!(
            r.resolve("GET", "/api/t/abc/../../admin/x"),
            grant("platform:admin", None)
        );
        assert_eq!(
            r.resolve("GET", "/api/%61dmin/x"),
            grant("platform:admin", None)
        );
        assert_eq!(
            r.resolve("GET", "//api//admin/./x"),
            grant("platform:admin", None)
        );
        assert_eq!(
            r.resolve("GET", "/api/%2e%2e/api/admin/x"),
            grant("platform:admin", None)
        );
    }

    #[test]
    fn unmatched_requests_can_be_refused() {
        let r = RouteRules::parse("GET /a a:read", true).unwrap();
        assert_eq!(r.resolve("GET", "/b"), RouteMatch::Unmatched);
        assert_eq!(r.resolve("GET", "/a%ff"), RouteMatch::Unmatched);
    }

    #[test]
    fn the_resource_is_the_path_within_the_limit() {
        assert_eq!(resource_of("/a/b?x=1#f"), "/a/b");
        let long = format!("/{}", "é".repeat(400));
        let resource = resource_of(&long);
        assert!(resource.len() <= MAX_RESOURCE_LEN && long.starts_with(resource));
    }

    #[test]
    fn bad_rules_are_named() {
        for bad in [
            "GET /a",
            "GET a x:y",
            "GET /a/**/b x:y",
            "GET /a Bad",
            "GET /{tenant}/{tenant} a:b",
        ] {
            let err = RouteRules::parse(bad, false).unwrap_err();
            assert!(err.contains("route rule"), "{bad}: {err}");
        }
    }
}
