//! The administrator's side of the port on Cognito: `AdminCreateUser`,
//! `AdminGetUser`, `ListUsers`, `AdminDeleteUser`, `AdminDisableUser` /
//! `AdminEnableUser`, `AdminUserGlobalSignOut` and `AdminResetUserPassword`.
//! These calls are signed with the configured AWS credentials. Every SDK
//! failure goes through [`crate::error_map`]; Cognito's status strings become
//! [`AccountStatus`] here and nowhere else.

use crate::error_map::Operation;
use crate::provider::{CognitoProvider, fail, provider_broken};
use authgate_core::{AccountFilter, AccountStatus, AuthError, NewAccount, ProviderAccount};
use aws_sdk_cognitoidentityprovider::primitives::DateTime;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, MessageActionType, UserStatusType, UserType,
};

/// Cognito's largest `ListUsers` page.
const LIST_PAGE_SIZE: i32 = 60;
/// The most accounts one listing answers: [`AccountFilter::limit`] is
/// capped here (and raised to 1).
pub(crate) const LIST_LIMIT_MAX: usize = 1000;
/// The most `ListUsers` pages one search reads (1,500 users).
pub(crate) const LIST_PAGES_MAX: usize = 25;
/// The longest `Username` Cognito takes.
const USERNAME_MAX_CHARS: usize = 128;
/// What `UserMFASettingList` says for an enrolled authenticator app.
const SOFTWARE_TOKEN_MFA: &str = "SOFTWARE_TOKEN_MFA";

/// An account and the Cognito username the admin calls take (the sub when
/// email is the username).
pub(crate) struct Found {
    username: String,
    account: ProviderAccount,
}

/// Cognito's user status → [`AccountStatus`]. The statuses without a
/// service meaning (`ARCHIVED`, `COMPROMISED`, `UNKNOWN`,
/// `EXTERNAL_PROVIDER`, newer ones) show as [`AccountStatus::Active`]:
/// whether such a user can sign in is Cognito's answer at sign-in.
pub(crate) fn account_status(status: Option<&UserStatusType>) -> AccountStatus {
    match status {
        Some(UserStatusType::Unconfirmed) => AccountStatus::PendingConfirmation,
        Some(UserStatusType::Confirmed) => AccountStatus::Active,
        Some(UserStatusType::ForceChangePassword) => AccountStatus::TemporaryPassword,
        Some(UserStatusType::ResetRequired) => AccountStatus::PasswordResetRequired,
        other => {
            tracing::debug!(
                status = other.map_or("-", UserStatusType::as_str),
                "Cognito user status without a service meaning; shown as active"
            );
            AccountStatus::Active
        }
    }
}

/// The one Cognito status a status filter selects ([`AccountStatus::Active`]
/// is `CONFIRMED` only).
pub(crate) fn cognito_status(status: AccountStatus) -> &'static str {
    match status {
        AccountStatus::PendingConfirmation => "UNCONFIRMED",
        AccountStatus::Active => "CONFIRMED",
        AccountStatus::TemporaryPassword => "FORCE_CHANGE_PASSWORD",
        AccountStatus::PasswordResetRequired => "RESET_REQUIRED",
    }
}

/// A `ListUsers` filter value: in double quotes, with `"` and `\` escaped
/// by a backslash.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `attribute = "value"`.
pub(crate) fn equals_filter(attribute: &str, value: &str) -> String {
    format!("{attribute} = {}", quoted(value))
}

/// `attribute ^= "prefix"`.
pub(crate) fn prefix_filter(attribute: &str, prefix: &str) -> String {
    format!("{attribute} ^= {}", quoted(prefix))
}

/// The `ListUsers` filter of a listing. Cognito filters on one attribute:
/// the email prefix when there is one (the status is then checked on each
/// user), else the status.
pub(crate) fn list_filter(filter: &AccountFilter) -> Option<String> {
    match (
        filter.email_prefix.as_deref().filter(|p| !p.is_empty()),
        filter.status,
    ) {
        (Some(prefix), _) => Some(prefix_filter("email", prefix)),
        (None, Some(status)) => Some(equals_filter("cognito:user_status", cognito_status(status))),
        (None, None) => None,
    }
}

