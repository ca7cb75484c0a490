//! Security notices mailed to an account's owner, and the decoy identities
//! answered for addresses without an account (derived with the
//! installation's key, so they are stable and tell a stranger nothing).

use authgate_core::{Notification, Notifier, SecurityEvent};
use std::sync::Arc;

#[derive(Clone)]
pub struct Notices {
    pub(crate) notifier: Arc<dyn Notifier>,
    /// The installation's key for decoy answers.
    pub(crate) decoy_key: [u8; 32],
}

impl Notices {
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

    /// A stable stand-in subject for an address, as a sign-up answers it:
    /// derived with the installation's secret key, so it is the same at
    /// every call and tells a stranger nothing.
    pub(crate) fn decoy_sub(&self, email: &str) -> String {
        let tag = self.decoy_bytes(&format!("decoy-sub\0{email}"));
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&tag[..16]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// 32 bytes derived from `label` with the installation's key: stable,
    /// and meaningless to anyone without the key.
    pub(crate) fn decoy_bytes(&self, label: &str) -> [u8; 32] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.decoy_key);
        let tag = aws_lc_rs::hmac::sign(&key, label.as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(tag.as_ref());
        bytes
    }
}
