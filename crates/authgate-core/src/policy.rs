//! Input rules that hold for every provider: the password policy, email
//! normalisation, and masking of a delivery destination.

use crate::AuthError;

/// The rule a new password breaks: a sentence for people ([`Display`]) and
/// a stable machine code ([`PasswordRule::code`]) that problem bodies carry.
///
/// [`Display`]: std::fmt::Display
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRule {
    MinLength(usize),
    MaxLength(usize),
    Digit,
    Symbol,
    Uppercase,
    Lowercase,
    /// On the list of commonly used and breached passwords.
    CommonPassword,
    /// The provider's own policy, in its words (Cognito's message).
    Provider(String),
}

impl PasswordRule {
    pub fn code(&self) -> &'static str {
        match self {
            PasswordRule::MinLength(_) => "min_length",
            PasswordRule::MaxLength(_) => "max_length",
            PasswordRule::Digit => "digit",
            PasswordRule::Symbol => "symbol",
            PasswordRule::Uppercase => "uppercase",
            PasswordRule::Lowercase => "lowercase",
            PasswordRule::CommonPassword => "common_password",
            PasswordRule::Provider(_) => "provider_policy",
        }
    }
}

impl std::fmt::Display for PasswordRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordRule::MinLength(n) => write!(f, "must be at least {n} characters long"),
            PasswordRule::MaxLength(n) => write!(f, "must be at most {n} characters long"),
            PasswordRule::Digit => f.write_str("must contain a digit"),
            PasswordRule::Symbol => f.write_str("must contain a special character"),
            PasswordRule::Uppercase => f.write_str("must contain an upper-case letter"),
            PasswordRule::Lowercase => f.write_str("must contain a lower-case letter"),
            PasswordRule::CommonPassword => f.write_str(
                "must not be a commonly used or breached password: choose one that is not on such lists",
            ),
            PasswordRule::Provider(text) => f.write_str(text),
        }
    }
}

/// Passwords nobody may choose, compared case-insensitively: the list
/// shipped with authgate (the 30,000 most common passwords of zxcvbn's
/// breach-derived list, `data/common-passwords.txt`) plus an operator's own.
#[derive(Debug, Default)]
pub struct Blocklist {
    entries: std::collections::HashSet<String>,
}

const SHIPPED_BLOCKLIST: &str = include_str!("../data/common-passwords.txt");

impl Blocklist {
    /// The shipped list, parsed once per process.
    pub fn shipped() -> std::sync::Arc<Blocklist> {
        static SHIPPED: std::sync::OnceLock<std::sync::Arc<Blocklist>> = std::sync::OnceLock::new();
        SHIPPED
            .get_or_init(|| {
                let mut list = Blocklist::default();
                list.extend_from(SHIPPED_BLOCKLIST);
                std::sync::Arc::new(list)
            })
            .clone()
    }

    /// The shipped list and the passwords of `text` (one per line; blank
    /// lines and lines starting with `#` are skipped).
    pub fn shipped_and(text: &str) -> Blocklist {
        let mut list = Blocklist {
            entries: Blocklist::shipped().entries.clone(),
        };
        list.extend_from(text);
        list
    }

    fn extend_from(&mut self, text: &str) {
        self.entries.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_lowercase),
        );
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, password: &str) -> bool {
        self.entries.contains(&password.to_lowercase())
    }
}

/// The password policy. The default is CognitoApi's: at least 14 characters
/// with a digit, a special character, an upper-case and a lower-case letter,
/// and not on the shipped list of common passwords.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub require_digit: bool,
    pub require_symbol: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub blocklist: std::sync::Arc<Blocklist>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 14,
            require_digit: true,
            require_symbol: true,
            require_uppercase: true,
            require_lowercase: true,
            blocklist: Blocklist::shipped(),
        }
    }
}

/// The longest password accepted: argon2 input stays bounded.
pub const MAX_PASSWORD_LENGTH: usize = 256;

