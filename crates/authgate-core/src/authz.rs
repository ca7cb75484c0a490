//! The authorization vocabulary shared by the server and the guard: grants
//! (permission strings such as `devices:read`), how a held grant covers an
//! action, the [`UserContext`] that `GET /v1/auth/subject` returns, and the
//! role-based [`Decision`] computed from it.
//!
//! A grant is one or more segments joined by `:`; a segment is lower-case
//! letters, digits, `_`, `-` or `.`. The last segment may be `*`, which covers
//! every action under the prefix (`devices:*` covers `devices:read` and
//! `devices:firmware:write`); the grant `*` alone covers everything. Role keys
//! are data: nothing here names a role.
//!
//! Grants are scoped. Actions under `platform:` (`platform:admin`, …) are
//! platform actions: only a platform role (or a machine client's scope)
//! grants them. A tenant role grants tenant actions only, in its tenant,
//! whatever its wildcard: the tenant owner's `*` covers `data:write` there but
//! never `platform:admin`, and the catalog refuses a tenant role whose grants
//! name platform actions ([`validate_tenant_grant`]).

use serde::{Deserialize, Serialize};

/// Longest accepted grant or action, in bytes.
pub const MAX_GRANT_LEN: usize = 128;

/// Is `text` a well-formed grant (wildcards allowed)?
pub fn validate_grant(text: &str) -> Result<(), String> {
    check_permission(text, true)
}

/// The namespace of platform actions.
pub const PLATFORM_NAMESPACE: &str = "platform";

/// Is `action` (or a grant) a platform action, which only a platform role
/// grants? Everything under `platform:` is.
pub fn is_platform_action(action: &str) -> bool {
    action == PLATFORM_NAMESPACE
        || action
            .strip_prefix(PLATFORM_NAMESPACE)
            .is_some_and(|rest| rest.starts_with(':'))
}

/// Is `text` a grant a tenant role may carry: well-formed, and naming no
/// platform action (`*` is fine: in a tenant it covers tenant actions only).
pub fn validate_tenant_grant(text: &str) -> Result<(), String> {
    validate_grant(text)?;
    if is_platform_action(text) {
        return Err("names platform actions: only a platform role grants those".into());
    }
    Ok(())
}

/// Is `text` a well-formed action to decide on (no wildcards)?
pub fn validate_action(text: &str) -> Result<(), String> {
    check_permission(text, false)
}

fn check_permission(text: &str, wildcard: bool) -> Result<(), String> {
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    if text.len() > MAX_GRANT_LEN {
        return Err(format!("must be at most {MAX_GRANT_LEN} characters"));
    }
    let segments: Vec<&str> = text.split(':').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if *segment == "*" {
            if !wildcard {
                return Err("an action cannot contain `*`".into());
            }
            if !last {
                return Err("`*` may only be the last segment".into());
            }
            continue;
        }
        if segment.is_empty()
            || !segment
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b))
        {
            return Err(format!(
                "`{text}` is not a permission: use segments of a-z, 0-9, `_`, `-`, `.` joined by `:` (e.g. devices:read)"
            ));
        }
    }
    Ok(())
}

/// Does the held grant `held` cover `wanted` (an action, or another grant)?
///
/// `*` covers everything; `a:*` covers `a:*`, `a:x` and `a:x:y`; otherwise
/// only the same string.
pub fn grant_covers(held: &str, wanted: &str) -> bool {
    if held == "*" || held == wanted {
        return true;
    }
    match held.strip_suffix('*') {
        // `a:*`: the prefix `a:` must start `wanted`, which then has more.
        Some(prefix) if prefix.ends_with(':') => {
            wanted.len() > prefix.len() && wanted.starts_with(prefix)
        }
        _ => false,
    }
}

/// The first grant of `held` that covers `wanted`.
pub fn covering_grant<'a>(held: &'a [String], wanted: &str) -> Option<&'a str> {
    held.iter()
        .map(String::as_str)
        .find(|h| grant_covers(h, wanted))
}

