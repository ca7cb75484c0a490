//! Input rules that hold for every provider: the password policy, email
//! normalisation, and masking of a delivery destination.

use crate::AuthError;

/// The password policy. The default is CognitoApi's: at least 14 characters
/// with a digit, a special character, an upper-case and a lower-case letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub require_digit: bool,
    pub require_symbol: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 14,
            require_digit: true,
            require_symbol: true,
            require_uppercase: true,
            require_lowercase: true,
        }
    }
}

/// The longest password accepted: argon2 input stays bounded.
pub const MAX_PASSWORD_LENGTH: usize = 256;

impl PasswordPolicy {
    /// The policy for a password sent as `newPassword` (a challenge, a
    /// reset): a broken rule is a 422 naming that field.
    pub fn check_new_password(&self, password: &str) -> Result<(), AuthError> {
        self.check(password).map_err(|err| match err {
            AuthError::InvalidPassword { rule } => AuthError::InvalidRequest {
                field: Some("newPassword".into()),
                message: format!("the password does not meet the policy: {rule}"),
            },
            other => other,
        })
    }

    /// `Ok` or the first rule the password breaks.
    pub fn check(&self, password: &str) -> Result<(), AuthError> {
        let fail = |rule: &str| {
            Err(AuthError::InvalidPassword {
                rule: rule.to_string(),
            })
        };
        let length = password.chars().count();
        if length < self.min_length {
            return fail(&format!(
                "must be at least {} characters long",
                self.min_length
            ));
        }
        if length > MAX_PASSWORD_LENGTH {
            return fail(&format!(
                "must be at most {MAX_PASSWORD_LENGTH} characters long"
            ));
        }
        if self.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
            return fail("must contain a digit");
        }
        if self.require_symbol
            && !password
                .chars()
                .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
        {
            return fail("must contain a special character");
        }
        if self.require_uppercase && !password.chars().any(char::is_uppercase) {
            return fail("must contain an upper-case letter");
        }
        if self.require_lowercase && !password.chars().any(char::is_lowercase) {
            return fail("must contain a lower-case letter");
        }
        Ok(())
    }
}

/// `+1 (555) 010-0100` → `+15550100100`; an error names the field.
pub fn normalize_phone(phone: &str) -> Result<String, AuthError> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !allowed || !(7..=15).contains(&digits.len()) {
        return Err(AuthError::invalid_field(
            "phone",
            "phone must be a phone number in international form, e.g. +15550100100",
        ));
    }
    Ok(format!("+{digits}"))
}

/// Trim and lower-case an email and check its shape; `field` names it in the error.
pub fn normalize_email(field: &str, email: &str) -> Result<String, AuthError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty() && !domain.is_empty() && !domain.contains('@')
            }
            None => false,
        };
    if valid {
        Ok(email)
    } else {
        Err(AuthError::invalid_field(
            field,
            format!("{field} is not a valid email address"),
        ))
    }
}

/// `alice@example.com` → `a***@e***.com`: enough to recognise, not to harvest.
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return "***".to_string();
    };
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
    let tld = if tld.is_empty() {
        String::new()
    } else {
        format!(".{tld}")
    };
    format!("{}***@{}***{}", first(local), first(host), tld)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised_to_plus_and_digits() {
        assert_eq!(
            normalize_phone("+1 (555) 010-0100").unwrap(),
            "+15550100100"
        );
        assert_eq!(normalize_phone("+15550100").unwrap(), "+15550100");
        for bad in ["", "12", "+1 555 CALL NOW", "+1234567890123456"] {
            assert!(normalize_phone(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn policy_names_the_failed_rule() {
        let p = PasswordPolicy::default();
        let rule = |pw: &str| match p.check(pw) {
            Err(AuthError::InvalidPassword { rule }) => rule,
            other => panic!("expected a rule failure, got {other:?}"),
        };
        assert!(rule("Short1!").contains("14 characters"));
        assert!(rule("NoDigitsHere!!xx").contains("digit"));
        assert!(rule("NoSymbols12345xx").contains("special"));
        assert!(rule("nouppercase123!!").contains("upper-case"));
        assert!(rule("NOLOWERCASE123!!").contains("lower-case"));
        assert!(p.check("Correct-Horse-42").is_ok());
    }

    #[test]
    fn emails_are_normalised_and_validated() {
        assert_eq!(
            normalize_email("email", " Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(normalize_email("email", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn masking_hides_most_of_the_address() {
        assert_eq!(mask_email("alice@example.com"), "a***@e***.com");
    }
}
