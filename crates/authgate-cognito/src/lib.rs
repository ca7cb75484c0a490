//! # authgate-cognito
//!
//! The Cognito identity provider of authgate: [`CognitoProvider`] implements
//! the provider ports of `authgate-core` on top of a Cognito user pool
//! through the official AWS SDK, and [`bootstrap()`] creates a pool and an app
//! client with the settings authgate expects. No SDK type appears in the
//! public API.
//!
//! ## How the port maps onto Cognito
//!
//! | port | Cognito |
//! |---|---|
//! | `sign_up` | `SignUp` (username = email; attributes `email`, `name`, `phone_number`) |
//! | `confirm_sign_up` | `ConfirmSignUp` |
//! | `resend_confirmation` | `ResendConfirmationCode` (`Ok` for unknown users) |
//! | `sign_in` | `InitiateAuth` `USER_PASSWORD_AUTH` |
//! | `respond_to_challenge` | `RespondToAuthChallenge` (`NEW_PASSWORD_REQUIRED`, `SOFTWARE_TOKEN_MFA`); MFA setup: `VerifySoftwareToken` then `RespondToAuthChallenge` `MFA_SETUP` |
//! | `refresh` | `InitiateAuth` `REFRESH_TOKEN_AUTH` |
//! | `sign_out` | `GlobalSignOut` |
//! | `check_session` | nothing (`tracks_sessions()` is false: authgate records sign-outs itself) |
//! | `begin_totp_enrolment` | `GetUser` (email for the `otpauth://` label; falls back to the token's `email`, `username`), then `AssociateSoftwareToken` with the access token |
//! | `finish_totp_enrolment` | `VerifySoftwareToken` with the access token (status other than `SUCCESS` → `CodeMismatch`), then `SetUserMFAPreference` (software token enabled and preferred) |
//! | `forgot_password` | `ForgotPassword` (`Ok` whether or not the account exists) |
//! | `confirm_forgot_password` | `ConfirmForgotPassword` |
//! | `change_password` | `ChangePassword` with the access token; other sessions are **not** signed out (below) |
//! | `begin_totp_replacement` | `InitiateAuth` `USER_PASSWORD_AUTH` (`USERNAME` = email, `SECRET_HASH`): the proof of the password. `SOFTWARE_TOKEN_MFA` (the user has TOTP) → `AdminDeleteSoftwareToken` (signed; `Username` = email; an endpoint without it, like moto, gets `AdminSetUserMFAPreference` software token disabled instead), then `InitiateAuth` again. `MFA_SETUP` → `AssociateSoftwareToken` with the session, state `session:<session>`; tokens (no MFA) → `AssociateSoftwareToken` with the access token, state `access:<access token>`; `NEW_PASSWORD_REQUIRED` → `Forbidden` (no authenticator yet); other challenges → `NotImplemented`. The secret comes back with its `otpauth://` URI |
//! | `finish_totp_replacement` | state missing or garbled, or a code that is not six digits → `InvalidSession` / `CodeMismatch` without a call. Session: `VerifySoftwareToken` with the session (not `SUCCESS` → `CodeMismatch`), `RespondToAuthChallenge` `MFA_SETUP` (`USERNAME`, `SECRET_HASH`; the tokens never leave the adapter). Access token: `VerifySoftwareToken` with it. Then `SetUserMFAPreference` (software token enabled and preferred) and `GlobalSignOut` with the access token (a failure is logged, not answered: the authenticator is already replaced) |
//! | `verify_password` | `GetUser` for Cognito's username, then `InitiateAuth` `USER_PASSWORD_AUTH` with it; tokens or any challenge → `Ok`; the tokens are dropped and their refresh token revoked (`RevokeToken`, best effort) |
//! | `admin_create_user` | `AdminCreateUser`: `Username` = email, `TemporaryPassword`, `MessageAction = SUPPRESS` (authgate mails the password), attributes `email`, `email_verified = true`, `name`, `phone_number`; the sub from the `sub` attribute |
//! | `admin_get_user` | `AdminGetUser` with the sub as `Username` (Cognito takes a local user's sub there; with email as the username it is the username); a user whose `sub` differs (the value was an alias) → `NotFound`; an empty sub, or one with whitespace or over 128 characters, → `NotFound` without a call |
//! | `admin_find_by_email` | `ListUsers` `email = "…"` (`"` and `\` escaped with `\`), then `AdminGetUser` of the first match (for the MFA settings) |
//! | `admin_find_by_phone` | `ListUsers` `phone_number = "…"`, every page, then `AdminGetUser` of each match; oldest first |
//! | `admin_list_users` | `ListUsers` with `email ^= "<prefix>"` when there is a prefix (the status is then checked on each user), else `cognito:user_status = "<status>"` when there is a status, else no filter; pages of 60 until `limit` matches (capped to 1..=1000); sorted oldest first (`UserCreateDate`, then email) |
//! | `admin_delete_user` | `AdminGetUser` (the Cognito username), `AdminDeleteUser` |
//! | `admin_set_enabled` | `AdminGetUser`; disable: `AdminUserGlobalSignOut`, then `AdminDisableUser` (which also revokes access tokens issued in between; Cognito refuses a disabled user's sign-in and refresh); enable: `AdminEnableUser` |
//! | `admin_reset_password` | `AdminGetUser`, `AdminResetUserPassword` (Cognito mails the code itself), `AdminUserGlobalSignOut` |
//! | passkeys | `StartWebAuthnRegistration`, `CompleteWebAuthnRegistration`, `ListWebAuthnCredentials`, `DeleteWebAuthnCredential`, `InitiateAuth` `USER_AUTH` + `RespondToAuthChallenge` `WEB_AUTHN` (the `passkeys` module; moto implements none: `not_supported_by_provider`) |
//!
//! Accounts: `UNCONFIRMED` → `PendingConfirmation`, `CONFIRMED` → `Active`,
//! `FORCE_CHANGE_PASSWORD` → `TemporaryPassword`, `RESET_REQUIRED` →
//! `PasswordResetRequired`; `ARCHIVED`, `COMPROMISED`, `UNKNOWN`,
//! `EXTERNAL_PROVIDER` and statuses newer than the SDK → `Active` (debug
//! log). A status filter selects the one Cognito status it maps from
//! (`Active` = `CONFIRMED`). `enabled` is `Enabled`; `created_at` is
//! `UserCreateDate` in ms; `mfa_enabled` is whether `UserMFASettingList`
//! holds `SOFTWARE_TOKEN_MFA` (`MFAOptions` is Cognito's legacy, SMS-only
//! list and never says so).
//!
//! Challenges map `NEW_PASSWORD_REQUIRED` → `NewPasswordRequired`,
//! `SOFTWARE_TOKEN_MFA` → `TotpRequired`, `MFA_SETUP` → `MfaSetupRequired`
//! (after an immediate `AssociateSoftwareToken`, whose secret comes back as
//! the parameters `secret` and `otpauthUri`); any other challenge answers
//! [`AuthError::NotImplemented`].
//!
//! When the app client has a secret, every user-facing call carries
//! `SECRET_HASH = base64(HMAC-SHA256(secret, username + client_id))`
//! (in every `RespondToAuthChallenge` too). Refresh needs the hash of the
//! Cognito *username*, which the refresh token does not tell: authgate hands
//! out `cg1.<base64url(cognito:username)>.<Cognito refresh token>` and unwraps
//! it on refresh. Cognito issues no new refresh token on refresh, so the
//! presented one is returned again. `verify_password` signs in with the
//! username `GetUser` answers (a UUID when email is the username; every pool
//! accepts it as `USERNAME`) and hashes that name.
//!
//! ## Provider limits
//!
//! - **`change_password` leaves the user's other sessions signed in.** The
//!   port asks for them to be signed out, but Cognito has no "every session
//!   but this one": `GlobalSignOut` would also end the caller's session (its
//!   refresh token), and `ChangePassword` itself revokes nothing. authgate's
//!   server records nothing for this step either, so the other sessions stay
//!   live until their refresh tokens expire (24 h with [`bootstrap()`]'s
//!   client) or the user signs out everywhere (`sign_out` →
//!   `GlobalSignOut`).
//! - **`admin_list_users` answers `mfa_enabled: false` for everyone**:
//!   `ListUsers` tells no MFA settings, and an `AdminGetUser` per listed
//!   user would multiply the calls. `admin_get_user` and the two `find`s
//!   do tell.
//! - **`admin_list_users` is oldest first among the users it read, not
//!   among the pool.** `ListUsers` has no order; it reads pages of 60 until
//!   `limit` users matched, so with more matches than the limit, the oldest
//!   of the pool may be left out. A search reads at most 25 pages (1,500
//!   users; warn log when it stops early): with a prefix *and* a status
//!   filter, matches beyond that are not found, and neither are phone
//!   matches beyond it.
//! - **TOTP replacement: MFA stays mandatory only on pools with MFA
//!   required.** See "Lost-authenticator recovery" below: on a pool with
//!   optional MFA, the password alone signs in between `begin` and `finish`.
//! - `verify_password` is a real sign-in for Cognito: it counts towards the
//!   lockout after repeated wrong passwords (answered `RateLimited`), and
//!   creates a session whose refresh token is revoked at once (best effort:
//!   a client without token revocation, or moto, leaves it to expire unused;
//!   it is never handed out). A challenge session is left to expire.
//!
//! ## Lost-authenticator recovery differs from the embedded provider
//!
//! authgate's server checks the mailed code, then calls
//! `begin_totp_replacement`, keeps the state it answers for ~10 minutes and
//! hands it to `finish_totp_replacement`. The embedded provider keeps the
//! new secret pending and the old authenticator working until `finish`.
//! Cognito cannot: it gives a new secret only to a signed-in user or to an
//! `MFA_SETUP` session, and a user with TOTP gets neither without a code.
//! So, on Cognito:
//!
//! - **The old authenticator stops working at `begin`**
//!   (`AdminDeleteSoftwareToken`), not at `finish`. Between the two:
//!   - on a pool with **MFA required**, sign-in answers `MfaSetupRequired`:
//!     the password alone lets whoever signs in enrol an authenticator (as
//!     for any user without one) and get tokens. MFA stays mandatory, but
//!     the factor is a new one;
//!   - on a pool with **MFA optional**, sign-in answers tokens with the
//!     password alone: MFA is not mandatory until `finish`.
//! - `finish` never called (abandoned, expired, or `begin` failed after the
//!   deletion): the account stays without an authenticator, with the
//!   consequences above, until a recovery is finished or the user enrols one
//!   at sign-in (required pools) or from the account (optional pools).
//! - **The session path lives as long as Cognito's challenge session**: the
//!   app client's `AuthSessionValidity`, 3 minutes by default (at most 15;
//!   [`bootstrap()`] leaves the default), shorter than authgate's ~10
//!   minutes. A later `finish` answers `InvalidSession` (Cognito:
//!   `NotAuthorizedException` "Invalid session…"); the user starts again.
//!   Whether Cognito takes another code on the same session after a wrong
//!   one is Cognito's call; the state is not consumed by a wrong code.
//! - On the access-token path the state holds a live Cognito access token
//!   (1 h with [`bootstrap()`]) for authgate to store; it is never handed
//!   out. The refresh token of that sign-in is not revoked at `begin`
//!   (`RevokeToken` would revoke the access token with it); `GlobalSignOut`
//!   at `finish` ends it, or it expires unused.
//! - `begin` is a real sign-in: a wrong password counts towards Cognito's
//!   lockout (`RateLimited`), like `sign_in`.
//! - `AdminSetUserMFAPreference` with the software token disabled is not
//!   used on Cognito: on a pool with MFA required it is reported to change
//!   nothing (sign-in keeps asking for the token), which is why
//!   `AdminDeleteSoftwareToken` exists.
//!
//! ## Errors: Cognito exception → [`AuthError`]
//!
//! One function maps every failure, per operation. Cognito's messages never
//! reach an [`AuthError`] or a log line (they can hold the username, and moto
//! echoes rejected tokens and sessions in them), except the rule named by
//! `InvalidPasswordException`.
//!
//! | Cognito answer | operation | [`AuthError`] |
//! |---|---|---|
//! | `NotAuthorizedException` whose message is about the secret hash | all but refresh | `ProviderUnavailable` (error log: client secret misconfigured) |
//! | `NotAuthorizedException` | sign-in, TOTP replacement's `InitiateAuth` | `InvalidCredentials` (`RateLimited` for "Password attempts exceeded") |
//! | `NotAuthorizedException` | challenge, TOTP replacement with its session or access token | `InvalidSession` |
//! | `NotAuthorizedException` | refresh | `InvalidRefreshToken` |
//! | `NotAuthorizedException` | sign-out, `GetUser`, TOTP enrolment | `TokenRevoked` |
//! | `NotAuthorizedException` "…Access Token…" / "…disabled…" | change password | `TokenRevoked` |
//! | `NotAuthorizedException` | change password, verify password | `InvalidCredentials` (`RateLimited` for "Password attempts exceeded") |
//! | `NotAuthorizedException` | confirm forgot password | `CodeMismatch` |
//! | `NotAuthorizedException` "…Current status is CONFIRMED" | confirm | `AlreadyConfirmed` (other messages: `CodeMismatch`) |
//! | `NotAuthorizedException` | resend, forgot password | `Ok(())` |
//! | `UserNotFoundException` | sign-in, sign-up, verify password, TOTP replacement's `InitiateAuth` and token deletion | `InvalidCredentials` |
//! | `UserNotFoundException`, `ResourceNotFoundException` (moto's unknown session), `InvalidParameterException` | TOTP replacement with its session or access token (`AssociateSoftwareToken`, `VerifySoftwareToken`, `RespondToAuthChallenge` `MFA_SETUP`, `SetUserMFAPreference`) | `InvalidSession` |
//! | `UserNotFoundException` | confirm, confirm forgot password / challenge / refresh / sign-out, `GetUser`, TOTP enrolment, change password | `CodeMismatch` / `InvalidSession` / `InvalidRefreshToken` / `TokenRevoked` |
//! | `UserNotFoundException`, `InvalidParameterException` "already confirmed" | resend | `Ok(())` |
//! | `UserNotFoundException`, `UserNotConfirmedException`, `InvalidParameterException` "…registered/verified…", `CodeDeliveryFailureException` (error log) | forgot password | `Ok(())` |
//! | `UserNotConfirmedException` | confirm forgot password | `CodeMismatch` |
//! | `UserNotConfirmedException` | others | `UserNotConfirmed` |
//! | `UsernameExistsException`, `AliasExistsException` | any | `UsernameExists` |
//! | `InvalidPasswordException` | any | `InvalidPassword { rule }` (the rule after "…policy:", else a generic one) |
//! | `CodeMismatchException`, `EnableSoftwareTokenMFAException` | any | `CodeMismatch` |
//! | `ExpiredCodeException` | any | `CodeExpired` |
//! | `LimitExceededException`, `TooManyRequestsException` | any | `RateLimited { retry_after_secs: 30 }` |
//! | `TooManyFailedAttemptsException` | any | `TooManyFailedAttempts { retry_after_secs: Some(30) }` |
//! | `PasswordResetRequiredException` | any (sign-in of a user an administrator reset) | `PasswordResetRequired` (403) |
//! | `InvalidParameterException` | any | `InvalidRequest { field: None, "the provider rejected the request" }` |
//! | `SoftwareTokenMFANotFoundException` | any | `NotImplemented("TOTP enrolment with this user pool")` → 501 (error log: TOTP not enabled on the pool) |
//! | `ResourceNotFoundException` | challenge | `InvalidSession` (moto's answer to an unknown session) |
//! | `ResourceNotFoundException` | confirm forgot password | `CodeMismatch` (moto's answer to an unknown user; warn log) |
//! | `ResourceNotFoundException` | others | `ProviderUnavailable` (error log: pool or client missing) |
//! | HTTP 500/501 without exception name and with a non-JSON body | resend | `NotImplemented("resending confirmation codes with this provider")` → 501 |
//! | same | others | `ProviderUnavailable` |
//! | any other exception (`InternalErrorException`, …) | any | `ProviderUnavailable` (error log with the exception name) |
//! | connect error, timeout, unreadable answer, request not buildable | any | `ProviderUnavailable` |
//! | `UserNotFoundException` | admin get, delete, enable / disable, sign-out, reset (and every other admin operation) | `NotFound("user")` |
//! | `NotAuthorizedException` "…disabled…" / "…current state…" | admin reset | `Forbidden("the password of this account cannot be reset in its current state")` |
//! | `InvalidParameterException` "…registered/verified…" | admin reset | `Forbidden("the account has no verified email or phone number to send a reset code to")` |
//! | `InvalidParameterException` "…phone number…" / "…email…" | admin create | `InvalidRequest { field: "phone" / "email" }` |
//! | `InvalidParameterException` | other admin operations | `InvalidRequest { field: None }` (warn log) |
//! | `NotAuthorizedException` (other messages) | admin operations, bootstrap, TOTP replacement's token deletion | `ProviderUnavailable` (error log: the AWS credentials are not allowed) |
//! | HTTP 500/501 without exception name and with a non-JSON body | `AdminDeleteSoftwareToken` of a TOTP replacement | none: `AdminSetUserMFAPreference` (software token disabled) instead (warn log) |
//! | `AccessDeniedException`, `UnrecognizedClientException`, `InvalidSignatureException`, `ExpiredTokenException` | any | `ProviderUnavailable` (error log: AWS credentials missing, invalid or not allowed) |
//! | `ResourceNotFoundException` | admin operations, TOTP replacement's token deletion | `ProviderUnavailable` (a missing *user* is `UserNotFoundException`; this is a missing pool) |
//!
//! ## Credentials
//!
//! The user-facing calls are unsigned and need no AWS credentials; the
//! `admin_*` methods and the bootstrap are signed, and need credentials
//! allowed `cognito-idp:AdminCreateUser`, `AdminGetUser`, `ListUsers`,
//! `AdminDeleteUser`, `AdminDisableUser`, `AdminEnableUser`,
//! `AdminUserGlobalSignOut` and `AdminResetUserPassword` on the pool
//! (without them those methods answer `ProviderUnavailable`).
//! `begin_totp_replacement` is signed too, for `AdminDeleteSoftwareToken`
//! (and `AdminSetUserMFAPreference` on an endpoint without it).
//! [`CognitoProvider::new`] and [`bootstrap()`] take credentials from the
//! standard AWS chain;
//! [`CognitoProvider::with_credentials`] and [`bootstrap_with_credentials`]
//! take [`AwsCredentials`] explicitly (the moto tests use
//! `AwsCredentials::fixed("test", "test")`, since the workspace forbids the
//! `unsafe` that `std::env::set_var` needs in edition 2024).
//!
//! ## moto (the emulator the tests run against) differs from Cognito
//!
//! Observed with moto 5.2.5; the tests are named after these behaviours.
//!
//! - `ResendConfirmationCode` is not implemented: HTTP 500 with an HTML page
//!   (which the SDK reports as an unparseable response, not a service error)
//!   → `NotImplemented` (501), never a 500.
//! - Sign-up sends no code; `ConfirmSignUp` accepts any code and never
//!   answers "already confirmed" (it confirms again), so `AlreadyConfirmed`
//!   and `CodeExpired` cannot be observed there.
//! - An unknown challenge session answers `ResourceNotFoundException` (real
//!   Cognito: `NotAuthorizedException` "Invalid session…"); both map to
//!   `InvalidSession`. A wrong TOTP code answers `CodeMismatchException`
//!   at `VerifySoftwareToken` (real: `EnableSoftwareTokenMFAException`).
//! - `InvalidPasswordException` names no rule.
//! - `SECRET_HASH` is not checked by `SignUp`, `ConfirmSignUp` or
//!   `USER_PASSWORD_AUTH`; it is checked by `SOFTWARE_TOKEN_MFA` and by
//!   `REFRESH_TOKEN_AUTH`, there against the name given as `USERNAME` at
//!   sign-in (the email), where Cognito wants the `cognito:username` (a UUID
//!   when email is the username). A secret client therefore cannot refresh on
//!   moto with the token authgate hands out.
//! - Every user gets the TOTP secret `asdfasdfasdf` (56 bits); only the
//!   current 30 s step is accepted. `MFA_SETUP` comes only after
//!   `NEW_PASSWORD_REQUIRED`.
//! - A disabled user gets `NotAuthorizedException` at sign-in (like
//!   Cognito), but their refresh token still works.
//! - After `GlobalSignOut` the refresh token is refused (like Cognito), but
//!   moto finds the user of `GlobalSignOut` only in the region of the SigV4
//!   header, else `us-east-1`: use `us-east-1` against moto.
//! - Tokens always live 3600 s whatever the client's validity settings.
//! - `ConfirmForgotPassword`: a wrong code answers `ExpiredCodeException`
//!   (→ `CodeExpired`; Cognito: `CodeMismatchException` → `CodeMismatch`),
//!   and so does a used one; only codes with moto's prefix
//!   `moto-confirmation-code:` are checked (any other string is accepted);
//!   the new password is not checked against the policy; an unknown user
//!   answers `ResourceNotFoundException` (Cognito: `UserNotFoundException`,
//!   or `CodeMismatchException` with user-existence errors prevented), mapped
//!   to `CodeMismatch` all the same. `ForgotPassword` answers an unknown user
//!   with success and a made-up destination, like Cognito with user-existence
//!   errors prevented. The code is in the response header
//!   `x-moto-forgot-password-confirmation-code` and in `/moto-api/data.json`.
//! - `ChangePassword` with a signed-out (unknown) access token answers
//!   `NotAuthorizedException` whose message is the token itself, so it maps
//!   to `InvalidCredentials` (Cognito: "Access Token has been revoked" →
//!   `TokenRevoked`). `ChangePassword` checks the new password's policy
//!   before the current password.
//! - `RevokeToken` is not implemented (HTTP 500): the refresh token of a
//!   `verify_password` sign-in stays in moto.
//! - `AdminCreateUser` checks no password policy on the temporary password
//!   and no phone-number format (Cognito: `InvalidPasswordException`,
//!   `InvalidParameterException`).
//! - `AdminUserGlobalSignOut` ends only the sessions moto filed under the
//!   name given to it: a sign-in with the email as `USERNAME` (every
//!   `sign_in`) is filed under the email, and the sign-out by Cognito
//!   username (the sub) misses it. Together with moto refreshing disabled
//!   users, a disabled user's sessions live on in moto; Cognito ends them.
//! - `AdminResetUserPassword` only sets `RESET_REQUIRED` (no code), and
//!   `USER_PASSWORD_AUTH` checks no status: the old password still signs in
//!   (Cognito: `PasswordResetRequiredException` → `PasswordResetRequired`).
//!   It refuses users in `FORCE_CHANGE_PASSWORD` (`NotAuthorizedException`
//!   → `Forbidden`; Cognito documents the call as working on any user) and
//!   users without `email_verified`, which moto's `ConfirmSignUp` never
//!   sets (Cognito does).
//! - `ListUsers` answers `UserMFASettingList` too (the SDK drops it, as it
//!   is not in Cognito's `UserType`).
//! - TOTP replacement: `AdminDeleteSoftwareToken` is not implemented (HTTP
//!   500, HTML), so `begin` disables the token by `AdminSetUserMFAPreference`
//!   instead. moto keeps such a user "token verified": on an MFA=ON pool the
//!   second `InitiateAuth` still answers `SOFTWARE_TOKEN_MFA` (Cognito:
//!   `MFA_SETUP`), and moto lets `AssociateSoftwareToken` take that
//!   challenge's session; the adapter accepts it only after the fallback
//!   (after a real deletion it is an error). `RespondToAuthChallenge`
//!   `MFA_SETUP` there just signs in. Until `finish`, sign-in on an MFA=ON
//!   pool still asks for the (same) token. The new secret is the old one
//!   (`asdfasdfasdf`), so that the old authenticator stops working cannot be
//!   observed. On an OPTIONAL pool the second sign-in answers tokens (the
//!   access-token path), as on Cognito. An unenrolled user of an MFA=ON
//!   pool gets tokens at the first sign-in, so takes the access-token path
//!   (Cognito: `MFA_SETUP`, the session path). A user enrolled through
//!   `MFA_SETUP` has an empty `UserMFASettingList` (so `mfa_enabled: false`)
//!   until `SetUserMFAPreference`, which `finish` calls.

mod admin;
mod bootstrap;
mod config;
mod error_map;
mod id_token;
mod otpauth;
mod passkeys;
mod provider;
mod refresh_token;
mod secret_hash;
mod totp_replacement;

pub use bootstrap::{BootstrapOptions, BootstrapResult, bootstrap, bootstrap_with_credentials};
pub use config::{AwsCredentials, CognitoConfig};
pub use provider::CognitoProvider;

#[cfg(doc)]
use authgate_core::AuthError;
