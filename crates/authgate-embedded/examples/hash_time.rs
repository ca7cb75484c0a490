//! Time one argon2id hash with authgate's parameters (m=19456 KiB, t=2, p=1):
//! `cargo run --release -p authgate-embedded --example hash_time`.
//! The benchmark script uses it to compute the sign-in ceiling of a machine.

use authgate_core::Secret;
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
    let per_hash = started.elapsed().as_secs_f64() * 1000.0 / rounds as f64;
    println!("{per_hash:.2}");
}
