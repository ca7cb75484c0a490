//! The Cognito provider against a real moto server.
//!
//! Start one and point the tests at it:
//!
//! ```sh
//! MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true moto_server -H 127.0.0.1 -p 5055 &
//! export AUTHGATE_TEST_MOTO_URL=http://127.0.0.1:5055
//! cargo test -p authgate-cognito
//! ```
//!
//! Without `AUTHGATE_TEST_MOTO_URL` every test panics (they never skip).
//! Each test bootstraps its own pool: moto is shared by the tests running in
//! parallel, so nothing here resets it. Region `us-east-1`, because moto finds
//! the user of an unsigned `GlobalSignOut` only there. AWS credentials are the
//! dummy `test`/`test`, handed over with `AwsCredentials::fixed` (the
//! workspace forbids the `unsafe` that `std::env::set_var` needs).
//! Tests named `..._on_moto` / `moto_...` pin a behaviour of moto that real
//! Cognito does not share (see the crate docs).

use authgate_cognito::{
    AwsCredentials, BootstrapOptions, BootstrapResult, CognitoConfig, CognitoProvider,
    bootstrap_with_credentials,
};
use authgate_core::{
    AccessClaims, AccountFilter, AccountStatus, AuthError, AuthStep, Authenticated, ChallengeKind,
    ChallengeParameters, ChallengeResponse, ChallengeStep, NewAccount, ProviderAccount, Secret,
    SignUpRequest,
};
// The provider ports, whose methods the tests call.
use authgate_core::{
    Administration, PasswordSignIn, ProviderInfo, ProviderSessions, SelfService, TotpAuthenticator,
};
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::time::Duration;

const REGION: &str = "us-east-1";
const PASSWORD: &str = "Correct-Horse-42-Battery";
const NEW_PASSWORD: &str = "Another-Horse-43-Staple";
const TEMPORARY_PASSWORD: &str = "Temporary-Pass-44!";

fn moto_url() -> String {
    std::env::var("AUTHGATE_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!(
            "AUTHGATE_TEST_MOTO_URL is not set: these tests need a moto server. Start one with \
             `MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true moto_server -H 127.0.0.1 -p 5055 &` \
             and `export AUTHGATE_TEST_MOTO_URL=http://127.0.0.1:5055`"
        )
    })
}

fn credentials() -> AwsCredentials {
    AwsCredentials::fixed("test", "test")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn new_email() -> String {
    format!("{}@example.com", unique("user"))
}

struct Pool {
    created: BootstrapResult,
    provider: CognitoProvider,
}

async fn pool_with(generate_secret: bool, mfa_required: bool) -> Pool {
    let url = moto_url();
    let created = bootstrap_with_credentials(
        REGION,
        Some(&url),
        &BootstrapOptions {
            pool_name: unique("authgate-test"),
            client_name: unique("authgate-client"),
            generate_secret,
            mfa_required,
            webauthn_relying_party: Some("localhost".into()),
        },
        &credentials(),
    )
    .await
    .expect("bootstrap against moto");
    let provider = provider_for(&created, Some(url)).await;
    Pool { created, provider }
}

async fn pool() -> Pool {
    pool_with(false, false).await
}

async fn provider_for(created: &BootstrapResult, endpoint_url: Option<String>) -> CognitoProvider {
    CognitoProvider::with_credentials(
        CognitoConfig {
            region: created.region.clone(),
            user_pool_id: created.user_pool_id.clone(),
            client_id: created.client_id.clone(),
            client_secret: created.client_secret.clone(),
            endpoint_url,
        },
        credentials(),
    )
    .await
    .expect("provider")
}

fn sign_up_request(email: &str, password: &str) -> SignUpRequest {
    SignUpRequest {
        email: email.to_string(),
        password: Secret::new(password),
        name: Some("Test User".to_string()),
        phone: None,
    }
}

/// Sign up and confirm (moto accepts any code), answering the user's sub.
async fn confirmed_user(provider: &CognitoProvider, email: &str) -> String {
    let outcome = provider
        .sign_up(sign_up_request(email, PASSWORD))
        .await
        .expect("sign-up");
    provider
        .confirm_sign_up(email, &Secret::new("any-code"))
        .await
        .expect("confirm");
    outcome.user_sub
}

fn authenticated(step: AuthStep) -> Authenticated {
    match step {
        AuthStep::Authenticated(done) => done,
        AuthStep::Challenge(challenge) => panic!("expected tokens, got {challenge:?}"),
    }
}

fn challenge(step: AuthStep, kind: ChallengeKind) -> ChallengeStep {
    match step {
        AuthStep::Challenge(challenge) if challenge.kind == kind => challenge,
        other => panic!("expected a {kind:?} challenge, got {other:?}"),
    }
}

/// The current TOTP code for moto's (56-bit) secret. moto accepts only the
/// current 30 s step: near the end of a step, wait for the next one.
async fn totp_code(secret: &str) -> Secret {
    let bytes = totp_rs::Secret::try_from_base32(secret.to_uppercase()).expect("base32 secret");
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(bytes)
        .build_noncompliant();
    if totp.ttl() < 4 {
        tokio::time::sleep(Duration::from_secs(totp.ttl() + 1)).await;
    }
    Secret::new(totp.generate_current().to_string())
}

fn claims_of(access_token: &Secret) -> AccessClaims {
    let payload = access_token.expose().split('.').nth(1).expect("JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("claims")
}

/// An SDK client with admin rights, for what the provider never does
/// (creating a user with a temporary password).
async fn admin_client() -> aws_sdk_cognitoidentityprovider::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(moto_url())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_cognitoidentityprovider::Client::new(&config)
}

async fn admin_create_user(pool_id: &str, email: &str) {
    admin_client()
        .await
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(email)
        .temporary_password(TEMPORARY_PASSWORD)
        .message_action(MessageActionType::Suppress)
        .user_attributes(
            AttributeType::builder()
                .name("email")
                .value(email)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("AdminCreateUser");
}

fn respond(
    kind: ChallengeKind,
    email: &str,
    session: &Secret,
    answer: Secret,
) -> ChallengeResponse {
    ChallengeResponse {
        kind,
        email: email.to_string(),
        state: session.clone(),
        answer,
    }
}

/// AdminCreateUser → sign-in → NEW_PASSWORD_REQUIRED → MFA_SETUP → tokens.
async fn enrolled_totp_user(
    provider: &CognitoProvider,
    pool_id: &str,
    email: &str,
) -> Authenticated {
    admin_create_user(pool_id, email).await;
    let step = provider
        .sign_in(email, &Secret::new(TEMPORARY_PASSWORD))
        .await
        .expect("sign-in with the temporary password");
    let new_password = challenge(step, ChallengeKind::NewPasswordRequired);

    let step = provider
        .respond_to_challenge(respond(
            ChallengeKind::NewPasswordRequired,
            email,
            &new_password.state,
            Secret::new(NEW_PASSWORD),
        ))
        .await
        .expect("new password");
    let setup = challenge(step, ChallengeKind::MfaSetupRequired);
    let ChallengeParameters::TotpSetup(enrolment) = &setup.parameters else {
        panic!("MFA_SETUP_REQUIRED carries the authenticator to enrol");
    };
    let secret = enrolment.secret.expose().to_string();
    let uri = enrolment.otpauth_uri.expose();
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/authgate:{}?secret={secret}&issuer=authgate",
            email.replace('@', "%40")
        )
    );

    let step = provider
        .respond_to_challenge(respond(
            ChallengeKind::MfaSetupRequired,
            email,
            &setup.state,
            totp_code(&secret).await,
        ))
        .await
        .expect("MFA setup");
    authenticated(step)
}

#[tokio::test]
async fn bootstrap_returns_ids_that_work_and_moto_serves_the_jwks() {
    let Pool { created, provider } = pool().await;
    assert_eq!(created.region, REGION);
    assert!(
        created.user_pool_id.starts_with("us-east-1_"),
        "{created:?}"
    );
    assert!(!created.client_id.is_empty());
    assert_eq!(created.client_secret, None);
    let env = created.to_env();
    assert!(env.contains(&format!(
        "AUTHGATE_COGNITO_USER_POOL_ID={}\n",
        created.user_pool_id
    )));
    assert!(env.contains(&format!(
        "AUTHGATE_COGNITO_CLIENT_ID={}\n",
        created.client_id
    )));
    assert!(!env.contains("CLIENT_SECRET"));

    assert_eq!(provider.id(), authgate_core::ProviderId::COGNITO);
    assert_eq!(
        provider.issuer(),
        format!(
            "https://cognito-idp.us-east-1.amazonaws.com/{}",
            created.user_pool_id
        )
    );
    assert_eq!(
        provider.jwks_url().unwrap(),
        format!(
            "{}/{}/.well-known/jwks.json",
            moto_url(),
            created.user_pool_id
        )
    );
    assert!(!provider.tracks_sessions());
    let jwks = provider.jwks().await.expect("JWKS");
    assert!(
        jwks["keys"].as_array().is_some_and(|keys| !keys.is_empty()),
        "{jwks}"
    );

    // The ids work: a user can sign up, confirm and sign in, and the tokens
    // carry the issuer and client of the pool.
    let email = new_email();
    confirmed_user(&provider, &email).await;
    let done = authenticated(
        provider
            .sign_in(&email, &Secret::new(PASSWORD))
            .await
            .unwrap(),
    );
    let claims = claims_of(&done.tokens.access_token);
    assert_eq!(claims.iss, provider.issuer());
    assert!(claims.client_matches(&created.client_id));
}

