//! The field cipher: one seam through which every secret the store keeps in
//! a reversible form passes on its way in and out — TOTP secrets, the
//! provider state of login transactions and lost-authenticator resets,
//! signing keys, installation secrets. [`PlainText`] is the identity (today's
//! behaviour); an AES-256-GCM implementation under a configured key plugs in
//! behind the same trait without touching a caller. Digests (passwords,
//! codes, tokens) never pass here: they are not reversible.

use crate::StoreResult;

/// Seals a secret field before it is written and opens it after it is read.
/// `field` names the column (`table.column`), so an implementation can bind
/// the ciphertext to it (as AEAD associated data).
pub trait FieldCipher: Send + Sync + std::fmt::Debug {
    fn seal(&self, field: &str, plain: &str) -> StoreResult<String>;
    fn open(&self, field: &str, stored: &str) -> StoreResult<String>;
}

/// Stores secrets as they are.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainText;

impl FieldCipher for PlainText {
    fn seal(&self, _field: &str, plain: &str) -> StoreResult<String> {
        Ok(plain.to_string())
    }

    fn open(&self, _field: &str, stored: &str) -> StoreResult<String> {
        Ok(stored.to_string())
    }
}
