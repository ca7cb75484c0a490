//! One-time recovery codes (any provider, stored by authgate): a fresh set
//! of ten whenever an authenticator becomes active, shown once, stored as
//! digests, each spendable once as the second factor at sign-in (embedded
//! provider), as `currentCode` when replacing an authenticator, and to skip
//! the cooling-off period of a lost-authenticator reset. Also the security
//! notices mailed to an account's owner, and the decoy identities answered
//! for addresses without an account.

use crate::auth::{AuthService, Caller};
use crate::events::RequestMeta;
use authgate_core::{AuthError, Notification, Secret, SecurityEvent, now_millis};
use authgate_embedded::codes::{generate_recovery_code, hash_recovery_code};

/// How many codes a set has.
pub const RECOVERY_CODES: usize = 10;

impl AuthService {
    /// A fresh set of recovery codes for `sub`, replacing the old ones.
    pub(crate) async fn issue_recovery_codes(&self, sub: &str) -> Result<Vec<Secret>, AuthError> {
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| generate_recovery_code())
            .collect();
        let hashes: Vec<String> = codes
            .iter()
            .filter_map(|code| hash_recovery_code(sub, code))
            .collect();
        self.store
            .replace_recovery_codes(self.provider.name(), sub, &hashes, now_millis())
            .await?;
        Ok(codes.into_iter().map(Secret::new).collect())
    }

    /// Is `code` an unused recovery code of `sub`? Spends nothing.
    pub(crate) async fn recovery_code_unused(
        &self,
        sub: &str,
        code: &Secret,
    ) -> Result<bool, AuthError> {
        match hash_recovery_code(sub, code.expose()) {
            Some(hash) => Ok(self
                .store
                .recovery_code_unused(self.provider.name(), sub, &hash)
                .await?),
            None => Ok(false),
        }
    }

    /// Spend `code` (true when it was an unused recovery code of `sub`) and
    /// tell the owner how many are left.
    pub(crate) async fn spend_recovery_code(
        &self,
        sub: &str,
        email: &str,
        code: &Secret,
    ) -> Result<bool, AuthError> {
        let Some(hash) = hash_recovery_code(sub, code.expose()) else {
            return Ok(false);
        };
        let spent = self
            .store
            .spend_recovery_code(self.provider.name(), sub, &hash, now_millis())
            .await?;
        if spent {
            self.recovery_code_used_notice(sub, email).await?;
        }
        Ok(spent)
    }

    /// Mail the owner that a recovery code was spent.
    pub(crate) async fn recovery_code_used_notice(
        &self,
        sub: &str,
        email: &str,
    ) -> Result<(), AuthError> {
        let remaining = self
            .store
            .recovery_codes_left(self.provider.name(), sub)
            .await?;
        self.notice(
            email,
            SecurityEvent::RecoveryCodeUsed {
                remaining: u32::try_from(remaining).unwrap_or(0),
            },
        )
        .await;
        Ok(())
    }

    /// Mail a security notice to `email`. A failed hand-over is logged: the
    /// operation it reports has happened either way.
    pub(crate) async fn notice(&self, email: &str, event: SecurityEvent) {
        let kind = event.kind();
        if let Err(err) = self
            .notifier
            .send(Notification::SecurityNotice {
                to: email.to_string(),
                name: None,
                event,
            })
            .await
        {
            tracing::error!(kind, error = %err, "security notice not sent");
        }
    }

    /// A new set of recovery codes for a signed-in user with an active
    /// authenticator who proves the password.
    pub async fn regenerate_recovery_codes(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        password: &Secret,
    ) -> Result<Vec<Secret>, AuthError> {
        let result = async {
            self.provider
                .verify_password(&caller.claims, &caller.token, password)
                .await?;
            let account = self.provider.admin_get_user(&caller.claims.sub).await?;
            if !account.mfa_enabled {
                return Err(AuthError::Conflict(
                    "no authenticator is active: recovery codes come with one (POST /v1/auth/mfa/totp)"
                        .into(),
                ));
            }
            let codes = self.issue_recovery_codes(&caller.claims.sub).await?;
            self.notice(&account.email, SecurityEvent::RecoveryCodesRegenerated)
                .await;
            Ok(codes)
        }
        .await;
        self.events
            .record(
                "recovery_codes_regenerate",
                meta,
                None,
                Some(&caller.claims.sub),
                &result,
            )
            .await;
        result
    }

    pub async fn recovery_codes_left(&self, caller: &Caller) -> Result<i64, AuthError> {
        Ok(self
            .store
            .recovery_codes_left(self.provider.name(), &caller.claims.sub)
            .await?)
    }

    /// A stable stand-in subject for an address, as a sign-up answers it:
    /// derived with the installation's secret key, so it is the same at
    /// every call and tells a stranger nothing.
    pub(crate) fn decoy_sub(&self, email: &str) -> String {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.security.decoy_key);
        let tag = aws_lc_rs::hmac::sign(&key, format!("decoy-sub\0{email}").as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&tag.as_ref()[..16]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}
