//! Typed principals: who presented a valid bearer token ([`Principal`]: a
//! user's [`Caller`] or a machine client's [`ClientCaller`]) and who may
//! administer ([`AdminActor`]). Only this crate creates them — [`Caller`] and
//! [`ClientCaller`] in [`crate::authn`], [`AdminActor`] in
//! [`crate::subjects::Subjects::require_admin`] — so every service method
//! that needs rights takes one and no front end can skip the check.

use authgate_core::{AccessClaims, AuthError, ContextStamp, Secret};
use authgate_store::AppUser;

/// The grant that opens `/v1/admin/*` to a platform role.
pub const ADMIN_GRANT: &str = "platform:admin";
/// The machine-client scope that opens `/v1/admin/*` (it counts as every grant).
pub const ADMIN_SCOPE: &str = "admin";

/// An authenticated user: the validated claims and the bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub claims: AccessClaims,
    pub token: Secret,
    /// The version of the caller's context read by the session check
    /// (none when the store could not tell, e.g. before the first context).
    pub(crate) context_stamp: Option<ContextStamp>,
    _authenticated: Sealed,
}

impl Caller {
    pub(crate) fn new(
        claims: AccessClaims,
        token: Secret,
        context_stamp: Option<ContextStamp>,
    ) -> Self {
        Self {
            claims,
            token,
            context_stamp,
            _authenticated: Sealed,
        }
    }

    /// Refuse a federated person (a code-flow token with `idp`): their
    /// password, authenticator app and passkeys are their provider's, not
    /// accounts of authgate's provider.
    pub fn require_own_account(&self) -> Result<(), AuthError> {
        match &self.claims.idp {
            Some(idp) => Err(AuthError::NotSupportedByProvider(format!(
                "this account signs in with {idp}: its password, authenticator app and passkeys are managed there"
            ))),
            None => Ok(()),
        }
    }

    /// The caller's provider: `configured` (the provider's name), or the
    /// `oidc:<id>` of a federated person's code-flow token.
    pub fn provider<'a>(&'a self, configured: &'a str) -> &'a str {
        self.claims.idp.as_deref().unwrap_or(configured)
    }
}

/// Makes a struct impossible to build outside this crate.
#[derive(Debug, Clone)]
pub(crate) struct Sealed;

/// A machine client authenticated by a client-credentials token.
#[derive(Debug, Clone)]
pub struct ClientCaller {
    pub client_id: String,
    pub scopes: Vec<String>,
    _authenticated: Sealed,
}

impl ClientCaller {
    pub(crate) fn new(client_id: String, scopes: Vec<String>) -> Self {
        Self {
            client_id,
            scopes,
            _authenticated: Sealed,
        }
    }

    /// The platform-wide grants of the client: every grant with the `admin`
    /// scope, none otherwise (its scopes count in decisions only).
    pub fn grants(&self) -> Vec<String> {
        if self.scopes.iter().any(|s| s == ADMIN_SCOPE) {
            vec!["*".into()]
        } else {
            Vec::new()
        }
    }
}

/// Whoever presented a valid bearer token.
#[derive(Debug, Clone)]
pub enum Principal {
    User(Box<Caller>),
    Client(ClientCaller),
}

/// Someone the services let administer: a platform admin or a machine client
/// with the `admin` scope
/// ([`Subjects::require_admin`](crate::subjects::Subjects::require_admin)),
/// the operator at the command line ([`AdminActor::operator`]), or — inside
/// the service, for their own account only — the account's owner. Its fields
/// are private to this crate, so no front end can make one up: every
/// administrative method takes one, so none can run without the check.
#[derive(Debug, Clone)]
pub struct AdminActor {
    /// The provider subject of a user, `client:<id>`, or `cli`.
    pub(crate) id: String,
    /// The platform-wide grants held, for the no-escalation rule.
    pub(crate) grants: Vec<String>,
    pub(crate) app_user: Option<AppUser>,
}

impl AdminActor {
    /// The id written to audit rows.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The operator at the command line (`authgate admin …`): every grant.
    pub fn operator() -> Self {
        Self {
            id: "cli".into(),
            grants: vec!["*".into()],
            app_user: None,
        }
    }

    /// No escalation on someone else: the actor must hold every grant of
    /// `target` (the target's platform role, a client's scopes).
    pub fn require_all(&self, target: &[String], what: &str) -> Result<(), AuthError> {
        if authgate_core::authz::grants_cover_all(&self.grants, target) {
            Ok(())
        } else {
            Err(AuthError::InsufficientGrants(format!(
                "{what} carries grants you do not hold yourself"
            )))
        }
    }
}
