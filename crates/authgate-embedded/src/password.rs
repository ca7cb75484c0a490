//! Password hashing with argon2id (OWASP parameters: m=19456 KiB, t=2, p=1).
//!
//! Hashing runs on a fixed set of `concurrency` threads of its own (one per
//! core by default), fed through a channel behind a semaphore of as many
//! permits: async workers never block, at most `concurrency` 19 MiB working
//! blocks exist at once, and — unlike tokio's blocking pool, which grows to
//! hundreds of threads under a burst, each keeping its freed block in its
//! own allocator arena — the memory held stays bounded by the thread count.
//! Unknown users are verified against a dummy hash so that "no such user"
//! takes as long as "wrong password".

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use argon2::{Block, password_hash};
use authgate_core::{AuthError, Secret};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords off the async workers.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// The hashing threads' queue; they end when the last clone is dropped.
    jobs: Arc<Sender<Job>>,
    dummy_hash: Arc<String>,
}

/// Start `count` hashing threads reading one queue.
fn start_threads(count: usize) -> Result<Sender<Job>, AuthError> {
    let (sender, receiver) = std::sync::mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..count {
        let receiver: Arc<Mutex<Receiver<Job>>> = receiver.clone();
        std::thread::Builder::new()
            .name(format!("authgate-hash-{i}"))
            .spawn(move || {
                loop {
                    let job = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panicking job drops its answer channel: the
                        // caller gets an error and the thread lives on.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| AuthError::Internal(format!("cannot start a hashing thread: {e}")))?;
    }
    Ok(sender)
}

thread_local! {
    /// The hashing thread's argon2 working memory, allocated on its first
    /// hash and reused by every later one.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// argon2id (v19) of `password` into `out`, in this thread's own block.
fn hash_in_thread_memory(
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), AuthError> {
    BLOCKS.with_borrow_mut(|blocks| {
        let needed = params.block_count();
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..needed])
            .map_err(|e| AuthError::Internal(format!("argon2 hash: {e}")))
    })
}

/// Verify against an argon2id v19 hash whose memory cost is at most
/// `own`'s, in this thread's block; `None` for any other hash.
fn verify_in_thread_memory(
    own: &Params,
    password: &[u8],
    stored: &PasswordHash,
) -> Result<Option<bool>, AuthError> {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return Ok(None);
    };
    let Ok(params) = Params::try_from(stored) else {
        return Ok(None);
    };
    let ours = stored.algorithm == Algorithm::Argon2id.ident()
        && stored
            .version
            .is_none_or(|v| v == u32::from(Version::V0x13))
        && params.block_count() <= own.block_count();
    if !ours {
        return Ok(None);
    }
    let mut out = vec![0u8; expected.len()];
    hash_in_thread_memory(&params, password, salt.as_ref(), &mut out)?;
    Ok(Some(
        Output::new(&out).is_ok_and(|computed| computed == *expected),
    ))
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
        let concurrency = concurrency.max(1);
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency)),
            jobs: Arc::new(start_threads(concurrency)?),
            dummy_hash: Arc::new(dummy),
        })
    }

    fn argon(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`), computed in the
    /// hashing thread's own memory block.
    pub async fn hash(&self, password: &Secret) -> Result<String, AuthError> {
        let password = password.clone();
        let params = self.params.clone();
        self.run(move || {
            let mut salt = [0u8; 16];
            aws_lc_rs::rand::fill(&mut salt)
                .map_err(|_| AuthError::Internal("no randomness".into()))?;
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            hash_in_thread_memory(&params, password.expose().as_bytes(), &salt, &mut out)?;
            let fail =
                |e: password_hash::phc::Error| AuthError::Internal(format!("argon2 PHC: {e}"));
            Ok(PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&params)
                    .map_err(|e| AuthError::Internal(format!("argon2 PHC: {e}")))?,
                salt: Some(Salt::new(&salt).map_err(fail)?),
                hash: Some(Output::new(&out).map_err(fail)?),
            }
            .to_string())
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
                if let Some(matched) =
                    verify_in_thread_memory(&params, password.expose().as_bytes(), &parsed)?
                {
                    return Ok(matched);
                }
                // Another algorithm or a larger memory cost: the library's
                // own path (allocating).
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
        // One permit per hashing thread: a job is queued only when a thread
        // is free for it; other callers wait here, holding no memory.
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AuthError::Internal("hasher closed".into()))?;
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = answer.send(job());
            }))
            .map_err(|_| AuthError::Internal("the hashing threads have stopped".into()))?;
        answered
            .await
            .map_err(|_| AuthError::Internal("a hashing job failed".into()))?
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

    /// Hashes made by the library directly (before the pool, or with other
    /// parameters or variants) verify through the pool, in the thread's
    /// block or, when they need more memory, the library's own path; and
    /// the pool's hashes verify with the library.
    #[tokio::test]
    async fn hashes_verify_both_ways_with_the_library_whatever_their_parameters() {
        let hasher = PasswordHasher::new(1).unwrap();
        let password = Secret::new("Correct-Horse-42");
        for (algorithm, memory) in [
            (Algorithm::Argon2id, 19_456),
            (Algorithm::Argon2id, 8_192),
            (Algorithm::Argon2id, 32_768),
            (Algorithm::Argon2i, 19_456),
        ] {
            let stored = Argon2::new(
                algorithm,
                Version::V0x13,
                Params::new(memory, 2, 1, None).unwrap(),
            )
            .hash_password(password.expose().as_bytes())
            .unwrap()
            .to_string();
            assert!(
                hasher.verify(&password, Some(&stored)).await.unwrap(),
                "{stored}"
            );
            assert!(
                !hasher
                    .verify(&Secret::new("nope"), Some(&stored))
                    .await
                    .unwrap(),
                "{stored}"
            );
        }
        let ours = hasher.hash(&password).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            PasswordHasher::argon(hasher.params.clone())
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok()
        );
        assert_ne!(
            ours,
            hasher.hash(&password).await.unwrap(),
            "a fresh salt each time"
        );
    }

    /// Jobs run on the pool's own threads, never more at once than its
    /// size, and a panicking job is an error, not a lost thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn jobs_run_on_a_fixed_set_of_threads_at_most_that_many_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hasher = PasswordHasher::new(2).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut jobs = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (hasher, running, most) = (hasher.clone(), running.clone(), most.clone());
            jobs.spawn(async move {
                hasher
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(30));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(std::thread::current().name().map(str::to_string))
                    })
                    .await
                    .unwrap()
            });
        }
        let mut names = std::collections::BTreeSet::new();
        while let Some(name) = jobs.join_next().await {
            names.insert(name.unwrap().unwrap_or_default());
        }
        assert!(
            most.load(Ordering::SeqCst) <= 2,
            "{}",
            most.load(Ordering::SeqCst)
        );
        assert!(
            !names.is_empty()
                && names.len() <= 2
                && names.iter().all(|n| n.starts_with("authgate-hash-")),
            "{names:?}"
        );
        let failed = hasher.run::<()>(|| panic!("a broken job")).await;
        assert!(failed.is_err());
        assert!(
            hasher.verify(&Secret::new("x"), None).await.is_ok(),
            "the pool still works"
        );
    }
}
