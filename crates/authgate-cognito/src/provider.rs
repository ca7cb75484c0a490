//! [`CognitoProvider`]: the provider ports on top of a Cognito
//! user pool, through the official AWS SDK.
//!
//! The user-facing methods use only unsigned operations (`SignUp`,
//! `ConfirmSignUp`, `ResendConfirmationCode`, `InitiateAuth` with
//! `USER_PASSWORD_AUTH` and `REFRESH_TOKEN_AUTH`, `RespondToAuthChallenge`,
//! `AssociateSoftwareToken`, `VerifySoftwareToken`, `SetUserMFAPreference`,
//! `GetUser`, `ForgotPassword`, `ConfirmForgotPassword`, `ChangePassword`,
//! `RevokeToken`, `GlobalSignOut`) and need no AWS credentials; the
//! `admin_*` methods ([`crate::admin`]) and the software-token deletion of
//! [`TotpAuthenticator::begin_totp_replacement`] ([`crate::totp_replacement`])
//! are signed with the configured ones.
//! Every SDK failure goes through [`crate::error_map`].

use crate::config::{AwsCredentials, CONNECT_TIMEOUT, CognitoConfig, JWKS_TIMEOUT, sdk_client};
use crate::error_map::{Operation, classify, forgot_answers_ok, map_failure, resend_answers_ok};
use crate::otpauth::otpauth_uri;
use crate::{id_token, refresh_token, secret_hash};
use async_trait::async_trait;
use authgate_core::policy::mask_email;
use authgate_core::{
    AccessClaims, AccountFilter, AccountStatus, Administration, AuthError, AuthStep, Authenticated,
    ChallengeKind, ChallengeParameters, ChallengeResponse, ChallengeStep, CodeDelivery,
    ContextStamp, NewAccount, PasswordSignIn, ProviderAccount, ProviderId, ProviderInfo,
    ProviderSessions, Secret, SelfService, SignUpOutcome, SignUpRequest, TokenSet,
    TotpAuthenticator, TotpEnrolment, TotpReplacement,
};
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::config::http::HttpResponse;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, AuthenticationResultType, ChallengeNameType, DeliveryMediumType,
    SoftwareTokenMfaSettingsType, VerifySoftwareTokenResponseType,
};
use std::fmt;

/// The Cognito identity provider.
pub struct CognitoProvider {
    pub(crate) config: CognitoConfig,
    pub(crate) client: Client,
    http: reqwest::Client,
}

impl fmt::Debug for CognitoProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CognitoProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What the SDK's fluent calls fail with.
type SdkFailure<E> = SdkError<E, HttpResponse>;

pub(crate) fn fail<E: ProvideErrorMetadata>(op: Operation, err: SdkFailure<E>) -> AuthError {
    map_failure(op, &classify(&err))
}

/// The signed-in user as `GetUser` tells: Cognito's username (a UUID when
/// email is the username) and the `email` attribute.
struct CurrentUser {
    username: String,
    email: Option<String>,
}

