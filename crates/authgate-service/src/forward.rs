//! The gateway authorizer behind `GET /v1/authz/forward` (nginx
//! `auth_request`, Envoy `ext_authz`, Traefik `ForwardAuth`): route rules that
//! map the original method and path to a grant, and the identity headers of
//! an allowed request.
//!
//! Rules (`AUTHGATE_FORWARD_RULES`) are separated by `;` or new lines, each
//! `METHODS PATH GRANT [tenant=header]`: `METHODS` is `*` or a comma list
//! (`GET,HEAD`); `PATH` is `/`-separated segments where `*` matches one
//! segment, `{tenant}` matches one segment and names the tenant the grant is
//! checked in, and a final `**` matches the rest. A rule without `{tenant}`
//! decides without a tenant (the client's `X-Tenant-Id` is ignored) unless it
//! ends with `tenant=header`: then the tenant comes from `X-Tenant-Id`. The
//! first matching rule wins. A request no rule matches needs only a valid
//! access token, or is refused when `AUTHGATE_FORWARD_DEFAULT=deny`.
//!
//! Matching fails closed: paths are compared segment by segment, exactly and
//! case-sensitively, after decoding percent-escapes of ordinary characters.
//! A URI that a gateway and an upstream could read differently is refused,
//! never normalised into something else: encoded separators (`%2F`, `%5C`),
//! dot segments (`.`, `..`, also encoded), `;` path parameters, backslashes,
//! empty segments (`//`), control characters, `%25` (double encoding) and
//! malformed escapes. A tenant id is answered in `X-Auth-Tenant-Id` only
//! after authgate checked that the caller is a member (or holds a platform
//! grant covering `tenant:read` for a tenant that exists).

use crate::decisions::{CheckRequest, DecisionService, MAX_RESOURCE_LEN};
use crate::principal::Principal;
use crate::subjects::Subjects;
use authgate_core::AuthError;
use authgate_core::authz::{Decision, UserContext, covering_grant, validate_grant};
use authgate_store::Store;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Any,
    Tenant,
    Rest,
}

/// Where the tenant of a rule's decision comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TenantFrom {
    /// No tenant: the decision is platform-wide.
    Nowhere,
    /// The `{tenant}` segment of the path.
    Path,
    /// The `X-Tenant-Id` header (`tenant=header`).
    Header,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RouteRule {
    /// `None`: any method.
    methods: Option<Vec<String>>,
    segments: Vec<Segment>,
    grant: String,
    tenant: TenantFrom,
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
    /// The request needs `grant`, in the tenant the rule names (the path
    /// segment, or `X-Tenant-Id` for `tenant=header`).
    Grant { grant: String, tenant: RuleTenant },
    /// No rule: a valid token is enough.
    Authenticated,
    /// No rule, and unmatched requests are refused.
    Unmatched,
    /// The URI could be read two ways; `why` says what is ambiguous.
    Ambiguous { why: &'static str },
}

/// The tenant a matched rule decides in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTenant {
    None,
    /// The `{tenant}` segment.
    Segment(String),
    /// Whatever `X-Tenant-Id` says.
    FromHeader,
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
            let (methods, path, grant, option) = match parts[..] {
                [methods, path, grant] => (methods, path, grant, None),
                [methods, path, grant, option] => (methods, path, grant, Some(option)),
                _ => {
                    return Err(format!(
                        "route rule {line:?}: expected `METHODS PATH GRANT [tenant=header]`"
                    ));
                }
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
            let tenant = match (option, segments.contains(&Segment::Tenant)) {
                (None, true) => TenantFrom::Path,
                (None, false) => TenantFrom::Nowhere,
                (Some("tenant=header"), false) => TenantFrom::Header,
                (Some("tenant=header"), true) => {
                    return Err(format!(
                        "route rule {line:?}: a rule with {{tenant}} takes the tenant from the path, not a header"
                    ));
                }
                (Some(other), _) => {
                    return Err(format!(
                        "route rule {line:?}: unknown option {other:?} (the one option is tenant=header)"
                    ));
                }
            };
            rules.push(RouteRule {
                methods,
                segments,
                grant: grant.to_string(),
                tenant,
            });
        }
        Ok(Self {
            rules,
            deny_unmatched,
        })
    }

    pub fn resolve(&self, method: &str, uri: &str) -> RouteMatch {
        let path = match path_segments(uri) {
            Ok(path) => path,
            Err(why) => return RouteMatch::Ambiguous { why },
        };
        let method = method.to_ascii_uppercase();
        for rule in &self.rules {
            if let Some(methods) = &rule.methods
                && !methods.contains(&method)
            {
                continue;
            }
            if let Some(segment) = match_segments(&rule.segments, &path) {
                let tenant = match (rule.tenant, segment) {
                    (TenantFrom::Path, Some(segment)) => RuleTenant::Segment(segment),
                    (TenantFrom::Header, _) => RuleTenant::FromHeader,
                    _ => RuleTenant::None,
                };
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

/// The decoded segments of a request path (the query is not part of it),
/// or what makes the URI ambiguous. A single trailing `/` is allowed.
fn path_segments(uri: &str) -> Result<Vec<String>, &'static str> {
    let path = uri.split('?').next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err("the path must start with /");
    }
    if path.contains('#') {
        return Err("a URI with a fragment");
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        return Ok(Vec::new());
    }
    path[1..].split('/').map(decode_segment).collect()
}

/// One segment, percent-decoded, refused when it could be read as more or
/// less than one segment.
fn decode_segment(raw: &str) -> Result<String, &'static str> {
    if raw.is_empty() {
        return Err("an empty segment (//)");
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("a malformed percent-escape")?;
                i += 3;
                match hex {
                    b'/' | b'\\' => return Err("an encoded separator (%2F or %5C)"),
                    b'.' => return Err("an encoded dot (%2E)"),
                    b'%' => return Err("a double encoding (%25)"),
                    b';' => return Err("an encoded path parameter (%3B)"),
                    other => other,
                }
            }
            b'\\' => return Err("a backslash"),
            b';' => return Err("a path parameter (;)"),
            other => {
                i += 1;
                other
            }
        };
        if byte < 0x20 || byte == 0x7f {
            return Err("a control character");
        }
        out.push(byte);
    }
    let segment = String::from_utf8(out).map_err(|_| "a path that is not UTF-8")?;
    if segment == "." || segment == ".." {
        return Err("a dot segment (. or ..)");
    }
    Ok(segment)
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

