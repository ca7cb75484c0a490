//! The embedded provider's passkeys, verified with webauthn-rs: discoverable
//! credentials with user verification, stored per user (a credential id
//! belongs to one user), the signature counter and backup flags updated at
//! every sign-in, sign-in with an email (the user's credentials as
//! `allowCredentials`) or without (a discoverable ceremony). A passkey
//! sign-in is the whole sign-in: no second factor follows.
//!
//! The WebAuthn user handle is the user's `sub` (a random UUID: no personal
//! data reaches the authenticator). Ceremony state is webauthn-rs's own,
//! serialised into the [`PasskeyCeremony::state`] the service keeps.

use crate::EmbeddedProvider;
use async_trait::async_trait;
use authgate_core::{
    AccessClaims, AuthError, Authenticated, PasskeyCeremony, PasskeyCredential, PasskeyFailure,
    Passkeys, Secret, now_millis,
};
use authgate_store::StoreError;
use authgate_store::embedded::{EmbeddedUser, UserStatus};
use authgate_store::passkeys::StoredPasskey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnBuilder,
    WebauthnError,
};

/// The relying party passkeys are bound to (checked by the service's
/// settings before it gets here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// A registrable domain (`example.com`) or `localhost`.
    pub id: String,
    /// Shown by the authenticator.
    pub name: String,
    /// The origins allowed to run ceremonies, each inside `id`.
    pub origins: Vec<Url>,
}

impl RelyingParty {
    /// The webauthn-rs instance of this relying party.
    pub(crate) fn webauthn(&self) -> Result<Webauthn, AuthError> {
        let (first, others) = self
            .origins
            .split_first()
            .ok_or_else(|| AuthError::Internal("a relying party needs an origin".into()))?;
        let mut builder = WebauthnBuilder::new(&self.id, first)
            .map_err(|e| AuthError::Internal(format!("relying party {}: {e}", self.id)))?
            .rp_name(&self.name);
        for origin in others {
            builder = builder.append_allowed_origin(origin);
        }
        builder
            .build()
            .map_err(|e| AuthError::Internal(format!("relying party {}: {e}", self.id)))
    }
}

/// A registration under way, for whom.
#[derive(serde::Serialize, serde::Deserialize)]
struct RegistrationState {
    sub: String,
    ceremony: PasskeyRegistration,
}

/// A sign-in under way: for one user's passkeys, or for any discoverable one.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
enum SignInState {
    User {
        sub: String,
        ceremony: PasskeyAuthentication,
    },
    Discoverable {
        ceremony: DiscoverableAuthentication,
    },
}

fn seal<T: serde::Serialize>(state: &T) -> Result<Secret, AuthError> {
    serde_json::to_string(state)
        .map(Secret::new)
        .map_err(|e| AuthError::Internal(format!("passkey ceremony state: {e}")))
}

fn open<T: serde::de::DeserializeOwned>(state: &Secret) -> Result<T, AuthError> {
    serde_json::from_str(state.expose()).map_err(|_| AuthError::InvalidSession)
}

fn options<T: serde::Serialize>(public_key: &T) -> Result<serde_json::Value, AuthError> {
    serde_json::to_value(public_key)
        .map_err(|e| AuthError::Internal(format!("passkey options: {e}")))
}

/// The user handle of `sub`.
fn user_handle(sub: &str) -> Result<Uuid, AuthError> {
    Uuid::parse_str(sub).map_err(|_| AuthError::Internal("an embedded sub is not a UUID".into()))
}

