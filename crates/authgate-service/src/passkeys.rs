//! Passkeys (WebAuthn) for every front end: registration by a signed-in
//! user, the list and deletion of their passkeys, and sign-in with a
//! passkey — with an email (that user's passkeys) or without (a
//! discoverable credential). The provider verifies (the embedded provider
//! with webauthn-rs; Cognito with its own operations); this service keeps
//! each ceremony in a login transaction (one try, five minutes, bound to
//! the user who started a registration), answers a decoy of the same shape
//! for an email without passkeys, turns a verified passkey into a session
//! (no second factor follows: a user-verified passkey is multi-factor on
//! its own) and records every outcome.

use crate::events::{EventRecorder, RequestMeta};
use crate::login::{LoginTransactions, Opening, Step};
use crate::notices::Notices;
use crate::principal::Caller;
use crate::protection::{Factor, Protection};
use crate::sessions::{SessionService, SessionView};
use authgate_core::policy::normalize_email;
use authgate_core::{
    AuthError, EventKind, PasskeyCredential, PasskeyFailure, Passkeys, Provider, Secret,
    SecurityEvent,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

/// A ceremony for the browser: the options to pass to
/// `PublicKeyCredential.parse{Creation,Request}OptionsFromJSON()` and the
/// opaque session to send back with the credential.
#[derive(Debug, Clone)]
pub struct Ceremony {
    pub session: Secret,
    pub options: serde_json::Value,
}

/// What the service keeps of a sign-in ceremony.
#[derive(serde::Serialize, serde::Deserialize)]
struct SignInCeremony {
    /// The address the ceremony was started for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    /// The provider's state; `None` for a decoy (no account, or no
    /// passkey): every credential is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_state: Option<String>,
}

/// The longest name a passkey may have.
const MAX_NAME_CHARS: usize = 100;

#[derive(Clone)]
pub struct PasskeyService {
    pub(crate) provider: Provider,
    pub(crate) events: EventRecorder,
    pub(crate) sessions: SessionService,
    pub(crate) logins: LoginTransactions,
    pub(crate) notices: Notices,
    /// `AUTHGATE_WEBAUTHN_RP_ID`, for decoy options a provider cannot make.
    pub(crate) relying_party_id: Option<String>,
    pub(crate) protection: Protection,
}

impl PasskeyService {
    /// Can people use passkeys here (a provider that has them, and a
    /// relying party configured)?
    pub fn is_on(&self) -> bool {
        self.provider.passkeys.is_some() && self.relying_party_id.is_some()
    }

    /// The provider's passkeys, or why there are none.
    fn port(&self) -> Result<&Arc<dyn Passkeys>, AuthError> {
        self.provider.passkeys.as_ref().ok_or_else(|| {
            AuthError::NotSupportedByProvider(format!(
                "the {} provider has no passkeys",
                self.provider.name()
            ))
        })
    }

    /// Creation options for a new passkey of the caller.
    pub async fn begin_registration(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
    ) -> Result<Ceremony, AuthError> {
        caller.require_own_account()?;
        let sub = caller.claims.sub.as_str();
        let result = async {
            let ceremony = self
                .port()?
                .begin_passkey_registration(&caller.claims, &caller.token)
                .await?;
            let session = self
                .logins
                .begin(
                    Opening {
                        email: "",
                        sub: Some(sub),
                        exclusive: false,
                        proved: "",
                        step: Step::PasskeyRegistration,
                    },
                    ceremony.state.expose(),
                )
                .await?;
            Ok(Ceremony {
                session,
                options: ceremony.options,
            })
        }
        .await;
        self.events
            .record_on(
                EventKind::PasskeyRegistrationStart,
                meta,
                sub,
                None,
                &result,
            )
            .await;
        result
    }

    /// Store the passkey the browser created for the ceremony `session`
    /// (started by the same caller); its owner is mailed a notice.
    pub async fn finish_registration(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        session: &Secret,
        credential: &serde_json::Value,
        name: Option<&str>,
    ) -> Result<PasskeyCredential, AuthError> {
        caller.require_own_account()?;
        let sub = caller.claims.sub.as_str();
        let result = async {
            let name = clean_name(name)?;
            let port = self.port()?;
            let pending = self
                .logins
                .take(session, None, Step::PasskeyRegistration)
                .await?;
            self.logins.end(&pending).await?;
            if pending.sub.as_deref() != Some(sub) {
                return Err(AuthError::InvalidSession);
            }
            let passkey = port
                .finish_passkey_registration(
                    &caller.claims,
                    &caller.token,
                    &pending.state,
                    credential,
                    name.as_deref(),
                )
                .await?;
            self.notify(sub, SecurityEvent::PasskeyAdded).await;
            Ok(passkey)
        }
        .await;
        let target = result.as_ref().ok().map(|p| format!("passkey:{}", p.id));
        self.events
            .record_on(
                EventKind::PasskeyRegistered,
                meta,
                sub,
                target.as_deref(),
                &result,
            )
            .await;
        result
    }

    /// The caller's passkeys, oldest first.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<PasskeyCredential>, AuthError> {
        caller.require_own_account()?;
        self.port()?
            .list_passkeys(&caller.claims, &caller.token)
            .await
    }

    /// Delete one of the caller's passkeys (another user's id is
    /// `not_found`). Sessions, other passkeys and the password stay.
    pub async fn delete(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        id: &str,
    ) -> Result<(), AuthError> {
        caller.require_own_account()?;
        let sub = caller.claims.sub.as_str();
        let result = async {
            self.port()?
                .delete_passkey(&caller.claims, &caller.token, id)
                .await?;
            self.notify(sub, SecurityEvent::PasskeyRemoved).await;
            Ok(())
        }
        .await;
        let target = format!("passkey:{id}");
        self.events
            .record_on(EventKind::PasskeyDeleted, meta, sub, Some(&target), &result)
            .await;
        result
    }

    /// Request options for a passkey sign-in: for `email`'s passkeys, or
    /// (`None`) for any discoverable one. An address without an account or
    /// without passkeys gets options of the same shape with stable decoy
    /// credential ids, so the answer tells nothing.
    pub async fn begin_sign_in(&self, email: Option<&str>) -> Result<Ceremony, AuthError> {
        let email = email
            .filter(|e| !e.trim().is_empty())
            .map(|e| normalize_email("email", e))
            .transpose()?;
        let port = self.port()?;
        let (options, provider_state) = match port.begin_passkey_sign_in(email.as_deref()).await {
            Ok(ceremony) => (ceremony.options, Some(ceremony.state.into_inner())),
            Err(AuthError::NotFound(_)) if email.is_some() => {
                // The provider's own options where it can make them without
                // an account; else (Cognito has no discoverable ceremony)
                // options of the same members, so the address without
                // passkeys still gets a 200 of the same shape.
                let base = match port.begin_passkey_sign_in(None).await {
                    Ok(discoverable) => discoverable.options,
                    Err(AuthError::NotSupportedByProvider(_)) => {
                        standalone_request_options(self.relying_party_id.as_deref())
                    }
                    Err(other) => return Err(other),
                };
                let decoy = self.decoy_credentials(email.as_deref().unwrap_or_default());
                (with_credentials(base, decoy), None)
            }
            Err(other) => return Err(other),
        };
        let options = if email.is_some() {
            request_shape(options)
        } else {
            options
        };
        let state = serde_json::to_string(&SignInCeremony {
            email: email.clone(),
            provider_state,
        })
        .map_err(|e| AuthError::Internal(format!("passkey ceremony: {e}")))?;
        let session = self
            .logins
            .begin(
                Opening {
                    email: email.as_deref().unwrap_or_default(),
                    sub: None,
                    exclusive: false,
                    proved: "",
                    step: Step::PasskeySignIn,
                },
                &state,
            )
            .await?;
        Ok(Ceremony { session, options })
    }

    /// Check the browser's assertion for the ceremony `session` and start a
    /// session. Every refusal is `invalid_credentials`; the audit row says
    /// why (`passkey_unknown`, `passkey_signature`, `passkey_counter`,
    /// `session_invalid`). `expected_email`: a client that names the
    /// address again (the CognitoApi profile) must name the ceremony's.
    pub async fn finish_sign_in(
        &self,
        meta: &RequestMeta,
        session: &Secret,
        credential: &serde_json::Value,
        expected_email: Option<&str>,
    ) -> Result<SessionView, AuthError> {
        let expected_email = expected_email
            .map(|e| normalize_email("email", e))
            .transpose()?;
        let mut email = None;
        let result = async {
            let port = self.port()?;
            let pending = self
                .logins
                .take(session, None, Step::PasskeySignIn)
                .await
                .map_err(|e| match e {
                    AuthError::InvalidSession => {
                        AuthError::PasskeyRejected(PasskeyFailure::SessionInvalid)
                    }
                    other => other,
                })?;
            self.logins.end(&pending).await?;
            let ceremony: SignInCeremony = serde_json::from_str(pending.state.expose())
                .map_err(|_| AuthError::PasskeyRejected(PasskeyFailure::SessionInvalid))?;
            email = ceremony.email;
            if expected_email.is_some() && expected_email != email {
                return Err(AuthError::PasskeyRejected(PasskeyFailure::SessionInvalid));
            }
            let state = ceremony
                .provider_state
                .ok_or(AuthError::PasskeyRejected(PasskeyFailure::Unknown))?;
            // A sign-in for an address counts as a guess for that address.
            if let Some(email) = &email {
                self.protection
                    .lockout
                    .check(Factor::Password, email)
                    .await?;
            }
            let done = port
                .finish_passkey_sign_in(&Secret::new(state), credential)
                .await;
            if let Some(email) = &email {
                self.protection
                    .lockout
                    .record(Factor::Password, email, &done)
                    .await;
            }
            let done = done?;
            email.get_or_insert_with(|| done.user.email.clone());
            self.sessions.session(done, true).await
        }
        .await;
        let sub = result.as_ref().ok().map(|s| s.user.provider_sub.as_str());
        self.events
            .record_sign_in("passkey", meta, email.as_deref(), sub, &result)
            .await;
        result
    }

    /// Mail the owner of `sub` a notice (logged, not fatal, when it fails).
    async fn notify(&self, sub: &str, event: SecurityEvent) {
        match self.provider.admin.admin_get_user(sub).await {
            Ok(account) => self.notices.notice(&account.email, event).await,
            Err(err) => tracing::warn!(error = %err, "passkey notice not sent"),
        }
    }

    /// One or two credential ids for `email`, the same at every call,
    /// derived with the installation's key.
    fn decoy_credentials(&self, email: &str) -> Vec<String> {
        let first = self.notices.decoy_bytes(&format!("passkey\0{email}"));
        let count = 1 + usize::from(first[0] & 1);
        (0..count)
            .map(|i| {
                let bytes = self.notices.decoy_bytes(&format!("passkey\0{i}\0{email}"));
                URL_SAFE_NO_PAD.encode(bytes)
            })
            .collect()
    }
}

