//! Refresh and sign-out, and the bookkeeping of sessions at authgate's
//! boundary: the session a sign-in or refresh answers (the app user
//! upserted, invitations bound, MFA state recorded), whether a session is
//! still live, and ending a user's other sessions. For a provider that does
//! not track sessions (Cognito), authgate records the sessions it started
//! and refuses tokens and refreshes of signed-out ones.

use crate::events::{EventRecorder, RequestMeta};
use crate::principal::Caller;
use crate::subjects::Subjects;
use authgate_core::EventKind;
use authgate_core::token::unverified_claims;
use authgate_core::{
    AccessClaims, AuthError, Authenticated, ContextStamp, Provider, Secret, TokenSet, now_millis,
};
use authgate_store::sessions::SessionState;
use authgate_store::{AppUser, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A signed-in session as the contract returns it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub tokens: TokenSet,
    pub user: AppUser,
    /// Unix seconds at which the access token expires.
    pub expires_at: i64,
    /// Recovery codes, when this step enrolled an authenticator (shown once).
    pub recovery_codes: Vec<Secret>,
}

#[derive(Clone)]
pub struct SessionService {
    pub(crate) provider: Provider,
    pub(crate) store: Store,
    pub(crate) events: EventRecorder,
    pub(crate) subjects: Subjects,
    pub(crate) app_users: Arc<RememberedAppUsers>,
}

/// How many app users the refresh path remembers.
pub const REMEMBERED_APP_USERS: usize = 10_000;
/// How long a remembered app user serves refreshes.
const REMEMBER_APP_USER_FOR: Duration = Duration::from_secs(30);

/// The app users that refreshed recently, by provider subject: a refresh
/// answers the app user without reading it again while the provider's
/// address and name are the ones it was remembered with. What a refresh
/// answers of it is its id (fixed for a subject) and the provider's own
/// claims (compared at every refresh: a change is written, as without
/// this), so nothing it answers can be stale; a sign-in always reads and
/// writes the app user and forgets what was remembered.
pub struct RememberedAppUsers {
    by_sub: quick_cache::sync::Cache<String, (Instant, AppUser)>,
}

