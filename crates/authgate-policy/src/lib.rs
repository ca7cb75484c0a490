//! Optional [Cedar](https://www.cedarpolicy.com/) policies for authgate.
//!
//! authgate decides from roles first: a role grants permission strings such as
//! `devices:read`. Policies written in Cedar add conditions beyond roles: a
//! `permit` can allow what no role grants, a `forbid` overrides any role.
//! Policies are stored by the caller; this crate only [`validate`]s a policy
//! text before it is stored and [`evaluate`]s the stored texts for one request.
//!
//! Cedar evaluation is compiled in only with the cargo feature `cedar` (off by
//! default, the Cedar crates are heavy). Without it, [`enabled`] is `false`,
//! [`validate`] refuses every text and [`evaluate`] has no opinion.
//!
//! # The Cedar model
//!
//! Entity types live in the empty namespace.
//!
//! | Cedar | built from |
//! | --- | --- |
//! | `User::"<id>"` | [`Principal::User`]: `email: String`, `platformRole: String`, `tenantRole: String` (role in the request's tenant), `mfa: Bool`; a missing string is `""` |
//! | `Client::"<id>"` | [`Principal::Client`]: `scopes: Set<String>` |
//! | `Action::"<action>"` | [`PolicyRequest::action`], any permission string, e.g. `Action::"devices:read"` |
//! | `Resource::"<resource>"` | [`PolicyRequest::resource`], `Resource::"*"` when there is none; attribute `tenant: String` (the request's tenant, `""` when none) |
//! | `context` | `{ tenantId: String, ip: String, now: Long, hourUtc: Long }`: tenant and client address (`""` when unknown), unix seconds and the UTC hour (0-23) |
//!
//! Actions are data, not a fixed list: [`validate`] declares, for each text,
//! every `Action::"…"` the text mentions (plus one internal catch-all action so
//! that a policy with an unconstrained `action` is still type-checked), each
//! applying to principals `User` and `Client`, resource `Resource` and the
//! context above. Validation is Cedar's strict mode: an unknown attribute such
//! as `principal.platfromRole`, or `context.now == "noon"`, is rejected.
//!
//! Every policy is checked for both principal types, so a policy that reads an
//! attribute of one type must test the type first: `principal is User` in the
//! scope, or `principal is User && principal.mfa` in the condition (`&&` and
//! `||` stop type-checking where the `is` test already decides).
//!
//! # Examples
//!
//! Viewers of a tenant may read reports, but only during office hours (UTC):
//!
//! ```cedar
//! permit(principal is User, action == Action::"reports:read", resource)
//! when { principal.tenantRole == "viewer" && context.hourUtc >= 9 && context.hourUtc < 17 };
//! ```
//!
//! Nothing is allowed to a user without MFA, whatever their roles (clients
//! are not affected). `principal is User && principal.mfa` type-checks in strict
//! mode because `&&` stops at the `is` test when the principal is a `Client`:
//!
//! ```cedar
//! forbid(principal, action, resource)
//! unless { principal is Client || principal.mfa };
//! ```
//!
//! A machine client with the `reports` scope may read and export one report:
//!
//! ```cedar
//! permit(
//!   principal is Client,
//!   action in [Action::"reports:read", Action::"reports:export"],
//!   resource == Resource::"report/monthly"
//! ) when { principal.scopes.contains("reports") };
//! ```
//!
//! # Outcome
//!
//! Cedar's rule applies: a matching `forbid` wins over any `permit`
//! ([`PolicyOutcome::Forbid`]); otherwise a matching `permit` gives
//! [`PolicyOutcome::Permit`]; when nothing matches the outcome is
//! [`PolicyOutcome::NoOpinion`] and the caller's role decision stands. The ids
//! reported are [`StoredPolicy::id`]s: one stored text may hold several Cedar
//! policies, all of them answer to the stored id.

#[cfg(feature = "cedar")]
mod engine;

/// Is Cedar evaluation compiled in (feature `cedar`)?
#[must_use]
pub fn enabled() -> bool {
    cfg!(feature = "cedar")
}

/// Message of the error [`validate`] returns when the `cedar` feature is off.
#[cfg(not(feature = "cedar"))]
const DISABLED: &str = "policies need authgate built with the `cedar` feature";