#[tokio::test]
async fn bootstrap_with_a_secret_returns_it() {
    let Pool { created, .. } = pool_with(true, true).await;
    let secret = created.client_secret.clone().expect("client secret");
    assert!(
        created
            .to_env()
            .ends_with(&format!("AUTHGATE_COGNITO_CLIENT_SECRET={secret}\n"))
    );
    assert!(!format!("{created:?}").contains(&secret));
}

#[tokio::test]
async fn sign_up_needs_confirmation_and_moto_sends_no_code_but_confirms_any_code() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let outcome = provider
        .sign_up(sign_up_request(&email, PASSWORD))
        .await
        .expect("sign-up");
    assert!(!outcome.user_sub.is_empty());
    assert!(outcome.requires_confirmation);
    let delivery = outcome.delivery.expect("delivery");
    assert_eq!(delivery.medium, "EMAIL");
    assert!(
        delivery.destination.starts_with("u***@e***"),
        "{delivery:?}"
    );
    assert!(!delivery.destination.contains(&email));

    provider
        .confirm_sign_up(&email, &Secret::new("not-a-real-code"))
        .await
        .expect("moto confirms with any code");
    authenticated(
        provider
            .sign_in(&email, &Secret::new(PASSWORD))
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn moto_confirms_a_confirmed_user_again_instead_of_already_confirmed() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    // Real Cognito: NotAuthorizedException "User cannot be confirmed.
    // Current status is CONFIRMED" → AlreadyConfirmed (unit-tested mapping).
    assert_eq!(
        provider
            .confirm_sign_up(&email, &Secret::new("123456"))
            .await,
        Ok(())
    );
}

#[tokio::test]
async fn confirming_an_unknown_user_is_code_mismatch() {
    let Pool { provider, .. } = pool().await;
    assert_eq!(
        provider
            .confirm_sign_up(&new_email(), &Secret::new("123456"))
            .await,
        Err(AuthError::CodeMismatch)
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_both_invalid_credentials() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    assert_eq!(
        provider
            .sign_in(&email, &Secret::new("Wrong-Password-99!"))
            .await,
        Err(AuthError::InvalidCredentials)
    );
    assert_eq!(
        provider.sign_in(&new_email(), &Secret::new(PASSWORD)).await,
        Err(AuthError::InvalidCredentials)
    );
}

#[tokio::test]
async fn sign_in_before_confirmation_is_user_not_confirmed() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    provider
        .sign_up(sign_up_request(&email, PASSWORD))
        .await
        .unwrap();
    assert_eq!(
        provider.sign_in(&email, &Secret::new(PASSWORD)).await,
        Err(AuthError::UserNotConfirmed)
    );
    // A wrong password is still just wrong, confirmed or not.
    assert_eq!(
        provider
            .sign_in(&email, &Secret::new("Wrong-Password-99!"))
            .await,
        Err(AuthError::InvalidCredentials)
    );
}

/// A second sign-up of an unconfirmed address starts over (a new user,
/// the latest password); a confirmed one is `UsernameExists`.
#[tokio::test]
async fn duplicate_sign_up_restarts_a_pending_one_and_refuses_a_confirmed_one() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let first = provider
        .sign_up(sign_up_request(&email, "Attacker-Pass-99!"))
        .await
        .unwrap();
    let second = provider
        .sign_up(sign_up_request(&email, PASSWORD))
        .await
        .unwrap();
    assert_ne!(first.user_sub, second.user_sub);
    provider
        .confirm_sign_up(&email, &Secret::new("any-code"))
        .await
        .unwrap();
    assert!(
        provider
            .sign_in(&email, &Secret::new(PASSWORD))
            .await
            .is_ok()
    );
    assert_eq!(
        provider
            .sign_in(&email, &Secret::new("Attacker-Pass-99!"))
            .await,
        Err(AuthError::InvalidCredentials)
    );
    assert_eq!(
        provider.sign_up(sign_up_request(&email, PASSWORD)).await,
        Err(AuthError::UsernameExists)
    );
}

#[tokio::test]
async fn weak_password_is_invalid_password_without_a_rule_on_moto() {
    let Pool { provider, .. } = pool().await;
    let err = provider
        .sign_up(sign_up_request(&new_email(), "short"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::InvalidPassword {
            rule: authgate_core::policy::PasswordRule::Provider(
                "it does not meet the password policy of the provider".into()
            ),
            field: "password",
        }
    );
    assert_eq!(err.status(), 422);
}

#[tokio::test]
async fn sign_in_answers_tokens_the_user_of_the_id_token_and_a_wrapped_refresh_token() {
    let Pool { provider, created } = pool().await;
    let email = new_email();
    let sub = confirmed_user(&provider, &email).await;
    let done = authenticated(
        provider
            .sign_in(&email, &Secret::new(PASSWORD))
            .await
            .unwrap(),
    );

    assert_eq!(done.user.sub, sub);
    assert_eq!(done.user.email, email);
    assert_eq!(done.tokens.expires_in, 3600);
    let refresh = done.tokens.refresh_token.expect("refresh token");
    assert!(refresh.expose().starts_with("cg1."));
    // The wrapped username is the id token's cognito:username (the sub when
    // email is the username).
    let wrapped = refresh.expose().split('.').nth(1).unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(wrapped).unwrap(), sub.as_bytes());

    let claims = claims_of(&done.tokens.access_token);
    assert_eq!(claims.sub, sub);
    assert_eq!(claims.token_use, "access");
    assert_eq!(
        claims.client_id.as_deref(),
        Some(created.client_id.as_str())
    );
    let id = claims_of(&done.tokens.id_token);
    assert_eq!(id.email.as_deref(), Some(email.as_str()));
}

#[tokio::test]
async fn refresh_answers_new_tokens_and_the_same_refresh_token() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let sub = confirmed_user(&provider, &email).await;
    let done = authenticated(
        provider
            .sign_in(&email, &Secret::new(PASSWORD))
            .await
            .unwrap(),
    );
    let refresh = done.tokens.refresh_token.clone().unwrap();

    let again = provider.refresh(&refresh).await.expect("refresh");
    assert_ne!(again.tokens.access_token, done.tokens.access_token);
    assert_eq!(again.tokens.refresh_token, Some(refresh.clone()));
    assert_eq!(again.tokens.expires_in, 3600);
    assert_eq!(again.user.sub, sub);
    assert_eq!(again.user.email, email);
    // Same session (refresh-token family) as the sign-in.
    assert_eq!(
        claims_of(&again.tokens.access_token).origin_jti,
        claims_of(&done.tokens.access_token).origin_jti
    );

    // And it keeps working.
    provider.refresh(&refresh).await.expect("second refresh");
}

#[tokio::test]
async fn malformed_or_unknown_refresh_tokens_are_invalid_refresh_tokens() {
    let Pool { provider, .. } = pool().await;
    let unknown = format!(
        "cg1.{}.{}",
        URL_SAFE_NO_PAD.encode("someone"),
        uuid::Uuid::new_v4()
    );
    for token in [
        "garbage",
        "cg1.",
        "cg1.!!.x",
        "cg1.c29tZW9uZQ",
        unknown.as_str(),
    ] {
        assert_eq!(
            provider.refresh(&Secret::new(token)).await.map(|_| ()),
            Err(AuthError::InvalidRefreshToken),
            "{token}"
        );
    }
}

#[tokio::test]
async fn sign_out_makes_moto_refuse_the_refresh_token_and_the_access_token() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    let done = authenticated(
        provider
            .sign_in(&email, &Secret::new(PASSWORD))
            .await
            .unwrap(),
    );
    let claims = claims_of(&done.tokens.access_token);

    provider
        .sign_out(&claims, &done.tokens.access_token)
        .await
        .expect("GlobalSignOut");
    assert_eq!(provider.check_session(&claims).await, Ok(None));
    // moto, like Cognito, refuses the refresh token afterwards...
    assert_eq!(
        provider
            .refresh(done.tokens.refresh_token.as_ref().unwrap())
            .await
            .map(|_| ()),
        Err(AuthError::InvalidRefreshToken)
    );
    // ...and no longer knows the access token.
    assert_eq!(
        provider.sign_out(&claims, &done.tokens.access_token).await,
        Err(AuthError::TokenRevoked)
    );
}

