//! Account identification assistance: given a phone number, authgate mails
//! the sign-in identifier to the address on file. The answer never says
//! whether anything matched.

use crate::auth::AuthService;
use crate::events::RequestMeta;
use authgate_core::{AuthError, Notification};

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

impl AuthService {
    pub async fn recover_identifier(
        &self,
        meta: &RequestMeta,
        phone: &str,
    ) -> Result<(), AuthError> {
        let phone = normalize_phone(phone)?;
        let result = async {
            for account in self.provider.admin_find_by_phone(&phone).await? {
                if account.enabled {
                    self.notifier
                        .send(Notification::SignInIdentifier {
                            to: account.email.clone(),
                            name: account.name.clone(),
                            identifier: account.email.clone(),
                        })
                        .await?;
                }
            }
            Ok(())
        }
        .await;
        self.events
            .record("identifier_recovery", meta, None, None, &result)
            .await;
        // Nothing that happened (or not) for this number reaches the caller,
        // except an outage.
        match result {
            Err(AuthError::ProviderUnavailable | AuthError::StoreUnavailable) => result,
            _ => Ok(()),
        }
    }
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
}
