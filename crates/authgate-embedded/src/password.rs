//! Password hashing with argon2id (OWASP parameters: m=19456 KiB, t=2, p=1).
//!
//! Hashing runs on tokio's blocking pool behind a semaphore sized to the CPU
//! count, so async workers never stall and a burst of sign-ins cannot allocate
//! 19 MiB per request without bound. Unknown users are verified against a
//! dummy hash so that "no such user" takes as long as "wrong password".

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use authgate_core::{AuthError, Secret};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Hashes and verifies passwords off the async workers.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    /// OWASP's argon2id parameters; `concurrency` hashes run at once.
    pub fn new(concurrency: usize) -> Result<Self, AuthError> {
        let params = Params::new(19_456, 2, 1, None)
            .map_err(|e| AuthError::Internal(format!("argon2 params: {e}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let dummy = argon
            .hash_password(uuid::Uuid::new_v4().as_bytes())
            .map_err(|e| AuthError::Internal(format!("argon2: {e}")))?
            .to_string();
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::new(dummy),
        })
    }

    fn argon(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: &Secret) -> Result<String, AuthError> {
        let password = password.clone();
        let params = self.params.clone();
        self.run(move || {
            Self::argon(params)
                .hash_password(password.expose().as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| AuthError::Internal(format!("argon2 hash: {e}")))
        })
        .await
    }

    /// Does `password` match `phc`? `None` verifies against the dummy hash and
    /// answers false, taking the same time.
    pub async fn verify(&self, password: &Secret, phc: Option<&str>) -> Result<bool, AuthError> {
        let password = password.clone();
        let (phc, real) = match phc {
            Some(phc) => (phc.to_string(), true),
            None => (self.dummy_hash.as_ref().clone(), false),
        };
        let params = self.params.clone();
        let matched = self
            .run(move || {
                let parsed = PasswordHash::new(&phc)
                    .map_err(|e| AuthError::Internal(format!("stored hash unreadable: {e}")))?;
                Ok(Self::argon(params)
                    .verify_password(password.expose().as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        Ok(real && matched)
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
    ) -> Result<T, AuthError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AuthError::Internal("hasher closed".into()))?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| AuthError::Internal(format!("hash task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hasher = PasswordHasher::new(2).unwrap();
        let password = Secret::new("Correct-Horse-42");
        let hash = hasher.hash(&password).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher.verify(&password, Some(&hash)).await.unwrap());
        assert!(
            !hasher
                .verify(&Secret::new("wrong"), Some(&hash))
                .await
                .unwrap()
        );
        assert!(!hasher.verify(&password, None).await.unwrap());
    }
}
