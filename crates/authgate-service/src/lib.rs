//! # authgate-service
//!
//! The application without any front end: one service per capability, each
//! a small struct holding only what it needs, assembled into [`Services`]
//! from [`Settings`] ([`build`]). No axum, no HTML: the JSON API, the
//! CognitoApi profile and the CLI all call these, so they share one
//! implementation and one set of access checks. Bearer tokens become typed
//! principals in [`authn`] only; methods that need rights take an
//! [`AdminActor`] (or a [`Caller`]) that no front end can make up.
//!
//! | module | service | owns |
//! |---|---|---|
//! | [`sign_in`] | [`SignInService`] | sign-up and confirmation, sign-in and its challenges |
//! | [`login`] | [`LoginTransactions`](login::LoginTransactions) | the login transaction: what a sign-in across requests proved and what comes next |
//! | [`sessions`] | [`SessionService`] | refresh, sign-out, whether a session is live, ending other sessions |
//! | [`account`] | [`AccountService`] | password reset, change and re-verification, identifier recovery |
//! | [`mfa`], [`mfa_reset`] | [`MfaService`] | TOTP enrolment, recovery codes, the lost-authenticator reset |
//! | [`passkeys`] | [`PasskeyService`] | passkey registration, list, deletion and sign-in (WebAuthn ceremonies) |
//! | [`admin`] | [`AdminUsers`] | the admin user lifecycle, the audit trail |
//! | [`tenants`] | [`TenantService`] | tenants, memberships, invitations |
//! | [`catalog`] | [`CatalogService`] | roles, grants and Cedar policies, edited at run time |
//! | [`decisions`] | [`DecisionService`] | may a principal do an action (roles, then policies) |
//! | [`forward`] | [`ForwardAuth`] | the gateway authorizer's route rules |
//! | [`clients`] | [`Clients`] | the client registry (machine and app clients) and `client_credentials` |
//! | [`oauth`] | — | the OpenID Provider's rules: authorization requests, PKCE |
//! | [`discovery`] | [`Discovery`] | issuer and keys for OIDC discovery and JWKS |
//! | [`authn`] | [`Authenticator`] | bearer token → [`Principal`] |
//! | [`subjects`] | [`Subjects`](subjects::Subjects) | the app user and context of a caller, admin rights |
//! | [`recovery_codes`], [`notices`] | helpers | recovery codes and cooling-off; security notices and decoys |
//! | [`principal`] | — | [`Principal`], [`Caller`], [`ClientCaller`], [`AdminActor`] |
//! | [`events`] | — | audit rows and metrics for every event |
//! | [`protection`] | [`Protection`] | rate-limit groups, failed-attempt lockout, their counters (in process or Redis) |
//! | [`settings`], [`build`] | [`Services`] | configuration; assembly from it |

pub mod account;
pub mod admin;
pub mod authn;
pub mod build;
pub mod catalog;
pub mod clients;
pub mod decisions;
pub mod discovery;
pub mod encryption;
pub mod events;
pub mod federation;
pub mod forward;
pub mod login;
pub mod mfa;
pub mod mfa_reset;
pub mod notices;
pub mod oauth;
pub mod passkeys;
pub mod principal;
pub mod protection;
pub mod recovery_codes;
pub mod sessions;
pub mod settings;
pub mod sign_in;
pub mod subjects;
pub mod tenants;

pub use account::AccountService;
pub use admin::AdminUsers;
pub use authn::Authenticator;
pub use build::{Rewrapped, Services, open_store, rewrap_secrets};
pub use catalog::CatalogService;
pub use clients::Clients;
pub use decisions::DecisionService;
pub use discovery::Discovery;
pub use events::{EventRecorder, RequestMeta};
pub use forward::ForwardAuth;
pub use mfa::MfaService;
pub use passkeys::{Ceremony, PasskeyService};
pub use principal::{AdminActor, Caller, ClientCaller, Principal};
pub use protection::Protection;
pub use sessions::{SessionService, SessionView};
pub use settings::Settings;
pub use sign_in::{Challenge, SignInResult, SignInService};
pub use tenants::TenantService;
