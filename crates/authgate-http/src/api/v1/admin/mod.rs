//! `/v1/admin`: administration for platform admins and machine clients with
//! the `admin` scope — [`users`] (lifecycle, audit events), [`catalog`]
//! (roles, platform roles, policies) and [`clients`]. Who may act is decided
//! by the services, on the typed principal.

pub mod catalog;
pub mod clients;
pub mod users;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users::create_user, users::list_users))
        .routes(routes!(users::get_user, users::delete_user))
        .routes(routes!(users::disable_user))
        .routes(routes!(users::enable_user))
        .routes(routes!(users::reset_user_password))
        .routes(routes!(users::get_lockout, users::clear_lockout))
        .routes(routes!(users::audit_events))
        .routes(routes!(catalog::list_roles, catalog::create_role))
        .routes(routes!(
            catalog::get_role,
            catalog::update_role,
            catalog::delete_role
        ))
        .routes(routes!(catalog::set_platform_role))
        .routes(routes!(catalog::list_policies, catalog::create_policy))
        .routes(routes!(
            catalog::get_policy,
            catalog::put_policy,
            catalog::delete_policy
        ))
        .routes(routes!(clients::create_client, clients::list_clients))
        .routes(routes!(clients::revoke_client))
}
