//! # authgate-mail
//!
//! Renders [`Notification`]s with plain-text templates and delivers them:
//! over SMTP (lettre) when an SMTP URL is configured, otherwise as `.eml` files
//! in an outbox directory. A code always stands alone on its own line as
//! `Code: 123456`, a temporary password as `Temporary password: …`.
//!
//! Templates take `{code}`, `{password}` and `{name}` placeholders.
//! [`BackgroundNotifier`] sends without making the request wait.

mod background;

pub use background::BackgroundNotifier;

use async_trait::async_trait;
use authgate_core::{AuthError, Notification, Notifier};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// One message template: a subject and a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub body: String,
}

/// The templates of every notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    pub sign_up_code: Template,
    pub password_reset_code: Template,
    pub temporary_password: Template,
    pub sign_in_identifier: Template,
    pub mfa_reset_code: Template,
    /// `{event}` is the sentence of the security event.
    pub security_notice: Template,
}

impl Default for Templates {
    fn default() -> Self {
        Self {
            sign_up_code: Template {
                subject: "Confirm your account".into(),
                body: "Hello {name},\n\nUse this code to confirm your account:\n\nCode: {code}\n\n\
                       If you did not sign up, you can ignore this message.\n"
                    .into(),
            },
            password_reset_code: Template {
                subject: "Reset your password".into(),
                body: "Hello {name},\n\nUse this code to reset your password:\n\nCode: {code}\n\n\
                       If you did not ask for a reset, you can ignore this message.\n"
                    .into(),
            },
            temporary_password: Template {
                subject: "Your new account".into(),
                body: "Hello {name},\n\nAn account was created for you. Sign in with this \
                       temporary password; you will be asked to choose your own.\n\n\
                       Temporary password: {password}\n"
                    .into(),
            },
            sign_in_identifier: Template {
                subject: "Your sign-in identifier".into(),
                body: "Hello {name},\n\nSomeone asked which identifier signs in to your account. \
                       It is:\n\nSign-in identifier: {identifier}\n\n\
                       If this was not you, you can ignore this message.\n"
                    .into(),
            },
            mfa_reset_code: Template {
                subject: "Replace your authenticator".into(),
                body: "Hello {name},\n\nUse this code to replace a lost authenticator app:\n\n\
                       Code: {code}\n\n\
                       If you did not ask for this, sign in and change your password.\n"
                    .into(),
            },
            security_notice: Template {
                subject: "Security notice for your account".into(),
                body: "Hello {name},\n\n{event}\n\n\
                       If this was not you, reset your password and replace your authenticator \
                       with a recovery code, or contact your administrator.\n"
                    .into(),
            },
        }
    }
}

impl Templates {
    /// Subject and body of a notification, placeholders filled.
    pub fn render(&self, notification: &Notification) -> (String, String) {
        let event = match notification {
            Notification::SecurityNotice { event, .. } => event.sentence(),
            _ => String::new(),
        };
        let (template, name, code, password, identifier) = match notification {
            Notification::SignUpCode { name, code, .. } => {
                (&self.sign_up_code, name, Some(code), None, None)
            }
            Notification::PasswordResetCode { name, code, .. } => {
                (&self.password_reset_code, name, Some(code), None, None)
            }
            Notification::TemporaryPassword { name, password, .. } => {
                (&self.temporary_password, name, None, Some(password), None)
            }
            Notification::SignInIdentifier {
                name, identifier, ..
            } => (&self.sign_in_identifier, name, None, None, Some(identifier)),
            Notification::MfaResetCode { name, code, .. } => {
                (&self.mfa_reset_code, name, Some(code), None, None)
            }
            Notification::SecurityNotice { name, .. } => {
                (&self.security_notice, name, None, None, None)
            }
        };
        let fill = |text: &str| {
            text.replace("{name}", name.as_deref().unwrap_or("there"))
                .replace("{code}", code.map(|c| c.expose()).unwrap_or_default())
                .replace(
                    "{password}",
                    password.map(|p| p.expose()).unwrap_or_default(),
                )
                .replace(
                    "{identifier}",
                    identifier.map(String::as_str).unwrap_or_default(),
                )
                .replace("{event}", &event)
        };
        (fill(&template.subject), fill(&template.body))
    }
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

/// Delivers notifications by SMTP or into the outbox directory.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    templates: Templates,
    description: String,
}

/// Why a mailer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("AUTHGATE_MAIL_FROM is not a valid address: {0}")]
    InvalidFrom(String),
    #[error("AUTHGATE_SMTP_URL is not valid: {0}")]
    InvalidSmtpUrl(String),
    #[error("the outbox directory cannot be created: {0}")]
    Outbox(String),
}