#[tokio::test]
async fn new_password_then_mfa_setup_then_tokens_with_a_secret_client() {
    // With a secret: moto checks the SECRET_HASH of the TOTP answer.
    let Pool { provider, created } = pool_with(true, true).await;
    let email = new_email();
    let done = enrolled_totp_user(&provider, &created.user_pool_id, &email).await;
    assert_eq!(done.user.email, email);
    assert!(done.tokens.refresh_token.is_some());

    // The new password is now the password; MFA is now required.
    assert_eq!(
        provider
            .sign_in(&email, &Secret::new(TEMPORARY_PASSWORD))
            .await,
        Err(AuthError::InvalidCredentials)
    );
    let step = provider
        .sign_in(&email, &Secret::new(NEW_PASSWORD))
        .await
        .unwrap();
    let totp = challenge(step, ChallengeKind::TotpRequired);
    let step = provider
        .respond_to_challenge(respond(
            ChallengeKind::TotpRequired,
            &email,
            &totp.state,
            totp_code("asdfasdfasdf").await,
        ))
        .await
        .expect("TOTP");
    assert_eq!(authenticated(step).user.email, email);
}

#[tokio::test]
async fn wrong_totp_code_is_code_mismatch_and_the_right_one_then_signs_in() {
    let Pool { provider, created } = pool_with(false, true).await;
    let email = new_email();
    enrolled_totp_user(&provider, &created.user_pool_id, &email).await;

    let step = provider
        .sign_in(&email, &Secret::new(NEW_PASSWORD))
        .await
        .unwrap();
    let totp = challenge(step, ChallengeKind::TotpRequired);
    assert_eq!(totp.parameters, ChallengeParameters::None);
    let right = totp_code("asdfasdfasdf").await;
    let wrong = Secret::new(if right.expose() == "000000" {
        "111111"
    } else {
        "000000"
    });
    assert_eq!(
        provider
            .respond_to_challenge(respond(
                ChallengeKind::TotpRequired,
                &email,
                &totp.state,
                wrong
            ))
            .await,
        Err(AuthError::CodeMismatch)
    );
    let step = provider
        .respond_to_challenge(respond(
            ChallengeKind::TotpRequired,
            &email,
            &totp.state,
            totp_code("asdfasdfasdf").await,
        ))
        .await
        .expect("right code after a wrong one");
    authenticated(step);
}

#[tokio::test]
async fn wrong_code_at_mfa_setup_is_code_mismatch() {
    let Pool { provider, created } = pool_with(false, true).await;
    let email = new_email();
    admin_create_user(&created.user_pool_id, &email).await;
    let step = provider
        .sign_in(&email, &Secret::new(TEMPORARY_PASSWORD))
        .await
        .unwrap();
    let new_password = challenge(step, ChallengeKind::NewPasswordRequired);
    let step = provider
        .respond_to_challenge(respond(
            ChallengeKind::NewPasswordRequired,
            &email,
            &new_password.state,
            Secret::new(NEW_PASSWORD),
        ))
        .await
        .unwrap();
    let setup = challenge(step, ChallengeKind::MfaSetupRequired);
    let right = totp_code("asdfasdfasdf").await;
    let wrong = Secret::new(if right.expose() == "000000" {
        "111111"
    } else {
        "000000"
    });
    assert_eq!(
        provider
            .respond_to_challenge(respond(
                ChallengeKind::MfaSetupRequired,
                &email,
                &setup.state,
                wrong
            ))
            .await,
        Err(AuthError::CodeMismatch)
    );
}

#[tokio::test]
async fn weak_new_password_in_the_challenge_is_invalid_password() {
    let Pool { provider, created } = pool_with(false, true).await;
    let email = new_email();
    admin_create_user(&created.user_pool_id, &email).await;
    let step = provider
        .sign_in(&email, &Secret::new(TEMPORARY_PASSWORD))
        .await
        .unwrap();
    let new_password = challenge(step, ChallengeKind::NewPasswordRequired);
    assert!(matches!(
        provider
            .respond_to_challenge(respond(
                ChallengeKind::NewPasswordRequired,
                &email,
                &new_password.state,
                Secret::new("weak"),
            ))
            .await,
        Err(AuthError::InvalidPassword { .. })
    ));
}

