//! Lost-authenticator recovery on Cognito: [`authgate_core::TotpAuthenticator::begin_totp_replacement`]
//! and [`authgate_core::TotpAuthenticator::finish_totp_replacement`].
//!
//! Cognito hands out a new TOTP secret only with a signed-in user's access
//! token or with the session of an `MFA_SETUP` challenge, and neither comes
//! without the old authenticator while the user has one. So `begin` proves
//! the password (`InitiateAuth` `USER_PASSWORD_AUTH`), deletes the user's
//! software token (`AdminDeleteSoftwareToken`, signed) and signs in again:
//! a pool that requires MFA answers `MFA_SETUP` (the session path), a pool
//! with optional MFA answers tokens (the access-token path). Either way
//! `AssociateSoftwareToken` gives the new secret, and the session or the
//! access token becomes the opaque state authgate keeps until `finish`:
//! `session:<Cognito session>` or `access:<Cognito access token>`.
//!
//! `finish` proves the new authenticator (`VerifySoftwareToken`), completes
//! `MFA_SETUP` on the session path (tokens that never leave the adapter),
//! makes TOTP the user's MFA (`SetUserMFAPreference`) and ends every
//! session (`GlobalSignOut`). The crate docs tell what happens in between.

use crate::error_map::{Operation, classify, map_failure};
use crate::otpauth::otpauth_uri;
use crate::provider::{Association, CognitoProvider, fail, provider_broken};
use authgate_core::{AuthError, Secret, TotpEnrolment, TotpReplacement};
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ChallengeNameType, SoftwareTokenMfaSettingsType, VerifySoftwareTokenResponseType,
};

/// The state tag of the session path.
const SESSION_TAG: &str = "session:";
/// The state tag of the access-token path.
const ACCESS_TAG: &str = "access:";

/// `begin` of an account that still has its temporary password: there is no
/// authenticator yet, and Cognito sets one up only after a new password.
pub(crate) const NO_AUTHENTICATOR_YET: &str = "the account has no authenticator to replace yet: sign in to set a password and an authenticator";

