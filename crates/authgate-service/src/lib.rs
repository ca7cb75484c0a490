//! # authgate-service
//!
//! The application without any front end: the business rules of every
//! capability, the authentication of bearer tokens into typed principals
//! ([`authn`]), and [`Services`], built from [`Settings`] ([`build`]). No
//! axum, no HTML: the JSON API, the CognitoApi profile and the CLI all call
//! these, so they share one implementation and one set of access checks.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | every configuration value, its default and its check |
//! | [`build`] | [`Services`] from [`Settings`]: store, mailer, provider, keys, guards |
//! | [`authn`] | bearer token → [`Principal`] (user, machine client) |
//! | [`auth`] | sign-up, sign-in and challenges, refresh, sign-out, the subject |
//! | [`account`] | TOTP enrolment, password reset, change and re-verification |
//! | [`recovery`], [`recovery_codes`], [`mfa_reset`] | identifier recovery, recovery codes, lost-authenticator reset |
//! | [`admin`] | the admin user lifecycle and the audit trail |
//! | [`tenants`] | tenants, memberships, invitations |
//! | [`catalog`] | roles, grants and Cedar policies, edited at run time |
//! | [`authz`] | the user context, principals and actors, decisions |
//! | [`forward`] | the gateway authorizer's route rules |
//! | [`clients`] | machine clients and their tokens |
//! | [`events`] | audit rows and metrics for every event |
//! | [`throttle`] | the request-budget port and its in-process implementation |

pub mod account;
pub mod admin;
pub mod auth;
pub mod authn;
pub mod authz;
pub mod build;
pub mod catalog;
pub mod clients;
pub mod events;
pub mod forward;
pub mod mfa_reset;
pub mod recovery;
pub mod recovery_codes;
pub mod settings;
pub mod tenants;
pub mod throttle;

pub use auth::{AuthService, Caller, SessionView, SignInResult};
pub use authn::Authenticator;
pub use authz::{AdminActor, ClientCaller, Principal};
pub use build::{Services, open_store};
pub use events::{EventRecorder, RequestMeta};
pub use settings::Settings;