#[tokio::test]
async fn moto_gives_an_unenrolled_user_of_an_mfa_pool_tokens_without_mfa_setup() {
    // Real Cognito answers MFA_SETUP here; moto only after NEW_PASSWORD_REQUIRED.
    let Pool { provider, .. } = pool_with(false, true).await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    authenticated(
        provider
            .sign_in(&email, &Secret::new(PASSWORD))
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn disabled_user_is_invalid_credentials_but_moto_still_refreshes_their_token() {
    let Pool { provider, created } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    let done = authenticated(
        provider
            .sign_in(&email, &Secret::new(PASSWORD))
            .await
            .unwrap(),
    );
    admin_client()
        .await
        .admin_disable_user()
        .user_pool_id(&created.user_pool_id)
        .username(&email)
        .send()
        .await
        .expect("AdminDisableUser");
    assert_eq!(
        provider.sign_in(&email, &Secret::new(PASSWORD)).await,
        Err(AuthError::InvalidCredentials)
    );
    // Real Cognito refuses the refresh token of a disabled user.
    provider
        .refresh(done.tokens.refresh_token.as_ref().unwrap())
        .await
        .expect("moto refreshes for a disabled user");
}

#[tokio::test]
async fn unknown_or_empty_challenge_session_is_invalid_session() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    for kind in [
        ChallengeKind::NewPasswordRequired,
        ChallengeKind::TotpRequired,
        ChallengeKind::MfaSetupRequired,
    ] {
        for session in [uuid::Uuid::new_v4().to_string(), String::new()] {
            assert_eq!(
                provider
                    .respond_to_challenge(respond(
                        kind,
                        &email,
                        &Secret::new(session.clone()),
                        Secret::new("123456"),
                    ))
                    .await,
                Err(AuthError::InvalidSession),
                "{kind:?} {session:?}"
            );
        }
    }
}

#[tokio::test]
async fn secret_client_signs_in_but_moto_checks_the_refresh_hash_against_the_sign_in_email() {
    let Pool { provider, created } = pool_with(true, false).await;
    let email = new_email();
    let sub = confirmed_user(&provider, &email).await;
    let done = authenticated(
        provider
            .sign_in(&email, &Secret::new(PASSWORD))
            .await
            .unwrap(),
    );
    assert_eq!(done.user.sub, sub);
    let refresh = done.tokens.refresh_token.expect("refresh token");
    let inner = refresh.expose().splitn(3, '.').nth(2).unwrap().to_string();

    // authgate hashes the cognito:username (what Cognito checks); moto checks
    // the name given as USERNAME at sign-in, the email, so it refuses ours.
    assert_eq!(
        provider.refresh(&refresh).await.map(|_| ()),
        Err(AuthError::InvalidRefreshToken)
    );
    // With the email in the wrapper, moto accepts the SECRET_HASH: the hash
    // is computed and sent right...
    let with_email = Secret::new(format!("cg1.{}.{inner}", URL_SAFE_NO_PAD.encode(&email)));
    let again = provider
        .refresh(&with_email)
        .await
        .expect("refresh with a secret");
    assert_eq!(again.user.sub, sub);
    assert_eq!(again.tokens.refresh_token, Some(with_email.clone()));
    // ...and without a secret there is no hash: refused too.
    let mut no_secret = created.clone();
    no_secret.client_secret = None;
    let no_secret = provider_for(&no_secret, Some(moto_url())).await;
    assert_eq!(
        no_secret.refresh(&with_email).await.map(|_| ()),
        Err(AuthError::InvalidRefreshToken)
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_provider_unavailable() {
    let provider = CognitoProvider::with_credentials(
        CognitoConfig {
            region: REGION.into(),
            user_pool_id: "us-east-1_nothere".into(),
            client_id: "nothere".into(),
            client_secret: None,
            endpoint_url: Some("http://127.0.0.1:9".into()),
        },
        credentials(),
    )
    .await
    .unwrap();
    assert_eq!(
        provider
            .sign_in("a@example.com", &Secret::new(PASSWORD))
            .await,
        Err(AuthError::ProviderUnavailable)
    );
    assert_eq!(
        provider
            .sign_up(sign_up_request("a@example.com", PASSWORD))
            .await,
        Err(AuthError::ProviderUnavailable)
    );
    assert_eq!(provider.jwks().await, Err(AuthError::ProviderUnavailable));
}

#[tokio::test]
async fn unknown_app_client_is_provider_unavailable() {
    let Pool { created, .. } = pool().await;
    let mut wrong = created.clone();
    wrong.client_id = "no-such-client".into();
    let provider = provider_for(&wrong, Some(moto_url())).await;
    assert_eq!(
        provider.sign_in(&new_email(), &Secret::new(PASSWORD)).await,
        Err(AuthError::ProviderUnavailable)
    );
}

#[tokio::test]
async fn resend_is_not_implemented_by_moto_and_answers_501_not_500() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    provider
        .sign_up(sign_up_request(&email, PASSWORD))
        .await
        .unwrap();
    for who in [email.as_str(), "nobody@example.com"] {
        let err = provider.resend_confirmation(who).await.unwrap_err();
        assert_eq!(
            err,
            AuthError::NotImplemented("resending confirmation codes with this provider".into())
        );
        assert_eq!(err.status(), 501);
    }
}

/// Sign a confirmed user in and answer their tokens.
async fn signed_in(provider: &CognitoProvider, email: &str, password: &str) -> Authenticated {
    authenticated(
        provider
            .sign_in(email, &Secret::new(password))
            .await
            .expect("sign-in"),
    )
}

/// The password-reset code moto generated for `email` in `pool_id`, read
/// from `GET /moto-api/data.json` (`cognitoidp.CognitoIdpUser[]`, each with
/// `user_pool_id`, `attribute_lookup.email` and `confirmation_code`).
async fn moto_reset_code(pool_id: &str, email: &str) -> Secret {
    let data = moto_data().await;
    let users = data["cognitoidp"]["CognitoIdpUser"]
        .as_array()
        .expect("cognitoidp.CognitoIdpUser");
    let user = users
        .iter()
        .find(|user| user["user_pool_id"] == pool_id && user["attribute_lookup"]["email"] == email)
        .expect("the user in moto's data");
    let code = user["confirmation_code"]
        .as_str()
        .expect("a confirmation code");
    assert!(code.starts_with("moto-confirmation-code:"), "{code}");
    Secret::new(code)
}

/// `GET /moto-api/data.json`. moto serialises its live state and now and
/// then answers HTTP 500 while the tests running in parallel change it:
/// try again a few times.
async fn moto_data() -> serde_json::Value {
    let url = format!("{}/moto-api/data.json", moto_url());
    let mut last = String::new();
    for _ in 0..10 {
        match reqwest::get(&url).await {
            Ok(response) if response.status().is_success() => {
                match response.json::<serde_json::Value>().await {
                    Ok(data) => return data,
                    Err(err) => last = err.to_string(),
                }
            }
            Ok(response) => last = response.status().to_string(),
            Err(err) => last = err.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto data.json: {last}")
}

/// A code that is not `right` (moto checks only codes with its prefix).
fn wrong_prefixed_code(right: &Secret) -> Secret {
    let wrong = if right.expose().ends_with("100000") {
        "moto-confirmation-code:100001"
    } else {
        "moto-confirmation-code:100000"
    };
    Secret::new(wrong)
}

fn wrong_totp(right: &Secret) -> Secret {
    Secret::new(if right.expose() == "000000" {
        "111111"
    } else {
        "000000"
    })
}

#[tokio::test]
async fn totp_enrolment_of_a_signed_in_user_wrong_code_is_code_mismatch_then_sign_in_asks_for_totp()
{
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    let done = signed_in(&provider, &email, PASSWORD).await;
    let token = &done.tokens.access_token;
    let claims = claims_of(token);

    let enrolment = provider
        .begin_totp_enrolment(&claims, token)
        .await
        .expect("begin TOTP enrolment");
    // moto hands every user the same secret.
    assert_eq!(enrolment.secret.expose(), "asdfasdfasdf");
    assert_eq!(
        enrolment.otpauth_uri.expose(),
        format!(
            "otpauth://totp/authgate:{}?secret=asdfasdfasdf&issuer=authgate",
            email.replace('@', "%40")
        )
    );
    // Not active yet: sign-in still answers tokens.
    signed_in(&provider, &email, PASSWORD).await;

    let right = totp_code(enrolment.secret.expose()).await;
    assert_eq!(
        provider
            .finish_totp_enrolment(&claims, token, &wrong_totp(&right))
            .await,
        Err(AuthError::CodeMismatch)
    );
    provider
        .finish_totp_enrolment(&claims, token, &totp_code(enrolment.secret.expose()).await)
        .await
        .expect("finish TOTP enrolment");

    let step = provider
        .sign_in(&email, &Secret::new(PASSWORD))
        .await
        .unwrap();
    let totp = challenge(step, ChallengeKind::TotpRequired);
    let step = provider
        .respond_to_challenge(respond(
            ChallengeKind::TotpRequired,
            &email,
            &totp.state,
            totp_code(enrolment.secret.expose()).await,
        ))
        .await
        .expect("TOTP sign-in");
    assert_eq!(authenticated(step).user.email, email);
}

#[tokio::test]
async fn forgot_password_is_ok_for_an_unknown_and_a_known_user() {
    let Pool { provider, created } = pool_with(true, false).await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    assert_eq!(provider.forgot_password(&new_email()).await, Ok(()));
    assert_eq!(provider.forgot_password(&email).await, Ok(()));
    // moto made a code for the known user only.
    moto_reset_code(&created.user_pool_id, &email).await;
}

#[tokio::test]
async fn confirm_forgot_password_with_the_code_sets_the_new_password() {
    let Pool { provider, created } = pool_with(true, false).await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    provider.forgot_password(&email).await.unwrap();
    let code = moto_reset_code(&created.user_pool_id, &email).await;

    provider
        .confirm_forgot_password(&email, &code, &Secret::new(NEW_PASSWORD))
        .await
        .expect("confirm forgot password");
    signed_in(&provider, &email, NEW_PASSWORD).await;
    assert_eq!(
        provider.sign_in(&email, &Secret::new(PASSWORD)).await,
        Err(AuthError::InvalidCredentials)
    );
}

#[tokio::test]
async fn moto_answers_a_wrong_reset_code_with_expired_code_so_code_expired_not_code_mismatch() {
    // Real Cognito: CodeMismatchException → CodeMismatch (unit-tested mapping).
    let Pool { provider, created } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    provider.forgot_password(&email).await.unwrap();
    let code = moto_reset_code(&created.user_pool_id, &email).await;

    assert_eq!(
        provider
            .confirm_forgot_password(
                &email,
                &wrong_prefixed_code(&code),
                &Secret::new(NEW_PASSWORD)
            )
            .await,
        Err(AuthError::CodeExpired)
    );
    // Nothing changed, and the right code still works.
    signed_in(&provider, &email, PASSWORD).await;
    provider
        .confirm_forgot_password(&email, &code, &Secret::new(NEW_PASSWORD))
        .await
        .expect("the right code after a wrong one");
    // A used code is gone.
    assert_eq!(
        provider
            .confirm_forgot_password(&email, &code, &Secret::new(PASSWORD))
            .await,
        Err(AuthError::CodeExpired)
    );
    signed_in(&provider, &email, NEW_PASSWORD).await;
}

#[tokio::test]
async fn moto_accepts_a_reset_code_without_its_prefix_and_a_weak_new_password() {
    // Real Cognito checks every code and the password policy
    // (InvalidPasswordException → InvalidPassword, unit-tested mapping).
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    provider.forgot_password(&email).await.unwrap();
    provider
        .confirm_forgot_password(&email, &Secret::new("123456"), &Secret::new("weak"))
        .await
        .expect("moto accepts it");
    signed_in(&provider, &email, "weak").await;
}

#[tokio::test]
async fn confirm_forgot_password_of_an_unknown_user_is_code_mismatch_though_moto_answers_resource_not_found()
 {
    let Pool { provider, .. } = pool().await;
    // Unknown in this pool, and unknown everywhere.
    let other = pool().await;
    let elsewhere = new_email();
    confirmed_user(&other.provider, &elsewhere).await;
    for email in [new_email(), elsewhere] {
        assert_eq!(
            provider
                .confirm_forgot_password(
                    &email,
                    &Secret::new("moto-confirmation-code:123456"),
                    &Secret::new(NEW_PASSWORD)
                )
                .await,
            Err(AuthError::CodeMismatch),
            "{email}"
        );
    }
}

#[tokio::test]
async fn change_password_wrong_current_is_invalid_credentials_right_sets_the_new_one() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    let done = signed_in(&provider, &email, PASSWORD).await;
    let token = &done.tokens.access_token;
    let claims = claims_of(token);

    assert_eq!(
        provider
            .change_password(
                &claims,
                token,
                &Secret::new("Wrong-Password-99!"),
                &Secret::new(NEW_PASSWORD)
            )
            .await,
        Err(AuthError::InvalidCredentials)
    );
    assert_eq!(
        provider
            .change_password(&claims, token, &Secret::new(""), &Secret::new(NEW_PASSWORD))
            .await,
        Err(AuthError::InvalidCredentials)
    );
    assert!(matches!(
        provider
            .change_password(&claims, token, &Secret::new(PASSWORD), &Secret::new("weak"))
            .await,
        Err(AuthError::InvalidPassword { .. })
    ));
    provider
        .change_password(
            &claims,
            token,
            &Secret::new(PASSWORD),
            &Secret::new(NEW_PASSWORD),
        )
        .await
        .expect("change password");
    signed_in(&provider, &email, NEW_PASSWORD).await;
    assert_eq!(
        provider.sign_in(&email, &Secret::new(PASSWORD)).await,
        Err(AuthError::InvalidCredentials)
    );
}

#[tokio::test]
async fn change_password_leaves_the_other_sessions_signed_in_a_cognito_limit() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    let other = signed_in(&provider, &email, PASSWORD).await;
    let this = signed_in(&provider, &email, PASSWORD).await;
    let token = &this.tokens.access_token;
    provider
        .change_password(
            &claims_of(token),
            token,
            &Secret::new(PASSWORD),
            &Secret::new(NEW_PASSWORD),
        )
        .await
        .unwrap();
    // The other session still refreshes, and this one still works.
    provider
        .refresh(other.tokens.refresh_token.as_ref().unwrap())
        .await
        .expect("the other session is still live");
    provider
        .verify_password(&claims_of(token), token, &Secret::new(NEW_PASSWORD))
        .await
        .expect("this session is still live");
}

#[tokio::test]
async fn verify_password_right_is_ok_wrong_is_invalid_credentials_and_changes_nothing() {
    let Pool { provider, .. } = pool_with(true, false).await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    let done = signed_in(&provider, &email, PASSWORD).await;
    let token = &done.tokens.access_token;
    let claims = claims_of(token);

    assert_eq!(
        provider
            .verify_password(&claims, token, &Secret::new(PASSWORD))
            .await,
        Ok(())
    );
    assert_eq!(
        provider
            .verify_password(&claims, token, &Secret::new("Wrong-Password-99!"))
            .await,
        Err(AuthError::InvalidCredentials)
    );
    assert_eq!(
        provider
            .verify_password(&claims, token, &Secret::new(""))
            .await,
        Err(AuthError::InvalidCredentials)
    );
    // The session and the password are untouched.
    provider
        .sign_out(&claims, token)
        .await
        .expect("the access token still works");
    signed_in(&provider, &email, PASSWORD).await;
}

#[tokio::test]
async fn verify_password_of_a_totp_user_is_ok_though_sign_in_answers_a_challenge() {
    let Pool { provider, created } = pool_with(true, true).await;
    let email = new_email();
    let done = enrolled_totp_user(&provider, &created.user_pool_id, &email).await;
    let token = &done.tokens.access_token;
    let claims = claims_of(token);
    // Sign-in answers a challenge...
    challenge(
        provider
            .sign_in(&email, &Secret::new(NEW_PASSWORD))
            .await
            .unwrap(),
        ChallengeKind::TotpRequired,
    );
    // ...which proves the password just as well.
    assert_eq!(
        provider
            .verify_password(&claims, token, &Secret::new(NEW_PASSWORD))
            .await,
        Ok(())
    );
    assert_eq!(
        provider
            .verify_password(&claims, token, &Secret::new(TEMPORARY_PASSWORD))
            .await,
        Err(AuthError::InvalidCredentials)
    );
}

#[tokio::test]
async fn signed_out_token_is_token_revoked_but_moto_answers_change_password_like_a_wrong_password()
{
    // Real Cognito: NotAuthorizedException "Access Token has been revoked"
    // → TokenRevoked at ChangePassword too (unit-tested mapping); moto puts
    // the token itself in the message.
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    let done = signed_in(&provider, &email, PASSWORD).await;
    let token = &done.tokens.access_token;
    let claims = claims_of(token);
    provider.sign_out(&claims, token).await.unwrap();

    assert_eq!(
        provider.begin_totp_enrolment(&claims, token).await,
        Err(AuthError::TokenRevoked)
    );
    assert_eq!(
        provider
            .finish_totp_enrolment(&claims, token, &Secret::new("123456"))
            .await,
        Err(AuthError::TokenRevoked)
    );
    assert_eq!(
        provider
            .verify_password(&claims, token, &Secret::new(PASSWORD))
            .await,
        Err(AuthError::TokenRevoked)
    );
    assert_eq!(
        provider
            .change_password(
                &claims,
                token,
                &Secret::new(PASSWORD),
                &Secret::new(NEW_PASSWORD)
            )
            .await,
        Err(AuthError::InvalidCredentials)
    );
    // The password did not change.
    signed_in(&provider, &email, PASSWORD).await;
}

// ---------------------------------------------------------------------------
// Administration: AdminCreateUser, AdminGetUser, ListUsers, AdminDeleteUser,
// AdminDisableUser / AdminEnableUser, AdminUserGlobalSignOut,
// AdminResetUserPassword.
// ---------------------------------------------------------------------------

fn new_account(email: &str, phone: Option<&str>) -> NewAccount {
    NewAccount {
        email: email.to_string(),
        name: Some("Made By Admin".to_string()),
        phone: phone.map(str::to_owned),
        temporary_password: Secret::new(TEMPORARY_PASSWORD),
    }
}

fn now_millis() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The first sign-in of an admin-created user: temporary password →
/// NEW_PASSWORD_REQUIRED → `NEW_PASSWORD` → tokens.
async fn first_sign_in(provider: &CognitoProvider, email: &str) -> Authenticated {
    let step = provider
        .sign_in(email, &Secret::new(TEMPORARY_PASSWORD))
        .await
        .expect("sign-in with the temporary password");
    let new_password = challenge(step, ChallengeKind::NewPasswordRequired);
    authenticated(
        provider
            .respond_to_challenge(respond(
                ChallengeKind::NewPasswordRequired,
                email,
                &new_password.state,
                Secret::new(NEW_PASSWORD),
            ))
            .await
            .expect("new password"),
    )
}

/// An admin-created user who has set their own password (`CONFIRMED`,
/// email verified), with the session of that first sign-in.
async fn active_admin_created(
    provider: &CognitoProvider,
    email: &str,
) -> (ProviderAccount, Authenticated) {
    let account = provider
        .admin_create_user(new_account(email, None))
        .await
        .expect("admin_create_user");
    let session = first_sign_in(provider, email).await;
    (account, session)
}

fn list_filter(prefix: Option<&str>, status: Option<AccountStatus>, limit: usize) -> AccountFilter {
    AccountFilter {
        email_prefix: prefix.map(str::to_owned),
        status,
        limit,
    }
}

fn emails(accounts: &[ProviderAccount]) -> Vec<&str> {
    accounts.iter().map(|a| a.email.as_str()).collect()
}

#[tokio::test]
async fn admin_create_user_then_the_temporary_password_answers_new_password_required_then_tokens() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let before = now_millis();
    let account = provider
        .admin_create_user(new_account(&email, Some("+15551230001")))
        .await
        .expect("admin_create_user");
    assert!(!account.sub.is_empty());
    assert_ne!(account.sub, email);
    assert_eq!(account.email, email);
    assert_eq!(account.name.as_deref(), Some("Made By Admin"));
    assert_eq!(account.phone.as_deref(), Some("+15551230001"));
    assert_eq!(account.status, AccountStatus::TemporaryPassword);
    assert!(account.enabled);
    assert!(!account.mfa_enabled);
    assert!(
        (before - 5_000..=now_millis() + 5_000).contains(&account.created_at),
        "{account:?}"
    );
    assert_eq!(
        provider.admin_get_user(&account.sub).await,
        Ok(account.clone())
    );

    // The temporary password is not a password to sign in with for good.
    let done = first_sign_in(&provider, &email).await;
    assert_eq!(done.user.sub, account.sub);
    assert_eq!(done.user.email, email);
    assert_eq!(
        provider.admin_get_user(&account.sub).await.unwrap().status,
        AccountStatus::Active
    );
    signed_in(&provider, &email, NEW_PASSWORD).await;
    assert_eq!(
        provider
            .sign_in(&email, &Secret::new(TEMPORARY_PASSWORD))
            .await,
        Err(AuthError::InvalidCredentials)
    );
}

#[tokio::test]
async fn admin_create_user_with_an_existing_email_is_username_exists() {
    let Pool { provider, .. } = pool().await;
    let created = new_email();
    provider
        .admin_create_user(new_account(&created, None))
        .await
        .unwrap();
    let signed_up = new_email();
    confirmed_user(&provider, &signed_up).await;
    for email in [&created, &signed_up] {
        assert_eq!(
            provider.admin_create_user(new_account(email, None)).await,
            Err(AuthError::UsernameExists),
            "{email}"
        );
    }
}

#[tokio::test]
async fn moto_accepts_a_weak_temporary_password_at_admin_create_user() {
    // Real Cognito answers InvalidPasswordException → InvalidPassword.
    let Pool { provider, .. } = pool().await;
    let account = provider
        .admin_create_user(NewAccount {
            temporary_password: Secret::new("weak"),
            ..new_account(&new_email(), None)
        })
        .await
        .expect("moto checks no policy here");
    assert_eq!(account.status, AccountStatus::TemporaryPassword);
}

#[tokio::test]
async fn admin_get_user_by_sub_and_unknown_or_email_or_empty_subs_are_not_found() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let sub = confirmed_user(&provider, &email).await;
    let account = provider.admin_get_user(&sub).await.expect("by sub");
    assert_eq!(account.sub, sub);
    assert_eq!(account.email, email);
    assert_eq!(account.name.as_deref(), Some("Test User"));
    assert_eq!(account.phone, None);
    assert_eq!(account.status, AccountStatus::Active);
    assert!(account.enabled);
    assert!(!account.mfa_enabled);

    let not_found = Err(AuthError::NotFound("user".into()));
    let unknown = uuid::Uuid::new_v4().to_string();
    // Cognito takes an alias (the email) as Username too: not a sub.
    for sub in [unknown.as_str(), email.as_str(), "", "two words"] {
        assert_eq!(provider.admin_get_user(sub).await, not_found, "{sub:?}");
        assert_eq!(
            provider.admin_delete_user(sub).await,
            Err(AuthError::NotFound("user".into()))
        );
        assert_eq!(
            provider.admin_set_enabled(sub, false).await,
            Err(AuthError::NotFound("user".into()))
        );
        assert_eq!(
            provider.admin_reset_password(sub).await,
            Err(AuthError::NotFound("user".into()))
        );
    }
    // Nothing happened to the user behind the email.
    assert_eq!(provider.admin_get_user(&sub).await, Ok(account));
}

