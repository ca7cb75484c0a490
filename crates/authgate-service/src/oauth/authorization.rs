//! The authorization code flow (contracts/oauth.md): what an authorization
//! request leads to (a code for a signed-in browser, the sign-in page, or an
//! error), the browser session the hosted pages start at sign-in, and the
//! code's exchange for tokens at the token endpoint.
//!
//! The pages sign people in through [`SignInService`], so lockout, rate
//! limits, MFA policy and the audit trail are the JSON API's. The code
//! flow's tokens are authgate's own, whichever provider signed the person in:
//! `iss` is authgate's issuer, the keys are the ones at `/oauth2/jwks.json`,
//! and each code's redemption starts a refresh family (named by the access
//! token's `origin_jti`) so that a replayed code revokes what it issued.

use super::pkce;
use super::request::{self, AuthorizationRequest, ErrorRedirect, Params, Refusal};
use crate::clients::{Clients, MachineTokens};
use crate::events::{EventRecorder, RequestMeta};
use crate::passkeys::{Ceremony, PasskeyService};
use crate::principal::Caller;
use crate::sessions::SessionService;
use crate::sign_in::{SignInResult, SignInService};
use authgate_core::{AuthError, ChallengeKind, EventKind, Secret, now_millis};
use authgate_embedded::tokens::FamilyToken;
use authgate_store::Store;
use authgate_store::authorization::{
    AuthorizationCode, BrowserSession, ClientFamily, CodeRedemption,
};
use authgate_store::clients::{Client, GrantType};
use authgate_store::refresh::AdvanceOutcome;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Serialize;
use std::sync::Arc;

/// A code works for this long (contracts/oauth.md).
pub const CODE_TTL_SECS: i64 = 60;
/// A browser session lasts this long from its sign-in.
pub const BROWSER_SESSION_TTL_SECS: i64 = 12 * 3600;

fn random_text() -> String {
    let mut buffer = [0u8; 32];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

fn digest(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What an authorization request leads to.
#[derive(Debug, Clone)]
pub enum AuthorizeOutcome {
    /// Send the browser to this URL (the client's redirect URI with a code).
    Redirect(String),
    /// The person must sign in first: show the sign-in page.
    SignIn(Box<AuthorizationRequest>),
    /// The client asks for consent, which the person has not given for
    /// these scopes: show the consent page.
    Consent(Box<AuthorizationRequest>),
    /// The request names an external provider (`identity_provider`) and
    /// the person is not signed in: go there, skipping the sign-in page.
    Federate(Box<AuthorizationRequest>),
}

/// How long after a sign-in the pages may add a passkey for it (seconds).
pub const PASSKEY_ENROLMENT_SECS: i64 = 600;

/// What a sign-in on the pages produced.
#[derive(Debug, Clone)]
pub enum BrowserSignIn {
    /// Signed in: the new browser session's cookie value, and the recovery
    /// codes this step issued (an authenticator set up: shown once).
    SignedIn {
        cookie: Secret,
        recovery_codes: Vec<Secret>,
        /// Offer to add a passkey: signed in with a password, where
        /// passkeys are on and the account has none.
        offer_passkey: bool,
    },
    /// Another step first (new password, TOTP, MFA set-up).
    Challenge(crate::sign_in::Challenge),
}

/// What `/oauth2/userInfo` says about the bearer (as its scopes allow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A checked logout request (`/oauth2/logout`, OpenID Connect RP-Initiated
/// Logout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// Where to send the browser afterwards: registered for the client.
    pub redirect: Option<String>,
    /// The `sid` of a verified `id_token_hint`: the client asks to end this
    /// very session, so no confirmation is needed.
    pub hinted_sid: Option<String>,
}

/// The answer of a code exchange.
#[derive(Debug, Clone)]
pub struct CodeTokens {
    pub access_token: Secret,
    pub id_token: Option<Secret>,
    /// For a client of the `refresh_token` grant: bound to it.
    pub refresh_token: Option<Secret>,
    pub expires_in: u64,
    pub scope: String,
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    client_id: &'a str,
    token_use: &'static str,
    scope: &'a str,
    auth_time: i64,
    iat: i64,
    exp: i64,
    jti: String,
    origin_jti: &'a str,
    sid: &'a str,
    /// A federated person's provider (`oidc:<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    idp: Option<&'a str>,
}

#[derive(Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    azp: &'a str,
    token_use: &'static str,
    auth_time: i64,
    iat: i64,
    exp: i64,
    amr: Vec<&'a str>,
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// What a token to revoke says, once its signature is checked.
#[derive(Debug, Clone, serde::Deserialize)]
struct RevokedAccess {
    client_id: String,
    origin_jti: String,
    token_use: String,
}

/// What a logout request's `id_token_hint` says.
#[derive(Debug, Clone, serde::Deserialize)]
struct HintClaims {
    aud: String,
    sid: String,
    token_use: String,
}

#[derive(Clone)]
pub struct AuthorizationService {
    pub(crate) store: Store,
    pub(crate) clients: Clients,
    pub(crate) sign_in: SignInService,
    pub(crate) passkeys: PasskeyService,
    pub(crate) sessions: SessionService,
    pub(crate) events: EventRecorder,
    pub(crate) tokens: Arc<MachineTokens>,
    pub(crate) provider_name: String,
    /// The MAC key of the code flow's refresh tokens (an instance secret of
    /// its own: the native refresh path cannot read them, nor this one its).
    pub(crate) refresh_key: aws_lc_rs::hmac::Key,
    pub(crate) refresh_ttl: std::time::Duration,
    pub(crate) reuse_interval: std::time::Duration,
    /// The external providers people may sign in with.
    pub(crate) identity_providers: crate::federation::IdentityProviders,
}

/// What a code flow's tokens say: from a code, or from a refresh family.
struct Grant<'a> {
    /// The person's provider when it is not the configured one.
    idp: Option<&'a str>,
    sub: &'a str,
    scope: &'a str,
    auth_time: i64,
    amr: &'a str,
    sid: &'a str,
    nonce: Option<&'a str>,
}

