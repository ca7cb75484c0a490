//! From the service's answers to the wire: one [`ToWire`] impl per answer
//! type, so every handler renders a value the same way (the wire types live
//! in `authgate-api-types`, the answers in the service and store crates).

use authgate_api_types::authz::*;
use authgate_api_types::native::*;
use authgate_core::{ChallengeParameters, Secret, SignUpOutcome, rfc3339};
use authgate_service::admin::{AccountLockout, ManagedUser};
use authgate_service::catalog::Catalog;
use authgate_service::catalog::OWNER_ROLE;
use authgate_service::tenants::{Added, TenantView};
use authgate_service::{Challenge, SessionView};
use authgate_store::AppUser;
use authgate_store::audit::AuditRow;
use authgate_store::catalog::{PolicyRow, Role};
use authgate_store::clients::Client;
use authgate_store::tenants::{Invitation, Member};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A service or store value as the contract shows it.
pub trait ToWire {
    type Wire;
    fn to_wire(self) -> Self::Wire;
}

impl ToWire for SignUpOutcome {
    type Wire = SignUpResponse;
    fn to_wire(self) -> SignUpResponse {
        let outcome = self;
        SignUpResponse {
            user_sub: outcome.user_sub,
            can_sign_in: !outcome.requires_confirmation,
            requires_confirmation: outcome.requires_confirmation,
            delivery: outcome.delivery.map(|d| Delivery {
                medium: d.medium.to_string(),
                destination: d.destination,
            }),
        }
    }
}

impl ToWire for &AppUser {
    type Wire = UserView;
    fn to_wire(self) -> UserView {
        let user = self;
        UserView {
            id: user.id.to_string(),
            sub: user.provider_sub.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
        }
    }
}

impl ToWire for AccountLockout {
    type Wire = LockoutRecord;
    fn to_wire(self) -> LockoutRecord {
        LockoutRecord {
            scope: self.scope.as_str().into(),
            factor: self.record.factor.name().into(),
            failures: self.record.failures,
            retry_after_seconds: self.record.retry_after_secs,
            blocked: self.record.blocked,
        }
    }
}

impl ToWire for SessionView {
    type Wire = SessionResponse;
    fn to_wire(self) -> SessionResponse {
        let session = self;
        SessionResponse {
            access_token: session.tokens.access_token.into_inner(),
            id_token: session.tokens.id_token.into_inner(),
            refresh_token: session.tokens.refresh_token.map(Secret::into_inner),
            token_type: "Bearer".into(),
            expires_in: session.tokens.expires_in,
            expires_at: rfc3339(session.expires_at),
            user: (&session.user).to_wire(),
            recovery_codes: shown_once(session.recovery_codes),
        }
    }
}

impl ToWire for Challenge {
    type Wire = ChallengeResponseBody;
    fn to_wire(self) -> ChallengeResponseBody {
        ChallengeResponseBody {
            challenge: self.kind.as_str().to_string(),
            session: self.session.into_inner(),
            parameters: self.parameters.to_wire(),
        }
    }
}

/// Challenge parameters on the wire: `secret` and `otpauthUri` for an
/// authenticator to enrol.
impl ToWire for ChallengeParameters {
    type Wire = std::collections::BTreeMap<String, String>;
    fn to_wire(self) -> Self::Wire {
        match self {
            ChallengeParameters::None => Default::default(),
            ChallengeParameters::TotpSetup(enrolment) => [
                ("secret".to_string(), enrolment.secret.into_inner()),
                ("otpauthUri".to_string(), enrolment.otpauth_uri.into_inner()),
            ]
            .into(),
        }
    }
}

impl ToWire for AppUser {
    type Wire = SubjectResponse;
    fn to_wire(self) -> SubjectResponse {
        let user = self;
        SubjectResponse {
            provider: user.provider.clone(),
            user: SubjectUser {
                id: user.id.to_string(),
                created_at: rfc3339(user.created_at / 1000),
                sub: user.provider_sub,
                email: user.email,
                name: user.name,
            },
        }
    }
}

impl ToWire for ManagedUser {
    type Wire = AdminUserView;
    fn to_wire(self) -> AdminUserView {
        let user = self;
        AdminUserView {
            id: user.app_user.id.to_string(),
            sub: user.account.sub,
            email: user.account.email,
            name: user.account.name,
            phone: user.account.phone,
            status: user.account.status.as_str().to_string(),
            enabled: user.account.enabled,
            mfa_enabled: user.account.mfa_enabled,
            platform_role: user.app_user.platform_role,
            created_at: rfc3339(user.account.created_at / 1000),
        }
    }
}