fn credential_id(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn stored_record(passkey: &Passkey) -> Result<String, AuthError> {
    serde_json::to_string(passkey).map_err(|e| AuthError::Internal(format!("passkey record: {e}")))
}

fn parse_record(stored: &StoredPasskey) -> Result<Passkey, AuthError> {
    serde_json::from_str(&stored.passkey)
        .map_err(|e| AuthError::Internal(format!("stored passkey record: {e}")))
}

fn view(stored: StoredPasskey) -> PasskeyCredential {
    PasskeyCredential {
        id: stored.credential_id,
        name: stored.name,
        created_at: stored.created_at,
        last_used_at: stored.last_used_at,
        backed_up: stored.backed_up,
    }
}

/// The credential of the request, in the shape `toJSON()` gives it.
fn parse_credential<T: serde::de::DeserializeOwned>(
    credential: &serde_json::Value,
) -> Result<T, AuthError> {
    T::deserialize(credential).map_err(|e| {
        AuthError::invalid_field(
            "credential",
            format!("credential is not a WebAuthn credential as PublicKeyCredential.toJSON() gives it: {e}"),
        )
    })
}

/// Why an assertion was refused, for the audit row.
fn refused(err: WebauthnError) -> AuthError {
    tracing::debug!(error = %err, "passkey assertion refused");
    AuthError::PasskeyRejected(match err {
        WebauthnError::CredentialPossibleCompromise => PasskeyFailure::Counter,
        _ => PasskeyFailure::Signature,
    })
}

impl EmbeddedProvider {
    fn relying_party(&self) -> Result<&Webauthn, AuthError> {
        self.webauthn.as_ref().ok_or_else(|| {
            AuthError::NotSupportedByProvider(
                "passkeys are off: set AUTHGATE_WEBAUTHN_RP_ID (a domain name, not an IP \
                 address) and AUTHGATE_WEBAUTHN_ORIGINS"
                    .into(),
            )
        })
    }

    /// The account behind a verified credential, if it may sign in.
    async fn passkey_owner(&self, sub: &str) -> Result<EmbeddedUser, AuthError> {
        let user = self
            .store
            .embedded_user_by_sub(sub)
            .await?
            .filter(|u| u.disabled_at.is_none())
            .ok_or(AuthError::PasskeyRejected(PasskeyFailure::Unknown))?;
        match user.status {
            UserStatus::Confirmed => Ok(user),
            UserStatus::ResetRequired => Err(AuthError::PasswordResetRequired),
            UserStatus::Unconfirmed | UserStatus::TemporaryPassword => {
                Err(AuthError::PasskeyRejected(PasskeyFailure::Unknown))
            }
        }
    }
}

#[async_trait]
impl Passkeys for EmbeddedProvider {
    async fn begin_passkey_registration(
        &self,
        claims: &AccessClaims,
        _access_token: &Secret,
    ) -> Result<PasskeyCeremony, AuthError> {
        let webauthn = self.relying_party()?;
        let user = self.user_of(claims).await?;
        let existing = self
            .store
            .passkeys_of(&user.sub)
            .await?
            .iter()
            .map(|p| parse_record(p).map(|k| k.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let display_name = user.name.clone().unwrap_or_else(|| user.email.clone());
        let (creation, ceremony) = webauthn
            .start_passkey_registration(
                user_handle(&user.sub)?,
                &user.email,
                &display_name,
                Some(existing),
            )
            .map_err(|e| AuthError::Internal(format!("passkey registration: {e}")))?;
        let mut options = options(&creation.public_key)?;
        // A discoverable credential, so a sign-in needs no email (webauthn-rs
        // leaves residency to the authenticator; the contract requires it).
        if let Some(selection) = options
            .get_mut("authenticatorSelection")
            .and_then(|s| s.as_object_mut())
        {
            selection.insert("residentKey".into(), "required".into());
            selection.insert("requireResidentKey".into(), true.into());
        }
        Ok(PasskeyCeremony {
            options,
            state: seal(&RegistrationState {
                sub: user.sub,
                ceremony,
            })?,
        })
    }

    async fn finish_passkey_registration(
        &self,
        claims: &AccessClaims,
        _access_token: &Secret,
        state: &Secret,
        credential: &serde_json::Value,
        name: Option<&str>,
    ) -> Result<PasskeyCredential, AuthError> {
        let webauthn = self.relying_party()?;
        let state: RegistrationState = open(state)?;
        let user = self.user_of(claims).await?;
        if state.sub != user.sub {
            return Err(AuthError::InvalidSession);
        }
        let credential: RegisterPublicKeyCredential = parse_credential(credential)?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &state.ceremony)
            .map_err(|e| match e {
                WebauthnError::UserNotVerified => AuthError::invalid_field(
                    "credential",
                    "the authenticator did not verify the user: passkeys need user verification \
                     (a PIN, a fingerprint, the device's screen lock)",
                ),
                other => AuthError::invalid_field(
                    "credential",
                    format!("the credential does not verify against this registration: {other}"),
                ),
            })?;
        let internals = webauthn_rs::prelude::Credential::from(passkey.clone());
        let stored = StoredPasskey {
            credential_id: credential_id(passkey.cred_id()),
            sub: user.sub,
            name: name.map(str::to_string),
            passkey: stored_record(&passkey)?,
            backed_up: internals.backup_state,
            created_at: now_millis(),
            last_used_at: None,
        };
        match self.store.insert_passkey(&stored).await {
            Ok(()) => Ok(view(stored)),
            Err(StoreError::Conflict) => Err(AuthError::invalid_field(
                "credential",
                "this passkey is registered already",
            )),
            Err(other) => Err(other.into()),
        }
    }

    async fn list_passkeys(
        &self,
        claims: &AccessClaims,
        _access_token: &Secret,
    ) -> Result<Vec<PasskeyCredential>, AuthError> {
        let user = self.user_of(claims).await?;
        Ok(self
            .store
            .passkeys_of(&user.sub)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    async fn delete_passkey(
        &self,
        claims: &AccessClaims,
        _access_token: &Secret,
        id: &str,
    ) -> Result<(), AuthError> {
        let user = self.user_of(claims).await?;
        if self.store.delete_passkey(&user.sub, id).await? {
            Ok(())
        } else {
            Err(AuthError::NotFound("passkey".into()))
        }
    }

    async fn begin_passkey_sign_in(
        &self,
        email: Option<&str>,
    ) -> Result<PasskeyCeremony, AuthError> {
        let webauthn = self.relying_party()?;
        let Some(email) = email else {
            let (request, ceremony) = webauthn
                .start_discoverable_authentication()
                .map_err(|e| AuthError::Internal(format!("passkey sign-in: {e}")))?;
            return Ok(PasskeyCeremony {
                options: options(&request.public_key)?,
                state: seal(&SignInState::Discoverable { ceremony })?,
            });
        };
        let user = self
            .store
            .embedded_user_by_email(email)
            .await?
            .filter(|u| u.disabled_at.is_none())
            .ok_or_else(|| AuthError::NotFound("passkey".into()))?;
        let passkeys = self
            .store
            .passkeys_of(&user.sub)
            .await?
            .iter()
            .map(parse_record)
            .collect::<Result<Vec<_>, _>>()?;
        if passkeys.is_empty() {
            return Err(AuthError::NotFound("passkey".into()));
        }
        let (request, ceremony) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| AuthError::Internal(format!("passkey sign-in: {e}")))?;
        Ok(PasskeyCeremony {
            options: options(&request.public_key)?,
            state: seal(&SignInState::User {
                sub: user.sub,
                ceremony,
            })?,
        })
    }

    async fn finish_passkey_sign_in(
        &self,
        state: &Secret,
        credential: &serde_json::Value,
    ) -> Result<Authenticated, AuthError> {
        let webauthn = self.relying_party()?;
        let state: SignInState =
            open(state).map_err(|_| AuthError::PasskeyRejected(PasskeyFailure::SessionInvalid))?;
        let assertion: PublicKeyCredential = parse_credential(credential)?;
        let unknown = AuthError::PasskeyRejected(PasskeyFailure::Unknown);
        let stored = self
            .store
            .passkey(&credential_id(assertion.get_credential_id()))
            .await?
            .ok_or(unknown.clone())?;
        let mut passkey = parse_record(&stored)?;
        let result = match state {
            SignInState::User { sub, ceremony } => {
                if sub != stored.sub {
                    return Err(unknown);
                }
                webauthn.finish_passkey_authentication(&assertion, &ceremony)
            }
            SignInState::Discoverable { ceremony } => {
                let (handle, _) = webauthn
                    .identify_discoverable_authentication(&assertion)
                    .map_err(|_| unknown.clone())?;
                if user_handle(&stored.sub)? != handle {
                    return Err(unknown);
                }
                webauthn.finish_discoverable_authentication_v2(&assertion, ceremony, &passkey)
            }
        }
        .map_err(refused)?;
        if !result.user_verified() {
            return Err(AuthError::PasskeyRejected(PasskeyFailure::Signature));
        }
        // Against the record as it is now (another sign-in may have moved
        // it since the ceremony began): a counter that did not go up means
        // a cloned authenticator.
        let known = webauthn_rs::prelude::Credential::from(passkey.clone()).counter;
        if (result.counter() > 0 || known > 0) && result.counter() <= known {
            return Err(AuthError::PasskeyRejected(PasskeyFailure::Counter));
        }
        let user = self.passkey_owner(&stored.sub).await?;
        passkey.update_credential(&result);
        self.store
            .passkey_used(
                &stored.credential_id,
                &stored_record(&passkey)?,
                result.backup_state(),
                now_millis(),
            )
            .await?;
        self.start_session(&user).await
    }
}
