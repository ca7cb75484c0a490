//! The `otpauth://` URI of a TOTP enrolment (the Key Uri Format of
//! Google Authenticator), handed to the client with the MFA-setup challenge so
//! that it can show a QR code.

/// The issuer shown in authenticator apps.
pub(crate) const ISSUER_LABEL: &str = "authgate";

/// `otpauth://totp/authgate:<email>?secret=<secret>&issuer=authgate`, with the
/// label parts and the parameters percent-encoded.
pub(crate) fn otpauth_uri(secret: &str, email: &str) -> String {
    let issuer = percent_encode(ISSUER_LABEL);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}",
        percent_encode(email),
        percent_encode(secret),
    )
}

/// RFC 3986 percent-encoding: everything but the unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_and_parameters_are_encoded() {
        assert_eq!(
            otpauth_uri("JBSWY3DPEHPK3PXP", "alice+mfa@example.com"),
            "otpauth://totp/authgate:alice%2Bmfa%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=authgate"
        );
        assert_eq!(percent_encode("a b:c/é"), "a%20b%3Ac%2F%C3%A9");
    }
}