impl AuthorizationService {
    /// authgate's issuer: `iss` of the code flow's tokens and of
    /// authorization responses (RFC 9207).
    pub fn issuer(&self) -> &str {
        &self.tokens.issuer
    }

    /// The live browser session of a cookie value, if any.
    pub async fn browser_session(&self, cookie: Option<&Secret>) -> Option<BrowserSession> {
        let cookie = cookie.filter(|c| !c.is_empty())?;
        let now = now_millis() / 1000;
        match self
            .store
            .browser_session(&digest(cookie.expose()), now)
            .await
        {
            Ok(session) => session
                .filter(|s| s.provider == self.provider_name || self.federation_knows(&s.provider)),
            Err(err) => {
                tracing::warn!(error = %err, "browser session not read");
                None
            }
        }
    }

    /// Check an authorization request and decide: a code for a signed-in
    /// browser (SSO), the sign-in page, or an error (a page when the client
    /// or its redirect URI cannot be trusted, a redirect otherwise).
    pub async fn authorize(
        &self,
        params: &Params,
        cookie: Option<&Secret>,
    ) -> Result<AuthorizeOutcome, Refusal> {
        let client = match params.iter().find(|(k, _)| k == "client_id") {
            Some((_, id)) => self.store.client(id).await.map_err(|err| {
                tracing::error!(error = %err, "client not read");
                Refusal::Page("The sign-in service is unavailable; try again shortly.".into())
            })?,
            None => None,
        };
        let request = request::check(params, client)?;
        let now = now_millis() / 1000;
        let session = self.browser_session(cookie).await.filter(|s| {
            !request.prompt.login && request.max_age.is_none_or(|age| now - s.auth_time <= age)
        });
        match session {
            Some(session) if self.needs_consent(&request, &session).await => {
                if request.prompt.none {
                    return Err(Refusal::Redirect(ErrorRedirect {
                        redirect_uri: request.redirect_uri.clone(),
                        error: "consent_required",
                        description: "the person has not allowed this application".into(),
                        state: request.state.clone(),
                    }));
                }
                Ok(AuthorizeOutcome::Consent(Box::new(request)))
            }
            Some(session) => Ok(AuthorizeOutcome::Redirect(
                self.issue_code(&request, &session).await?,
            )),
            None if request.prompt.none => Err(Refusal::Redirect(ErrorRedirect {
                redirect_uri: request.redirect_uri.clone(),
                error: "login_required",
                description: "the person is not signed in".into(),
                state: request.state.clone(),
            })),
            None => match &request.identity_provider {
                Some(id) if self.federation_knows(&crate::federation::provider_name(id)) => {
                    Ok(AuthorizeOutcome::Federate(Box::new(request)))
                }
                Some(_) => Err(Refusal::Redirect(ErrorRedirect {
                    redirect_uri: request.redirect_uri.clone(),
                    error: "invalid_request",
                    description: "identity_provider names no configured identity provider".into(),
                    state: request.state.clone(),
                })),
                None => Ok(AuthorizeOutcome::SignIn(Box::new(request))),
            },
        }
    }