impl PasswordPolicy {
    /// The policy for a password sent as `newPassword` (a challenge, a
    /// reset): a broken rule is a 422 naming that field.
    pub fn check_new_password(&self, password: &str) -> Result<(), AuthError> {
        self.rule_broken(password).map_or(Ok(()), |rule| {
            Err(AuthError::InvalidPassword {
                rule,
                field: "newPassword",
            })
        })
    }

    /// `Ok` or the first rule the password (the field `password`) breaks.
    pub fn check(&self, password: &str) -> Result<(), AuthError> {
        self.rule_broken(password).map_or(Ok(()), |rule| {
            Err(AuthError::InvalidPassword {
                rule,
                field: "password",
            })
        })
    }

    /// The first rule `password` breaks, if any.
    pub fn rule_broken(&self, password: &str) -> Option<PasswordRule> {
        let length = password.chars().count();
        let rule = if length < self.min_length {
            PasswordRule::MinLength(self.min_length)
        } else if length > MAX_PASSWORD_LENGTH {
            PasswordRule::MaxLength(MAX_PASSWORD_LENGTH)
        } else if self.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
            PasswordRule::Digit
        } else if self.require_symbol
            && !password
                .chars()
                .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
        {
            PasswordRule::Symbol
        } else if self.require_uppercase && !password.chars().any(char::is_uppercase) {
            PasswordRule::Uppercase
        } else if self.require_lowercase && !password.chars().any(char::is_lowercase) {
            PasswordRule::Lowercase
        } else if self.blocklist.contains(password) {
            PasswordRule::CommonPassword
        } else {
            return None;
        };
        Some(rule)
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
    fn policy_names_the_failed_rule_in_words_and_as_a_code() {
        let p = PasswordPolicy::default();
        let cases = [
            ("Short1!", "min_length", "14 characters"),
            ("NoDigitsHere!!xx", "digit", "digit"),
            ("NoSymbols12345xx", "symbol", "special"),
            ("nouppercase123!!", "uppercase", "upper-case"),
            ("NOLOWERCASE123!!", "lowercase", "lower-case"),
        ];
        for (password, code, words) in cases {
            match p.check(password) {
                Err(AuthError::InvalidPassword { rule, field }) => {
                    assert_eq!((rule.code(), field), (code, "password"), "{password}");
                    assert!(rule.to_string().contains(words), "{rule}");
                }
                other => panic!("{password}: expected a rule failure, got {other:?}"),
            }
        }
        assert!(p.check("Correct-Horse-42").is_ok());
        assert!(matches!(
            p.check_new_password("weak"),
            Err(AuthError::InvalidPassword {
                field: "newPassword",
                ..
            })
        ));
    }

    #[test]
    fn common_passwords_are_refused_case_insensitively() {
        let relaxed = PasswordPolicy {
            min_length: 8,
            require_digit: false,
            require_symbol: false,
            require_uppercase: false,
            require_lowercase: false,
            ..PasswordPolicy::default()
        };
        assert!(relaxed.blocklist.len() >= 10_000, "at least the top 10,000");
        for common in [
            "password",
            "PassWord1",
            "iloveyou",
            "qwertyuiop",
            "trustno1",
        ] {
            assert_eq!(
                relaxed.rule_broken(common),
                Some(PasswordRule::CommonPassword),
                "{common}"
            );
        }
        assert_eq!(relaxed.rule_broken("violet-anchor-harbour"), None);
        let own = PasswordPolicy {
            blocklist: std::sync::Arc::new(Blocklist::shipped_and(
                "# ours\nViolet-Anchor-Harbour\n\n",
            )),
            ..relaxed
        };
        assert_eq!(
            own.rule_broken("violet-anchor-HARBOUR"),
            Some(PasswordRule::CommonPassword)
        );
        assert_eq!(
            own.rule_broken("password"),
            Some(PasswordRule::CommonPassword)
        );
        assert!(!own.blocklist.contains("# ours"));
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
