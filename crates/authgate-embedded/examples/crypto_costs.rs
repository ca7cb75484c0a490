//! The two costs that bound authgate's throughput, with its real code paths:
//! one argon2id verification (m=19456 KiB, t=2, p=1), which bounds sign-in,
//! and one signature with the parsed signing key (ES256, the default, then
//! RS256 and EdDSA), two of which (access and id token) every sign-in and
//! refresh pays.
//!
//! `cargo run --release -p authgate-embedded --example crypto_costs`
//! prints `hash_ms=… parallel_hashes_per_s=… sign_us=… rs256_sign_us=…
//! eddsa_sign_us=…` for bench/run.sh (`sign_us` is the default algorithm's;
//! `parallel_hashes_per_s` is every core verifying at once).

use authgate_core::Secret;
use authgate_embedded::keys::{KeyRing, SigningAlg, generate_and_store};
use authgate_embedded::password::PasswordHasher;
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let hasher = PasswordHasher::new(1).expect("hasher");
    let password = Secret::new("Correct-Horse-42!");
    let phc = hasher.hash(&password).await.expect("hash");
    let rounds = 40;
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(hasher.verify(&password, Some(&phc)).await.expect("verify"));
    }
    let hash_ms = started.elapsed().as_secs_f64() * 1000.0 / rounds as f64;

    // Every core hashing at once (the hashing pool as sign-in saturates it):
    // what the cores really sustain, which is less than cores ÷ one hash
    // when the hashes compete for the caches and memory.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = std::sync::Arc::new(PasswordHasher::new(cores).expect("hasher"));
    let started = Instant::now();
    let verifies: Vec<_> = (0..cores * rounds)
        .map(|_| {
            let (pool, password, phc) = (pool.clone(), password.clone(), phc.clone());
            tokio::spawn(async move { pool.verify(&password, Some(&phc)).await })
        })
        .collect();
    for verify in verifies {
        assert!(verify.await.expect("joined").expect("verify"));
    }
    let parallel_hashes_per_s = (cores * rounds) as f64 / started.elapsed().as_secs_f64();

    let dir = std::env::temp_dir().join(format!("authgate-crypto-costs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = authgate_store::Store::connect(&format!("sqlite://{}/k.db", dir.display()))
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    let claims = serde_json::json!({"sub": "bench", "token_use": "access", "exp": 0});
    let mut costs = Vec::new();
    for alg in SigningAlg::ALL {
        generate_and_store(&store, alg).await.expect("key");
        let keys = KeyRing::load(store.clone(), 0, alg).await.expect("keys");
        let rounds = 2000;
        let started = Instant::now();
        for _ in 0..rounds {
            keys.sign(&claims).expect("sign");
        }
        costs.push(started.elapsed().as_secs_f64() * 1e6 / rounds as f64);
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
    println!(
        "hash_ms={hash_ms:.2} parallel_hashes_per_s={parallel_hashes_per_s:.1} sign_us={:.0} rs256_sign_us={:.0} eddsa_sign_us={:.0}",
        costs[0], costs[1], costs[2]
    );
}