    /// Must the person be asked before `request` gets a code? Only for a
    /// client registered with consent: when asked to (`prompt=consent`), or
    /// when they have not allowed every scope of the request.
    async fn needs_consent(
        &self,
        request: &AuthorizationRequest,
        session: &BrowserSession,
    ) -> bool {
        if !request.client.consent {
            return false;
        }
        if request.prompt.consent {
            return true;
        }
        match self
            .store
            .consent(&request.client.id, &session.provider, &session.sub)
            .await
        {
            Ok(Some(allowed)) => !request.scopes.iter().all(|s| allowed.contains(s)),
            Ok(None) => true,
            Err(err) => {
                tracing::warn!(error = %err, "consent not read");
                true
            }
        }
    }

    /// The person's answer on the consent page, for the request it was
    /// shown for (checked again): allowed, the scopes are recorded and the
    /// code follows; denied, the client hears `access_denied`. The answer is
    /// where to send the browser.
    pub async fn answer_consent(
        &self,
        params: &Params,
        cookie: Option<&Secret>,
        allowed: bool,
    ) -> Result<String, Refusal> {
        let client = match params.iter().find(|(k, _)| k == "client_id") {
            Some((_, id)) => self.store.client(id).await.ok().flatten(),
            None => None,
        };
        let mut request = request::check(params, client)?;
        let Some(session) = self.browser_session(cookie).await else {
            return Err(Refusal::Page(
                "You are no longer signed in. Go back to the application and start again.".into(),
            ));
        };
        if !allowed {
            return Ok(self.error_redirect(&ErrorRedirect {
                redirect_uri: request.redirect_uri.clone(),
                error: "access_denied",
                description: "the person did not allow this application".into(),
                state: request.state.clone(),
            }));
        }
        self.store
            .record_consent(
                &request.client.id,
                &session.provider,
                &session.sub,
                &request.scopes,
                now_millis(),
            )
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "consent not recorded");
                Refusal::Page("The sign-in service is unavailable; try again shortly.".into())
            })?;
        request.prompt.consent = false;
        self.issue_code(&request, &session).await
    }

    /// A code for `session` on `request`, as the redirect that carries it.
    async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        session: &BrowserSession,
    ) -> Result<String, Refusal> {
        let code = random_text();
        let now = now_millis() / 1000;
        let stored = AuthorizationCode {
            client_id: request.client.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            scope: request.scopes.join(" "),
            nonce: request.nonce.clone(),
            sid: session.sid.clone(),
            provider: session.provider.clone(),
            sub: session.sub.clone(),
            auth_time: session.auth_time,
            amr: session.amr.clone(),
            expires_at: now + CODE_TTL_SECS,
        };
        self.store
            .insert_authorization_code(&digest(&code), &stored, now)
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "authorization code not stored");
                Refusal::Redirect(ErrorRedirect {
                    redirect_uri: request.redirect_uri.clone(),
                    error: "temporarily_unavailable",
                    description: "the sign-in service is unavailable; try again shortly".into(),
                    state: request.state.clone(),
                })
            })?;
        let mut answer: Vec<(&str, &str)> = vec![("code", &code)];
        if let Some(state) = &request.state {
            answer.push(("state", state));
        }
        answer.push(("iss", self.issuer()));
        Ok(request::with_query(&request.redirect_uri, &answer))
    }

    /// The redirect of an OAuth error (with `iss`, RFC 9207).
    pub fn error_redirect(&self, back: &ErrorRedirect) -> String {
        let mut answer: Vec<(&str, &str)> = vec![
            ("error", back.error),
            ("error_description", &back.description),
        ];
        if let Some(state) = &back.state {
            answer.push(("state", state));
        }
        answer.push(("iss", self.issuer()));
        request::with_query(&back.redirect_uri, &answer)
    }

    /// Is `provider` a configured external provider (`oidc:<id>`)? A
    /// session of one that is no longer configured counts for nothing.
    fn federation_knows(&self, provider: &str) -> bool {
        crate::federation::is_configured(&self.identity_providers, provider)
    }

    /// The `idp` claim of tokens for a person of `provider`: none for the
    /// configured provider's accounts.
    fn idp_of<'a>(&self, provider: &'a str) -> Option<&'a str> {
        (provider != self.provider_name).then_some(provider)
    }

    /// Sign in on the hosted pages with a password: the same service as the
    /// JSON API (lockout, rate limits, MFA policy, audit); on success a
    /// browser session starts and its cookie value is answered.
    ///
    /// `previous` is the browser's session cookie, if it has one: a sign-in
    /// ends that session (the cookie is rotated, never reused).
    pub async fn sign_in_with_password(
        &self,
        meta: &RequestMeta,
        email: &str,
        password: &Secret,
        previous: Option<&Secret>,
    ) -> Result<BrowserSignIn, AuthError> {
        let step = self.sign_in.sign_in(meta, email, password).await?;
        self.browser_step(step, "pwd", previous).await
    }

    /// Answer a challenge of a page sign-in (the login transaction's
    /// handle, bound to `email`) — a TOTP code, or the new password of an
    /// account an administrator created: the same checks and tries as the
    /// JSON API.
    pub async fn answer_challenge(
        &self,
        meta: &RequestMeta,
        kind: ChallengeKind,
        email: &str,
        handle: Secret,
        answer: Secret,
        previous: Option<&Secret>,
    ) -> Result<BrowserSignIn, AuthError> {
        let step = self
            .sign_in
            .respond_to_challenge(meta, kind, email, handle, answer)
            .await?;
        let amr = match kind {
            ChallengeKind::NewPasswordRequired => "pwd",
            ChallengeKind::TotpRequired | ChallengeKind::MfaSetupRequired => "pwd otp",
        };
        self.browser_step(step, amr, previous).await
    }

    /// Sign in on the hosted pages with a passkey: the assertion for the
    /// ceremony `session` (started at `/v1/auth/passkeys/sign-in/start`),
    /// checked by the same service as the JSON API (one code for every
    /// refusal, the reason in the audit row). A user-verified passkey is
    /// the whole sign-in: no second factor follows.
    pub async fn sign_in_with_passkey(
        &self,
        meta: &RequestMeta,
        session: &Secret,
        credential: &serde_json::Value,
        previous: Option<&Secret>,
    ) -> Result<BrowserSignIn, AuthError> {
        let view = self
            .passkeys
            .finish_sign_in(meta, session, credential, None)
            .await?;
        self.browser_step(SignInResult::Session(view), "hwk", previous)
            .await
    }

    /// Are passkeys on for the pages?
    pub fn passkeys_on(&self) -> bool {
        self.passkeys.is_on()
    }

    /// The caller a page acts for when it adds a passkey: the person of the
    /// browser session, signed in within [`PASSKEY_ENROLMENT_SECS`] (adding
    /// a way to sign in needs a fresh sign-in, not an old cookie). The
    /// embedded provider only: Cognito's WebAuthn operations need the
    /// pool's access token, which the pages never keep.
    async fn page_caller(&self, cookie: Option<&Secret>) -> Result<Caller, AuthError> {
        if self.provider_name != "embedded" {
            return Err(AuthError::NotSupportedByProvider(
                "passkeys are added on the pages with the embedded provider only; \
                 with Cognito, use /v1/auth/passkeys with the pool's access token"
                    .into(),
            ));
        }
        let session = self
            .browser_session(cookie)
            .await
            .ok_or(AuthError::InvalidSession)?;
        if session.provider != self.provider_name {
            return Err(AuthError::NotSupportedByProvider(
                "a person who signs in with an external provider adds passkeys there".into(),
            ));
        }
        let now = now_millis() / 1000;
        if now - session.auth_time > PASSKEY_ENROLMENT_SECS {
            return Err(AuthError::InvalidSession);
        }
        let claims = authgate_core::AccessClaims {
            sub: session.sub,
            iss: self.issuer().to_string(),
            token_use: "access".into(),
            auth_time: session.auth_time,
            iat: now,
            exp: session.expires_at,
            ..Default::default()
        };
        Ok(Caller::new(claims, Secret::new(String::new()), None))
    }

    /// Creation options for a passkey of the browser session's person.
    pub async fn begin_page_passkey(
        &self,
        meta: &RequestMeta,
        cookie: Option<&Secret>,
    ) -> Result<Ceremony, AuthError> {
        let caller = self.page_caller(cookie).await?;
        self.passkeys.begin_registration(meta, &caller).await
    }

    /// Store the passkey the browser created for the ceremony `session`
    /// (started by the same browser session's person).
    pub async fn finish_page_passkey(
        &self,
        meta: &RequestMeta,
        cookie: Option<&Secret>,
        session: &Secret,
        credential: &serde_json::Value,
    ) -> Result<(), AuthError> {
        let caller = self.page_caller(cookie).await?;
        self.passkeys
            .finish_registration(meta, &caller, session, credential, None)
            .await
            .map(|_| ())
    }

    /// A sign-in step on the pages: a session becomes a browser session
    /// (the provider's own session ended, its tokens never leave), a
    /// challenge is the next page.
    async fn browser_step(
        &self,
        step: SignInResult,
        amr: &str,
        previous: Option<&Secret>,
    ) -> Result<BrowserSignIn, AuthError> {
        match step {
            SignInResult::Session(view) => {
                self.sessions.discard(&view).await?;
                self.end_browser_session(previous).await?;
                let cookie = self
                    .start_browser_session(&self.provider_name, &view.user.provider_sub, amr)
                    .await?;
                let offer_passkey = amr.starts_with("pwd") && self.has_no_passkey(&cookie).await;
                Ok(BrowserSignIn::SignedIn {
                    cookie,
                    recovery_codes: view.recovery_codes,
                    offer_passkey,
                })
            }
            SignInResult::Challenge(challenge) => Ok(BrowserSignIn::Challenge(challenge)),
        }
    }

    /// May the person of this new browser session add a passkey, and have
    /// they none yet? (Not when passkeys are off, nor on Cognito.)
    async fn has_no_passkey(&self, cookie: &Secret) -> bool {
        if !self.passkeys.is_on() {
            return false;
        }
        match self.page_caller(Some(cookie)).await {
            Ok(caller) => self
                .passkeys
                .list(&caller)
                .await
                .is_ok_and(|passkeys| passkeys.is_empty()),
            Err(_) => false,
        }
    }

    /// Start a browser session for `(provider, sub)`: the configured
    /// provider's account, or a federated person's app user.
    pub(crate) async fn start_browser_session(
        &self,
        provider: &str,
        sub: &str,
        amr: &str,
    ) -> Result<Secret, AuthError> {
        let cookie = Secret::new(random_text());
        let now = now_millis() / 1000;
        let session = BrowserSession {
            sid: uuid::Uuid::new_v4().to_string(),
            provider: provider.to_string(),
            sub: sub.to_string(),
            auth_time: now,
            amr: amr.to_string(),
            expires_at: now + BROWSER_SESSION_TTL_SECS,
        };
        self.store
            .create_browser_session(&digest(cookie.expose()), &session, now)
            .await?;
        Ok(cookie)
    }

    /// End the browser session of a cookie (signing out on the pages).
    pub async fn end_browser_session(&self, cookie: Option<&Secret>) -> Result<(), AuthError> {
        if let Some(session) = self.browser_session(cookie).await {
            self.store
                .end_browser_session(&session.sid, now_millis() / 1000)
                .await?;
        }
        Ok(())
    }

    /// The `authorization_code` grant: the client authenticates (a public
    /// client by its id alone), the code is spent (once: a second use is
    /// `invalid_grant` and revokes what the first issued), and it must have
    /// been issued to this client for this `redirect_uri`, with a
    /// `code_challenge` that `code_verifier` answers.
    pub async fn exchange_code(
        &self,
        meta: &RequestMeta,
        client_id: &str,
        secret: Option<&Secret>,
        code: &Secret,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<CodeTokens, AuthError> {
        let result = async {
            let client = self.clients.authenticate(client_id, secret).await?;
            if !client.allows(GrantType::AuthorizationCode) {
                return Err(AuthError::UnauthorizedClient(
                    "the client is not registered for the authorization_code grant".into(),
                ));
            }
            if code.is_empty() {
                return Err(AuthError::invalid_field("code", "code is missing"));
            }
            let code_hash = digest(code.expose());
            let now = now_millis() / 1000;
            let issued = match self
                .store
                .redeem_authorization_code(&code_hash, now)
                .await?
            {
                CodeRedemption::Redeemed(issued) => issued,
                CodeRedemption::Replayed { family_id } => {
                    if let Some(family_id) = family_id {
                        self.store
                            .revoke_family(&family_id, "code_replay", now_millis())
                            .await?;
                    }
                    tracing::warn!(client_id, "authorization code replayed: its tokens revoked");
                    return Err(AuthError::InvalidGrant(
                        "the code was already used; the tokens it issued are revoked".into(),
                    ));
                }
                CodeRedemption::Unknown => {
                    return Err(AuthError::InvalidGrant(
                        "the code is unknown or expired".into(),
                    ));
                }
            };
            if issued.client_id != client.id {
                return Err(AuthError::InvalidGrant(
                    "the code was issued to another client".into(),
                ));
            }
            if redirect_uri != Some(issued.redirect_uri.as_str()) {
                return Err(AuthError::InvalidGrant(
                    "redirect_uri is not the one of the authorization request".into(),
                ));
            }
            if !verifier.is_some_and(|v| pkce::verifies(v, &issued.code_challenge)) {
                return Err(AuthError::InvalidGrant(
                    "code_verifier does not answer the code_challenge".into(),
                ));
            }
            let family_id = uuid::Uuid::new_v4().to_string();
            let refreshable = client.allows(GrantType::RefreshToken);
            let lifetime = if refreshable {
                self.refresh_ttl
            } else {
                self.tokens.ttl
            };
            self.store
                .create_client_family(
                    &ClientFamily {
                        family_id: family_id.clone(),
                        sub: issued.sub.clone(),
                        auth_time: issued.auth_time,
                        client_id: client.id.clone(),
                        sid: issued.sid.clone(),
                        scope: issued.scope.clone(),
                        amr: issued.amr.clone(),
                        expires_at: now_millis() + lifetime.as_millis() as i64,
                        provider: self.idp_of(&issued.provider).map(str::to_string),
                    },
                    now_millis(),
                )
                .await?;
            self.store.set_code_family(&code_hash, &family_id).await?;
            let refresh = refreshable.then(|| FamilyToken {
                family_id: family_id.clone(),
                generation: 0,
            });
            let grant = Grant {
                idp: self.idp_of(&issued.provider),
                sub: &issued.sub,
                scope: &issued.scope,
                auth_time: issued.auth_time,
                amr: &issued.amr,
                sid: &issued.sid,
                nonce: issued.nonce.as_deref(),
            };
            let tokens = self.mint(&client, &grant, &family_id, refresh).await?;
            Ok((tokens, issued.sub))
        }
        .await;
        let target = crate::clients::audit_target(client_id);
        let sub = result.as_ref().ok().map(|(_, sub)| sub.as_str());
        self.events
            .record_change(
                &target,
                EventKind::CodeExchange,
                meta,
                sub,
                &target,
                &result,
            )
            .await;
        result.map(|(tokens, _)| tokens)
    }

    /// Is `token` a refresh token of the code flow (authgate's MAC for
    /// them)? Anything else goes to the native refresh.
    pub fn is_client_refresh_token(&self, token: &Secret) -> bool {
        FamilyToken::decode(&self.refresh_key, token.expose()).is_some()
    }

    /// The `refresh_token` grant for a code flow's token: only the client it
    /// was issued to may use it (a public client names itself, a
    /// confidential one proves itself); it rotates like the native tokens
    /// (an earlier generation presented again revokes the family).
    pub async fn refresh(
        &self,
        meta: &RequestMeta,
        client_id: &str,
        secret: Option<&Secret>,
        token: &Secret,
    ) -> Result<CodeTokens, AuthError> {
        let result = async {
            let client = self.clients.authenticate(client_id, secret).await?;
            if !client.allows(GrantType::RefreshToken) {
                return Err(AuthError::UnauthorizedClient(
                    "the client is not registered for the refresh_token grant".into(),
                ));
            }
            let presented = FamilyToken::decode(&self.refresh_key, token.expose())
                .ok_or(AuthError::InvalidRefreshToken)?;
            let family = self
                .store
                .client_family(&presented.family_id)
                .await?
                .ok_or(AuthError::InvalidRefreshToken)?;
            // Another client's token: refused, and it stays as it was.
            if family.client_id != client.id {
                return Err(AuthError::InvalidGrant(
                    "the refresh token was issued to another client".into(),
                ));
            }
            let outcome = self
                .store
                .advance_refresh_family(
                    &family.family_id,
                    presented.generation,
                    now_millis(),
                    self.reuse_interval.as_millis() as i64,
                )
                .await?;
            match outcome {
                AdvanceOutcome::Rotated(_) | AdvanceOutcome::Retried(_) => {}
                AdvanceOutcome::Reused { .. } => {
                    tracing::warn!(client_id, "code-flow refresh token reused: session revoked");
                    return Err(AuthError::RefreshTokenReused);
                }
                AdvanceOutcome::Revoked | AdvanceOutcome::Unknown => {
                    return Err(AuthError::InvalidRefreshToken);
                }
            }
            let grant = Grant {
                idp: family.provider.as_deref(),
                sub: &family.sub,
                scope: &family.scope,
                auth_time: family.auth_time,
                amr: &family.amr,
                sid: &family.sid,
                nonce: None,
            };
            let next = FamilyToken {
                family_id: family.family_id.clone(),
                generation: presented.generation + 1,
            };
            let tokens = self
                .mint(&client, &grant, &family.family_id, Some(next))
                .await?;
            Ok((tokens, family.sub))
        }
        .await;
        let target = crate::clients::audit_target(client_id);
        let sub = result.as_ref().ok().map(|(_, sub)| sub.as_str());
        self.events
            .record_change(&target, EventKind::Refresh, meta, sub, &target, &result)
            .await;
        result.map(|(tokens, _)| tokens)
    }

    /// Check a logout request: a `post_logout_redirect_uri` must be
    /// registered for the client (named by `client_id` or the hint's `aud`),
    /// and an `id_token_hint` must carry authgate's signature and issuer (an
    /// expired one still names its session). `Err` is a page's text: never
    /// a redirect to an unregistered place.
    pub async fn logout_request(&self, params: &Params) -> Result<LogoutRequest, String> {
        let value = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let hint = match value("id_token_hint") {
            None => None,
            Some(token) => Some(
                self.verified_id_token(token)
                    .ok_or("The sign-out request carries an ID token authgate did not issue.")?,
            ),
        };
        let client_id = value("client_id")
            .map(str::to_string)
            .or_else(|| hint.as_ref().map(|h| h.aud.clone()));
        if let (Some(hint), Some(client_id)) = (&hint, value("client_id"))
            && hint.aud != client_id
        {
            return Err(
                "The ID token of the sign-out request belongs to another application.".into(),
            );
        }
        let redirect = match value("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let client = match &client_id {
                    Some(id) => self.store.client(id).await.ok().flatten(),
                    None => None,
                }
                .filter(|c| c.revoked_at.is_none())
                .ok_or("The application that sent you here is not registered.")?;
                if !client.post_logout_uris.iter().any(|u| u == uri) {
                    return Err(
                        "The address to return to after signing out is not registered for this application."
                            .into(),
                    );
                }
                let mut answer: Vec<(&str, &str)> = Vec::new();
                if let Some(state) = value("state") {
                    answer.push(("state", state));
                }
                Some(request::with_query(uri, &answer))
            }
        };
        Ok(LogoutRequest {
            redirect,
            hinted_sid: hint.map(|h| h.sid),
        })
    }

    /// The claims of a token authgate signed with its own keys and issuer
    /// (its expiry aside: a logout hint or a revocation may come late).
    fn verified_claims<T: serde::de::DeserializeOwned>(&self, token: &str) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let keys: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(self.tokens.keys.jwks()).ok()?;
        let key = keys.find(header.kid.as_deref()?)?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_issuer(&[self.issuer()]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub"]);
        let data = jsonwebtoken::decode::<T>(
            token,
            &jsonwebtoken::DecodingKey::from_jwk(key).ok()?,
            &validation,
        )
        .ok()?;
        Some(data.claims)
    }

    /// The `aud` and `sid` of an id token authgate signed.
    fn verified_id_token(&self, token: &str) -> Option<HintClaims> {
        self.verified_claims::<HintClaims>(token)
            .filter(|claims| claims.token_use == "id")
    }

    /// Token revocation (RFC 7009) by the client the token was issued to: a
    /// code flow's refresh token or access token ends its refresh family
    /// (and so every token of that session). Anything else — unknown,
    /// malformed, another client's — changes nothing and is answered alike.
    pub async fn revoke(
        &self,
        meta: &RequestMeta,
        client_id: &str,
        secret: Option<&Secret>,
        token: &Secret,
    ) -> Result<(), AuthError> {
        let result = async {
            let client = self.clients.authenticate(client_id, secret).await?;
            let family_id = match FamilyToken::decode(&self.refresh_key, token.expose()) {
                Some(presented) => Some(presented.family_id),
                None => self
                    .verified_claims::<RevokedAccess>(token.expose())
                    .filter(|c| c.token_use == "access" && c.client_id == client.id)
                    .map(|c| c.origin_jti),
            };
            if let Some(family_id) = family_id
                && let Some(family) = self.store.client_family(&family_id).await?
                && family.client_id == client.id
            {
                self.store
                    .revoke_family(&family.family_id, "revoked_by_client", now_millis())
                    .await?;
            }
            Ok(())
        }
        .await;
        let target = crate::clients::audit_target(client_id);
        self.events
            .record_change(
                &target,
                EventKind::TokenRevoke,
                meta,
                None,
                &target,
                &result,
            )
            .await;
        result
    }

    /// Sign the browser out: its session ends, and so does every refresh
    /// family its codes started.
    pub async fn log_out(
        &self,
        meta: &RequestMeta,
        cookie: Option<&Secret>,
    ) -> Result<(), AuthError> {
        let Some(session) = self.browser_session(cookie).await else {
            return Ok(());
        };
        let now = now_millis();
        let result = async {
            self.store
                .end_browser_session(&session.sid, now / 1000)
                .await?;
            self.store
                .revoke_families_of_sid(&session.sid, "logout", now)
                .await?;
            Ok::<(), AuthError>(())
        }
        .await;
        self.events
            .record(
                EventKind::BrowserSignOut,
                meta,
                None,
                Some(&session.sub),
                &result,
            )
            .await;
        result
    }

    /// The claims of `/oauth2/userInfo` for an authenticated caller: a
    /// code-flow token's scopes decide (`email`, `profile`); the native
    /// contract's tokens (the person's own session) see all of them.
    pub async fn user_info(
        &self,
        caller: &crate::principal::Caller,
    ) -> Result<UserInfo, AuthError> {
        let claims = &caller.claims;
        let scoped = self.clients.app_client_of(claims).await.is_ok();
        let allows = |scope: &str| {
            !scoped
                || claims
                    .scope
                    .as_deref()
                    .unwrap_or_default()
                    .split(' ')
                    .any(|s| s == scope)
        };
        let user = self
            .store
            .find_app_user(caller.provider(&self.provider_name), &claims.sub)
            .await?;
        let email = user
            .as_ref()
            .and_then(|u| u.email.clone())
            .filter(|_| allows("email"));
        Ok(UserInfo {
            sub: claims.sub.clone(),
            email_verified: email.as_ref().map(|_| true),
            email,
            name: user.and_then(|u| u.name).filter(|_| allows("profile")),
        })
    }

    async fn mint(
        &self,
        client: &Client,
        issued: &Grant<'_>,
        family_id: &str,
        refresh: Option<FamilyToken>,
    ) -> Result<CodeTokens, AuthError> {
        let now = now_millis() / 1000;
        let ttl = self.tokens.ttl.as_secs();
        let issuer = self.issuer();
        let access = self.tokens.keys.sign(&AccessClaims {
            iss: issuer,
            sub: issued.sub,
            client_id: &client.id,
            token_use: "access",
            scope: issued.scope,
            auth_time: issued.auth_time,
            iat: now,
            exp: now + ttl as i64,
            jti: uuid::Uuid::new_v4().to_string(),
            origin_jti: family_id,
            sid: issued.sid,
            idp: issued.idp,
        })?;
        let scopes: Vec<&str> = issued.scope.split(' ').collect();
        let id_token = if scopes.contains(&"openid") {
            let user = self
                .store
                .find_app_user(issued.idp.unwrap_or(&self.provider_name), issued.sub)
                .await?;
            let email = user
                .as_ref()
                .and_then(|u| u.email.as_deref())
                .filter(|_| scopes.contains(&"email"));
            let name = user
                .as_ref()
                .and_then(|u| u.name.as_deref())
                .filter(|_| scopes.contains(&"profile"));
            Some(Secret::new(self.tokens.keys.sign(&IdClaims {
                iss: issuer,
                sub: issued.sub,
                aud: &client.id,
                azp: &client.id,
                token_use: "id",
                auth_time: issued.auth_time,
                iat: now,
                exp: now + ttl as i64,
                amr: issued.amr.split(' ').collect(),
                sid: issued.sid,
                nonce: issued.nonce,
                email,
                // Only a verified address enters the app user.
                email_verified: email.map(|_| true),
                name,
            })?))
        } else {
            None
        };
        Ok(CodeTokens {
            access_token: Secret::new(access),
            id_token,
            refresh_token: refresh.map(|t| Secret::new(t.encode(&self.refresh_key))),
            expires_in: ttl,
            scope: issued.scope.to_string(),
        })
    }
}