#[tokio::test]
async fn admin_find_by_email_finds_the_account_or_none() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let sub = confirmed_user(&provider, &email).await;
    let other = new_email();
    confirmed_user(&provider, &other).await;

    let found = provider
        .admin_find_by_email(&email)
        .await
        .unwrap()
        .expect("present");
    assert_eq!(found, provider.admin_get_user(&sub).await.unwrap());
    assert_eq!(provider.admin_find_by_email(&new_email()).await, Ok(None));
    // A quote in the value is escaped, not an error; a prefix is no match.
    assert_eq!(
        provider.admin_find_by_email(r#"x"@example.com"#).await,
        Ok(None)
    );
    assert_eq!(provider.admin_find_by_email(&email[..8]).await, Ok(None));
}

#[tokio::test]
async fn admin_find_by_phone_answers_every_account_with_the_number_oldest_first() {
    let Pool { provider, .. } = pool().await;
    let phone = "+15551230002";
    let first = provider
        .admin_create_user(new_account(&new_email(), Some(phone)))
        .await
        .unwrap();
    let second = provider
        .admin_create_user(new_account(&new_email(), Some(phone)))
        .await
        .unwrap();
    provider
        .admin_create_user(new_account(&new_email(), Some("+15551230003")))
        .await
        .unwrap();

    let found = provider.admin_find_by_phone(phone).await.unwrap();
    let subs: Vec<&str> = found.iter().map(|a| a.sub.as_str()).collect();
    assert_eq!(subs, [first.sub.as_str(), second.sub.as_str()]);
    assert!(found.iter().all(|a| a.phone.as_deref() == Some(phone)));
    assert_eq!(
        provider.admin_find_by_phone("+15559999999").await,
        Ok(vec![])
    );
}