/// What `AssociateSoftwareToken` is called with.
pub(crate) enum Association<'a> {
    /// A challenge session (MFA_SETUP).
    Session(&'a str),
    /// A signed-in user's access token.
    AccessToken(&'a str),
}

pub(crate) fn provider_broken(what: &str) -> AuthError {
    tracing::error!("Cognito answered without {what}");
    AuthError::ProviderUnavailable
}

impl CognitoProvider {
    /// Build the provider; the AWS credentials of the `admin_*` methods
    /// come from the standard chain (the other methods need none).
    pub async fn new(config: CognitoConfig) -> Result<Self, AuthError> {
        Self::with_credentials(config, AwsCredentials::DefaultChain).await
    }

    /// Build the provider with explicit AWS credentials (tests against an
    /// emulator, or keys handed over by configuration).
    pub async fn with_credentials(
        config: CognitoConfig,
        credentials: AwsCredentials,
    ) -> Result<Self, AuthError> {
        for (field, value) in [
            ("region", &config.region),
            ("user_pool_id", &config.user_pool_id),
            ("client_id", &config.client_id),
        ] {
            if value.trim().is_empty() {
                return Err(AuthError::Internal(format!(
                    "the Cognito setting {field} is empty"
                )));
            }
        }
        let client = sdk_client(&config.region, config.endpoint_url.as_deref(), &credentials).await;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(JWKS_TIMEOUT)
            .build()
            .map_err(|err| AuthError::Internal(format!("cannot build the HTTP client: {err}")))?;
        Ok(Self {
            config,
            client,
            http,
        })
    }

    /// `SECRET_HASH` for `username`, when the app client has a secret.
    pub(crate) fn secret_hash(&self, username: &str) -> Option<String> {
        self.config
            .client_secret
            .as_deref()
            .map(|secret| secret_hash::secret_hash(secret, username, &self.config.client_id))
    }

    /// `GetUser` with the caller's access token: Cognito's own check that the
    /// token is live, and the username and email of its user.
    async fn current_user(&self, access_token: &Secret) -> Result<CurrentUser, AuthError> {
        let out = self
            .client
            .get_user()
            .access_token(access_token.expose())
            .send()
            .await
            .map_err(|err| fail(Operation::CurrentUser, err))?;
        if out.username().is_empty() {
            return Err(provider_broken("a username"));
        }
        let email = out
            .user_attributes()
            .iter()
            .find(|attribute| attribute.name() == "email")
            .and_then(AttributeType::value)
            .filter(|email| !email.is_empty())
            .map(str::to_owned);
        Ok(CurrentUser {
            username: out.username().to_owned(),
            email,
        })
    }

    /// Revoke a refresh token authgate obtained but will not hand out (the
    /// proof of [`SelfService::verify_password`]). Best effort: a
    /// failure (moto does not implement `RevokeToken`; a client without
    /// token revocation refuses it) leaves that session to expire, unused.
    async fn discard_refresh_token(&self, refresh_token: &str) {
        let mut call = self
            .client
            .revoke_token()
            .client_id(&self.config.client_id)
            .token(refresh_token);
        if let Some(secret) = &self.config.client_secret {
            call = call.client_secret(secret);
        }
        if let Err(err) = call.send().await {
            let failure = classify(&err);
            tracing::debug!(
                code = failure.code().unwrap_or("-"),
                "could not revoke the refresh token of a password check; it expires unused"
            );
        }
    }

    /// Turn the answer of `InitiateAuth` / `RespondToAuthChallenge` into a step.
    async fn step(
        &self,
        email: &str,
        result: Option<&AuthenticationResultType>,
        challenge: Option<&ChallengeNameType>,
        session: Option<&str>,
    ) -> Result<AuthStep, AuthError> {
        if let Some(result) = result {
            return Ok(AuthStep::Authenticated(
                self.authenticated(result, email, None)?,
            ));
        }
        let challenge = challenge.ok_or_else(|| provider_broken("tokens or a challenge"))?;
        let session = session
            .filter(|s| !s.is_empty())
            .ok_or_else(|| provider_broken("a challenge session"))?;
        let step = match challenge {
            ChallengeNameType::NewPasswordRequired => ChallengeStep {
                kind: ChallengeKind::NewPasswordRequired,
                state: Secret::new(session),
                parameters: ChallengeParameters::None,
            },
            ChallengeNameType::SoftwareTokenMfa => ChallengeStep {
                kind: ChallengeKind::TotpRequired,
                state: Secret::new(session),
                parameters: ChallengeParameters::None,
            },
            ChallengeNameType::MfaSetup => self.start_totp_enrolment(email, session).await?,
            other => {
                tracing::warn!(challenge = other.as_str(), "unsupported Cognito challenge");
                return Err(AuthError::NotImplemented(
                    "the sign-in step the identity provider asked for".to_string(),
                ));
            }
        };
        Ok(AuthStep::Challenge(step))
    }

    /// `AssociateSoftwareToken`: the new TOTP secret, and the session to go
    /// on with when it was called with one.
    pub(crate) async fn associate(
        &self,
        with: Association<'_>,
        operation: Operation,
    ) -> Result<(String, Option<String>), AuthError> {
        let call = self.client.associate_software_token();
        let call = match with {
            Association::Session(session) => call.session(session),
            Association::AccessToken(token) => call.access_token(token),
        };
        let out = call.send().await.map_err(|err| fail(operation, err))?;
        let secret = out
            .secret_code()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| provider_broken("a TOTP secret"))?
            .to_string();
        let session = out.session().filter(|s| !s.is_empty()).map(str::to_string);
        Ok((secret, session))
    }

    /// MFA_SETUP: associate a software token right away and hand its secret
    /// (and an `otpauth://` URI) to the client with the new session.
    async fn start_totp_enrolment(
        &self,
        email: &str,
        session: &str,
    ) -> Result<ChallengeStep, AuthError> {
        let (secret, next) = self
            .associate(Association::Session(session), Operation::Challenge)
            .await?;
        let session = next.as_deref().unwrap_or(session);
        let enrolment = TotpEnrolment {
            otpauth_uri: Secret::new(otpauth_uri(&secret, email)),
            secret: Secret::new(secret),
        };
        Ok(ChallengeStep {
            kind: ChallengeKind::MfaSetupRequired,
            state: Secret::new(session),
            parameters: ChallengeParameters::TotpSetup(enrolment),
        })
    }

    /// Tokens → [`Authenticated`]. `refreshing` is `(username, presented
    /// wrapped token)` on refresh, where Cognito returns no new refresh token.
    pub(crate) fn authenticated(
        &self,
        result: &AuthenticationResultType,
        fallback_email: &str,
        refreshing: Option<(&str, &Secret)>,
    ) -> Result<Authenticated, AuthError> {
        let access = result
            .access_token()
            .ok_or_else(|| provider_broken("an access token"))?;
        let id = result
            .id_token()
            .ok_or_else(|| provider_broken("an id token"))?;
        let claims = id_token::decode(id).ok_or_else(|| provider_broken("a readable id token"))?;
        if claims.email.is_none() {
            tracing::warn!(
                "the Cognito id token has no email claim: add email to the read attributes of the app client"
            );
        }
        let refresh_token = match (result.refresh_token(), refreshing) {
            // Refresh-token rotation is on: wrap the new one.
            (Some(new), Some((username, _))) => {
                Some(Secret::new(refresh_token::wrap(username, new)))
            }
            (Some(new), None) => Some(Secret::new(refresh_token::wrap(claims.username(), new))),
            (None, Some((_, presented))) => Some(presented.clone()),
            (None, None) => None,
        };
        Ok(Authenticated {
            tokens: TokenSet {
                access_token: Secret::new(access),
                id_token: Secret::new(id),
                refresh_token,
                expires_in: u64::try_from(result.expires_in()).unwrap_or(0),
            },
            user: claims.user(fallback_email),
            second_factor: None,
        })
    }

    /// `RespondToAuthChallenge` with `USERNAME` (+ `SECRET_HASH`) and `extra`.
    async fn respond(
        &self,
        email: &str,
        challenge: ChallengeNameType,
        session: &str,
        extra: &[(&str, &str)],
    ) -> Result<AuthStep, AuthError> {
        let mut call = self
            .client
            .respond_to_auth_challenge()
            .client_id(&self.config.client_id)
            .challenge_name(challenge)
            .session(session)
            .challenge_responses("USERNAME", email);
        for (key, value) in extra {
            call = call.challenge_responses(*key, *value);
        }
        if let Some(hash) = self.secret_hash(email) {
            call = call.challenge_responses("SECRET_HASH", hash);
        }
        let out = call
            .send()
            .await
            .map_err(|err| fail(Operation::Challenge, err))?;
        self.step(
            email,
            out.authentication_result(),
            out.challenge_name(),
            out.session(),
        )
        .await
    }
}