/// The original request a gateway asks about.
#[derive(Debug, Clone, Copy)]
pub struct ForwardRequest<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    /// `X-Tenant-Id`, read only where the route says so (or no rule matches).
    pub tenant_header: Option<&'a str>,
    pub ip: Option<&'a str>,
}

#[derive(Clone)]
pub struct ForwardAuth {
    pub(crate) rules: Arc<RouteRules>,
    pub(crate) decisions: DecisionService,
    pub(crate) subjects: Subjects,
    pub(crate) store: Store,
}

impl ForwardAuth {
    /// Decide a gateway request. `Ok` with `allowed = false` is a 403.
    pub async fn forward(
        &self,
        principal: &Principal,
        request: ForwardRequest<'_>,
    ) -> Result<Forwarded, AuthError> {
        let (mut decision, tenant, mut context) =
            match self.rules.resolve(request.method, request.uri) {
                RouteMatch::Ambiguous { why } => (
                    Decision::deny("ambiguous_uri", format!("the URI is refused: it has {why}")),
                    None,
                    None,
                ),
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
                    request.tenant_header.map(str::to_string),
                    None,
                ),
                RouteMatch::Grant { grant, tenant } => {
                    let tenant = match tenant {
                        RuleTenant::None => None,
                        RuleTenant::Segment(segment) => Some(segment),
                        RuleTenant::FromHeader => request.tenant_header.map(str::to_string),
                    };
                    let check = CheckRequest {
                        action: &grant,
                        resource: Some(resource_of(request.uri)),
                        tenant_id: tenant.as_deref(),
                        ip: request.ip,
                    };
                    match self.decisions.decide(principal, check).await {
                        Ok((decision, context)) => (decision, tenant, context),
                        // A tenant that is not a tenant id: not a member.
                        Err(AuthError::InvalidRequest {
                            field: Some(field), ..
                        }) if field == "tenantId" => (not_a_member(), None, None),
                        Err(other) => return Err(other),
                    }
                }
            };
        // A tenant id goes back to the gateway only once authgate vouches for it.
        if decision.allowed
            && let Some(tenant) = tenant.as_deref()
            && !self
                .vouches_for_tenant(principal, &mut context, tenant)
                .await?
        {
            decision = not_a_member();
        }
        let mut headers = Vec::new();
        if !decision.allowed {
            return Ok(Forwarded { decision, headers });
        }
        match principal {
            Principal::User(caller) => {
                let context = match context {
                    Some(context) => context,
                    None => self.subjects.user_context(caller).await?,
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
        if let Some(tenant) = tenant {
            headers.push(("x-auth-tenant-id", tenant));
        }
        Ok(Forwarded { decision, headers })
    }

    /// May authgate tell the upstream that this request acts in `tenant`?
    /// When the caller is a member, or holds a platform-wide grant (a
    /// platform role, a client's scope) covering `tenant:read` and the
    /// tenant exists.
    async fn vouches_for_tenant(
        &self,
        principal: &Principal,
        context: &mut Option<UserContext>,
        tenant: &str,
    ) -> Result<bool, AuthError> {
        let Ok(id) = uuid::Uuid::parse_str(tenant) else {
            return Ok(false);
        };
        let platform_grants = match principal {
            Principal::User(caller) => {
                if context.is_none() {
                    *context = Some(self.subjects.user_context(caller).await?);
                }
                let context = context.as_ref().expect("the context was just read");
                if context.tenant(&id.to_string()).is_some() {
                    return Ok(true);
                }
                context.platform_grants.clone()
            }
            Principal::Client(_) => self.subjects.actor(principal).await?.grants,
        };
        Ok(covering_grant(&platform_grants, "tenant:read").is_some()
            && self.store.tenant(id).await?.is_some())
    }
}

fn not_a_member() -> Decision {
    Decision::deny("not_a_member", "the caller is not a member of this tenant")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RouteRules {
        RouteRules::parse(
            "GET,HEAD /api/t/{tenant}/devices/** devices:read;\n\
             POST /api/t/{tenant}/devices/** devices:write\n\
             * /api/admin/** platform:admin; GET /api/*/status status:read;\
             GET /api/reports/** reports:read tenant=header",
            false,
        )
        .unwrap()
    }

    fn grant(g: &str, t: Option<&str>) -> RouteMatch {
        RouteMatch::Grant {
            grant: g.into(),
            tenant: match t {
                Some(t) => RuleTenant::Segment(t.into()),
                None => RuleTenant::None,
            },
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
            r.resolve("PUT", "/api/admin/"),
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
        assert_eq!(
            r.resolve("GET", "/api/reports/7"),
            RouteMatch::Grant {
                grant: "reports:read".into(),
                tenant: RuleTenant::FromHeader
            }
        );
    }

    #[test]
    fn ambiguous_uris_are_refused_not_normalised() {
        let r = rules();
        for uri in [
            "/api/admin/..%2F..%2Fpublic",
            "/api/admin/%2e%2e/x",
            "/api/t/abc/../../admin/x",
            "/api/t/A/..%2FB/devices/1",
            "/api/admin;x/users",
            "/api/admin%3Bx/users",
            "/api/./admin/x",
            "//api/admin/x",
            "/api//admin/x",
            "/api\\admin/x",
            "/api/%5Cadmin",
            "/api/%252F/admin",
            "/api/adm%zzin",
            "/api/adm%2",
            "/api/%00admin",
            "/api/%ff",
            "api/admin",
            "/api/admin#x",
        ] {
            assert!(
                matches!(r.resolve("GET", uri), RouteMatch::Ambiguous { .. }),
                "{uri} was not refused: {:?}",
                r.resolve("GET", uri)
            );
        }
        // Escapes of ordinary characters decode; matching is exact and case-sensitive.
        assert_eq!(
            r.resolve("GET", "/api/%61dmin/x"),
            grant("platform:admin", None)
        );
        assert_eq!(r.resolve("GET", "/API/admin/x"), RouteMatch::Authenticated);
    }

    #[test]
    fn unmatched_requests_can_be_refused() {
        let r = RouteRules::parse("GET /a a:read", true).unwrap();
        assert_eq!(r.resolve("GET", "/b"), RouteMatch::Unmatched);
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
            "GET /{tenant}/a a:b tenant=header",
            "GET /a a:b tenant=query",
            "GET /a a:b tenant=header extra",
        ] {
            let err = RouteRules::parse(bad, false).unwrap_err();
            assert!(err.contains("route rule"), "{bad}: {err}");
        }
    }
}
