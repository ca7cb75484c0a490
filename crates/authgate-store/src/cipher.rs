//! The field cipher: one seam through which every secret the store keeps in
//! a reversible form passes on its way in and out — TOTP secrets (active and
//! pending), the provider state of login transactions (pending challenge
//! secrets, lost-authenticator resets, passkey ceremonies), signing keys and
//! installation secrets. Digests (passwords, codes, tokens) never pass here:
//! they are not reversible.
//!
//! [`SealingKey`] is the cipher of a running server: AES-256-GCM
//! (aws-lc-rs, a random 96-bit nonce per value) under the operator's key,
//! with the table, the column and the row id as associated data, so a value
//! copied to another row or column does not open. A sealed value reads
//! `sealed:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`; the key id is
//! a digest of the key, so a value sealed under another key is named as
//! such instead of failing as "damaged". [`PlainText`] stores values as they
//! are (the library default, for tests); it refuses to open a sealed value.

use crate::{StoreError, StoreResult};
use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A column that holds a secret, with the column that identifies its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
    /// The primary key column: its value is part of the associated data.
    pub row_id: &'static str,
}

impl SealedColumn {
    /// `table.column`, as errors and reports name it.
    pub fn name(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

pub const SIGNING_KEY: SealedColumn = SealedColumn {
    table: "signing_keys",
    column: "private_der",
    row_id: "kid",
};
pub const TOTP_ACTIVE: SealedColumn = SealedColumn {
    table: "embedded_totp",
    column: "active_secret",
    row_id: "sub",
};
pub const TOTP_PENDING: SealedColumn = SealedColumn {
    table: "embedded_totp",
    column: "pending_secret",
    row_id: "sub",
};
pub const LOGIN_STATE: SealedColumn = SealedColumn {
    table: "login_transactions",
    column: "provider_state",
    row_id: "handle_hash",
};
pub const INSTANCE_SECRET: SealedColumn = SealedColumn {
    table: "instance_secrets",
    column: "value",
    row_id: "name",
};

/// Every column the cipher seals: what a start-up sealing pass and
/// `authgate keys rewrap` walk through.
pub const SEALED_COLUMNS: [SealedColumn; 5] = [
    SIGNING_KEY,
    TOTP_ACTIVE,
    TOTP_PENDING,
    LOGIN_STATE,
    INSTANCE_SECRET,
];

const PREFIX: &str = "sealed:v1:";

/// Whether `stored` is a sealed value (of any key).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// The key id a sealed value names, if it is one.
pub fn sealed_key_id(stored: &str) -> Option<&str> {
    stored.strip_prefix(PREFIX)?.split(':').next()
}

/// Seals a secret field before it is written and opens it after it is read,
/// bound to its column and row.
pub trait FieldCipher: Send + Sync + std::fmt::Debug {
    fn seal(&self, field: &SealedColumn, row: &str, plain: &str) -> StoreResult<String>;
    fn open(&self, field: &SealedColumn, row: &str, stored: &str) -> StoreResult<String>;
    /// Whether `stored` is already in the form this cipher writes (a sealing
    /// pass leaves it alone).
    fn is_current(&self, stored: &str) -> bool;
}

/// Stores secrets as they are (the library default; a server always seals).
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainText;

impl FieldCipher for PlainText {
    fn seal(&self, _field: &SealedColumn, _row: &str, plain: &str) -> StoreResult<String> {
        Ok(plain.to_string())
    }

    fn open(&self, field: &SealedColumn, _row: &str, stored: &str) -> StoreResult<String> {
        if is_sealed(stored) {
            return Err(StoreError::Other(format!(
                "{} is encrypted and no encryption key is configured",
                field.name()
            )));
        }
        Ok(stored.to_string())
    }

    fn is_current(&self, stored: &str) -> bool {
        !is_sealed(stored)
    }
}

/// AES-256-GCM under one 32-byte key.
pub struct SealingKey {
    key: RandomizedNonceKey,
    id: String,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    pub const LEN: usize = 32;

    pub fn new(key: &[u8; Self::LEN]) -> Self {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &[b"authgate field key id\0".as_slice(), key].concat(),
        );
        let id = digest.as_ref()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            key: RandomizedNonceKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key"),
            id,
        }
    }