/// Could `sub` name a Cognito user at all? (Cognito answers anything else
/// with `InvalidParameterException`; for a lookup by sub that is "not found".)
fn plausible_username(sub: &str) -> bool {
    !sub.is_empty()
        && sub.chars().count() <= USERNAME_MAX_CHARS
        && !sub.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn attribute<'a>(attributes: &'a [AttributeType], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name() == name)
        .and_then(AttributeType::value)
        .filter(|value| !value.is_empty())
}

/// The account of a Cognito user. `sub` falls back to the username (they
/// are the same when email is the username), `email` to empty.
fn account(
    username: &str,
    attributes: &[AttributeType],
    status: Option<&UserStatusType>,
    enabled: bool,
    created: Option<&DateTime>,
    mfa_enabled: bool,
) -> ProviderAccount {
    ProviderAccount {
        sub: attribute(attributes, "sub").unwrap_or(username).to_owned(),
        email: attribute(attributes, "email")
            .unwrap_or_default()
            .to_owned(),
        // Only an explicit `false` marks it unverified (emulators may omit it).
        email_verified: attribute(attributes, "email_verified") != Some("false"),
        name: attribute(attributes, "name").map(str::to_owned),
        phone: attribute(attributes, "phone_number").map(str::to_owned),
        status: account_status(status),
        enabled,
        mfa_enabled,
        created_at: created.and_then(|d| d.to_millis().ok()).unwrap_or(0),
    }
}

/// A user of `ListUsers` / `AdminCreateUser`. `UserType` tells no MFA
/// settings (only the legacy, SMS-only `MFAOptions`): `mfa_enabled` is false.
fn listed(user: &UserType) -> Found {
    let username = user.username().unwrap_or_default();
    Found {
        username: username.to_owned(),
        account: account(
            username,
            user.attributes(),
            user.user_status(),
            user.enabled(),
            user.user_create_date(),
            false,
        ),
    }
}

/// Does a listed user have the Cognito status a filter asks for?
fn has_status(user: &UserType, wanted: Option<AccountStatus>) -> bool {
    wanted.is_none_or(|status| {
        user.user_status().map(UserStatusType::as_str) == Some(cognito_status(status))
    })
}

impl CognitoProvider {
    /// `AdminCreateUser`: username = email, the temporary password,
    /// `MessageAction = SUPPRESS` (authgate mails the password itself),
    /// attributes `email`, `email_verified = true`, `name`, `phone_number`.
    pub(crate) async fn create_account(
        &self,
        new: NewAccount,
    ) -> Result<ProviderAccount, AuthError> {
        let attr = crate::provider::user_attribute;
        let mut call = self
            .client
            .admin_create_user()
            .user_pool_id(&self.config.user_pool_id)
            .username(&new.email)
            .temporary_password(new.temporary_password.expose())
            .message_action(MessageActionType::Suppress)
            .user_attributes(attr("email", &new.email)?)
            .user_attributes(attr("email_verified", "true")?);
        if let Some(name) = &new.name {
            call = call.user_attributes(attr("name", name)?);
        }
        if let Some(phone) = &new.phone {
            call = call.user_attributes(attr("phone_number", phone)?);
        }
        let out = call
            .send()
            .await
            .map_err(|err| fail(Operation::AdminCreateUser, err))?;
        let user = out
            .user()
            .ok_or_else(|| provider_broken("the created user"))?;
        let created = listed(user).account;
        if created.sub.is_empty() {
            return Err(provider_broken("the sub of the created user"));
        }
        Ok(created)
    }

    /// `AdminGetUser` with a Cognito username (or anything Cognito takes as
    /// one: the sub, an alias). The MFA settings come with it.
    async fn get_user(&self, username: &str) -> Result<Found, AuthError> {
        let out = self
            .client
            .admin_get_user()
            .user_pool_id(&self.config.user_pool_id)
            .username(username)
            .send()
            .await
            .map_err(|err| fail(Operation::AdminGetUser, err))?;
        let mfa_enabled = out
            .user_mfa_setting_list()
            .iter()
            .any(|setting| setting == SOFTWARE_TOKEN_MFA);
        Ok(Found {
            username: out.username().to_owned(),
            account: account(
                out.username(),
                out.user_attributes(),
                out.user_status(),
                out.enabled(),
                out.user_create_date(),
                mfa_enabled,
            ),
        })
    }

