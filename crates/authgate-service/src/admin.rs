//! User administration: create (a temporary password mailed by authgate,
//! whatever the provider), list, get, delete, disable/enable, force a
//! password reset, and platform roles. Only callers whose app user holds the
//! platform role `admin` may use it; every action is an audit event with the
//! administrator as actor and the account as subject.

use crate::events::{EventRecorder, RequestMeta};
use crate::notices::Notices;
use crate::principal::{AdminActor, Caller};
use crate::protection::{FactorLockout, Protection};
use crate::subjects::Subjects;
use authgate_core::AuditFilter;
use authgate_core::EventKind;
use authgate_core::policy::normalize_email;
use authgate_core::{
    AccountFilter, AuthError, NewAccount, Notification, Notifier, Provider, ProviderAccount,
    Secret, now_millis,
};
use authgate_store::{AppUser, Store};
use rand::Rng;
use rand::seq::SliceRandom;
use std::sync::Arc;
use uuid::Uuid;

/// An account with the app user behind it.
#[derive(Debug, Clone)]
pub struct ManagedUser {
    pub app_user: AppUser,
    pub account: ProviderAccount,
}

/// A temporary password that meets any sane policy: 20 characters with
/// upper- and lower-case letters, digits and symbols.
pub fn temporary_password() -> Secret {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGITS: &[u8] = b"23456789";
    // No `=`: it would make mail bodies quoted-printable.
    const SYMBOLS: &[u8] = b"!#$%&*+-?@^_";
    let mut rng = rand::rng();
    let mut pick = |set: &[u8]| set[rng.random_range(0..set.len())] as char;
    let mut chars: Vec<char> = [UPPER, LOWER, DIGITS, SYMBOLS]
        .iter()
        .map(|s| pick(s))
        .collect();
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    while chars.len() < 20 {
        chars.push(pick(&all));
    }
    chars.shuffle(&mut rand::rng());
    Secret::new(chars.into_iter().collect::<String>())
}

/// The identifiers an account's failures are counted under.
fn lockout_identifiers(user: &ManagedUser) -> [(LockoutScope, String); 2] {
    [
        (
            LockoutScope::Identifier,
            user.account.email.trim().to_lowercase(),
        ),
        (
            LockoutScope::SignedIn,
            crate::protection::signed_in_identifier(&user.app_user.provider_sub),
        ),
    ]
}

#[derive(Clone)]
pub struct AdminUsers {
    pub(crate) provider: Provider,
    pub(crate) store: Store,
    pub(crate) events: EventRecorder,
    pub(crate) notifier: Arc<dyn Notifier>,
    pub(crate) notices: Notices,
    pub(crate) subjects: Subjects,
    /// `AUTHGATE_SIGN_UP_REVEALS_EXISTING` (the profile's open sign-up).
    pub(crate) sign_up_reveals_existing: bool,
    pub(crate) protection: Protection,
}

/// Where a failure record was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutScope {
    /// Attempts that named the account's address (sign-in, codes, resets).
    Identifier,
    /// Checks made for the signed-in user (password re-verification,
    /// change, TOTP enrolment).
    SignedIn,
}

impl LockoutScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LockoutScope::Identifier => "identifier",
            LockoutScope::SignedIn => "signed_in",
        }
    }
}

/// One failure record of an account, as an administrator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLockout {
    pub scope: LockoutScope,
    pub record: FactorLockout,
}

impl AdminUsers {
    /// The account behind a provider subject, with its app user (created on
    /// first sight). Unknown subjects are `NotFound`.
    pub async fn user_by_sub(&self, sub: &str) -> Result<ManagedUser, AuthError> {
        let sub = sub.trim();
        if sub.is_empty() {
            return Err(AuthError::NotFound("user".into()));
        }
        let account = self.provider.admin.admin_get_user(sub).await?;
        self.managed(account).await
    }