/// Check a policy text before it is stored: it must parse as one or more Cedar
/// policies (static policies only, no templates) and validate, in strict mode,
/// against authgate's schema (see the [crate] documentation).
///
/// The error carries a readable message for an API client, with line and
/// column when Cedar gives a position.
///
/// # Errors
/// When the text does not parse, holds no policy, holds a template, or does not
/// validate; always when the `cedar` feature is off.
pub fn validate(text: &str) -> Result<(), PolicyError> {
    #[cfg(feature = "cedar")]
    {
        engine::validate(text)
    }
    #[cfg(not(feature = "cedar"))]
    {
        let _ = text;
        Err(PolicyError(DISABLED.to_owned()))
    }
}

/// A policy text as authgate stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    /// authgate's id for the whole text.
    pub id: String,
    /// Cedar source: one or more static policies.
    pub text: String,
}

/// One request to decide.
#[derive(Debug, Clone, Copy)]
pub struct PolicyRequest<'a> {
    pub principal: Principal<'a>,
    /// The action being decided, e.g. "devices:read" → Cedar `Action::"devices:read"`.
    pub action: &'a str,
    /// Free-form resource id, e.g. "device/42"; None → `Resource::"*"`.
    pub resource: Option<&'a str>,
    pub tenant_id: Option<&'a str>,
    /// Client address, if known.
    pub ip: Option<&'a str>,
    /// Unix seconds "now" (passed in so tests are deterministic).
    pub now: i64,
}

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> {
    /// A person: Cedar `User::"<id>"`.
    User {
        id: &'a str,
        email: Option<&'a str>,
        platform_role: Option<&'a str>,
        /// Role in the request's tenant.
        tenant_role: Option<&'a str>,
        mfa: bool,
    },
    /// A machine client: Cedar `Client::"<id>"`.
    Client { id: &'a str, scopes: &'a [String] },
}

/// What the policies say about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOutcome {
    /// At least one permit matched and no forbid.
    Permit { policy_ids: Vec<String> },
    /// A forbid matched (Cedar: forbid wins).
    Forbid { policy_ids: Vec<String> },
    /// No policy applies.
    NoOpinion,
}

/// Evaluate the stored policies for one request.
///
/// A stored text that no longer parses (it was validated on write, so this
/// means corruption) is skipped with a `warn` naming the policy id; so is a
/// policy whose evaluation errors (Cedar skips it). The request itself is never
/// logged. Without the `cedar` feature the outcome is always
/// [`PolicyOutcome::NoOpinion`] (with a `warn` when there are policies).
#[must_use]
pub fn evaluate(policies: &[StoredPolicy], request: &PolicyRequest<'_>) -> PolicyOutcome {
    #[cfg(feature = "cedar")]
    {
        engine::evaluate(policies, request)
    }
    #[cfg(not(feature = "cedar"))]
    {
        let _ = request;
        if !policies.is_empty() {
            tracing::warn!(
                policies = policies.len(),
                "Cedar policies are stored but authgate was built without the `cedar` feature; they are ignored"
            );
        }
        PolicyOutcome::NoOpinion
    }
}

/// A policy text was refused; the message is meant for the API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

#[cfg(all(test, not(feature = "cedar")))]
mod tests_without_cedar {
    use super::*;

    #[test]
    fn without_the_feature_nothing_is_evaluated() {
        assert!(!enabled());
        let err = validate("permit(principal, action, resource);").unwrap_err();
        assert_eq!(
            err.0,
            "policies need authgate built with the `cedar` feature"
        );
        assert_eq!(err.to_string(), err.0);

        let request = PolicyRequest {
            principal: Principal::Client {
                id: "c1",
                scopes: &[],
            },
            action: "devices:read",
            resource: None,
            tenant_id: None,
            ip: None,
            now: 0,
        };
        assert_eq!(evaluate(&[], &request), PolicyOutcome::NoOpinion);
        let stored = [StoredPolicy {
            id: "p1".into(),
            text: "permit(principal, action, resource);".into(),
        }];
        assert_eq!(evaluate(&stored, &request), PolicyOutcome::NoOpinion);
    }
}

#[cfg(all(test, feature = "cedar"))]
mod tests;
