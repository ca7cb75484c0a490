//! `/v1/auth`: the native authentication contract. [`sign_in`] (sign-up,
//! sign-in, challenges, refresh, sign-out), [`account`] (TOTP, recovery
//! codes, passwords), [`mfa_reset`] (lost authenticator), [`passkeys`]
//! (WebAuthn registration and sign-in), [`identities`] (linked external
//! identities) and [`context`] (the
//! subject and the authorization catalog). The routes a stranger can call
//! are rate limited per client address, each group on its own budget.

pub mod account;
pub mod context;
pub mod identities;
pub mod mfa_reset;
pub mod passkeys;
pub mod sign_in;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    use crate::ratelimit::{charge, native};
    use authgate_service::protection::Group;
    use axum::middleware::from_fn_with_state;
    let sign_up = crate::openapi::rate_limited(
        OpenApiRouter::new()
            .routes(routes!(sign_in::sign_up))
            .routes(routes!(sign_in::confirm_sign_up))
            .routes(routes!(sign_in::resend_confirmation))
            .route_layer(from_fn_with_state(native(state, Group::SignUp), charge)),
    );
    let signing_in = crate::openapi::rate_limited(
        OpenApiRouter::new()
            .routes(routes!(sign_in::sign_in))
            .routes(routes!(sign_in::new_password_challenge))
            .routes(routes!(sign_in::totp_challenge))
            .routes(routes!(sign_in::mfa_setup_challenge))
            .routes(routes!(passkeys::sign_in_start))
            .routes(routes!(passkeys::sign_in_complete))
            .route_layer(from_fn_with_state(native(state, Group::SignIn), charge)),
    );
    let recovery = crate::openapi::rate_limited(
        OpenApiRouter::new()
            .routes(routes!(account::request_password_reset))
            .routes(routes!(account::confirm_password_reset))
            .routes(routes!(account::recover_identifier))
            .routes(routes!(mfa_reset::start))
            .routes(routes!(mfa_reset::verify))
            .routes(routes!(mfa_reset::confirm))
            .route_layer(from_fn_with_state(native(state, Group::Recovery), charge)),
    );
    let token = crate::openapi::rate_limited(
        OpenApiRouter::new()
            .routes(routes!(sign_in::refresh))
            .route_layer(from_fn_with_state(native(state, Group::Token), charge)),
    );
    OpenApiRouter::new()
        .merge(sign_up)
        .merge(signing_in)
        .merge(recovery)
        .merge(token)
        .routes(routes!(sign_in::sign_out))
        .routes(routes!(context::subject))
        .routes(routes!(context::catalog))
        .routes(routes!(account::begin_totp))
        .routes(routes!(account::verify_totp))
        .routes(routes!(
            account::regenerate_recovery_codes,
            account::recovery_codes_left
        ))
        .routes(routes!(account::change_password))
        .routes(routes!(account::verify_password))
        .routes(routes!(passkeys::register_start))
        .routes(routes!(passkeys::register_complete))
        .routes(routes!(passkeys::list))
        .routes(routes!(passkeys::delete))
        .routes(routes!(identities::list))
        .routes(routes!(identities::delete))
}