impl RememberedAppUsers {
    pub fn new(capacity: usize) -> Self {
        Self {
            by_sub: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    /// The user remembered for `sub`, if recent and still carrying the
    /// provider's `email` (verified, else none) and `name`.
    fn current(&self, sub: &str, email: Option<&str>, name: Option<&str>) -> Option<AppUser> {
        self.by_sub
            .get(sub)
            .filter(|(read_at, user)| {
                read_at.elapsed() < REMEMBER_APP_USER_FOR
                    && user.email.as_deref() == email
                    && (name.is_none() || user.name.as_deref() == name)
            })
            .map(|(_, user)| user)
    }

    fn remember(&self, user: &AppUser) {
        self.by_sub
            .insert(user.provider_sub.clone(), (Instant::now(), user.clone()));
    }

    fn forget(&self, sub: &str) {
        self.by_sub.remove(sub);
    }
}

impl SessionService {
    pub async fn refresh(
        &self,
        meta: &RequestMeta,
        refresh_token: &Secret,
    ) -> Result<SessionView, AuthError> {
        let result = if refresh_token.is_empty() {
            Err(AuthError::invalid_field(
                "refreshToken",
                "refreshToken must not be empty",
            ))
        } else {
            match self.provider.sessions.refresh(refresh_token).await {
                Ok(done) => match self.refreshed_session_is_live(&done).await {
                    Ok(()) => self.session(done, false).await,
                    Err(err) => Err(err),
                },
                Err(err) => Err(err),
            }
        };
        let sub = result.as_ref().ok().map(|s| s.user.provider_sub.as_str());
        self.events
            .record(EventKind::Refresh, meta, None, sub, &result)
            .await;
        result
    }

    pub async fn sign_out(&self, meta: &RequestMeta, caller: &Caller) -> Result<(), AuthError> {
        let mut result = self
            .provider
            .sessions
            .sign_out(&caller.claims, &caller.token)
            .await;
        if result.is_ok() && !self.provider.sessions.tracks_sessions() {
            result = self
                .store
                .revoke_provider_sessions(self.provider.name(), &caller.claims.sub, now_millis())
                .await
                .map_err(AuthError::from);
        }
        self.events
            .record(
                EventKind::SignOut,
                meta,
                None,
                Some(&caller.claims.sub),
                &result,
            )
            .await;
        result
    }

    /// Is the session behind validated claims still live? The provider
    /// decides when it tracks sessions; otherwise authgate's own record of
    /// the sessions it started and of sign-outs does. Either way one round
    /// trip to the store, which also answers the user's [`ContextStamp`]
    /// when it can (then the context may come from memory).
    pub async fn check_session(
        &self,
        claims: &AccessClaims,
    ) -> Result<Option<ContextStamp>, AuthError> {
        if self.provider.sessions.tracks_sessions() {
            return self.provider.sessions.check_session(claims).await;
        }
        self.provider.sessions.check_session(claims).await?;
        let (state, stamp) = self
            .store
            .provider_session_state(
                self.provider.name(),
                claims.origin_jti.as_deref(),
                &claims.sub,
            )
            .await?;
        if signed_out(state, claims) {
            return Err(AuthError::TokenRevoked);
        }
        Ok(stamp)
    }

    /// End the provider session a sign-in on the hosted pages started: its
    /// tokens were never handed out (the browser session and the code flow
    /// take their place), so nothing may refresh it. With a provider that
    /// keeps its sessions in authgate's database (the embedded one) that is
    /// its refresh family; otherwise its tokens expire on their own.
    pub(crate) async fn discard(&self, view: &SessionView) -> Result<(), AuthError> {
        if !self.provider.sessions.tracks_sessions() {
            return Ok(());
        }
        if let Some(family_id) = unverified_claims(view.tokens.access_token.expose())
            .and_then(|claims| claims.origin_jti)
        {
            self.store
                .revoke_family(&family_id, "hosted_sign_in", now_millis())
                .await?;
        }
        Ok(())
    }

    /// Is the session of a code-flow access token live? Its `origin_jti`
    /// names the refresh family its code started (authgate's, whichever
    /// the provider): revoked by a replayed code, a sign-out or a disable.
    pub async fn check_client_session(
        &self,
        claims: &AccessClaims,
    ) -> Result<Option<ContextStamp>, AuthError> {
        let family_id = claims
            .origin_jti
            .as_deref()
            .ok_or(AuthError::TokenRevoked)?;
        let family = self
            .store
            .family_session(
                family_id,
                &claims.sub,
                claims.idp.as_deref().unwrap_or(self.provider.name()),
                now_millis(),
            )
            .await?;
        if family.live {
            Ok(family.context)
        } else {
            Err(AuthError::TokenRevoked)
        }
    }

    /// A provider that does not track sign-outs may still refresh a session
    /// that was signed out through authgate: refuse that here.
    async fn refreshed_session_is_live(&self, done: &Authenticated) -> Result<(), AuthError> {
        if self.provider.sessions.tracks_sessions() {
            return Ok(());
        }
        let Some(claims) = unverified_claims(done.tokens.access_token.expose()) else {
            return Ok(());
        };
        let (state, _) = self
            .store
            .provider_session_state(
                self.provider.name(),
                claims.origin_jti.as_deref(),
                &claims.sub,
            )
            .await?;
        if signed_out(state, &claims) {
            Err(AuthError::InvalidRefreshToken)
        } else {
            Ok(())
        }
    }

    /// The session of an authentication. After a sign-in (not a refresh) the
    /// user's MFA state is read from the provider and recorded, and
    /// invitations to the address bind.
    pub(crate) async fn session(
        &self,
        done: Authenticated,
        signed_in: bool,
    ) -> Result<SessionView, AuthError> {
        if !self.provider.sessions.tracks_sessions()
            && let Some(claims) = unverified_claims(done.tokens.access_token.expose())
            && let Some(session_id) = claims.origin_jti.as_deref()
        {
            self.store
                .record_provider_session(
                    self.provider.name(),
                    session_id,
                    &claims.sub,
                    now_millis(),
                )
                .await?;
        }
        // An unverified address never enters the context.
        let email = done.user.email_verified.then_some(done.user.email.as_str());
        let name = done.user.name.as_deref();
        let remembered = if signed_in {
            self.app_users.forget(&done.user.sub);
            None
        } else {
            self.app_users.current(&done.user.sub, email, name)
        };
        let (user, new_address) = match remembered {
            Some(user) => (user, false),
            None => {
                let (user, new_address) = self
                    .store
                    .upsert_app_user(
                        self.provider.name(),
                        &done.user.sub,
                        email,
                        name,
                        now_millis(),
                    )
                    .await?;
                if !signed_in {
                    self.app_users.remember(&user);
                }
                (user, new_address)
            }
        };
        if signed_in || new_address {
            self.subjects.bind_invitations(&user).await?;
        }
        if signed_in {
            match self.provider.admin.admin_get_user(&done.user.sub).await {
                Ok(account) if account.mfa_enabled != user.mfa_totp => {
                    self.store
                        .set_app_user_mfa(user.id, account.mfa_enabled, now_millis())
                        .await?;
                }
                Ok(_) => {}
                // The session stands; the recorded MFA state stays as it was.
                Err(err) => tracing::warn!(error = %err, "MFA state not refreshed at sign-in"),
            }
        }
        Ok(SessionView {
            expires_at: now_millis() / 1000 + done.tokens.expires_in as i64,
            tokens: done.tokens,
            user,
            recovery_codes: Vec::new(),
        })
    }

    /// End the caller's other sessions, in the provider and at authgate's
    /// boundary.
    pub(crate) async fn end_other_sessions(&self, caller: &Caller) -> Result<(), AuthError> {
        self.provider
            .sessions
            .revoke_other_sessions(&caller.claims)
            .await?;
        self.end_other_sessions_at_boundary(caller).await
    }

    /// For a provider that does not track sessions: end the caller's other
    /// sessions at authgate's boundary (their tokens and refreshes).
    pub(crate) async fn end_other_sessions_at_boundary(
        &self,
        caller: &Caller,
    ) -> Result<(), AuthError> {
        if !self.provider.sessions.tracks_sessions() {
            let keep = caller.claims.origin_jti.as_deref().unwrap_or_default();
            self.store
                .revoke_other_provider_sessions(
                    self.provider.name(),
                    &caller.claims.sub,
                    keep,
                    now_millis(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Was the session of these claims signed out? A session authgate started
/// knows its own state; any other is judged by its authentication time
/// against the subject's last sign-out.
fn signed_out(state: SessionState, claims: &AccessClaims) -> bool {
    match state {
        SessionState::Live => false,
        SessionState::Revoked => true,
        SessionState::Unknown { signed_out_at } => signed_out_at.is_some_and(|at| {
            let authenticated = if claims.auth_time > 0 {
                claims.auth_time
            } else {
                claims.iat
            };
            authenticated * 1000 <= at
        }),
    }
}