/// A passkey's name: trimmed, blank is none, at most 100 characters.
fn clean_name(name: Option<&str>) -> Result<Option<String>, AuthError> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    match name {
        Some(n) if n.chars().count() > MAX_NAME_CHARS => Err(AuthError::invalid_field(
            "name",
            format!("name must be at most {MAX_NAME_CHARS} characters"),
        )),
        other => Ok(other.map(str::to_string)),
    }
}

/// Request options made without the provider: a fresh challenge, the RP id,
/// user verification required, the WebAuthn default timeout.
fn standalone_request_options(rp_id: Option<&str>) -> serde_json::Value {
    let challenge: [u8; 32] = rand::random();
    let mut options = serde_json::json!({
        "challenge": URL_SAFE_NO_PAD.encode(challenge),
        "timeout": 300_000,
        "userVerification": "required",
    });
    if let Some(rp_id) = rp_id {
        options["rpId"] = rp_id.into();
    }
    options
}

/// `options` allowing exactly the credentials `ids`.
fn with_credentials(mut options: serde_json::Value, ids: Vec<String>) -> serde_json::Value {
    let allowed: Vec<serde_json::Value> = ids
        .into_iter()
        .map(|id| serde_json::json!({ "type": "public-key", "id": id }))
        .collect();
    if let Some(map) = options.as_object_mut() {
        map.insert("allowCredentials".into(), allowed.into());
    }
    options
}

