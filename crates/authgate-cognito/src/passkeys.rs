//! Passkeys through Cognito's own WebAuthn operations (the pool verifies;
//! authgate relays the WebAuthn Level 3 JSON both ways):
//!
//! | port | Cognito |
//! |---|---|
//! | `begin_passkey_registration` | `StartWebAuthnRegistration` with the access token; its `CredentialCreationOptions` are the options (Cognito keeps the challenge: the state is empty) |
//! | `finish_passkey_registration` | `CompleteWebAuthnRegistration` with the access token and the credential, then `ListWebAuthnCredentials` for the new one's record (Cognito names it itself: `name` is not used) |
//! | `list_passkeys` | `ListWebAuthnCredentials`, every page (no last use, no backup flags: Cognito does not say) |
//! | `delete_passkey` | `DeleteWebAuthnCredential` (`ResourceNotFoundException` → `not_found`) |
//! | `begin_passkey_sign_in` | `InitiateAuth` `USER_AUTH` with `PREFERRED_CHALLENGE=WEB_AUTHN`; the `WEB_AUTHN` challenge's `CREDENTIAL_REQUEST_OPTIONS` are the options, its session the state. Another challenge (the user has no passkey) or an unknown user → `NotFound` (the service answers a decoy). Without an email: not supported (Cognito has no discoverable sign-in) |
//! | `finish_passkey_sign_in` | `RespondToAuthChallenge` `WEB_AUTHN` with `USERNAME`, `CREDENTIAL` (+ `SECRET_HASH`) |
//!
//! An endpoint without these operations (the moto emulator implements none)
//! and a pool without WebAuthn answer `not_supported_by_provider` with a
//! sentence saying so (the error table in `error_map`).

use crate::error_map::Operation;
use crate::provider::{CognitoProvider, fail, provider_broken};
use async_trait::async_trait;
use authgate_core::{
    AccessClaims, AuthError, Authenticated, PasskeyCeremony, PasskeyCredential, Passkeys, Secret,
};
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ChallengeNameType, WebAuthnCredentialDescription,
};
use aws_smithy_types::{Document, Number};

/// A passkey sign-in under way at Cognito: whose, and Cognito's session.
#[derive(serde::Serialize, serde::Deserialize)]
struct SignInState {
    username: String,
    session: String,
}

/// JSON → a Smithy document (what the SDK sends).
pub(crate) fn to_document(value: &serde_json::Value) -> Document {
    match value {
        serde_json::Value::Null => Document::Null,
        serde_json::Value::Bool(b) => Document::Bool(*b),
        serde_json::Value::Number(n) => Document::Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Number::PosInt(u),
            (None, Some(i)) => Number::NegInt(i),
            _ => Number::Float(n.as_f64().unwrap_or_default()),
        }),
        serde_json::Value::String(s) => Document::String(s.clone()),
        serde_json::Value::Array(items) => Document::Array(items.iter().map(to_document).collect()),
        serde_json::Value::Object(map) => Document::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_document(v)))
                .collect(),
        ),
    }
}

