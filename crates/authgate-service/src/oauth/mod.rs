//! authgate as an OpenID Provider (contracts/oauth.md): the authorization
//! request's rules ([`request`]), PKCE ([`pkce`]), and the code flow with
//! the hosted pages' browser sessions ([`authorization`]).

pub mod authorization;
pub mod pkce;
pub mod request;

pub use authorization::AuthorizationService;