/// What `finish` continues with, decoded from the opaque state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplacementState<'a> {
    /// The session of an `MFA_SETUP` challenge (or, on an emulator, of the
    /// sign-in after the fallback), the new secret associated to it.
    Session(&'a str),
    /// The access token of a sign-in without MFA, the new secret associated
    /// to its user.
    AccessToken(&'a str),
}

impl<'a> ReplacementState<'a> {
    fn encode(self) -> Secret {
        match self {
            ReplacementState::Session(session) => Secret::new(format!("{SESSION_TAG}{session}")),
            ReplacementState::AccessToken(token) => Secret::new(format!("{ACCESS_TAG}{token}")),
        }
    }

    /// `None` for a missing, empty, untagged or otherwise garbled state.
    fn decode(state: Option<&'a Secret>) -> Option<Self> {
        let state = state?.expose();
        let plausible = |value: &str| {
            !value.is_empty() && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        if let Some(session) = state.strip_prefix(SESSION_TAG) {
            return plausible(session).then_some(ReplacementState::Session(session));
        }
        if let Some(token) = state.strip_prefix(ACCESS_TAG) {
            return plausible(token).then_some(ReplacementState::AccessToken(token));
        }
        None
    }
}

/// Can `code` be a TOTP code at all (six ASCII digits, which is all Cognito
/// takes)? Anything else is a wrong code, answered without a call.
fn plausible_code(code: &Secret) -> bool {
    let code = code.expose();
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// What `InitiateAuth` `USER_PASSWORD_AUTH` answered, stripped of SDK types.
enum PasswordProof {
    /// No MFA for this user: the access token (the refresh token is left
    /// alone; `GlobalSignOut` at `finish` ends it, see the crate docs).
    Tokens { access_token: String },
    Challenge {
        name: ChallengeNameType,
        session: String,
    },
}

/// A challenge `begin` cannot continue from.
fn unusable(challenge: &ChallengeNameType) -> AuthError {
    match challenge {
        ChallengeNameType::NewPasswordRequired => {
            AuthError::Forbidden(NO_AUTHENTICATOR_YET.to_string())
        }
        other => {
            tracing::warn!(
                challenge = other.as_str(),
                "unsupported Cognito challenge during a TOTP replacement"
            );
            AuthError::NotImplemented(
                "the sign-in step the identity provider asked for".to_string(),
            )
        }
    }
}

impl CognitoProvider {
    /// `InitiateAuth` `USER_PASSWORD_AUTH` with the email as `USERNAME`
    /// (and its `SECRET_HASH`), like [`PasswordSignIn::sign_in`].
    ///
    /// [`PasswordSignIn::sign_in`]: authgate_core::PasswordSignIn::sign_in
    async fn prove_password(
        &self,
        email: &str,
        password: &Secret,
    ) -> Result<PasswordProof, AuthError> {
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
            .map_err(|err| fail(Operation::TotpReplacementSignIn, err))?;
        if let Some(result) = out.authentication_result() {
            let access_token = result
                .access_token()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| provider_broken("an access token"))?;
            return Ok(PasswordProof::Tokens {
                access_token: access_token.to_owned(),
            });
        }
        let name = out
            .challenge_name()
            .cloned()
            .ok_or_else(|| provider_broken("tokens or a challenge"))?;
        let session = out
            .session()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| provider_broken("a challenge session"))?;
        Ok(PasswordProof::Challenge {
            name,
            session: session.to_owned(),
        })
    }

    /// `AdminDeleteSoftwareToken`: the old authenticator stops working now.
    /// An endpoint without that operation (moto: HTTP 500 with an HTML page)
    /// gets `AdminSetUserMFAPreference` with the software token disabled
    /// instead; answers whether that fallback was taken.
    async fn drop_software_token(&self, email: &str) -> Result<bool, AuthError> {
        let deleted = self
            .client
            .admin_delete_software_token()
            .user_pool_id(&self.config.user_pool_id)
            .username(email)
            .send()
            .await;
        let Err(err) = deleted else {
            return Ok(false);
        };
        let failure = classify(&err);
        if !failure.is_not_implemented() {
            return Err(map_failure(Operation::TotpReplacementReset, &failure));
        }
        tracing::warn!(
            "the Cognito endpoint does not implement AdminDeleteSoftwareToken (an emulator?): \
             disabling the software token by MFA preference instead"
        );
        self.client
            .admin_set_user_mfa_preference()
            .user_pool_id(&self.config.user_pool_id)
            .username(email)
            .software_token_mfa_settings(
                SoftwareTokenMfaSettingsType::builder()
                    .enabled(false)
                    .preferred_mfa(false)
                    .build(),
            )
            .send()
            .await
            .map_err(|err| fail(Operation::TotpReplacementReset, err))?;
        Ok(true)
    }

    /// `AssociateSoftwareToken` with a challenge session: the session path.
    async fn replace_with_session(
        &self,
        email: &str,
        session: &str,
    ) -> Result<TotpReplacement, AuthError> {
        let (secret, next) = self
            .associate(Association::Session(session), Operation::TotpReplacement)
            .await?;
        let session = next.as_deref().unwrap_or(session);
        Ok(replacement(
            &secret,
            email,
            ReplacementState::Session(session),
        ))
    }

    /// `AssociateSoftwareToken` with an access token: the access-token path.
    async fn replace_with_access_token(
        &self,
        email: &str,
        access_token: &str,
    ) -> Result<TotpReplacement, AuthError> {
        let (secret, _) = self
            .associate(
                Association::AccessToken(access_token),
                Operation::TotpReplacement,
            )
            .await?;
        Ok(replacement(
            &secret,
            email,
            ReplacementState::AccessToken(access_token),
        ))
    }

    /// See [`authgate_core::TotpAuthenticator::begin_totp_replacement`] and
    /// the module docs.
    pub(crate) async fn begin_replacement(
        &self,
        email: &str,
        password: &Secret,
    ) -> Result<TotpReplacement, AuthError> {
        // An empty password is never right; Cognito would call it an invalid
        // parameter.
        if password.is_empty() || email.trim().is_empty() {
            return Err(AuthError::InvalidCredentials);
        }
        match self.prove_password(email, password).await? {
            // No MFA yet (optional pool; moto's unenrolled users): nothing to
            // delete, the new secret becomes the user's first.
            PasswordProof::Tokens { access_token } => {
                return self.replace_with_access_token(email, &access_token).await;
            }
            // No authenticator on a pool that requires one (Cognito).
            PasswordProof::Challenge {
                name: ChallengeNameType::MfaSetup,
                session,
            } => return self.replace_with_session(email, &session).await,
            // The normal case: the password is proven; the challenge session
            // is left to expire.
            PasswordProof::Challenge {
                name: ChallengeNameType::SoftwareTokenMfa,
                ..
            } => {}
            PasswordProof::Challenge { name, .. } => return Err(unusable(&name)),
        }
        let by_preference = self.drop_software_token(email).await?;
        match self.prove_password(email, password).await? {
            PasswordProof::Tokens { access_token } => {
                self.replace_with_access_token(email, &access_token).await
            }
            PasswordProof::Challenge {
                name: ChallengeNameType::MfaSetup,
                session,
            } => self.replace_with_session(email, &session).await,
            // moto keeps a user whose token was disabled "verified" and asks
            // for it again on an MFA=ON pool, but lets AssociateSoftwareToken
            // take this session. Cognito, after AdminDeleteSoftwareToken,
            // never gets here.
            PasswordProof::Challenge {
                name: ChallengeNameType::SoftwareTokenMfa,
                session,
            } if by_preference => self.replace_with_session(email, &session).await,
            PasswordProof::Challenge {
                name: ChallengeNameType::SoftwareTokenMfa,
                ..
            } => {
                tracing::error!(
                    "Cognito still asks for the software token it just deleted; TOTP replacement aborted"
                );
                Err(AuthError::ProviderUnavailable)
            }
            PasswordProof::Challenge { name, .. } => Err(unusable(&name)),
        }
    }

    /// See [`authgate_core::TotpAuthenticator::finish_totp_replacement`] and
    /// the module docs.
    pub(crate) async fn finish_replacement(
        &self,
        email: &str,
        state: Option<&Secret>,
        code: &Secret,
    ) -> Result<(), AuthError> {
        let state = ReplacementState::decode(state).ok_or(AuthError::InvalidSession)?;
        if !plausible_code(code) {
            return Err(AuthError::CodeMismatch);
        }
        let access_token = match state {
            ReplacementState::Session(session) => {
                let verified = self
                    .client
                    .verify_software_token()
                    .session(session)
                    .user_code(code.expose())
                    .send()
                    .await
                    .map_err(|err| fail(Operation::TotpReplacement, err))?;
                if verified.status() != Some(&VerifySoftwareTokenResponseType::Success) {
                    return Err(AuthError::CodeMismatch);
                }
                let session = verified
                    .session()
                    .filter(|s| !s.is_empty())
                    .unwrap_or(session);
                self.complete_mfa_setup(email, session).await?
            }
            ReplacementState::AccessToken(token) => {
                let verified = self
                    .client
                    .verify_software_token()
                    .access_token(token)
                    .user_code(code.expose())
                    .send()
                    .await
                    .map_err(|err| fail(Operation::TotpReplacement, err))?;
                if verified.status() != Some(&VerifySoftwareTokenResponseType::Success) {
                    return Err(AuthError::CodeMismatch);
                }
                token.to_owned()
            }
        };
        self.client
            .set_user_mfa_preference()
            .access_token(&access_token)
            .software_token_mfa_settings(
                SoftwareTokenMfaSettingsType::builder()
                    .enabled(true)
                    .preferred_mfa(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|err| fail(Operation::TotpReplacement, err))?;
        // The new authenticator is in place whatever happens now: a failed
        // sign-out is logged, not answered (authgate's own record of sign-outs
        // still ends the sessions it started).
        if let Err(err) = self
            .client
            .global_sign_out()
            .access_token(&access_token)
            .send()
            .await
        {
            let failure = classify(&err);
            tracing::error!(
                operation = "totp_replacement",
                code = failure.code().unwrap_or("-"),
                "GlobalSignOut after a TOTP replacement failed; Cognito sessions may live on"
            );
        }
        Ok(())
    }

    /// `RespondToAuthChallenge` `MFA_SETUP` (`USERNAME`, `SECRET_HASH`):
    /// the access token of the tokens it answers (they never leave here).
    async fn complete_mfa_setup(&self, email: &str, session: &str) -> Result<String, AuthError> {
        let mut call = self
            .client
            .respond_to_auth_challenge()
            .client_id(&self.config.client_id)
            .challenge_name(ChallengeNameType::MfaSetup)
            .session(session)
            .challenge_responses("USERNAME", email);
        if let Some(hash) = self.secret_hash(email) {
            call = call.challenge_responses("SECRET_HASH", hash);
        }
        let out = call
            .send()
            .await
            .map_err(|err| fail(Operation::TotpReplacement, err))?;
        out.authentication_result()
            .and_then(|result| result.access_token())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| provider_broken("tokens after MFA setup"))
    }
}

fn replacement(secret: &str, email: &str, state: ReplacementState<'_>) -> TotpReplacement {
    TotpReplacement {
        enrolment: TotpEnrolment {
            secret: Secret::new(secret),
            otpauth_uri: Secret::new(otpauth_uri(secret, email)),
        },
        state: Some(state.encode()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_tagged_and_decode_back() {
        for state in [
            ReplacementState::Session("AYABeC0-session_value=="),
            ReplacementState::AccessToken("eyJ.eyJ.sig"),
        ] {
            let encoded = state.encode();
            assert_eq!(
                ReplacementState::decode(Some(&encoded)),
                Some(state),
                "{state:?}"
            );
        }
        assert_eq!(
            ReplacementState::Session("abc").encode().expose(),
            "session:abc"
        );
        assert_eq!(
            ReplacementState::AccessToken("a.b.c").encode().expose(),
            "access:a.b.c"
        );
        // A tag inside the value stays part of the value.
        assert_eq!(
            ReplacementState::decode(Some(&Secret::new("session:access:x"))),
            Some(ReplacementState::Session("access:x"))
        );
    }

    #[test]
    fn missing_or_garbled_states_do_not_decode() {
        assert_eq!(ReplacementState::decode(None), None);
        for garbled in [
            "",
            "garbage",
            "session:",
            "access:",
            "Session:abc",
            "token:abc",
            ":abc",
            "session:a b",
            "access:a\nb",
            " session:abc",
        ] {
            assert_eq!(
                ReplacementState::decode(Some(&Secret::new(garbled))),
                None,
                "{garbled:?}"
            );
        }
    }

    #[test]
    fn only_six_digits_can_be_a_code() {
        assert!(plausible_code(&Secret::new("012345")));
        for code in ["", "12345", "1234567", "12345a", " 12345", "١٢٣٤٥٦"] {
            assert!(!plausible_code(&Secret::new(code)), "{code:?}");
        }
    }

    #[test]
    fn a_temporary_password_is_forbidden_and_other_challenges_not_implemented() {
        assert_eq!(
            unusable(&ChallengeNameType::NewPasswordRequired),
            AuthError::Forbidden(NO_AUTHENTICATOR_YET.into())
        );
        for challenge in [
            ChallengeNameType::SmsMfa,
            ChallengeNameType::SelectMfaType,
            ChallengeNameType::from("SOMETHING_NEW"),
        ] {
            assert_eq!(unusable(&challenge).status(), 501, "{challenge:?}");
        }
    }

    #[test]
    fn the_replacement_carries_the_otpauth_uri_and_the_state() {
        let r = replacement(
            "JBSWY3DPEHPK3PXP",
            "a@example.com",
            ReplacementState::Session("s"),
        );
        assert_eq!(r.enrolment.secret.expose(), "JBSWY3DPEHPK3PXP");
        assert_eq!(
            r.enrolment.otpauth_uri.expose(),
            "otpauth://totp/authgate:a%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=authgate"
        );
        assert_eq!(r.state, Some(Secret::new("session:s")));
    }
}
