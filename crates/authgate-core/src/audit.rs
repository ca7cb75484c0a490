//! Audit events: one row for every authentication event, success or failure,
//! with a reason code that answers "why did this fail?". Never a secret.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    Failure,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
        }
    }
}

/// Declares [`EventKind`] with the stored name of each kind.
macro_rules! event_kinds {
    ($($variant:ident => $name:literal,)*) => {
        /// What an audit row is about. The stored name (`as_str`) is what
        /// `GET /v1/admin/audit-events?kind=` filters on and what metrics
        /// label; it never changes for a kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($variant,)*
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }
        }
    };
}

event_kinds! {
    SignUp => "sign_up",
    SignUpConfirm => "sign_up_confirm",
    SignUpResend => "sign_up_resend",
    SignIn => "sign_in",
    ChallengeNewPassword => "challenge_new_password",
    ChallengeTotp => "challenge_totp",
    ChallengeMfaSetup => "challenge_mfa_setup",
    RecoveryCodeSignIn => "recovery_code_sign_in",
    Refresh => "refresh",
    SignOut => "sign_out",
    TotpEnrolmentStart => "totp_enrolment_start",
    TotpEnrolmentFinish => "totp_enrolment_finish",
    RecoveryCodesRegenerate => "recovery_codes_regenerate",
    PasswordResetRequest => "password_reset_request",
    PasswordResetConfirm => "password_reset_confirm",
    PasswordChange => "password_change",
    PasswordVerification => "password_verification",
    IdentifierRecovery => "identifier_recovery",
    MfaResetStart => "mfa_reset_start",
    MfaResetVerify => "mfa_reset_verify",
    MfaResetConfirm => "mfa_reset_confirm",
    AdminCreateUser => "admin_create_user",
    AdminDeleteUser => "admin_delete_user",
    AdminEnableUser => "admin_enable_user",
    AdminDisableUser => "admin_disable_user",
    AdminResetPassword => "admin_reset_password",
    AdminClearLockout => "admin_clear_lockout",
    GrantPlatformRole => "grant_platform_role",
    PlatformRoleChange => "platform_role_change",
    RoleCreate => "role_create",
    RoleUpdate => "role_update",
    RoleDelete => "role_delete",
    PolicyWrite => "policy_write",
    PolicyDelete => "policy_delete",
    TenantCreate => "tenant_create",
    TenantRename => "tenant_rename",
    TenantDelete => "tenant_delete",
    MemberAdd => "member_add",
    MemberInvite => "member_invite",
    MemberRoleChange => "member_role_change",
    MemberRemove => "member_remove",
    InvitationBound => "invitation_bound",
    InvitationWithdraw => "invitation_withdraw",
    ClientCreate => "client_create",
    ClientRevoke => "client_revoke",
    ClientToken => "client_token",
    CodeExchange => "code_exchange",
    BrowserSignOut => "browser_sign_out",
    TokenRevoke => "token_revoke",
    PasskeyRegistrationStart => "passkey_registration_start",
    PasskeyRegistered => "passkey_registered",
    PasskeyDeleted => "passkey_deleted",
    IdentityLinked => "identity_linked",
    IdentityUnlinked => "identity_unlinked",
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A query of the audit trail, as an administrator sends it (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase")]
pub struct AuditFilter {
    /// The provider subject the events are about.
    pub subject: Option<String>,
    pub email: Option<String>,
    /// e.g. `sign_in`, `refresh`, `admin_disable_user`.
    pub kind: Option<String>,
    /// An error code, e.g. `invalid_credentials`.
    pub reason: Option<String>,
    /// The object acted on: `tenant:<id>`, `role:<scope>/<key>`,
    /// `policy:<id>`, `client:<id>`.
    pub target: Option<String>,
    /// RFC 3339: only events at or after this time.
    #[cfg_attr(feature = "openapi", param(format = DateTime))]
    pub since: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[serde(default, deserialize_with = "crate::query::empty_as_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<i64>))]
    pub limit: Option<i64>,
}

/// One audit row. `reason` is an [`crate::AuthError`] code for failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// What happened.
    pub kind: EventKind,
    pub outcome: AuditOutcome,
    pub reason: Option<&'static str>,
    pub provider: crate::ProviderId,
    /// The provider subject the event is about, when known.
    pub subject: Option<String>,
    /// Who did it, when it is not the subject (an administrator's subject).
    pub actor: Option<String>,
    /// The object acted on, when it is not a user: `tenant:<id>`,
    /// `role:<scope>/<key>`, `policy:<id>`, `client:<id>`.
    pub target: Option<String>,
    /// The email the request named, when it named one.
    pub email: Option<String>,
    /// How a sign-in was made: `password`, `passkey` or `federated`.
    pub method: Option<&'static str>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub at_millis: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_snake_case_name() {
        let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        names.sort();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
    }
}
