//! Remembered tokens: a token whose signature verified skips that check when
//! it comes again, and nothing else — its expiry and its key are checked
//! every time, a token that differs in any byte is a stranger, refused
//! tokens are never remembered, and the memory can be turned off.

use std::time::Duration;

use crate::common::{KEY, access_claims, config, now};
use authgate_guard::{Guard, GuardError};
use serde_json::json;

fn remembering_guard(
    configure: impl FnOnce(&mut authgate_guard::GuardConfig),
) -> (Guard, std::sync::Arc<crate::common::CountingSource>) {
    let source = crate::common::CountingSource::new(vec![KEY.jwk()]);
    let mut config = config(&source);
    configure(&mut config);
    (Guard::new(config), source)
}

#[tokio::test]
async fn a_remembered_token_still_expires() {
    let (guard, _) = remembering_guard(|c| c.leeway = Duration::ZERO);
    let mut claims = access_claims();
    claims["exp"] = json!(now() + 1);
    let token = KEY.token(&claims);
    for _ in 0..2 {
        guard.validate(&token).await.expect("valid until exp");
    }
    assert_eq!(guard.remembered_tokens(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(guard.validate(&token).await, Err(GuardError::Expired));
}

#[tokio::test]
async fn a_token_changed_in_any_byte_is_checked_afresh_and_refusals_are_not_remembered() {
    let (guard, _) = remembering_guard(|_| {});
    let token = KEY.token(&access_claims());
    guard.validate(&token).await.expect("valid");
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(guard.validate(&forged).await, Err(GuardError::BadSignature));
    let mut expired = access_claims();
    expired["exp"] = json!(now() - 3600);
    assert_eq!(
        guard.validate(&KEY.token(&expired)).await,
        Err(GuardError::Expired)
    );
    assert_eq!(guard.remembered_tokens(), 1, "only the valid token");
}

#[tokio::test]
async fn a_withdrawn_key_ends_its_remembered_tokens() {
    let (guard, source) = remembering_guard(|_| {});
    let token = KEY.token(&access_claims());
    guard.validate(&token).await.expect("valid");
    source.withdraw(&KEY.kid);
    guard.refresh_keys().await.expect("refetched");
    assert_eq!(guard.validate(&token).await, Err(GuardError::UnknownKey));
}

#[tokio::test]
async fn zero_turns_the_memory_off() {
    let (guard, _) = remembering_guard(|c| c.verified_tokens = 0);
    let token = KEY.token(&access_claims());
    for _ in 0..2 {
        guard.validate(&token).await.expect("valid");
    }
    assert_eq!(guard.remembered_tokens(), 0);
}