impl CognitoProvider {
    /// One `SignUp` call.
    async fn sign_up_once(&self, request: &SignUpRequest) -> Result<SignUpOutcome, AuthError> {
        let attribute = user_attribute;
        let mut call = self
            .client
            .sign_up()
            .client_id(&self.config.client_id)
            .username(&request.email)
            .password(request.password.expose())
            .user_attributes(attribute("email", &request.email)?);
        if let Some(name) = &request.name {
            call = call.user_attributes(attribute("name", name)?);
        }
        if let Some(phone) = &request.phone {
            call = call.user_attributes(attribute("phone_number", phone)?);
        }
        if let Some(hash) = self.secret_hash(&request.email) {
            call = call.secret_hash(hash);
        }
        let out = call
            .send()
            .await
            .map_err(|err| fail(Operation::SignUp, err))?;
        let requires_confirmation = !out.user_confirmed();
        let delivery = match out.code_delivery_details() {
            Some(details) => Some(CodeDelivery {
                medium: delivery_medium(details.delivery_medium()),
                destination: details
                    .destination()
                    .map_or_else(|| mask_email(&request.email), str::to_owned),
            }),
            None if requires_confirmation => Some(CodeDelivery {
                medium: "EMAIL",
                destination: mask_email(&request.email),
            }),
            None => None,
        };
        Ok(SignUpOutcome {
            user_sub: out.user_sub().to_owned(),
            requires_confirmation,
            delivery,
        })
    }
}

