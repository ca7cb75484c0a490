//! Signing in with an external OpenID provider on the hosted pages: the
//! round trip (a login transaction under the upstream `state`, bound to the
//! browser that started it), the identity it brings back resolved to an
//! app user, and the link to an existing account.
//!
//! Who the person becomes (contracts/oauth.md, "Federation"):
//! - an identity linked before signs in as its app user, whatever address
//!   it comes with now (the key is the provider and its `sub`);
//! - a new identity whose address belongs to no account becomes an app user
//!   of the provider (`oidc:<id>`), with the address only when verified;
//! - a new identity whose address belongs to an account is linked to it
//!   only when the provider is trusted to (`link_by_verified_email`), says
//!   the address is verified, and the account's address is confirmed;
//!   otherwise the person is asked to sign in to that account, which links
//!   it. Nothing is ever linked on an unverified address.

use super::{IdentityProviders, provider_name};
use crate::events::{EventRecorder, RequestMeta};
use crate::login::{LoginTransactions, Opening, Step};
use crate::oauth::authorization::AuthorizationService;
use crate::subjects::Subjects;
use authgate_core::{AuthError, EventKind, Provider, ProviderId, Secret, now_millis};
use authgate_federation::{FederationError, Upstream, UpstreamIdentity};
use authgate_store::identities::NewIdentity;
use authgate_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// A `Continue with <label>` button of the sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderButton {
    pub id: String,
    pub label: String,
}

/// What the upstream callback leads to.
#[derive(Debug, Clone)]
pub enum FederatedSignIn {
    /// Signed in: the new browser session's cookie, and the authorization
    /// request to go back to.
    SignedIn { cookie: Secret, authorize: String },
    /// The address belongs to an account that may not be linked without
    /// its owner: they sign in to it (on the sign-in page, prefilled with
    /// `email`), and `link` — kept by the browser — links the identity then.
    SignInToLink {
        authorize: String,
        email: String,
        label: String,
        link: Secret,
    },
}

/// What a round trip keeps until its callback.
#[derive(Serialize, Deserialize)]
struct RoundTrip {
    provider: String,
    nonce: String,
    verifier: String,
    authorize: String,
    /// The digest of the browser's binding value (the pages' CSRF cookie).
    browser: String,
}

/// An identity waiting for the person to sign in to the account it links to.
#[derive(Serialize, Deserialize)]
struct PendingLink {
    provider: String,
    issuer: String,
    subject: String,
    email: Option<String>,
    browser: String,
}

/// Who an upstream identity signs in as.
enum Resolution {
    Account { provider: String, sub: String },
    SignInToLink { email: String },
}

#[derive(Clone)]
pub struct FederationService {
    pub(crate) providers: IdentityProviders,
    pub(crate) logins: LoginTransactions,
    pub(crate) store: Store,
    pub(crate) provider: Provider,
    pub(crate) authorization: AuthorizationService,
    pub(crate) subjects: Subjects,
    pub(crate) events: EventRecorder,
    /// authgate's `/oauth2/idpresponse`, registered at every upstream.
    pub(crate) redirect_uri: String,
}