#[tokio::test]
async fn admin_list_users_by_prefix_by_status_and_with_a_limit_oldest_first() {
    let Pool { provider, .. } = pool().await;
    let prefix = unique("list");
    // Letters in creation order, so that the email breaks a tie of the
    // creation time in the same order.
    let email = |tag: &str| format!("{prefix}-{tag}@example.com");
    for tag in ["a", "b", "c"] {
        provider
            .admin_create_user(new_account(&email(tag), None))
            .await
            .unwrap();
    }
    confirmed_user(&provider, &email("d")).await;
    confirmed_user(&provider, &email("e")).await;
    provider
        .sign_up(sign_up_request(&email("f"), PASSWORD))
        .await
        .unwrap();
    // Outside the prefix.
    let outsider = new_email();
    confirmed_user(&provider, &outsider).await;

    let all = provider
        .admin_list_users(&list_filter(Some(&prefix), None, 50))
        .await
        .unwrap();
    let expected: Vec<String> = ["a", "b", "c", "d", "e", "f"].map(email).into();
    assert_eq!(emails(&all), expected);
    assert!(all.windows(2).all(|w| w[0].created_at <= w[1].created_at));
    let statuses: Vec<AccountStatus> = all.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        [
            AccountStatus::TemporaryPassword,
            AccountStatus::TemporaryPassword,
            AccountStatus::TemporaryPassword,
            AccountStatus::Active,
            AccountStatus::Active,
            AccountStatus::PendingConfirmation,
        ]
    );

    // Prefix and status: Cognito filters the prefix, the status is checked here.
    let temporary = provider
        .admin_list_users(&list_filter(
            Some(&prefix),
            Some(AccountStatus::TemporaryPassword),
            50,
        ))
        .await
        .unwrap();
    assert_eq!(emails(&temporary), [email("a"), email("b"), email("c")]);

    // Status only: Cognito filters `cognito:user_status`.
    let active = provider
        .admin_list_users(&list_filter(None, Some(AccountStatus::Active), 50))
        .await
        .unwrap();
    assert_eq!(emails(&active), [email("d"), email("e"), outsider.clone()]);
    let pending = provider
        .admin_list_users(&list_filter(
            None,
            Some(AccountStatus::PendingConfirmation),
            50,
        ))
        .await
        .unwrap();
    assert_eq!(emails(&pending), [email("f")]);

    // A limit answers the oldest of the users read.
    let two = provider
        .admin_list_users(&list_filter(Some(&prefix), None, 2))
        .await
        .unwrap();
    assert_eq!(emails(&two), [email("a"), email("b")]);
    let one = provider
        .admin_list_users(&list_filter(Some(&prefix), Some(AccountStatus::Active), 1))
        .await
        .unwrap();
    assert_eq!(emails(&one), [email("d")]);
    // No filter at all: everyone; a limit of 0 is raised to 1.
    let everyone = provider
        .admin_list_users(&list_filter(None, None, 50))
        .await
        .unwrap();
    assert_eq!(everyone.len(), 7);
    assert_eq!(
        provider
            .admin_list_users(&list_filter(None, None, 0))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        provider
            .admin_list_users(&list_filter(Some("nobody-"), None, 50))
            .await,
        Ok(vec![])
    );
}

#[tokio::test]
async fn admin_get_and_find_tell_mfa_enabled_after_totp_enrolment_but_a_listing_does_not() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let sub = confirmed_user(&provider, &email).await;
    let done = signed_in(&provider, &email, PASSWORD).await;
    let token = &done.tokens.access_token;
    let claims = claims_of(token);
    let enrolment = provider.begin_totp_enrolment(&claims, token).await.unwrap();
    provider
        .finish_totp_enrolment(&claims, token, &totp_code(enrolment.secret.expose()).await)
        .await
        .expect("finish TOTP enrolment");

    assert!(provider.admin_get_user(&sub).await.unwrap().mfa_enabled);
    assert!(
        provider
            .admin_find_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .mfa_enabled
    );
    // ListUsers answers no MFA settings (Cognito's UserType has none).
    let listed = provider
        .admin_list_users(&list_filter(Some(&email), None, 10))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].mfa_enabled);
}