    async fn managed(&self, account: ProviderAccount) -> Result<ManagedUser, AuthError> {
        let app_user = self
            .store
            .find_or_create_app_user(
                self.provider.name(),
                &account.sub,
                account.email_verified.then_some(account.email.as_str()),
                account.name.as_deref(),
                now_millis(),
            )
            .await?;
        Ok(ManagedUser { app_user, account })
    }

    /// Create an account whose temporary password is mailed as
    /// `Temporary password: …`, on an administrator's behalf.
    pub async fn admin_create_user(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        email: &str,
        name: Option<String>,
        phone: Option<String>,
    ) -> Result<ManagedUser, AuthError> {
        self.create_account(meta, Some(actor.id()), email, name, phone)
            .await
    }

    /// [`Self::admin_create_user`] for an administrator, or the open sign-up
    /// of the profile (`actor` None).
    async fn create_account(
        &self,
        meta: &RequestMeta,
        actor: Option<&str>,
        email: &str,
        name: Option<String>,
        phone: Option<String>,
    ) -> Result<ManagedUser, AuthError> {
        let email = normalize_email("email", email)?;
        let phone = phone
            .filter(|p| !p.trim().is_empty())
            .map(|p| authgate_core::policy::normalize_phone(&p))
            .transpose()?;
        let password = temporary_password();
        let result = async {
            let account = self
                .provider
                .admin
                .admin_create_user(NewAccount {
                    email: email.clone(),
                    name: name.clone(),
                    phone,
                    temporary_password: password.clone(),
                })
                .await?;
            self.notifier
                .send(Notification::TemporaryPassword {
                    to: email.clone(),
                    name,
                    password,
                })
                .await?;
            self.managed(account).await
        }
        .await;
        let sub = result.as_ref().ok().map(|u| u.account.sub.as_str());
        self.events
            .record_by(
                actor,
                EventKind::AdminCreateUser,
                meta,
                Some(&email),
                sub,
                &result,
            )
            .await;
        result
    }

    /// Self-service account creation (the CognitoApi profile's open
    /// `POST /v1/users`): the provider subject of the new account. A taken
    /// address answers a decoy subject and mails its owner a notice, unless
    /// `AUTHGATE_SIGN_UP_REVEALS_EXISTING` asks for the 409.
    pub async fn open_create_user(
        &self,
        meta: &RequestMeta,
        email: &str,
        name: Option<String>,
        phone: Option<String>,
    ) -> Result<String, AuthError> {
        // A stranger chooses the recipient here: the mail budget applies.
        self.protection
            .throttle
            .mail(&normalize_email("email", email)?)
            .await?;
        match self.create_account(meta, None, email, name, phone).await {
            Ok(user) => Ok(user.account.sub),
            Err(AuthError::UsernameExists) if !self.sign_up_reveals_existing => {
                let email = normalize_email("email", email)?;
                self.notices
                    .notice(&email, authgate_core::SecurityEvent::SignUpAttempt)
                    .await;
                Ok(self.notices.decoy_sub(&email))
            }
            Err(other) => Err(other),
        }
    }

    pub async fn admin_list_users(
        &self,
        _admin: &AdminActor,
        email_prefix: Option<String>,
        status: Option<authgate_core::AccountStatus>,
        limit: usize,
    ) -> Result<Vec<ManagedUser>, AuthError> {
        let filter = AccountFilter {
            email_prefix: email_prefix
                .map(|p| p.trim().to_lowercase())
                .filter(|p| !p.is_empty()),
            status,
            limit: limit.clamp(1, 500),
        };
        let mut users = Vec::new();
        for account in self.provider.admin.admin_list_users(&filter).await? {
            users.push(self.managed(account).await?);
        }
        Ok(users)
    }

    pub async fn admin_get_user(
        &self,
        _admin: &AdminActor,
        id: Uuid,
    ) -> Result<ManagedUser, AuthError> {
        let app_user = self.subjects.target(id).await?;
        let account = self
            .provider
            .admin
            .admin_get_user(&app_user.provider_sub)
            .await?;
        Ok(ManagedUser { app_user, account })
    }