fn digest(text: &str) -> String {
    authgate_embedded::tokens::token_digest(text)
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn upstream_failed(err: FederationError) -> AuthError {
    AuthError::UpstreamFailed {
        reason: err.reason(),
        detail: err.to_string(),
    }
}

impl FederationService {
    /// The buttons of the sign-in page, in configuration order.
    pub fn buttons(&self) -> Vec<ProviderButton> {
        self.providers
            .iter()
            .map(|u| ProviderButton {
                id: u.settings.id.clone(),
                label: u.settings.label.clone(),
            })
            .collect()
    }

    /// The label of a configured provider (its id when unknown).
    pub fn label(&self, id: &str) -> String {
        self.upstream(id)
            .map(|u| u.settings.label.clone())
            .unwrap_or_else(|| id.to_string())
    }

    fn upstream(&self, id: &str) -> Option<&Arc<Upstream>> {
        self.providers.iter().find(|u| u.settings.id == id)
    }

    /// Start signing in at the provider `id` for the authorization request
    /// `authorize` (checked by the caller): the upstream URL to send the
    /// browser to. `browser` is the browser's binding value: the callback
    /// must come back to the same browser.
    pub async fn begin(
        &self,
        meta: &RequestMeta,
        id: &str,
        authorize: &str,
        browser: &Secret,
    ) -> Result<String, AuthError> {
        let Some(upstream) = self.upstream(id) else {
            return Err(AuthError::NotFound("identity provider".into()));
        };
        let result = async {
            let begun = upstream
                .begin(&self.redirect_uri)
                .await
                .map_err(upstream_failed)?;
            let round_trip = RoundTrip {
                provider: id.to_string(),
                nonce: begun.nonce.expose().to_string(),
                verifier: begun.pkce_verifier.expose().to_string(),
                authorize: authorize.to_string(),
                browser: digest(browser.expose()),
            };
            let state = serde_json::to_string(&round_trip)
                .map_err(|e| AuthError::Internal(e.to_string()))?;
            self.logins
                .begin_under(
                    &begun.state,
                    Opening {
                        email: "",
                        sub: None,
                        exclusive: false,
                        proved: "",
                        step: Step::UpstreamCallback,
                    },
                    &state,
                )
                .await?;
            Ok(begun.url)
        }
        .await;
        if let Err(err) = &result {
            if let AuthError::UpstreamFailed { detail, .. } = err {
                tracing::warn!(provider = id, error = %detail, "upstream sign-in not started");
            }
            self.audit(EventKind::SignIn, meta, id, None, None, None, &result)
                .await;
        }
        result
    }

    /// The upstream callback (`/oauth2/idpresponse`): its `state` must name
    /// a round trip this browser started and has not finished (once); then
    /// the upstream's `error`, or its `code` exchanged and the id token
    /// checked. `previous` is the browser's session cookie, ended by a
    /// sign-in (rotation).
    pub async fn finish(
        &self,
        meta: &RequestMeta,
        callback: &Callback<'_>,
        browser: Option<&Secret>,
        previous: Option<&Secret>,
    ) -> Result<FederatedSignIn, AuthError> {
        let round_trip = match self.take_round_trip(callback.state, browser).await {
            Ok(round_trip) => round_trip,
            Err(err) => {
                let result = Err::<(), _>(err.clone());
                self.events
                    .record_sign_in("federated", meta, None, None, &result)
                    .await;
                return Err(err);
            }
        };
        let id = round_trip.provider.clone();
        let mut identity: Option<UpstreamIdentity> = None;
        let result = async {
            let upstream = self.upstream(&id).ok_or(AuthError::InvalidSession)?;
            if let Some(error) = callback.error {
                return Err(AuthError::UpstreamFailed {
                    reason: "upstream_refused",
                    detail: format!(
                        "{error}: {}",
                        callback.error_description.unwrap_or_default()
                    ),
                });
            }
            let code = callback
                .code
                .filter(|c| !c.is_empty())
                .ok_or_else(|| AuthError::invalid_field("code", "the callback has no code"))?;
            let found = upstream
                .finish(
                    &self.redirect_uri,
                    code,
                    &Secret::new(round_trip.nonce.clone()),
                    &Secret::new(round_trip.verifier.clone()),
                )
                .await
                .map_err(upstream_failed)?;
            identity = Some(found.clone());
            let label = upstream.settings.label.clone();
            match self.resolve(meta, upstream, &found).await? {
                Resolution::Account { provider, sub } => {
                    self.authorization.end_browser_session(previous).await?;
                    let cookie = self
                        .authorization
                        .start_browser_session(&provider, &sub, "fed")
                        .await?;
                    Ok((
                        FederatedSignIn::SignedIn {
                            cookie,
                            authorize: round_trip.authorize.clone(),
                        },
                        Some(sub),
                    ))
                }
                Resolution::SignInToLink { email } => {
                    let link = self.pending_link(&id, &found, &email, browser).await?;
                    Ok((
                        FederatedSignIn::SignInToLink {
                            authorize: round_trip.authorize.clone(),
                            email,
                            label,
                            link,
                        },
                        None,
                    ))
                }
            }
        }
        .await;
        if let Err(AuthError::UpstreamFailed { detail, .. }) = &result {
            tracing::warn!(provider = %id, error = %detail, "upstream sign-in failed");
        }
        let subject = result.as_ref().ok().and_then(|(_, sub)| sub.clone());
        self.audit(
            EventKind::SignIn,
            meta,
            &id,
            identity.as_ref(),
            verified_email(identity.as_ref()),
            subject.as_deref(),
            &result,
        )
        .await;
        result.map(|(outcome, _)| outcome)
    }

    /// The round trip behind a callback's `state`, used up, if this
    /// browser started it. Anything else — unknown, used, expired, another
    /// browser's — is `invalid_session`.
    async fn take_round_trip(
        &self,
        state: Option<&str>,
        browser: Option<&Secret>,
    ) -> Result<RoundTrip, AuthError> {
        let state = state
            .filter(|s| !s.is_empty())
            .ok_or(AuthError::InvalidSession)?;
        let pending = self
            .logins
            .take(&Secret::new(state), None, Step::UpstreamCallback)
            .await?;
        self.logins.end(&pending).await?;
        let round_trip: RoundTrip =
            serde_json::from_str(pending.state.expose()).map_err(|_| AuthError::InvalidSession)?;
        if !same(&round_trip.browser, &browser_digest(browser)) {
            tracing::warn!("upstream callback in another browser than the one that started it");
            return Err(AuthError::InvalidSession);
        }
        Ok(round_trip)
    }

    /// Who `identity` signs in as (see the module's rules).
    async fn resolve(
        &self,
        meta: &RequestMeta,
        upstream: &Upstream,
        identity: &UpstreamIdentity,
    ) -> Result<Resolution, AuthError> {
        let settings = &upstream.settings;
        let name = provider_name(&settings.id);
        let email = verified_email(Some(identity));
        let now = now_millis();
        if let Some((linked, user)) = self.store.linked_identity(&name, &identity.subject).await? {
            self.store.touch_identity(linked.id, email, now).await?;
            if user.provider == name {
                // The provider's own person: its claims are the user's.
                let (user, new_address) = self.provider_person(identity, &name, now).await?;
                if new_address {
                    self.subjects.bind_invitations(&user).await?;
                }
            }
            return Ok(Resolution::Account {
                provider: user.provider,
                sub: user.provider_sub,
            });
        }
        if let Some(address) = identity.email.as_deref()
            && let Some(account) = self.provider.admin.admin_find_by_email(address).await?
        {
            let trusted = settings.link_by_verified_email
                && identity.email_verified
                && account.email_verified
                && account.enabled;
            if !trusted {
                return Ok(Resolution::SignInToLink {
                    email: account.email,
                });
            }
            let (user, _) = self
                .store
                .upsert_app_user(
                    self.provider.name(),
                    &account.sub,
                    Some(account.email.as_str()),
                    account.name.as_deref(),
                    now,
                )
                .await?;
            self.link(meta, user.id, &settings.id, identity, &account.sub)
                .await?;
            return Ok(Resolution::Account {
                provider: user.provider,
                sub: user.provider_sub,
            });
        }
        let (user, _) = self.provider_person(identity, &name, now).await?;
        match self
            .store
            .link_identity(
                &NewIdentity {
                    user_id: user.id,
                    provider: &name,
                    issuer: &identity.issuer,
                    subject: &identity.subject,
                    email,
                },
                now,
            )
            .await
        {
            // Two first sign-ins at once: the other one linked it.
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(err) => return Err(err.into()),
        }
        self.subjects.bind_invitations(&user).await?;
        Ok(Resolution::Account {
            provider: user.provider,
            sub: user.provider_sub,
        })
    }

    /// The app user of a person of the provider `name` (created on first
    /// sight, its claims the provider's, the address only when verified),
    /// and whether its address is new.
    async fn provider_person(
        &self,
        identity: &UpstreamIdentity,
        name: &str,
        now: i64,
    ) -> Result<(authgate_store::AppUser, bool), AuthError> {
        Ok(self
            .store
            .upsert_app_user(
                name,
                &identity.subject,
                verified_email(Some(identity)),
                identity.name.as_deref(),
                now,
            )
            .await?)
    }

    /// Link `identity` to the app user `user_id` (whose provider subject is
    /// `sub`), audited. An identity linked already is `already_exists`.
    async fn link(
        &self,
        meta: &RequestMeta,
        user_id: uuid::Uuid,
        id: &str,
        identity: &UpstreamIdentity,
        sub: &str,
    ) -> Result<(), AuthError> {
        let name = provider_name(id);
        let result = self
            .store
            .link_identity(
                &NewIdentity {
                    user_id,
                    provider: &name,
                    issuer: &identity.issuer,
                    subject: &identity.subject,
                    email: verified_email(Some(identity)),
                },
                now_millis(),
            )
            .await
            .map(|_| ())
            .map_err(|err| match err {
                StoreError::Conflict => AuthError::AlreadyExists(
                    "this identity is linked to another account already".into(),
                ),
                other => other.into(),
            });
        self.audit(
            EventKind::IdentityLinked,
            meta,
            id,
            Some(identity),
            verified_email(Some(identity)),
            Some(sub),
            &result,
        )
        .await;
        result
    }

    /// Keep `identity` until the person signs in to the account of `email`
    /// in this browser: the link handle the browser keeps.
    async fn pending_link(
        &self,
        id: &str,
        identity: &UpstreamIdentity,
        email: &str,
        browser: Option<&Secret>,
    ) -> Result<Secret, AuthError> {
        let pending = PendingLink {
            provider: id.to_string(),
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            email: verified_email(Some(identity)).map(str::to_string),
            browser: browser_digest(browser),
        };
        let state =
            serde_json::to_string(&pending).map_err(|e| AuthError::Internal(e.to_string()))?;
        self.logins
            .begin(
                Opening {
                    email,
                    sub: None,
                    exclusive: false,
                    proved: "",
                    step: Step::IdentityLink,
                },
                &state,
            )
            .await
    }

    /// After a sign-in on the pages that the person made to link an
    /// identity (`link`, kept by this browser): link it to the account of
    /// the new browser session (`session`). The sign-in stands whatever
    /// comes of the link; the answer says whether it was made.
    pub async fn link_after_sign_in(
        &self,
        meta: &RequestMeta,
        link: &Secret,
        browser: Option<&Secret>,
        session: &Secret,
    ) -> Result<(), AuthError> {
        let pending = self.logins.take(link, None, Step::IdentityLink).await?;
        self.logins.end(&pending).await?;
        let waiting: PendingLink =
            serde_json::from_str(pending.state.expose()).map_err(|_| AuthError::InvalidSession)?;
        if !same(&waiting.browser, &browser_digest(browser)) {
            return Err(AuthError::InvalidSession);
        }
        let signed_in = self
            .authorization
            .browser_session(Some(session))
            .await
            .filter(|s| s.provider == self.provider.name())
            .ok_or(AuthError::InvalidSession)?;
        let user = self
            .store
            .find_app_user(self.provider.name(), &signed_in.sub)
            .await?
            .ok_or(AuthError::InvalidSession)?;
        let identity = UpstreamIdentity {
            issuer: waiting.issuer,
            subject: waiting.subject,
            email_verified: waiting.email.is_some(),
            email: waiting.email,
            name: None,
        };
        self.link(meta, user.id, &waiting.provider, &identity, &signed_in.sub)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn audit<T>(
        &self,
        kind: EventKind,
        meta: &RequestMeta,
        id: &str,
        identity: Option<&UpstreamIdentity>,
        email: Option<&str>,
        subject: Option<&str>,
        result: &Result<T, AuthError>,
    ) {
        let issuer = identity
            .map(|i| i.issuer.clone())
            .or_else(|| self.upstream(id).map(|u| u.settings.issuer.clone()));
        self.events
            .record_federated(
                kind,
                meta,
                &ProviderId::oidc(id),
                issuer.as_deref(),
                email,
                subject,
                result,
            )
            .await;
    }
}

/// The query of an upstream callback.
#[derive(Debug, Clone, Copy, Default)]
pub struct Callback<'a> {
    pub state: Option<&'a str>,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
}

/// The digest of the browser's binding value (empty when it has none:
/// then it matches nothing a browser with one started).
fn browser_digest(browser: Option<&Secret>) -> String {
    browser
        .filter(|b| !b.is_empty())
        .map(|b| digest(b.expose()))
        .unwrap_or_default()
}

/// The address of an identity when its provider says it is verified.
fn verified_email(identity: Option<&UpstreamIdentity>) -> Option<&str> {
    identity
        .filter(|i| i.email_verified)
        .and_then(|i| i.email.as_deref())
}