    /// The key's public id (a digest prefix), written beside each value.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn associated_data(field: &SealedColumn, row: &str) -> Vec<u8> {
        format!("authgate:v1:{}:{}:{row}", field.table, field.column).into_bytes()
    }
}

impl FieldCipher for SealingKey {
    fn seal(&self, field: &SealedColumn, row: &str, plain: &str) -> StoreResult<String> {
        let mut in_out = plain.as_bytes().to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(Self::associated_data(field, row)), &mut in_out)
            .map_err(|_| StoreError::Other(format!("cannot seal {}", field.name())))?;
        let mut sealed = nonce.as_ref().to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(format!(
            "{PREFIX}{}:{}",
            self.id,
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    fn open(&self, field: &SealedColumn, row: &str, stored: &str) -> StoreResult<String> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Err(StoreError::Other(format!(
                "{} of row {row} is not encrypted (run the server once to seal existing rows)",
                field.name()
            )));
        };
        let Some((key_id, body)) = rest.split_once(':') else {
            return Err(damaged(field, row));
        };
        if key_id != self.id {
            return Err(StoreError::Other(format!(
                "{} of row {row} is sealed under key {key_id}, not under the configured key {} \
                 (after changing the key, run `authgate keys rewrap --old-key-file …`)",
                field.name(),
                self.id
            )));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| damaged(field, row))?;
        if bytes.len() < NONCE_LEN {
            return Err(damaged(field, row));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| damaged(field, row))?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(
                nonce,
                Aad::from(Self::associated_data(field, row)),
                &mut in_out,
            )
            .map_err(|_| damaged(field, row))?;
        String::from_utf8(plain.to_vec()).map_err(|_| damaged(field, row))
    }

    fn is_current(&self, stored: &str) -> bool {
        sealed_key_id(stored) == Some(self.id.as_str())
    }
}

/// A value that does not open under the right key: changed, or moved from
/// another row or column.
fn damaged(field: &SealedColumn, row: &str) -> StoreError {
    StoreError::Other(format!(
        "{} of row {row} does not decrypt: it was altered or copied from another row",
        field.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealingKey {
        SealingKey::new(&[byte; 32])
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_own_row_column_and_key() {
        let cipher = key(1);
        let sealed = cipher
            .seal(&TOTP_ACTIVE, "sub-a", "JBSWY3DPEHPK3PXP")
            .unwrap();
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert!(cipher.is_current(&sealed));
        assert_eq!(
            cipher.open(&TOTP_ACTIVE, "sub-a", &sealed).unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        for (field, row, why) in [
            (TOTP_ACTIVE, "sub-b", "another row"),
            (TOTP_PENDING, "sub-a", "another column"),
            (INSTANCE_SECRET, "sub-a", "another table"),
        ] {
            let err = cipher.open(&field, row, &sealed).unwrap_err().to_string();
            assert!(err.contains("does not decrypt"), "{why}: {err}");
        }
        let other = key(2);
        assert!(!other.is_current(&sealed));
        let err = other
            .open(&TOTP_ACTIVE, "sub-a", &sealed)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(cipher.id()) && err.contains("keys rewrap"),
            "{err}"
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let cipher = key(3);
        let a = cipher.seal(&SIGNING_KEY, "k", "same").unwrap();
        let b = cipher.seal(&SIGNING_KEY, "k", "same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn altered_or_plain_values_are_refused_by_name() {
        let cipher = key(4);
        let sealed = cipher.seal(&LOGIN_STATE, "h", "{}").unwrap();
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        for stored in [altered.as_str(), "sealed:v1:", "sealed:v1:zz"] {
            assert!(cipher.open(&LOGIN_STATE, "h", stored).is_err(), "{stored}");
        }
        let err = cipher
            .open(&LOGIN_STATE, "h", "{\"plain\":1}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not encrypted"), "{err}");
        let err = PlainText
            .open(&LOGIN_STATE, "h", &sealed)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no encryption key"), "{err}");
    }
}