    /// The failed-attempt records of the account behind `id` that hold any
    /// failures (empty: nothing is locked or counting).
    pub async fn admin_lockout(
        &self,
        admin: &AdminActor,
        id: Uuid,
    ) -> Result<Vec<AccountLockout>, AuthError> {
        let user = self.admin_get_user(admin, id).await?;
        let mut records = Vec::new();
        for (scope, identifier) in lockout_identifiers(&user) {
            for record in self.protection.lockout.status(&identifier).await {
                if record.failures > 0 {
                    records.push(AccountLockout { scope, record });
                }
            }
        }
        Ok(records)
    }

    /// Clear every failed-attempt record of the account behind `id` (also
    /// the hard limit's block), audited.
    pub async fn admin_clear_lockout(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        id: Uuid,
    ) -> Result<(), AuthError> {
        self.admin_action(
            meta,
            actor,
            EventKind::AdminClearLockout,
            id,
            async |user: &AppUser| {
                let account = self
                    .provider
                    .admin
                    .admin_get_user(&user.provider_sub)
                    .await?;
                let managed = ManagedUser {
                    app_user: user.clone(),
                    account,
                };
                for (_, identifier) in lockout_identifiers(&managed) {
                    self.protection.lockout.clear_all(&identifier).await;
                }
                Ok(())
            },
        )
        .await
    }

    /// Run one administrative action on the account behind `id`, audited.
    /// The actor must hold every grant of the account's platform role: a
    /// limited admin cannot disable, reset or delete a broader one.
    async fn admin_action(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        kind: EventKind,
        id: Uuid,
        action: impl AsyncFnOnce(&AppUser) -> Result<(), AuthError>,
    ) -> Result<(), AuthError> {
        let target = self.subjects.target(id).await;
        let result = match &target {
            Ok(user) => match self
                .subjects
                .platform_grants(user.platform_role.as_deref())
                .await
            {
                Ok(grants) => match actor.require_all(&grants, "this account's platform role") {
                    Ok(()) => action(user).await,
                    Err(err) => Err(err),
                },
                Err(err) => Err(err),
            },
            Err(err) => Err(err.clone()),
        };
        let (sub, email) = match &target {
            Ok(user) => (Some(user.provider_sub.as_str()), user.email.as_deref()),
            Err(_) => (None, None),
        };
        self.events
            .record_by(Some(&actor.id), kind, meta, email, sub, &result)
            .await;
        result
    }

    pub async fn admin_delete_user(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        id: Uuid,
    ) -> Result<(), AuthError> {
        self.admin_action(
            meta,
            actor,
            EventKind::AdminDeleteUser,
            id,
            async |user: &AppUser| {
                self.provider
                    .admin
                    .admin_delete_user(&user.provider_sub)
                    .await?;
                self.store
                    .revoke_provider_sessions(
                        self.provider.name(),
                        &user.provider_sub,
                        now_millis(),
                    )
                    .await?;
                self.store.delete_app_user(user.id).await?;
                Ok(())
            },
        )
        .await
    }

    pub async fn admin_set_enabled(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        id: Uuid,
        enabled: bool,
    ) -> Result<(), AuthError> {
        let kind = if enabled {
            EventKind::AdminEnableUser
        } else {
            EventKind::AdminDisableUser
        };
        self.admin_action(meta, actor, kind, id, async |user: &AppUser| {
            self.provider
                .admin
                .admin_set_enabled(&user.provider_sub, enabled)
                .await?;
            if !enabled {
                // Whatever the provider does, authgate ends the sessions at once.
                self.store
                    .revoke_provider_sessions(
                        self.provider.name(),
                        &user.provider_sub,
                        now_millis(),
                    )
                    .await?;
            }
            Ok(())
        })
        .await
    }

