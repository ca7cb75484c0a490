//! Creating a user pool and an app client the way authgate expects them
//! (CognitoApi's settings), for `authgate cognito bootstrap` and for tests.
//!
//! Pool: email is the username (`UsernameAttributes = [email]`), email is
//! auto-verified and the recovery channel, password policy of at least 14
//! characters with upper, lower, digit and symbol, software-token MFA enabled
//! and `ON` (required) or `OPTIONAL`. App client: `ALLOW_USER_PASSWORD_AUTH`
//! and `ALLOW_REFRESH_TOKEN_AUTH`, access and id tokens valid 1 h, refresh
//! tokens 24 h, read attributes `email`, `name`, `email_verified`, write
//! attributes `email`, `name`, user-existence errors prevented, token
//! revocation on, optional secret. With a WebAuthn relying party, passkeys
//! too: the Essentials tier, a sign-in policy allowing `PASSWORD` and
//! `WEB_AUTHN` first factors, the relying party with user verification
//! required (`SetUserPoolMfaConfig`), and `ALLOW_USER_AUTH` on the app client.
//! These calls are signed: they need AWS credentials allowed to administer
//! Cognito.

use crate::config::{AwsCredentials, sdk_client};
use crate::error_map::{Operation, classify, map_failure};
use authgate_core::AuthError;
use aws_sdk_cognitoidentityprovider::config::http::HttpResponse;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::{
    AccountRecoverySettingType, AdminCreateUserConfigType, AuthFactorType, ExplicitAuthFlowsType,
    PasswordPolicyType, PreventUserExistenceErrorTypes, RecoveryOptionNameType, RecoveryOptionType,
    SignInPolicyType, SoftwareTokenMfaConfigType, TimeUnitsType, TokenValidityUnitsType,
    UserAttributeUpdateSettingsType, UserPoolMfaType, UserPoolPolicyType, UserPoolTierType,
    UserVerificationType, UsernameAttributeType, VerifiedAttributeType, WebAuthnConfigurationType,
};
use std::fmt;

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapOptions {
    pub pool_name: String,
    pub client_name: String,
    /// Give the app client a secret (every call then carries a `SECRET_HASH`).
    pub generate_secret: bool,
    /// MFA `ON` (every user enrols a TOTP app) instead of `OPTIONAL`.
    pub mfa_required: bool,
    /// Passkeys bound to this relying party (`AUTHGATE_WEBAUTHN_RP_ID`):
    /// the Essentials tier, passwords and passkeys as first factors, user
    /// verification required, and `ALLOW_USER_AUTH` on the app client.
    /// `None`: no passkeys.
    pub webauthn_relying_party: Option<String>,
}

/// What was created: the settings of a [`crate::CognitoConfig`].
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapResult {
    pub region: String,
    pub user_pool_id: String,
    pub client_id: String,
    /// Never printed by `Debug`; [`BootstrapResult::to_env`] does write it.
    pub client_secret: Option<String>,
}

impl fmt::Debug for BootstrapResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootstrapResult")
            .field("region", &self.region)
            .field("user_pool_id", &self.user_pool_id)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl BootstrapResult {
    /// The environment that points authgate at the new pool, one
    /// `NAME=value` a line (the secret line only when there is a secret).
    pub fn to_env(&self) -> String {
        let mut env = format!(
            "AUTHGATE_PROVIDER=cognito\n\
             AUTHGATE_COGNITO_REGION={}\n\
             AUTHGATE_COGNITO_USER_POOL_ID={}\n\
             AUTHGATE_COGNITO_CLIENT_ID={}\n",
            self.region, self.user_pool_id, self.client_id
        );
        if let Some(secret) = &self.client_secret {
            env.push_str(&format!("AUTHGATE_COGNITO_CLIENT_SECRET={secret}\n"));
        }
        env
    }
}

/// Log a failed admin call (its message too: admin messages carry no user
/// secrets and the operator needs them) and map it.
fn admin_error<E: ProvideErrorMetadata>(
    step: &'static str,
    err: SdkError<E, HttpResponse>,
) -> AuthError {
    let failure = classify(&err);
    tracing::error!(
        step,
        code = failure.code().unwrap_or("-"),
        message = err.message().unwrap_or("-"),
        "Cognito bootstrap failed"
    );
    map_failure(Operation::Bootstrap, &failure)
}

/// Create the pool and app client with credentials from the standard AWS chain.
pub async fn bootstrap(
    region: &str,
    endpoint_url: Option<&str>,
    options: &BootstrapOptions,
) -> Result<BootstrapResult, AuthError> {
    bootstrap_with_credentials(region, endpoint_url, options, &AwsCredentials::DefaultChain).await
}