/// A Smithy document → JSON (what the browser gets).
pub(crate) fn to_json(document: &Document) -> serde_json::Value {
    match document {
        Document::Null => serde_json::Value::Null,
        Document::Bool(b) => (*b).into(),
        Document::Number(Number::PosInt(u)) => (*u).into(),
        Document::Number(Number::NegInt(i)) => (*i).into(),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Document::String(s) => s.clone().into(),
        Document::Array(items) => items.iter().map(to_json).collect(),
        Document::Object(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

/// Cognito's record of a passkey, in the port's terms.
pub(crate) fn credential_view(description: &WebAuthnCredentialDescription) -> PasskeyCredential {
    PasskeyCredential {
        id: description.credential_id().to_string(),
        name: Some(description.friendly_credential_name().to_string())
            .filter(|name| !name.is_empty()),
        created_at: description.created_at().to_millis().unwrap_or_default(),
        last_used_at: None,
        backed_up: false,
    }
}

impl CognitoProvider {
    async fn all_passkeys(
        &self,
        access_token: &Secret,
    ) -> Result<Vec<PasskeyCredential>, AuthError> {
        let mut found = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .list_web_authn_credentials()
                .access_token(access_token.expose())
                .max_results(20)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|err| fail(Operation::Passkeys, err))?;
            found.extend(out.credentials().iter().map(credential_view));
            match out.next_token().filter(|t| !t.is_empty()) {
                Some(token) => next = Some(token.to_string()),
                None => break,
            }
        }
        found.sort_by_key(|p| p.created_at);
        Ok(found)
    }
}

#[async_trait]
impl Passkeys for CognitoProvider {
    async fn begin_passkey_registration(
        &self,
        _claims: &AccessClaims,
        access_token: &Secret,
    ) -> Result<PasskeyCeremony, AuthError> {
        let out = self
            .client
            .start_web_authn_registration()
            .access_token(access_token.expose())
            .send()
            .await
            .map_err(|err| fail(Operation::Passkeys, err))?;
        Ok(PasskeyCeremony {
            options: to_json(out.credential_creation_options()),
            state: Secret::new("cognito"),
        })
    }

    async fn finish_passkey_registration(
        &self,
        _claims: &AccessClaims,
        access_token: &Secret,
        _state: &Secret,
        credential: &serde_json::Value,
        _name: Option<&str>,
    ) -> Result<PasskeyCredential, AuthError> {
        let id = credential
            .get("id")
            .and_then(|id| id.as_str())
            .ok_or_else(|| {
                AuthError::invalid_field(
                    "credential",
                    "credential is not a WebAuthn credential as PublicKeyCredential.toJSON() gives it: it has no id",
                )
            })?
            .to_string();
        self.client
            .complete_web_authn_registration()
            .access_token(access_token.expose())
            .credential(to_document(credential))
            .send()
            .await
            .map_err(|err| fail(Operation::PasskeyRegistration, err))?;
        self.all_passkeys(access_token)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| provider_broken("the passkey it registered"))
    }

    async fn list_passkeys(
        &self,
        _claims: &AccessClaims,
        access_token: &Secret,
    ) -> Result<Vec<PasskeyCredential>, AuthError> {
        self.all_passkeys(access_token).await
    }

    async fn delete_passkey(
        &self,
        _claims: &AccessClaims,
        access_token: &Secret,
        id: &str,
    ) -> Result<(), AuthError> {
        self.client
            .delete_web_authn_credential()
            .access_token(access_token.expose())
            .credential_id(id)
            .send()
            .await
            .map_err(|err| fail(Operation::PasskeyDeletion, err))?;
        Ok(())
    }

    async fn begin_passkey_sign_in(
        &self,
        email: Option<&str>,
    ) -> Result<PasskeyCeremony, AuthError> {
        let email = email.ok_or_else(|| {
            AuthError::NotSupportedByProvider(
                "Cognito signs in with a passkey only for a named user: send the email".into(),
            )
        })?;
        let mut call = self
            .client
            .initiate_auth()
            .client_id(&self.config.client_id)
            .auth_flow(AuthFlowType::UserAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PREFERRED_CHALLENGE", "WEB_AUTHN");
        if let Some(hash) = self.secret_hash(email) {
            call = call.auth_parameters("SECRET_HASH", hash);
        }
        let out = call
            .send()
            .await
            .map_err(|err| fail(Operation::PasskeySignInStart, err))?;
        let options = out
            .challenge_parameters()
            .and_then(|p| p.get("CREDENTIAL_REQUEST_OPTIONS"))
            .filter(|_| out.challenge_name() == Some(&ChallengeNameType::WebAuthn));
        let (Some(options), Some(session)) = (options, out.session()) else {
            // Another way to sign in (the user has no passkey): nothing to ask.
            return Err(AuthError::NotFound("passkey".into()));
        };
        let options: serde_json::Value = serde_json::from_str(options)
            .map_err(|_| provider_broken("readable credential request options"))?;
        let state = serde_json::to_string(&SignInState {
            username: email.to_string(),
            session: session.to_string(),
        })
        .map_err(|e| AuthError::Internal(format!("passkey ceremony state: {e}")))?;
        Ok(PasskeyCeremony {
            options,
            state: Secret::new(state),
        })
    }

    async fn finish_passkey_sign_in(
        &self,
        state: &Secret,
        credential: &serde_json::Value,
    ) -> Result<Authenticated, AuthError> {
        let state: SignInState = serde_json::from_str(state.expose()).map_err(|_| {
            AuthError::PasskeyRejected(authgate_core::PasskeyFailure::SessionInvalid)
        })?;
        let mut call = self
            .client
            .respond_to_auth_challenge()
            .client_id(&self.config.client_id)
            .challenge_name(ChallengeNameType::WebAuthn)
            .session(&state.session)
            .challenge_responses("USERNAME", &state.username)
            .challenge_responses("CREDENTIAL", credential.to_string());
        if let Some(hash) = self.secret_hash(&state.username) {
            call = call.challenge_responses("SECRET_HASH", hash);
        }
        let out = call
            .send()
            .await
            .map_err(|err| fail(Operation::PasskeySignInFinish, err))?;
        let result = out
            .authentication_result()
            .ok_or_else(|| provider_broken("tokens after a passkey"))?;
        self.authenticated(result, &state.username, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn webauthn_json_crosses_the_sdk_unchanged() {
        let credential = json!({
            "id": "AAE", "rawId": "AAE", "type": "public-key",
            "response": {"clientDataJSON": "eyJ9", "attestationObject": "o2Nm",
                         "transports": ["internal", "hybrid"]},
            "clientExtensionResults": {"credProps": {"rk": true}},
            "authenticatorAttachment": null,
            "timeout": 300000, "alg": -7, "ratio": 0.5
        });
        assert_eq!(to_json(&to_document(&credential)), credential);
    }

    #[test]
    fn cognitos_record_becomes_the_ports() {
        let description = WebAuthnCredentialDescription::builder()
            .credential_id("cred-1")
            .friendly_credential_name("")
            .relying_party_id("example.com")
            .authenticator_transports("internal")
            .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .build()
            .unwrap();
        assert_eq!(
            credential_view(&description),
            PasskeyCredential {
                id: "cred-1".into(),
                name: None,
                created_at: 1_700_000_000_000,
                last_used_at: None,
                backed_up: false,
            }
        );
    }
}