    pub async fn admin_reset_password(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        id: Uuid,
    ) -> Result<(), AuthError> {
        self.admin_action(
            meta,
            actor,
            EventKind::AdminResetPassword,
            id,
            async |user: &AppUser| {
                self.provider
                    .admin
                    .admin_reset_password(&user.provider_sub)
                    .await?;
                self.store
                    .revoke_provider_sessions(
                        self.provider.name(),
                        &user.provider_sub,
                        now_millis(),
                    )
                    .await?;
                Ok(())
            },
        )
        .await
    }

    /// Give the account with this email a platform role (the CLI's
    /// `admin grant-platform-role`).
    pub async fn grant_platform_role(
        &self,
        actor: &AdminActor,
        email: &str,
        role: &str,
    ) -> Result<AppUser, AuthError> {
        let email = normalize_email("email", email)?;
        let role = role.trim();
        if role.is_empty() {
            return Err(AuthError::invalid_field("role", "role must not be empty"));
        }
        let Some(stored) = self
            .store
            .role(authgate_store::catalog::RoleScope::Platform, role)
            .await?
        else {
            return Err(AuthError::invalid_field(
                "role",
                format!("{role} is not a platform role of the catalog"),
            ));
        };
        actor.require_all(&stored.grants, "this platform role")?;
        let account = self
            .provider
            .admin
            .admin_find_by_email(&email)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("an account for {email}")))?;
        let user = self.managed(account).await?.app_user;
        self.store
            .set_platform_role(user.id, Some(role), now_millis())
            .await?;
        self.events
            .record_by(
                None,
                EventKind::GrantPlatformRole,
                &RequestMeta::default(),
                Some(&email),
                Some(&user.provider_sub),
                &Ok::<(), AuthError>(()),
            )
            .await;
        Ok(AppUser {
            platform_role: Some(role.to_string()),
            ..user
        })
    }

    /// The audit trail, newest first, every queued event written first.
    pub async fn admin_audit_events(
        &self,
        _admin: &AdminActor,
        filter: AuditFilter,
    ) -> Result<Vec<authgate_store::audit::AuditRow>, AuthError> {
        let since = match filter.since.as_deref() {
            None | Some("") => None,
            Some(text) => Some(
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| {
                        AuthError::invalid_field("since", "since must be an RFC 3339 time")
                    })?
                    .unix_timestamp_nanos()
                    / 1_000_000,
            ),
        };
        let query = authgate_store::audit::AuditQuery {
            subject: filter.subject.filter(|s| !s.is_empty()),
            email: filter
                .email
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty()),
            kind: filter.kind.filter(|s| !s.is_empty()),
            reason: filter.reason.filter(|s| !s.is_empty()),
            target: filter.target.filter(|s| !s.is_empty()),
            since: since.map(|s| s as i64),
            limit: filter.limit.unwrap_or(100).clamp(1, 1000),
        };
        self.events.flush().await;
        Ok(self.store.audit_events(&query).await?)
    }

    /// A user deletes their own account (the CognitoApi profile's
    /// `DELETE /v1/users/{own id}`): the same action as an administrator's,
    /// audited with the user as the actor.
    pub async fn delete_own_account(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
    ) -> Result<(), AuthError> {
        let owner = self
            .subjects
            .actor(&crate::principal::Principal::User(Box::new(caller.clone())))
            .await?;
        let id = owner
            .app_user
            .as_ref()
            .map(|user| user.id)
            .ok_or_else(|| AuthError::Internal("a user actor without an app user".into()))?;
        self.admin_delete_user(meta, &owner, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authgate_core::policy::PasswordPolicy;

    #[test]
    fn temporary_passwords_meet_the_default_policy_and_differ() {
        let a = temporary_password();
        let b = temporary_password();
        assert_ne!(a, b);
        for password in [a, b] {
            assert_eq!(password.expose().chars().count(), 20);
            PasswordPolicy::default().check(password.expose()).unwrap();
        }
    }
}