/// [`bootstrap`] with explicit AWS credentials.
pub async fn bootstrap_with_credentials(
    region: &str,
    endpoint_url: Option<&str>,
    options: &BootstrapOptions,
    credentials: &AwsCredentials,
) -> Result<BootstrapResult, AuthError> {
    let client = sdk_client(region, endpoint_url, credentials).await;

    let recovery = RecoveryOptionType::builder()
        .name(RecoveryOptionNameType::VerifiedEmail)
        .priority(1)
        .build()
        .map_err(|err| AuthError::Internal(format!("recovery option: {err}")))?;
    let passkeys = options.webauthn_relying_party.as_deref();
    let mut policies = UserPoolPolicyType::builder().password_policy(
        PasswordPolicyType::builder()
            .minimum_length(14)
            .require_uppercase(true)
            .require_lowercase(true)
            .require_numbers(true)
            .require_symbols(true)
            .temporary_password_validity_days(7)
            .build(),
    );
    if passkeys.is_some() {
        policies = policies.sign_in_policy(
            SignInPolicyType::builder()
                .allowed_first_auth_factors(AuthFactorType::Password)
                .allowed_first_auth_factors(AuthFactorType::WebAuthn)
                .build(),
        );
    }
    let mut create = client.create_user_pool();
    if passkeys.is_some() {
        create = create.user_pool_tier(UserPoolTierType::Essentials);
    }
    let pool = create
        .pool_name(&options.pool_name)
        .username_attributes(UsernameAttributeType::Email)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        // An address change counts only once the new address is verified:
        // until then the old one stays (an unverified one never binds
        // invitations).
        .user_attribute_update_settings(
            UserAttributeUpdateSettingsType::builder()
                .attributes_require_verification_before_update(VerifiedAttributeType::Email)
                .build(),
        )
        .policies(policies.build())
        .account_recovery_setting(
            AccountRecoverySettingType::builder()
                .recovery_mechanisms(recovery)
                .build(),
        )
        .admin_create_user_config(
            AdminCreateUserConfigType::builder()
                .allow_admin_create_user_only(false)
                .build(),
        )
        .send()
        .await
        .map_err(|err| admin_error("CreateUserPool", err))?;
    let user_pool_id = pool
        .user_pool()
        .and_then(|p| p.id())
        .ok_or(AuthError::ProviderUnavailable)?
        .to_owned();

    let mut mfa = client.set_user_pool_mfa_config();
    if let Some(relying_party) = passkeys {
        mfa = mfa.web_authn_configuration(
            WebAuthnConfigurationType::builder()
                .relying_party_id(relying_party)
                .user_verification(UserVerificationType::Required)
                .build(),
        );
    }
    mfa.user_pool_id(&user_pool_id)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .mfa_configuration(if options.mfa_required {
            UserPoolMfaType::On
        } else {
            UserPoolMfaType::Optional
        })
        .send()
        .await
        .map_err(|err| admin_error("SetUserPoolMfaConfig", err))?;

    let mut app = client.create_user_pool_client();
    if passkeys.is_some() {
        app = app.explicit_auth_flows(ExplicitAuthFlowsType::AllowUserAuth);
    }
    let app = app
        .user_pool_id(&user_pool_id)
        .client_name(&options.client_name)
        .generate_secret(options.generate_secret)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .access_token_validity(1)
        .id_token_validity(1)
        .refresh_token_validity(24)
        .token_validity_units(
            TokenValidityUnitsType::builder()
                .access_token(TimeUnitsType::Hours)
                .id_token(TimeUnitsType::Hours)
                .refresh_token(TimeUnitsType::Hours)
                .build(),
        )
        .read_attributes("email")
        .read_attributes("name")
        .read_attributes("email_verified")
        .write_attributes("email")
        .write_attributes("name")
        .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
        .enable_token_revocation(true)
        .send()
        .await
        .map_err(|err| admin_error("CreateUserPoolClient", err))?;
    let app = app
        .user_pool_client()
        .ok_or(AuthError::ProviderUnavailable)?;
    let client_id = app
        .client_id()
        .ok_or(AuthError::ProviderUnavailable)?
        .to_owned();
    let client_secret = app.client_secret().map(str::to_owned);
    if options.generate_secret && client_secret.is_none() {
        tracing::error!("Cognito created the app client without the requested secret");
        return Err(AuthError::ProviderUnavailable);
    }

    tracing::info!(%user_pool_id, %client_id, "Cognito user pool bootstrapped");
    Ok(BootstrapResult {
        region: region.to_owned(),
        user_pool_id,
        client_id,
        client_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(secret: Option<&str>) -> BootstrapResult {
        BootstrapResult {
            region: "eu-west-1".into(),
            user_pool_id: "eu-west-1_AbC".into(),
            client_id: "abc123".into(),
            client_secret: secret.map(str::to_owned),
        }
    }

    #[test]
    fn env_lists_the_settings_one_per_line() {
        assert_eq!(
            result(None).to_env(),
            "AUTHGATE_PROVIDER=cognito\n\
             AUTHGATE_COGNITO_REGION=eu-west-1\n\
             AUTHGATE_COGNITO_USER_POOL_ID=eu-west-1_AbC\n\
             AUTHGATE_COGNITO_CLIENT_ID=abc123\n"
        );
        assert!(result(Some("s3cr3t")).to_env().ends_with(
            "AUTHGATE_COGNITO_CLIENT_ID=abc123\nAUTHGATE_COGNITO_CLIENT_SECRET=s3cr3t\n"
        ));
    }

    #[test]
    fn debug_hides_the_secret() {
        let printed = format!("{:?}", result(Some("s3cr3t")));
        assert!(!printed.contains("s3cr3t"), "{printed}");
    }
}