#[tokio::test]
async fn disable_refuses_sign_in_like_a_wrong_password_and_enable_restores_it_but_moto_signs_out_only_sessions_begun_with_the_cognito_username()
 {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let sub = confirmed_user(&provider, &email).await;
    let by_email = signed_in(&provider, &email, PASSWORD).await;
    // A session begun with the Cognito username (the sub) as USERNAME.
    let by_username = signed_in(&provider, &sub, PASSWORD).await;

    provider
        .admin_set_enabled(&sub, false)
        .await
        .expect("disable");
    let account = provider.admin_get_user(&sub).await.unwrap();
    assert!(!account.enabled);
    assert_eq!(account.status, AccountStatus::Active);
    assert_eq!(
        provider.sign_in(&email, &Secret::new(PASSWORD)).await,
        Err(AuthError::InvalidCredentials)
    );
    assert_eq!(
        provider
            .sign_in(&email, &Secret::new("Wrong-Password-99!"))
            .await,
        Err(AuthError::InvalidCredentials)
    );
    // AdminUserGlobalSignOut ended the session moto files under the username…
    assert_eq!(
        provider
            .refresh(by_username.tokens.refresh_token.as_ref().unwrap())
            .await,
        Err(AuthError::InvalidRefreshToken)
    );
    // …but moto files a sign-in with the email under the email, which the
    // sign-out by username misses (and moto refreshes disabled users).
    // Cognito ends every session of the user.
    provider
        .refresh(by_email.tokens.refresh_token.as_ref().unwrap())
        .await
        .expect("moto keeps the session begun with the email");

    provider
        .admin_set_enabled(&sub, true)
        .await
        .expect("enable");
    assert!(provider.admin_get_user(&sub).await.unwrap().enabled);
    signed_in(&provider, &email, PASSWORD).await;
    // Enabling twice, disabling twice: no error.
    provider.admin_set_enabled(&sub, true).await.unwrap();
    provider.admin_set_enabled(&sub, false).await.unwrap();
    provider.admin_set_enabled(&sub, false).await.unwrap();
}

#[tokio::test]
async fn delete_then_get_is_not_found_and_sign_in_is_invalid_credentials() {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let sub = confirmed_user(&provider, &email).await;
    let keep = new_email();
    let kept = confirmed_user(&provider, &keep).await;

    provider.admin_delete_user(&sub).await.expect("delete");
    let not_found = Err(AuthError::NotFound("user".into()));
    assert_eq!(provider.admin_get_user(&sub).await, not_found);
    assert_eq!(provider.admin_find_by_email(&email).await, Ok(None));
    assert_eq!(
        provider.sign_in(&email, &Secret::new(PASSWORD)).await,
        Err(AuthError::InvalidCredentials)
    );
    assert_eq!(
        provider.admin_delete_user(&sub).await,
        Err(AuthError::NotFound("user".into()))
    );
    // The others stay.
    assert_eq!(provider.admin_get_user(&kept).await.unwrap().email, keep);
    // The email is free again.
    provider
        .admin_create_user(new_account(&email, None))
        .await
        .expect("the email can be used again");
}

#[tokio::test]
async fn admin_reset_password_sets_password_reset_required_but_moto_still_signs_in_with_the_old_password()
 {
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let (account, _) = active_admin_created(&provider, &email).await;
    let by_username = signed_in(&provider, &account.sub, NEW_PASSWORD).await;

    provider
        .admin_reset_password(&account.sub)
        .await
        .expect("reset");
    assert_eq!(
        provider.admin_get_user(&account.sub).await.unwrap().status,
        AccountStatus::PasswordResetRequired
    );
    let listed = provider
        .admin_list_users(&list_filter(
            None,
            Some(AccountStatus::PasswordResetRequired),
            10,
        ))
        .await
        .unwrap();
    assert_eq!(emails(&listed), [email.as_str()]);
    // The sessions were signed out (seen on moto for the one it files
    // under the username).
    assert_eq!(
        provider
            .refresh(by_username.tokens.refresh_token.as_ref().unwrap())
            .await,
        Err(AuthError::InvalidRefreshToken)
    );
    // Cognito answers PasswordResetRequiredException →
    // AuthError::PasswordResetRequired; moto checks no status at
    // USER_PASSWORD_AUTH and answers tokens.
    signed_in(&provider, &email, NEW_PASSWORD).await;
    // Resetting again is fine.
    provider.admin_reset_password(&account.sub).await.unwrap();
}

#[tokio::test]
async fn moto_refuses_to_reset_a_temporary_password_so_it_is_forbidden() {
    // Cognito documents AdminResetUserPassword as working on any user.
    let Pool { provider, .. } = pool().await;
    let account = provider
        .admin_create_user(new_account(&new_email(), None))
        .await
        .unwrap();
    assert_eq!(
        provider.admin_reset_password(&account.sub).await,
        Err(AuthError::Forbidden(
            "the password of this account cannot be reset in its current state".into()
        ))
    );
    assert_eq!(
        provider.admin_get_user(&account.sub).await.unwrap().status,
        AccountStatus::TemporaryPassword
    );
}

#[tokio::test]
async fn moto_cannot_reset_a_signed_up_user_whose_email_it_never_marked_verified() {
    // moto's ConfirmSignUp sets no email_verified (Cognito does), and its
    // AdminResetUserPassword wants a verified email or phone number.
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    let sub = confirmed_user(&provider, &email).await;
    let err = provider.admin_reset_password(&sub).await.unwrap_err();
    assert_eq!(
        err,
        AuthError::Forbidden(
            "the account has no verified email or phone number to send a reset code to".into()
        )
    );
    assert_eq!(err.status(), 403);
}

#[tokio::test]
async fn admin_calls_of_a_missing_pool_are_provider_unavailable() {
    let Pool { created, .. } = pool().await;
    let provider = provider_for(
        &BootstrapResult {
            user_pool_id: "us-east-1_doesnotexist".into(),
            ..created
        },
        Some(moto_url()),
    )
    .await;
    let sub = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        provider.admin_get_user(&sub).await,
        Err(AuthError::ProviderUnavailable)
    );
    assert_eq!(
        provider.admin_find_by_email(&new_email()).await,
        Err(AuthError::ProviderUnavailable)
    );
    assert_eq!(
        provider
            .admin_create_user(new_account(&new_email(), None))
            .await,
        Err(AuthError::ProviderUnavailable)
    );
}

// Lost-authenticator recovery (`begin/finish_totp_replacement`). On moto
// every secret is `asdfasdfasdf`, so the new authenticator is the old one:
// that the old one stops working cannot be shown here. moto does not
// implement `AdminDeleteSoftwareToken`: the adapter falls back to disabling
// the token by preference, after which moto still asks an MFA=ON user for
// it, and takes that challenge's session for the new secret (session path).

async fn begin_replacement(
    provider: &CognitoProvider,
    email: &str,
    password: &str,
) -> Result<authgate_core::TotpReplacement, AuthError> {
    provider
        .begin_totp_replacement(email, &Secret::new(password))
        .await
}

/// Sign in and answer the TOTP challenge with a code of moto's secret.
async fn signed_in_with_totp(provider: &CognitoProvider, email: &str, password: &str) {
    let step = provider
        .sign_in(email, &Secret::new(password))
        .await
        .expect("sign-in");
    let totp = challenge(step, ChallengeKind::TotpRequired);
    let step = provider
        .respond_to_challenge(respond(
            ChallengeKind::TotpRequired,
            email,
            &totp.state,
            totp_code("asdfasdfasdf").await,
        ))
        .await
        .expect("TOTP");
    assert_eq!(authenticated(step).user.email, email);
}

#[tokio::test]
async fn totp_replacement_with_a_wrong_password_an_unknown_or_a_disabled_user_is_invalid_credentials()
 {
    let Pool { provider, created } = pool_with(false, true).await;
    let email = new_email();
    enrolled_totp_user(&provider, &created.user_pool_id, &email).await;
    let disabled = new_email();
    let done = enrolled_totp_user(&provider, &created.user_pool_id, &disabled).await;
    provider
        .admin_set_enabled(&done.user.sub, false)
        .await
        .expect("disable");

    for (who, password) in [
        (email.as_str(), "Wrong-Password-99!"),
        (email.as_str(), ""),
        (new_email().as_str(), NEW_PASSWORD),
        (disabled.as_str(), NEW_PASSWORD),
    ] {
        assert_eq!(
            begin_replacement(&provider, who, password).await,
            Err(AuthError::InvalidCredentials),
            "{who} {password:?}"
        );
    }
    // Nothing changed: the authenticator is still asked for.
    signed_in_with_totp(&provider, &email, NEW_PASSWORD).await;
}