/// The first grant of a tenant role `held` that covers `wanted` in its
/// tenant: never one for a platform action.
pub fn covering_tenant_grant<'a>(held: &'a [String], wanted: &str) -> Option<&'a str> {
    if is_platform_action(wanted) {
        return None;
    }
    covering_grant(held, wanted)
}

/// Does `held` cover every grant of `wanted`? (The no-escalation rule: nobody
/// hands out a role whose grants they do not hold themselves.)
pub fn grants_cover_all(held: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| covering_grant(held, w).is_some())
}

/// Who is calling, as one shape whatever the provider: the body of
/// `GET /v1/auth/subject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserContext {
    pub user: ContextUser,
    /// `embedded` or `cognito`.
    pub provider: String,
    /// The platform role key, if any (data, e.g. `admin`).
    pub platform_role: Option<String>,
    /// The grants of the platform role; they hold in every tenant.
    #[serde(default)]
    pub platform_grants: Vec<String>,
    pub mfa: MfaState,
    /// The tenants the user belongs to, with the role and its grants there.
    #[serde(default)]
    pub tenants: Vec<TenantMembership>,
}

/// The app user inside a [`UserContext`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContextUser {
    /// authgate's app user id.
    pub id: String,
    /// The provider subject.
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// The second factor of the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MfaState {
    /// An authenticator app (TOTP) is enrolled.
    pub totp: bool,
}

/// One tenant of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TenantMembership {
    pub id: String,
    pub name: String,
    /// The tenant role key.
    pub role: String,
    pub grants: Vec<String>,
}

/// A yes or no with its reason: a stable `reason` code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub allowed: bool,
    /// `platform_role`, `tenant_role`, `client_scope`, `policy_permit`,
    /// `policy_forbid`, `not_a_member`, `tenant_required`, `no_grant`.
    pub reason: String,
    pub detail: String,
}

impl Decision {
    pub fn allow(reason: &str, detail: impl Into<String>) -> Self {
        Self {
            allowed: true,
            reason: reason.into(),
            detail: detail.into(),
        }
    }

    pub fn deny(reason: &str, detail: impl Into<String>) -> Self {
        Self {
            allowed: false,
            reason: reason.into(),
            detail: detail.into(),
        }
    }
}

impl UserContext {
    /// The membership of `tenant_id`, if the user has one.
    pub fn tenant(&self, tenant_id: &str) -> Option<&TenantMembership> {
        self.tenants.iter().find(|t| t.id == tenant_id)
    }