impl ToWire for AuditRow {
    type Wire = AuditEventView;
    fn to_wire(self) -> AuditEventView {
        let row = self;
        let at = OffsetDateTime::from_unix_timestamp_nanos(row.at as i128 * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        AuditEventView {
            id: row.id,
            at,
            kind: row.kind,
            outcome: row.outcome,
            reason: row.reason,
            provider: row.provider,
            subject: row.subject,
            actor: row.actor,
            target: row.target,
            method: row.method,
            email: row.email,
            ip: row.ip,
            request_id: row.request_id,
        }
    }
}

impl ToWire for TenantView {
    type Wire = TenantResponse;
    fn to_wire(self) -> TenantResponse {
        let view = self;
        TenantResponse {
            id: view.tenant.id.to_string(),
            name: view.tenant.name,
            role: view.role,
            grants: view.grants,
            created_at: rfc3339(view.tenant.created_at / 1000),
        }
    }
}

impl ToWire for Member {
    type Wire = MemberResponse;
    fn to_wire(self) -> MemberResponse {
        let m = self;
        MemberResponse {
            user_id: m.user_id.to_string(),
            sub: m.sub,
            email: m.email,
            name: m.name,
            role: m.role,
            since: rfc3339(m.since / 1000),
        }
    }
}

impl ToWire for Invitation {
    type Wire = InvitationResponse;
    fn to_wire(self) -> InvitationResponse {
        let i = self;
        InvitationResponse {
            email: i.email,
            role: i.role,
            invited_at: rfc3339(i.created_at / 1000),
        }
    }
}

impl ToWire for Added {
    type Wire = AddMemberResponse;
    fn to_wire(self) -> AddMemberResponse {
        match self {
            Added::Member(m) => AddMemberResponse {
                status: "member".into(),
                user_id: Some(m.user_id.to_string()),
                email: m.email.unwrap_or_default(),
                role: m.role,
            },
            Added::Invited(i) => AddMemberResponse {
                status: "invited".into(),
                user_id: None,
                email: i.email,
                role: i.role,
            },
        }
    }
}

impl ToWire for Role {
    type Wire = RoleResponse;
    fn to_wire(self) -> RoleResponse {
        let role = self;
        RoleResponse {
            key: role.key,
            scope: role.scope.as_str().into(),
            description: role.description,
            grants: role.grants,
            updated_at: rfc3339(role.updated_at / 1000),
        }
    }
}

impl ToWire for PolicyRow {
    type Wire = PolicyResponse;
    fn to_wire(self) -> PolicyResponse {
        let p = self;
        PolicyResponse {
            id: p.id,
            description: p.description,
            policy: p.body,
            updated_at: rfc3339(p.updated_at / 1000),
        }
    }
}

impl ToWire for Catalog {
    type Wire = CatalogResponse;
    fn to_wire(self) -> CatalogResponse {
        let c = self;
        CatalogResponse {
            version: c.version,
            roles: c
                .roles
                .into_iter()
                .map(|r| CatalogRole {
                    key: r.key,
                    scope: r.scope.as_str().into(),
                    description: r.description,
                    grants: r.grants,
                })
                .collect(),
            grants: c.grants,
            policies: c
                .policies
                .into_iter()
                .map(|p| CatalogPolicy {
                    id: p.id,
                    description: p.description,
                })
                .collect(),
            hints: CatalogHints {
                grant_syntax: "segments joined by `:`; a final `*` covers everything under its prefix \
                               (`devices:*` covers `devices:read`), `*` alone covers everything; \
                               a tenant role's grants never cover `platform:` actions"
                    .into(),
                owner_role: OWNER_ROLE.into(),
                platform_grants_apply_everywhere: true,
                platform_action_prefix: format!("{}:", authgate_core::authz::PLATFORM_NAMESPACE),
                policy_evaluation: "roles first; a policy forbid overrides them, a permit allows what no role grants".into(),
                role_keys_are_data: true,
            },
        }
    }
}

impl ToWire for Client {
    type Wire = ClientView;
    fn to_wire(self) -> ClientView {
        let c = self;
        ClientView {
            id: c.id,
            name: c.name,
            client_type: c.client_type.as_str().into(),
            scopes: c.scopes,
            redirect_uris: c.redirect_uris,
            post_logout_uris: c.post_logout_uris,
            grant_types: c.grant_types.iter().map(|g| g.as_str().into()).collect(),
            consent: c.consent,
            created_at: rfc3339(c.created_at / 1000),
            revoked_at: c.revoked_at.map(|at| rfc3339(at / 1000)),
        }
    }
}

impl ToWire for authgate_core::PasskeyCredential {
    type Wire = authgate_api_types::native::PasskeyView;
    fn to_wire(self) -> Self::Wire {
        authgate_api_types::native::PasskeyView {
            id: self.id,
            name: self.name,
            created_at: rfc3339(self.created_at / 1000),
            last_used_at: self.last_used_at.map(|at| rfc3339(at / 1000)),
            backed_up: self.backed_up,
        }
    }
}

impl ToWire for authgate_service::federation::IdentityView {
    type Wire = authgate_api_types::native::LinkedIdentityView;
    fn to_wire(self) -> Self::Wire {
        authgate_api_types::native::LinkedIdentityView {
            id: self.id,
            provider: self.provider,
            label: self.label,
            issuer: self.issuer,
            subject: self.subject,
            email: self.email,
            linked_at: self.linked_at,
            last_used_at: self.last_used_at,
            removable: self.removable,
        }
    }
}