#[tokio::test]
async fn totp_replacement_of_an_enrolled_user_wrong_code_is_code_mismatch_then_the_new_code_ends_every_session_and_sign_in_asks_for_totp_but_moto_hands_out_the_same_secret()
 {
    let Pool { provider, created } = pool_with(false, true).await;
    let email = new_email();
    let before = enrolled_totp_user(&provider, &created.user_pool_id, &email).await;

    let replacement = begin_replacement(&provider, &email, NEW_PASSWORD)
        .await
        .expect("begin TOTP replacement");
    let secret = replacement.enrolment.secret.expose().to_string();
    // Cognito: a new secret. moto: the one every user gets, the old one.
    assert_eq!(secret, "asdfasdfasdf");
    assert_eq!(
        replacement.enrolment.otpauth_uri.expose(),
        format!(
            "otpauth://totp/authgate:{}?secret={secret}&issuer=authgate",
            email.replace('@', "%40")
        )
    );
    let state = replacement.state.expect("a state");
    assert!(state.expose().starts_with("session:"), "session path");
    // Nothing signed in: the sessions of before live on until finish.
    provider
        .refresh(before.tokens.refresh_token.as_ref().unwrap())
        .await
        .expect("the earlier session still refreshes");
    // Until finish, moto still asks for the disabled token; Cognito, the
    // token deleted, answers MFA_SETUP (MfaSetupRequired).
    challenge(
        provider
            .sign_in(&email, &Secret::new(NEW_PASSWORD))
            .await
            .unwrap(),
        ChallengeKind::TotpRequired,
    );

    let right = totp_code(&secret).await;
    for wrong in [wrong_totp(&right), Secret::new("12ab56"), Secret::new("")] {
        assert_eq!(
            provider
                .finish_totp_replacement(&email, Some(&state), &wrong)
                .await,
            Err(AuthError::CodeMismatch),
            "{}",
            wrong.expose()
        );
    }
    // The state survives a wrong code.
    provider
        .finish_totp_replacement(&email, Some(&state), &totp_code(&secret).await)
        .await
        .expect("finish TOTP replacement");

    // Every session ended (moto: those it filed under the email, which is
    // every sign-in here)...
    assert_eq!(
        provider
            .refresh(before.tokens.refresh_token.as_ref().unwrap())
            .await
            .map(|_| ()),
        Err(AuthError::InvalidRefreshToken)
    );
    assert_eq!(
        provider
            .sign_out(
                &claims_of(&before.tokens.access_token),
                &before.tokens.access_token
            )
            .await,
        Err(AuthError::TokenRevoked)
    );
    // ...MFA is the new authenticator, and it signs in.
    assert!(
        provider
            .admin_find_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .mfa_enabled
    );
    signed_in_with_totp(&provider, &email, NEW_PASSWORD).await;
}

#[tokio::test]
async fn finish_totp_replacement_with_a_missing_or_garbled_state_is_invalid_session() {
    let Pool { provider, created } = pool_with(false, true).await;
    let email = new_email();
    enrolled_totp_user(&provider, &created.user_pool_id, &email).await;
    let code = totp_code("asdfasdfasdf").await;
    assert_eq!(
        provider.finish_totp_replacement(&email, None, &code).await,
        Err(AuthError::InvalidSession)
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    for garbled in [
        String::new(),
        "garbage".to_string(),
        "session:".to_string(),
        "access:".to_string(),
        unknown.clone(),
        format!("session:{unknown}"),
        format!("access:{unknown}"),
        "access:eyJhbGciOiJSUzI1NiJ9.e30.c2ln".to_string(),
    ] {
        assert_eq!(
            provider
                .finish_totp_replacement(&email, Some(&Secret::new(garbled.clone())), &code)
                .await,
            Err(AuthError::InvalidSession),
            "{garbled:?}"
        );
    }
    // Still MFA with the authenticator the user has.
    signed_in_with_totp(&provider, &email, NEW_PASSWORD).await;
}

#[tokio::test]
async fn totp_replacement_on_an_optional_mfa_pool_takes_the_access_token_path_and_the_password_alone_signs_in_until_finish()
 {
    // The provider limit: MFA stays mandatory only on pools with MFA required.
    let Pool { provider, .. } = pool().await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    let before = signed_in(&provider, &email, PASSWORD).await;
    let token = &before.tokens.access_token;
    let claims = claims_of(token);
    let enrolment = provider.begin_totp_enrolment(&claims, token).await.unwrap();
    provider
        .finish_totp_enrolment(&claims, token, &totp_code(enrolment.secret.expose()).await)
        .await
        .expect("finish TOTP enrolment");
    signed_in_with_totp(&provider, &email, PASSWORD).await;

    let replacement = begin_replacement(&provider, &email, PASSWORD)
        .await
        .expect("begin TOTP replacement");
    let state = replacement.state.expect("a state");
    assert!(state.expose().starts_with("access:"), "access-token path");
    // The old token is off: the password alone signs in until finish.
    let during = signed_in(&provider, &email, PASSWORD).await;

    let secret = replacement.enrolment.secret.expose();
    let right = totp_code(secret).await;
    assert_eq!(
        provider
            .finish_totp_replacement(&email, Some(&state), &wrong_totp(&right))
            .await,
        Err(AuthError::CodeMismatch)
    );
    provider
        .finish_totp_replacement(&email, Some(&state), &totp_code(secret).await)
        .await
        .expect("finish TOTP replacement");

    for session in [&before, &during] {
        assert_eq!(
            provider
                .refresh(session.tokens.refresh_token.as_ref().unwrap())
                .await
                .map(|_| ()),
            Err(AuthError::InvalidRefreshToken)
        );
    }
    signed_in_with_totp(&provider, &email, PASSWORD).await;
}

#[tokio::test]
async fn moto_totp_replacement_of_a_user_without_totp_on_an_mfa_pool_enrols_one_through_the_access_token_path()
 {
    // moto signs such a user in without MFA_SETUP; Cognito answers MFA_SETUP
    // and the adapter takes the session path.
    let Pool { provider, .. } = pool_with(false, true).await;
    let email = new_email();
    confirmed_user(&provider, &email).await;
    let replacement = begin_replacement(&provider, &email, PASSWORD)
        .await
        .expect("begin TOTP replacement");
    let state = replacement.state.expect("a state");
    assert!(state.expose().starts_with("access:"));
    provider
        .finish_totp_replacement(
            &email,
            Some(&state),
            &totp_code(replacement.enrolment.secret.expose()).await,
        )
        .await
        .expect("finish TOTP replacement");
    signed_in_with_totp(&provider, &email, PASSWORD).await;
}

#[tokio::test]
async fn totp_replacement_of_an_account_with_a_temporary_password_is_forbidden() {
    let Pool { provider, created } = pool_with(false, true).await;
    let email = new_email();
    admin_create_user(&created.user_pool_id, &email).await;
    let err = begin_replacement(&provider, &email, TEMPORARY_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::Forbidden(
            "the account has no authenticator to replace yet: sign in to set a password and an authenticator".into()
        )
    );
    assert_eq!(err.status(), 403);
    assert_eq!(
        begin_replacement(&provider, &email, "Wrong-Password-99!").await,
        Err(AuthError::InvalidCredentials)
    );
}

/// moto implements none of Cognito's WebAuthn operations: every passkey
/// step is a provider limit (`not_supported_by_provider` with a sentence
/// naming it), never a 500 or `provider_unavailable`.
#[tokio::test]
async fn passkeys_are_a_provider_limit_on_moto() {
    use authgate_core::Passkeys;
    let pool = pool().await;
    let email = new_email();
    confirmed_user(&pool.provider, &email).await;
    let tokens = authenticated(
        pool.provider
            .sign_in(&email, &Secret::new(PASSWORD))
            .await
            .unwrap(),
    )
    .tokens;
    let claims = claims_of(&tokens.access_token);
    let access = &tokens.access_token;
    let credential = serde_json::json!({"id": "AAE", "rawId": "AAE", "type": "public-key",
        "response": {"clientDataJSON": "e30", "attestationObject": "oA"}});
    let answers = [
        (
            "start registration",
            pool.provider
                .begin_passkey_registration(&claims, access)
                .await
                .map(|_| ()),
        ),
        (
            "complete registration",
            pool.provider
                .finish_passkey_registration(
                    &claims,
                    access,
                    &Secret::new("cognito"),
                    &credential,
                    None,
                )
                .await
                .map(|_| ()),
        ),
        (
            "list",
            pool.provider
                .list_passkeys(&claims, access)
                .await
                .map(|_| ()),
        ),
        (
            "delete",
            pool.provider.delete_passkey(&claims, access, "AAE").await,
        ),
        (
            "sign in",
            pool.provider
                .begin_passkey_sign_in(Some(&email))
                .await
                .map(|_| ()),
        ),
    ];
    for (step, answer) in answers {
        let err = answer.expect_err(step);
        assert_eq!(err.code(), "not_supported_by_provider", "{step}: {err:?}");
        assert!(err.to_string().contains("passkeys"), "{step}: {err}");
    }
}