    /// The role-based decision for `action`, in `tenant_id` when given:
    /// the platform role's grants hold everywhere; a tenant role's grants
    /// hold in its tenant only, and never for a platform action.
    pub fn decide(&self, action: &str, tenant_id: Option<&str>) -> Decision {
        if let Some(grant) = covering_grant(&self.platform_grants, action) {
            return Decision::allow(
                "platform_role",
                format!(
                    "the platform role {} grants {grant}",
                    self.platform_role.as_deref().unwrap_or_default()
                ),
            );
        }
        if is_platform_action(action) {
            return Decision::deny(
                "no_grant",
                format!("{action} is a platform action: only a platform role grants it"),
            );
        }
        let Some(tenant_id) = tenant_id else {
            return if self
                .tenants
                .iter()
                .any(|t| covering_tenant_grant(&t.grants, action).is_some())
            {
                Decision::deny(
                    "tenant_required",
                    format!("{action} is granted in a tenant only: name the tenant"),
                )
            } else {
                Decision::deny("no_grant", format!("no role of the caller grants {action}"))
            };
        };
        let Some(membership) = self.tenant(tenant_id) else {
            return Decision::deny("not_a_member", "the caller is not a member of this tenant");
        };
        match covering_tenant_grant(&membership.grants, action) {
            Some(grant) => Decision::allow(
                "tenant_role",
                format!("the tenant role {} grants {grant}", membership.role),
            ),
            None => Decision::deny(
                "no_grant",
                format!(
                    "the tenant role {} does not grant {action}",
                    membership.role
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wildcards_cover_their_prefix_only() {
        assert!(grant_covers("*", "devices:read"));
        assert!(grant_covers("devices:*", "devices:read"));
        assert!(grant_covers("devices:*", "devices:firmware:write"));
        assert!(grant_covers("devices:*", "devices:*"));
        assert!(!grant_covers("devices:*", "devices"));
        assert!(!grant_covers("devices:*", "devicesx:read"));
        assert!(!grant_covers("devices:read", "devices:write"));
        assert!(!grant_covers("devices:read", "devices:*"));
        assert!(!grant_covers("devices:read", "*"));
    }

    #[test]
    fn escalation_needs_every_grant() {
        let held = grants(&["members:*", "devices:read"]);
        assert!(grants_cover_all(
            &held,
            &grants(&["members:write", "devices:read"])
        ));
        assert!(!grants_cover_all(&held, &grants(&["devices:write"])));
        assert!(!grants_cover_all(&held, &grants(&["*"])));
        assert!(grants_cover_all(&grants(&["*"]), &grants(&["*", "a:b"])));
    }

    #[test]
    fn grant_syntax() {
        for ok in ["*", "devices:read", "devices:*", "a.b-c_d:e:f"] {
            assert_eq!(validate_grant(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Devices:read",
            "devices::read",
            "*:read",
            "a b",
            "devices:",
        ] {
            assert!(validate_grant(bad).is_err(), "{bad}");
        }
        assert!(validate_action("devices:*").is_err());
        assert!(validate_action(&"a".repeat(MAX_GRANT_LEN + 1)).is_err());
    }

    fn context() -> UserContext {
        UserContext {
            user: ContextUser {
                id: "u1".into(),
                sub: "s1".into(),
                email: None,
                name: None,
                created_at: String::new(),
            },
            provider: "embedded".into(),
            platform_role: None,
            platform_grants: vec![],
            mfa: MfaState { totp: false },
            tenants: vec![TenantMembership {
                id: "t1".into(),
                name: "Acme".into(),
                role: "viewer".into(),
                grants: grants(&["devices:read"]),
            }],
        }
    }

    #[test]
    fn a_tenant_wildcard_never_grants_a_platform_action() {
        let mut ctx = context();
        ctx.tenants[0].role = "owner".into();
        ctx.tenants[0].grants = grants(&["*"]);
        assert!(ctx.decide("data:write", Some("t1")).allowed);
        for action in ["platform:admin", "platform:users:delete"] {
            let decision = ctx.decide(action, Some("t1"));
            assert_eq!(
                (decision.allowed, decision.reason.as_str()),
                (false, "no_grant")
            );
            assert!(!ctx.decide(action, None).allowed);
        }
        ctx.platform_grants = grants(&["platform:admin"]);
        ctx.platform_role = Some("ops".into());
        assert_eq!(
            ctx.decide("platform:admin", Some("t1")).reason,
            "platform_role"
        );
    }

    #[test]
    fn tenant_roles_cannot_carry_platform_grants() {
        for ok in ["*", "data:*", "platforms:read", "tenant:read"] {
            assert_eq!(validate_tenant_grant(ok), Ok(()), "{ok}");
        }
        for bad in ["platform:admin", "platform:*", "platform"] {
            assert!(validate_tenant_grant(bad).is_err(), "{bad}");
        }
        assert!(is_platform_action("platform:admin"));
        assert!(!is_platform_action("platformer:x"));
    }

    #[test]
    fn decisions_keep_tenants_apart() {
        let ctx = context();
        assert!(ctx.decide("devices:read", Some("t1")).allowed);
        let other = ctx.decide("devices:read", Some("t2"));
        assert_eq!(
            (other.allowed, other.reason.as_str()),
            (false, "not_a_member")
        );
        let write = ctx.decide("devices:write", Some("t1"));
        assert_eq!((write.allowed, write.reason.as_str()), (false, "no_grant"));
        let untargeted = ctx.decide("devices:read", None);
        assert_eq!(untargeted.reason, "tenant_required");
        let mut admin = ctx;
        admin.platform_role = Some("admin".into());
        admin.platform_grants = grants(&["*"]);
        assert_eq!(
            admin.decide("anything:at-all", Some("t9")).reason,
            "platform_role"
        );
    }
}