/// The members of request options that an email sign-in answers, whether
/// the address has passkeys or not (so the two cannot be told apart):
/// the challenge, timeout, RP id, user verification and the allowed
/// credentials as `{type, id}`.
fn request_shape(options: serde_json::Value) -> serde_json::Value {
    let mut shaped = serde_json::Map::new();
    if let serde_json::Value::Object(map) = options {
        for key in ["challenge", "timeout", "rpId", "userVerification"] {
            if let Some(value) = map.get(key) {
                shaped.insert(key.into(), value.clone());
            }
        }
        let allowed: Vec<serde_json::Value> = map
            .get("allowCredentials")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
            .map(|c| serde_json::json!({ "type": "public-key", "id": c.get("id").cloned() }))
            .collect();
        shaped.insert("allowCredentials".into(), allowed.into());
    }
    serde_json::Value::Object(shaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_sign_in_shows_only_the_members_a_decoy_has_too() {
        let real = serde_json::json!({
            "challenge": "c1", "timeout": 300000, "rpId": "example.com",
            "userVerification": "required", "extensions": {"uvm": true},
            "allowCredentials": [{"type": "public-key", "id": "AAAA", "transports": ["internal"]}]
        });
        let decoy = with_credentials(
            serde_json::json!({
                "challenge": "c2", "timeout": 300000, "rpId": "example.com",
                "userVerification": "required", "extensions": {"uvm": true},
                "allowCredentials": []
            }),
            vec!["BBBB".into()],
        );
        let keys = |v: &serde_json::Value| {
            let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let (real, decoy) = (request_shape(real), request_shape(decoy));
        assert_eq!(keys(&real), keys(&decoy));
        assert_eq!(
            real["allowCredentials"][0],
            serde_json::json!({"type": "public-key", "id": "AAAA"})
        );
        assert_eq!(decoy["allowCredentials"][0]["id"], "BBBB");
    }

    #[test]
    fn a_decoy_without_the_provider_has_the_members_of_a_real_answer() {
        let real = request_shape(serde_json::json!({
            "challenge": "c1", "timeout": 180000, "rpId": "example.com",
            "userVerification": "required",
            "allowCredentials": [{"type": "public-key", "id": "AAAA"}]
        }));
        let decoy = request_shape(with_credentials(
            standalone_request_options(Some("example.com")),
            vec!["BBBB".into()],
        ));
        let keys = |v: &serde_json::Value| {
            let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(&real), keys(&decoy));
        assert_eq!(decoy["rpId"], "example.com");
        let again = standalone_request_options(Some("example.com"));
        assert_ne!(
            again["challenge"], decoy["challenge"],
            "a fresh challenge each time"
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            clean_name(Some("  Laptop ")).unwrap().as_deref(),
            Some("Laptop")
        );
        assert_eq!(clean_name(Some("   ")).unwrap(), None);
        assert_eq!(clean_name(None).unwrap(), None);
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(clean_name(Some(&long)).unwrap_err().field(), Some("name"));
    }
}
