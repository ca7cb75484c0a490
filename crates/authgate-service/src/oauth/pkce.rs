//! PKCE (RFC 7636) with S256 only: the token request's `code_verifier` must
//! hash to the authorization request's `code_challenge`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// Is `verifier` well-formed (43 to 128 unreserved characters, §4.1) and
/// does BASE64URL(SHA-256(verifier)) equal `challenge`? Compared in
/// constant time.
pub fn verifies(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = URL_SAFE_NO_PAD.encode(digest.as_ref());
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_of_rfc_7636_appendix_b_matches_its_challenge_only() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifies(verifier, challenge));
        let cases = [
            (
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
                "another verifier",
            ),
            (challenge, "the challenge itself (plain)"),
            ("short", "too short"),
            (&*"a".repeat(129), "too long"),
            (
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX+",
                "a reserved character",
            ),
        ];
        for (candidate, what) in cases {
            assert!(!verifies(candidate, challenge), "{what} was accepted");
        }
    }
}