    /// The user with this sub: `AdminGetUser` with the sub as `Username`
    /// (Cognito takes a local user's sub there; when email is the username
    /// it *is* the username). Cognito would also take an alias (an email):
    /// a user whose `sub` is not the one asked for is not found.
    pub(crate) async fn user_by_sub(&self, sub: &str) -> Result<Found, AuthError> {
        let not_found = || AuthError::NotFound("user".to_string());
        if !plausible_username(sub) {
            return Err(not_found());
        }
        let found = self.get_user(sub).await?;
        if found.account.sub != sub {
            return Err(not_found());
        }
        Ok(found)
    }

    pub(crate) async fn account_by_sub(&self, sub: &str) -> Result<ProviderAccount, AuthError> {
        Ok(self.user_by_sub(sub).await?.account)
    }

    /// `ListUsers` with `filter`, page after page (60 a page), keeping the
    /// users `keep` accepts, until `limit` are kept, the pages end, or
    /// [`LIST_PAGES_MAX`] pages were read.
    async fn search(
        &self,
        filter: Option<&str>,
        keep: impl Fn(&UserType) -> bool,
        limit: usize,
    ) -> Result<Vec<UserType>, AuthError> {
        let mut kept = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..LIST_PAGES_MAX {
            let mut call = self
                .client
                .list_users()
                .user_pool_id(&self.config.user_pool_id)
                .limit(LIST_PAGE_SIZE);
            if let Some(filter) = filter {
                call = call.filter(filter);
            }
            if let Some(token) = &token {
                call = call.pagination_token(token);
            }
            let out = call
                .send()
                .await
                .map_err(|err| fail(Operation::AdminListUsers, err))?;
            kept.extend(out.users().iter().filter(|user| keep(user)).cloned());
            if kept.len() >= limit {
                return Ok(kept);
            }
            match out.pagination_token().filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(kept),
            }
        }
        tracing::warn!(
            pages = LIST_PAGES_MAX,
            "ListUsers search stopped before the last page"
        );
        Ok(kept)
    }

    /// Listed users → accounts with their MFA settings (`AdminGetUser`
    /// each); a user deleted in between is left out.
    async fn with_mfa(&self, users: &[UserType]) -> Result<Vec<ProviderAccount>, AuthError> {
        let mut accounts = Vec::with_capacity(users.len());
        for user in users {
            let listed = listed(user);
            match self.get_user(&listed.username).await {
                Ok(found) => accounts.push(found.account),
                Err(AuthError::NotFound(_)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(accounts)
    }

    /// `ListUsers` `email = "<email>"`, then `AdminGetUser` of the first match.
    pub(crate) async fn account_by_email(
        &self,
        email: &str,
    ) -> Result<Option<ProviderAccount>, AuthError> {
        let filter = equals_filter("email", email);
        let users = self.search(Some(&filter), |_| true, 1).await?;
        Ok(self
            .with_mfa(users.get(..1).unwrap_or_default())
            .await?
            .into_iter()
            .next())
    }

    /// `ListUsers` `phone_number = "<phone>"` (every page, up to
    /// [`LIST_PAGES_MAX`]), then `AdminGetUser` of each match.
    pub(crate) async fn accounts_by_phone(
        &self,
        phone: &str,
    ) -> Result<Vec<ProviderAccount>, AuthError> {
        let filter = equals_filter("phone_number", phone);
        let users = self.search(Some(&filter), |_| true, usize::MAX).await?;
        let mut accounts = self.with_mfa(&users).await?;
        accounts.sort_by_key(|a| a.created_at);
        Ok(accounts)
    }

    /// `ListUsers` with [`list_filter`]; the status is checked on each user
    /// when Cognito filtered by the email prefix. Oldest first among the
    /// users read; `mfa_enabled` is false (`ListUsers` does not tell).
    pub(crate) async fn list_accounts(
        &self,
        filter: &AccountFilter,
    ) -> Result<Vec<ProviderAccount>, AuthError> {
        let limit = filter.limit.clamp(1, LIST_LIMIT_MAX);
        let cognito_filter = list_filter(filter);
        let users = self
            .search(
                cognito_filter.as_deref(),
                |user| has_status(user, filter.status),
                limit,
            )
            .await?;
        let mut accounts: Vec<ProviderAccount> =
            users.iter().map(|user| listed(user).account).collect();
        accounts.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.email.cmp(&b.email))
        });
        accounts.truncate(limit);
        Ok(accounts)
    }

    /// `AdminDeleteUser` with the user's Cognito username.
    pub(crate) async fn delete_account(&self, sub: &str) -> Result<(), AuthError> {
        let found = self.user_by_sub(sub).await?;
        self.client
            .admin_delete_user()
            .user_pool_id(&self.config.user_pool_id)
            .username(&found.username)
            .send()
            .await
            .map_err(|err| fail(Operation::AdminDeleteUser, err))?;
        Ok(())
    }

    /// Disable: `AdminUserGlobalSignOut`, then `AdminDisableUser` (which
    /// revokes the access tokens issued in between, and after which Cognito
    /// refuses sign-in and refresh). Enable: `AdminEnableUser`.
    pub(crate) async fn set_account_enabled(
        &self,
        sub: &str,
        enabled: bool,
    ) -> Result<(), AuthError> {
        let found = self.user_by_sub(sub).await?;
        if enabled {
            self.client
                .admin_enable_user()
                .user_pool_id(&self.config.user_pool_id)
                .username(&found.username)
                .send()
                .await
                .map_err(|err| fail(Operation::AdminSetEnabled, err))?;
            return Ok(());
        }
        self.sign_out_everywhere(&found.username).await?;
        self.client
            .admin_disable_user()
            .user_pool_id(&self.config.user_pool_id)
            .username(&found.username)
            .send()
            .await
            .map_err(|err| fail(Operation::AdminSetEnabled, err))?;
        Ok(())
    }

    /// `AdminResetUserPassword` (Cognito mails the code), then
    /// `AdminUserGlobalSignOut`.
    pub(crate) async fn reset_account_password(&self, sub: &str) -> Result<(), AuthError> {
        let found = self.user_by_sub(sub).await?;
        self.client
            .admin_reset_user_password()
            .user_pool_id(&self.config.user_pool_id)
            .username(&found.username)
            .send()
            .await
            .map_err(|err| fail(Operation::AdminResetPassword, err))?;
        self.sign_out_everywhere(&found.username).await
    }

    /// `AdminUserGlobalSignOut`: Cognito refuses the user's refresh tokens
    /// and revokes their access tokens.
    async fn sign_out_everywhere(&self, username: &str) -> Result<(), AuthError> {
        self.client
            .admin_user_global_sign_out()
            .user_pool_id(&self.config.user_pool_id)
            .username(username)
            .send()
            .await
            .map_err(|err| fail(Operation::AdminSignOut, err))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str, value: &str) -> AttributeType {
        AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .unwrap()
    }

    #[test]
    fn cognito_statuses_map_to_account_statuses() {
        for (cognito, status) in [
            (
                UserStatusType::Unconfirmed,
                AccountStatus::PendingConfirmation,
            ),
            (UserStatusType::Confirmed, AccountStatus::Active),
            (
                UserStatusType::ForceChangePassword,
                AccountStatus::TemporaryPassword,
            ),
            (
                UserStatusType::ResetRequired,
                AccountStatus::PasswordResetRequired,
            ),
            (UserStatusType::Archived, AccountStatus::Active),
            (UserStatusType::Compromised, AccountStatus::Active),
            (UserStatusType::UnknownValue, AccountStatus::Active),
            (UserStatusType::ExternalProvider, AccountStatus::Active),
            (UserStatusType::from("SOMETHING_NEW"), AccountStatus::Active),
        ] {
            assert_eq!(account_status(Some(&cognito)), status, "{cognito:?}");
        }
        assert_eq!(account_status(None), AccountStatus::Active);
    }

    #[test]
    fn a_status_filter_selects_the_cognito_status_it_maps_from() {
        for status in [
            AccountStatus::PendingConfirmation,
            AccountStatus::Active,
            AccountStatus::TemporaryPassword,
            AccountStatus::PasswordResetRequired,
        ] {
            let cognito = UserStatusType::from(cognito_status(status));
            assert_eq!(account_status(Some(&cognito)), status);
        }
    }

    #[test]
    fn filter_values_are_quoted_and_escaped() {
        assert_eq!(
            equals_filter("email", "a@example.com"),
            r#"email = "a@example.com""#
        );
        assert_eq!(
            equals_filter("email", r#"a"b\c@example.com"#),
            r#"email = "a\"b\\c@example.com""#
        );
        assert_eq!(
            equals_filter("phone_number", "+15551234567"),
            r#"phone_number = "+15551234567""#
        );
        assert_eq!(prefix_filter("email", "al"), r#"email ^= "al""#);
    }

    #[test]
    fn a_listing_filters_on_the_prefix_else_on_the_status() {
        let filter = |prefix: Option<&str>, status| AccountFilter {
            email_prefix: prefix.map(str::to_owned),
            status,
            limit: 10,
        };
        assert_eq!(list_filter(&filter(None, None)), None);
        assert_eq!(list_filter(&filter(Some(""), None)), None);
        assert_eq!(
            list_filter(&filter(Some("al"), Some(AccountStatus::Active))),
            Some(r#"email ^= "al""#.to_string())
        );
        assert_eq!(
            list_filter(&filter(None, Some(AccountStatus::PasswordResetRequired))),
            Some(r#"cognito:user_status = "RESET_REQUIRED""#.to_string())
        );
    }

    #[test]
    fn implausible_subs_are_never_sent() {
        assert!(plausible_username("0b8e1a52-1cde-4c58-9b8f-8f6a1f0b7e1d"));
        for sub in ["", "a b", "a\nb", &"x".repeat(129)] {
            assert!(!plausible_username(sub), "{sub:?}");
        }
    }

    #[test]
    fn a_listed_user_becomes_an_account_without_mfa() {
        let user = UserType::builder()
            .username("0b8e1a52")
            .attributes(attr("sub", "0b8e1a52"))
            .attributes(attr("email", "a@example.com"))
            .attributes(attr("name", "Ada"))
            .attributes(attr("phone_number", "+15551234567"))
            .user_status(UserStatusType::ForceChangePassword)
            .enabled(true)
            .user_create_date(DateTime::from_millis(1_700_000_000_123))
            .build();
        let found = listed(&user);
        assert_eq!(found.username, "0b8e1a52");
        assert_eq!(
            found.account,
            ProviderAccount {
                sub: "0b8e1a52".into(),
                email: "a@example.com".into(),
                email_verified: true,
                name: Some("Ada".into()),
                phone: Some("+15551234567".into()),
                status: AccountStatus::TemporaryPassword,
                enabled: true,
                mfa_enabled: false,
                created_at: 1_700_000_000_123,
            }
        );
        // Without a sub attribute, the username (the sub when email is the
        // username) stands in.
        let bare = UserType::builder().username("u-1").build();
        let account = listed(&bare).account;
        assert_eq!((account.sub.as_str(), account.email.as_str()), ("u-1", ""));
        assert!(!account.enabled);
    }

    #[test]
    fn the_status_check_of_a_listing_compares_cognito_statuses() {
        let user = |status: UserStatusType| UserType::builder().user_status(status).build();
        assert!(has_status(&user(UserStatusType::Confirmed), None));
        assert!(has_status(
            &user(UserStatusType::Confirmed),
            Some(AccountStatus::Active)
        ));
        // EXTERNAL_PROVIDER shows as active but is not what "active" selects.
        assert!(!has_status(
            &user(UserStatusType::ExternalProvider),
            Some(AccountStatus::Active)
        ));
        assert!(!has_status(
            &user(UserStatusType::Unconfirmed),
            Some(AccountStatus::Active)
        ));
    }
}