/// A user attribute of a call.
pub(crate) fn user_attribute(name: &str, value: &str) -> Result<AttributeType, AuthError> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|err| AuthError::Internal(format!("Cognito attribute: {err}")))
}

/// A recovery code as authgate makes them (16 letters and digits, maybe in
/// dash-separated groups), never a six-digit TOTP code.
fn looks_like_recovery_code(text: &str) -> bool {
    let compact: Vec<char> = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    compact.len() == 16 && compact.iter().all(char::is_ascii_alphanumeric)
}

fn delivery_medium(medium: Option<&DeliveryMediumType>) -> &'static str {
    match medium {
        Some(DeliveryMediumType::Sms) => "SMS",
        _ => "EMAIL",
    }
}

#[async_trait]
impl ProviderInfo for CognitoProvider {
    fn id(&self) -> ProviderId {
        ProviderId::COGNITO
    }

    /// Always the AWS form, also with an endpoint override: it is what the
    /// tokens carry (moto included).
    fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            self.config.region, self.config.user_pool_id
        )
    }

    fn client_id(&self) -> String {
        self.config.client_id.clone()
    }

    /// `<issuer>/.well-known/jwks.json`; with an endpoint override (moto)
    /// `<endpoint>/<pool>/.well-known/jwks.json`.
    fn jwks_url(&self) -> Option<String> {
        Some(match &self.config.endpoint_url {
            Some(endpoint) => format!(
                "{}/{}/.well-known/jwks.json",
                endpoint.trim_end_matches('/'),
                self.config.user_pool_id
            ),
            None => format!("{}/.well-known/jwks.json", self.issuer()),
        })
    }

    async fn jwks(&self) -> Result<serde_json::Value, AuthError> {
        let url = self.jwks_url().unwrap_or_default();
        let unavailable = |err: reqwest::Error| {
            tracing::warn!(%url, error = %err, "cannot fetch the Cognito JWKS");
            AuthError::ProviderUnavailable
        };
        self.http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json::<serde_json::Value>()
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl PasswordSignIn for CognitoProvider {
    /// `SignUp`. An address whose account is still `UNCONFIRMED` starts
    /// over: `AdminDeleteUser`, then `SignUp` again, so the password that
    /// works after confirmation is the latest sign-up's. A confirmed one is
    /// [`AuthError::UsernameExists`].
    async fn sign_up(&self, request: SignUpRequest) -> Result<SignUpOutcome, AuthError> {
        match self.sign_up_once(&request).await {
            Err(AuthError::UsernameExists) => match self.account_by_email(&request.email).await? {
                Some(pending) if pending.status == AccountStatus::PendingConfirmation => {
                    self.delete_account(&pending.sub).await?;
                    self.sign_up_once(&request).await
                }
                _ => Err(AuthError::UsernameExists),
            },
            other => other,
        }
    }

    async fn confirm_sign_up(&self, email: &str, code: &Secret) -> Result<(), AuthError> {
        let mut call = self
            .client
            .confirm_sign_up()
            .client_id(&self.config.client_id)
            .username(email)
            .confirmation_code(code.expose());
        if let Some(hash) = self.secret_hash(email) {
            call = call.secret_hash(hash);
        }
        call.send()
            .await
            .map_err(|err| fail(Operation::ConfirmSignUp, err))?;
        Ok(())
    }

    /// Not implemented by moto (HTTP 500, HTML body): answers
    /// [`AuthError::NotImplemented`] there, so the caller sees 501.
    async fn resend_confirmation(&self, email: &str) -> Result<(), AuthError> {
        let mut call = self
            .client
            .resend_confirmation_code()
            .client_id(&self.config.client_id)
            .username(email);
        if let Some(hash) = self.secret_hash(email) {
            call = call.secret_hash(hash);
        }
        match call.send().await {
            Ok(_) => Ok(()),
            Err(err) => {
                let failure = classify(&err);
                if resend_answers_ok(&failure) {
                    Ok(())
                } else {
                    Err(map_failure(Operation::ResendConfirmation, &failure))
                }
            }
        }
    }

    async fn sign_in(&self, email: &str, password: &Secret) -> Result<AuthStep, AuthError> {
        let mut call = self
            .client
            .initiate_auth()
            .client_id(&self.config.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", password.expose());
        if let Some(hash) = self.secret_hash(email) {
            call = call.auth_parameters("SECRET_HASH", hash);
        }
        let out = call
            .send()
            .await
            .map_err(|err| fail(Operation::SignIn, err))?;
        self.step(
            email,
            out.authentication_result(),
            out.challenge_name(),
            out.session(),
        )
        .await
    }

    async fn respond_to_challenge(
        &self,
        response: ChallengeResponse,
    ) -> Result<AuthStep, AuthError> {
        let ChallengeResponse {
            kind,
            email,
            state: session,
            answer,
        } = response;
        if session.is_empty() {
            return Err(AuthError::InvalidSession);
        }
        match kind {
            ChallengeKind::NewPasswordRequired => {
                self.respond(
                    &email,
                    ChallengeNameType::NewPasswordRequired,
                    session.expose(),
                    &[("NEW_PASSWORD", answer.expose())],
                )
                .await
            }
            ChallengeKind::TotpRequired if looks_like_recovery_code(answer.expose()) => {
                Err(AuthError::NotSupportedByProvider(
                    "Cognito accepts only a code of the authenticator app at sign-in: with a \
                     recovery code, replace the authenticator (POST /v1/auth/mfa-reset/start)"
                        .into(),
                ))
            }
            ChallengeKind::TotpRequired => {
                self.respond(
                    &email,
                    ChallengeNameType::SoftwareTokenMfa,
                    session.expose(),
                    &[("SOFTWARE_TOKEN_MFA_CODE", answer.expose())],
                )
                .await
            }
            ChallengeKind::MfaSetupRequired => {
                let verified = self
                    .client
                    .verify_software_token()
                    .session(session.expose())
                    .user_code(answer.expose())
                    .send()
                    .await
                    .map_err(|err| fail(Operation::Challenge, err))?;
                if verified.status() != Some(&VerifySoftwareTokenResponseType::Success) {
                    return Err(AuthError::CodeMismatch);
                }
                let session = verified
                    .session()
                    .filter(|s| !s.is_empty())
                    .unwrap_or(session.expose());
                self.respond(&email, ChallengeNameType::MfaSetup, session, &[])
                    .await
            }
        }
    }
}

#[async_trait]
impl ProviderSessions for CognitoProvider {
    fn tracks_sessions(&self) -> bool {
        false
    }

    /// Unwraps authgate's `cg1.` refresh token and runs `REFRESH_TOKEN_AUTH`.
    /// Cognito returns no new refresh token (unless rotation is on): the
    /// presented one is handed back so that the client keeps one.
    async fn refresh(&self, refresh_token: &Secret) -> Result<Authenticated, AuthError> {
        let (username, cognito_token) = refresh_token::unwrap(refresh_token.expose())?;
        let mut call = self
            .client
            .initiate_auth()
            .client_id(&self.config.client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", cognito_token);
        if let Some(hash) = self.secret_hash(&username) {
            call = call.auth_parameters("SECRET_HASH", hash);
        }
        let out = call
            .send()
            .await
            .map_err(|err| fail(Operation::Refresh, err))?;
        let result = out.authentication_result().ok_or_else(|| {
            tracing::error!("Cognito answered a refresh with a challenge");
            AuthError::InvalidRefreshToken
        })?;
        // Without an email claim, the username is the best we have only when
        // it is an email (pools without username attributes).
        let fallback = if username.contains('@') {
            username.as_str()
        } else {
            ""
        };
        self.authenticated(result, fallback, Some((&username, refresh_token)))
    }

    async fn sign_out(
        &self,
        _claims: &AccessClaims,
        access_token: &Secret,
    ) -> Result<(), AuthError> {
        self.client
            .global_sign_out()
            .access_token(access_token.expose())
            .send()
            .await
            .map_err(|err| fail(Operation::SignOut, err))?;
        Ok(())
    }

    /// Cognito checks revocation only inside AWS; authgate's service layer
    /// keeps its own record ([`ProviderSessions::tracks_sessions`] is false).
    async fn check_session(
        &self,
        _claims: &AccessClaims,
    ) -> Result<Option<ContextStamp>, AuthError> {
        Ok(None)
    }

    /// authgate ends the other sessions at its boundary
    /// ([`ProviderSessions::tracks_sessions`] is false).
    async fn revoke_other_sessions(&self, _claims: &AccessClaims) -> Result<(), AuthError> {
        Ok(())
    }
}

#[async_trait]
impl SelfService for CognitoProvider {
    /// `ForgotPassword`. `Ok` whether or not the account exists: the
    /// answers about the account (unknown, disabled, unconfirmed, nowhere to
    /// send the code) are swallowed.
    async fn forgot_password(&self, email: &str) -> Result<(), AuthError> {
        let mut call = self
            .client
            .forgot_password()
            .client_id(&self.config.client_id)
            .username(email);
        if let Some(hash) = self.secret_hash(email) {
            call = call.secret_hash(hash);
        }
        match call.send().await {
            Ok(_) => Ok(()),
            Err(err) => {
                let failure = classify(&err);
                if forgot_answers_ok(&failure) {
                    tracing::debug!(
                        code = failure.code().unwrap_or("-"),
                        "ForgotPassword refused for the account; answered Ok"
                    );
                    Ok(())
                } else {
                    Err(map_failure(Operation::ForgotPassword, &failure))
                }
            }
        }
    }

    /// `ConfirmForgotPassword`. An unknown user answers
    /// [`AuthError::CodeMismatch`], like a wrong code.
    async fn confirm_forgot_password(
        &self,
        email: &str,
        code: &Secret,
        new_password: &Secret,
    ) -> Result<(), AuthError> {
        let mut call = self
            .client
            .confirm_forgot_password()
            .client_id(&self.config.client_id)
            .username(email)
            .confirmation_code(code.expose())
            .password(new_password.expose());
        if let Some(hash) = self.secret_hash(email) {
            call = call.secret_hash(hash);
        }
        call.send()
            .await
            .map_err(|err| fail(Operation::ConfirmForgotPassword, err))?;
        Ok(())
    }

    /// `ChangePassword` with the access token. Provider limit: the user's
    /// other sessions are **not** signed out. Cognito has no "every session
    /// but this one": `GlobalSignOut` would end the caller's session too,
    /// and authgate records nothing for this step (see the crate docs).
    async fn change_password(
        &self,
        _claims: &AccessClaims,
        access_token: &Secret,
        current: &Secret,
        new_password: &Secret,
    ) -> Result<(), AuthError> {
        // An empty password is never right; Cognito would call it an invalid
        // parameter.
        if current.is_empty() {
            return Err(AuthError::InvalidCredentials);
        }
        self.client
            .change_password()
            .access_token(access_token.expose())
            .previous_password(current.expose())
            .proposed_password(new_password.expose())
            .send()
            .await
            .map_err(|err| fail(Operation::ChangePassword, err))?;
        Ok(())
    }

    /// `GetUser` for Cognito's username (the one `USERNAME` every pool
    /// accepts, also when email is the username), then `InitiateAuth`
    /// `USER_PASSWORD_AUTH` with it (and its `SECRET_HASH`). Tokens or any
    /// challenge prove the password; the tokens are dropped and their
    /// refresh token revoked (best effort), a challenge session is left to
    /// expire. A wrong password counts towards Cognito's lockout like a
    /// failed sign-in.
    async fn verify_password(
        &self,
        _claims: &AccessClaims,
        access_token: &Secret,
        password: &Secret,
    ) -> Result<(), AuthError> {
        if password.is_empty() {
            return Err(AuthError::InvalidCredentials);
        }
        let user = self.current_user(access_token).await?;
        let mut call = self
            .client
            .initiate_auth()
            .client_id(&self.config.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &user.username)
            .auth_parameters("PASSWORD", password.expose());
        if let Some(hash) = self.secret_hash(&user.username) {
            call = call.auth_parameters("SECRET_HASH", hash);
        }
        let out = call
            .send()
            .await
            .map_err(|err| fail(Operation::VerifyPassword, err))?;
        if let Some(result) = out.authentication_result() {
            if let Some(refresh_token) = result.refresh_token() {
                self.discard_refresh_token(refresh_token).await;
            }
            return Ok(());
        }
        if out.challenge_name().is_some() {
            return Ok(());
        }
        Err(provider_broken("tokens or a challenge"))
    }
}

#[async_trait]
impl TotpAuthenticator for CognitoProvider {
    /// `GetUser` (the email for the `otpauth://` label, and Cognito's check
    /// of the token), then `AssociateSoftwareToken` with the access token.
    async fn begin_totp_enrolment(
        &self,
        claims: &AccessClaims,
        access_token: &Secret,
    ) -> Result<TotpEnrolment, AuthError> {
        let user = self.current_user(access_token).await?;
        let (secret, _) = self
            .associate(
                Association::AccessToken(access_token.expose()),
                Operation::TotpEnrolment,
            )
            .await?;
        let account = user
            .email
            .as_deref()
            .or(claims.email.as_deref())
            .or(claims.username.as_deref())
            .unwrap_or(&user.username);
        Ok(TotpEnrolment {
            otpauth_uri: Secret::new(otpauth_uri(&secret, account)),
            secret: Secret::new(secret),
        })
    }

    /// `VerifySoftwareToken` with the access token (a status other than
    /// `SUCCESS` is [`AuthError::CodeMismatch`]), then `SetUserMFAPreference`:
    /// software token enabled and preferred.
    async fn finish_totp_enrolment(
        &self,
        _claims: &AccessClaims,
        access_token: &Secret,
        code: &Secret,
    ) -> Result<(), AuthError> {
        let verified = self
            .client
            .verify_software_token()
            .access_token(access_token.expose())
            .user_code(code.expose())
            .send()
            .await
            .map_err(|err| fail(Operation::TotpEnrolment, err))?;
        if verified.status() != Some(&VerifySoftwareTokenResponseType::Success) {
            return Err(AuthError::CodeMismatch);
        }
        self.client
            .set_user_mfa_preference()
            .access_token(access_token.expose())
            .software_token_mfa_settings(
                SoftwareTokenMfaSettingsType::builder()
                    .enabled(true)
                    .preferred_mfa(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|err| fail(Operation::TotpEnrolment, err))?;
        Ok(())
    }

    /// Cognito checks codes of the current authenticator only inside a
    /// sign-in: provider limit.
    async fn verify_current_totp(
        &self,
        _claims: &AccessClaims,
        _access_token: &Secret,
        _code: &Secret,
    ) -> Result<(), AuthError> {
        Err(AuthError::NotSupportedByProvider(
            "Cognito checks a code of the current authenticator only inside a sign-in: \
             give one of your recovery codes as currentCode"
                .into(),
        ))
    }

    /// `InitiateAuth` `USER_PASSWORD_AUTH` (the proof of the password);
    /// on `SOFTWARE_TOKEN_MFA`, `AdminDeleteSoftwareToken` and `InitiateAuth`
    /// again; then `AssociateSoftwareToken` with the `MFA_SETUP` session or
    /// with the access token of a sign-in without MFA. The old authenticator
    /// stops working here, not at finish (see the crate docs).
    async fn begin_totp_replacement(
        &self,
        email: &str,
        password: &Secret,
    ) -> Result<TotpReplacement, AuthError> {
        self.begin_replacement(email, password).await
    }

    /// `VerifySoftwareToken` (then `RespondToAuthChallenge` `MFA_SETUP` on
    /// the session path), `SetUserMFAPreference` (software token enabled and
    /// preferred), `GlobalSignOut`.
    async fn finish_totp_replacement(
        &self,
        email: &str,
        state: Option<&Secret>,
        code: &Secret,
    ) -> Result<(), AuthError> {
        self.finish_replacement(email, state, code).await
    }
}

#[async_trait]
impl Administration for CognitoProvider {
    /// `AdminCreateUser` (username = email, `MessageAction = SUPPRESS`,
    /// `email_verified = true`).
    async fn admin_create_user(&self, account: NewAccount) -> Result<ProviderAccount, AuthError> {
        self.create_account(account).await
    }

    /// `AdminGetUser` with the sub as `Username`.
    async fn admin_get_user(&self, sub: &str) -> Result<ProviderAccount, AuthError> {
        self.account_by_sub(sub).await
    }

    /// `ListUsers` `email = "…"`, then `AdminGetUser` (MFA settings).
    async fn admin_find_by_email(&self, email: &str) -> Result<Option<ProviderAccount>, AuthError> {
        self.account_by_email(email).await
    }

    /// `ListUsers` `phone_number = "…"`, then `AdminGetUser` of each.
    async fn admin_find_by_phone(&self, phone: &str) -> Result<Vec<ProviderAccount>, AuthError> {
        self.accounts_by_phone(phone).await
    }

    /// `ListUsers`, filtered by email prefix or status; oldest first among
    /// the users read, `mfa_enabled` always false (see the crate docs).
    async fn admin_list_users(
        &self,
        filter: &AccountFilter,
    ) -> Result<Vec<ProviderAccount>, AuthError> {
        self.list_accounts(filter).await
    }

    /// `AdminGetUser` (the Cognito username), then `AdminDeleteUser`.
    async fn admin_delete_user(&self, sub: &str) -> Result<(), AuthError> {
        self.delete_account(sub).await
    }

    /// Disable: `AdminUserGlobalSignOut`, then `AdminDisableUser`.
    /// Enable: `AdminEnableUser`.
    async fn admin_set_enabled(&self, sub: &str, enabled: bool) -> Result<(), AuthError> {
        self.set_account_enabled(sub, enabled).await
    }

    /// `AdminResetUserPassword` (Cognito mails the code), then
    /// `AdminUserGlobalSignOut`.
    async fn admin_reset_password(&self, sub: &str) -> Result<(), AuthError> {
        self.reset_account_password(sub).await
    }
}