impl Mailer {
    /// SMTP to `url` (`smtp://host:port`, `smtps://…`, with optional credentials).
    pub fn smtp(url: &str, from: &str, templates: Templates) -> Result<Self, MailSetupError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailSetupError::InvalidSmtpUrl(e.to_string()))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        let host = url.split('@').next_back().unwrap_or(url);
        Ok(Self {
            transport: Transport::Smtp(transport),
            from: parse_from(from)?,
            templates,
            description: format!("smtp to {}", host.trim_start_matches("smtp://")),
        })
    }

    /// `.eml` files in `dir` (created if missing).
    pub fn outbox(dir: PathBuf, from: &str, templates: Templates) -> Result<Self, MailSetupError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .map_err(|e| MailSetupError::Outbox(e.to_string()))?;
        Ok(Self {
            description: format!("outbox {}", dir.display()),
            transport: Transport::Outbox(AsyncFileTransport::<Tokio1Executor>::new(dir)),
            from: parse_from(from)?,
            templates,
        })
    }

    /// Where mail goes, for the start-up log line.
    pub fn description(&self) -> &str {
        &self.description
    }

    fn build(&self, notification: &Notification) -> Result<Message, AuthError> {
        let to: Mailbox = notification
            .recipient()
            .parse()
            .map_err(|_| AuthError::Internal("recipient address rejected by the mailer".into()))?;
        let (subject, body) = self.templates.render(notification);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| AuthError::Internal(format!("message build: {e}")))
    }
}

fn parse_from(from: &str) -> Result<Mailbox, MailSetupError> {
    from.parse()
        .map_err(|e: lettre::address::AddressError| MailSetupError::InvalidFrom(e.to_string()))
}

#[async_trait]
impl Notifier for Mailer {
    async fn send(&self, notification: Notification) -> Result<(), AuthError> {
        let message = self.build(&notification)?;
        let kind = notification.kind();
        let result = match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::Outbox(files) => files
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        match result {
            Ok(()) => {
                tracing::info!(kind, via = %self.description, "mail sent");
                Ok(())
            }
            Err(detail) => {
                tracing::warn!(kind, via = %self.description, %detail, "mail not sent");
                Err(AuthError::Internal(format!(
                    "mail delivery failed: {detail}"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authgate_core::Secret;

    #[test]
    fn the_code_stands_alone_on_its_line() {
        let (subject, body) = Templates::default().render(&Notification::SignUpCode {
            to: "a@example.com".into(),
            name: Some("Ada".into()),
            code: Secret::new("123456"),
        });
        assert_eq!(subject, "Confirm your account");
        assert!(body.lines().any(|l| l == "Code: 123456"), "{body}");
        assert!(body.contains("Hello Ada"));
    }

    #[test]
    fn temporary_passwords_have_their_own_line() {
        let (_, body) = Templates::default().render(&Notification::TemporaryPassword {
            to: "a@example.com".into(),
            name: None,
            password: Secret::new("Tmp-Pass-123456!"),
        });
        assert!(
            body.lines()
                .any(|l| l == "Temporary password: Tmp-Pass-123456!")
        );
    }

    #[test]
    fn temporary_passwords_stand_literally_in_the_message() {
        // Every character authgate puts in a temporary password (see the
        // admin service) must reach the reader as is, not quoted-printable.
        let mailer = Mailer::outbox(
            std::env::temp_dir(),
            "no-reply@localhost",
            Templates::default(),
        )
        .unwrap();
        let password = "Ab3!#$%&*+-?@^_zZ9";
        let message = mailer
            .build(&Notification::TemporaryPassword {
                to: "a@example.com".into(),
                name: Some("Ann".into()),
                password: Secret::new(password),
            })
            .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(
            raw.lines()
                .any(|l| l == format!("Temporary password: {password}")),
            "{raw}"
        );
    }

    #[tokio::test]
    async fn outbox_writes_an_eml_file_with_the_code() {
        let dir = std::env::temp_dir().join(format!("authgate-outbox-{}", std::process::id()));
        let mailer =
            Mailer::outbox(dir.clone(), "no-reply@localhost", Templates::default()).unwrap();
        mailer
            .send(Notification::SignUpCode {
                to: "bob@example.com".into(),
                name: None,
                code: Secret::new("654321"),
            })
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1);
        assert!(files[0].path().extension().is_some_and(|e| e == "eml"));
        let text = std::fs::read_to_string(files[0].path()).unwrap();
        assert!(text.contains("Code: 654321"));
        assert!(text.contains("To: bob@example.com"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
