//! Rendering the hosted pages: the templates (built in, parsed once,
//! autoescaped as HTML), their texts, and the headers every page carries.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use minijinja::Environment;
use rand::RngCore;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The built-in templates, by name.
const TEMPLATES: [(&str, &str); 14] = [
    ("base.html", include_str!("templates/base.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("totp.html", include_str!("templates/totp.html")),
    ("error.html", include_str!("templates/error.html")),
    ("sign_out.html", include_str!("templates/sign_out.html")),
    ("signed_out.html", include_str!("templates/signed_out.html")),
    ("consent.html", include_str!("templates/consent.html")),
    ("sign_up.html", include_str!("templates/sign_up.html")),
    ("confirm.html", include_str!("templates/confirm.html")),
    ("forgot.html", include_str!("templates/forgot.html")),
    ("reset.html", include_str!("templates/reset.html")),
    (
        "new_password.html",
        include_str!("templates/new_password.html"),
    ),
    ("totp_setup.html", include_str!("templates/totp_setup.html")),
    (
        "recovery_codes.html",
        include_str!("templates/recovery_codes.html"),
    ),
];

/// The policy of every page: nothing but this origin's stylesheet and
/// images (`data:` for the QR code), never in a frame.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'";

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        for (name, source) in TEMPLATES {
            // The templates are part of the binary; a test renders each.
            if let Err(err) = environment.add_template(name, source) {
                tracing::error!(template = name, error = %err, "a built-in template does not parse");
            }
        }
        environment
    })
}

/// 32 random bytes, base64url: CSRF tokens.
pub fn random_token() -> String {
    let mut buffer = [0u8; 32];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// The texts of the pages (English).
#[derive(Debug, Clone, Serialize)]
pub struct Texts {
    pub product: &'static str,
    pub sign_in_title: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub sign_in: &'static str,
    pub continue_to: &'static str,
    pub totp_title: &'static str,
    pub totp_hint: &'static str,
    pub code: &'static str,
    pub verify: &'static str,
    pub error_title: &'static str,
    pub sign_out_title: &'static str,
    pub sign_out_question: &'static str,
    pub sign_out: &'static str,
    pub signed_out_title: &'static str,
    pub signed_out_text: &'static str,
    pub consent_title: &'static str,
    pub consent_asks: &'static str,
    pub allow: &'static str,
    pub deny: &'static str,
    pub create_account: &'static str,
    pub forgot_password: &'static str,
    pub sign_up_title: &'static str,
    pub name: &'static str,
    pub create_account_button: &'static str,
    pub have_account: &'static str,
    pub confirm_title: &'static str,
    pub confirm_hint: &'static str,
    pub confirm: &'static str,
    pub forgot_title: &'static str,
    pub send_code: &'static str,
    pub reset_title: &'static str,
    pub reset_hint: &'static str,
    pub new_password: &'static str,
    pub reset_password: &'static str,
    pub confirmed_notice: &'static str,
    pub reset_notice: &'static str,
    pub new_password_title: &'static str,
    pub new_password_hint: &'static str,
    pub set_password: &'static str,
    pub totp_setup_title: &'static str,
    pub totp_setup_hint: &'static str,
    pub totp_setup_secret: &'static str,
    pub recovery_codes_title: &'static str,
    pub recovery_codes_hint: &'static str,
    pub continue_label: &'static str,
}

impl Texts {
    pub fn english() -> Self {
        Self {
            product: "authgate",
            sign_in_title: "Sign in",
            email: "Email",
            password: "Password",
            sign_in: "Sign in",
            continue_to: "to continue to",
            totp_title: "Enter your code",
            totp_hint: "Enter the six-digit code of your authenticator app, or one of your recovery codes if you lost it.",
            code: "Code",
            verify: "Verify",
            error_title: "Something went wrong",
            sign_out_title: "Sign out",
            sign_out_question: "Do you want to sign out?",
            sign_out: "Sign out",
            signed_out_title: "Signed out",
            signed_out_text: "You are signed out. You can close this window.",
            consent_title: "Allow access",
            consent_asks: "asks to use your account with these permissions:",
            allow: "Allow",
            deny: "Deny",
            create_account: "Create an account",
            forgot_password: "Forgot your password?",
            sign_up_title: "Create an account",
            name: "Name",
            create_account_button: "Create account",
            have_account: "I already have an account",
            confirm_title: "Confirm your email address",
            confirm_hint: "We mailed you a code. Enter it to confirm your address.",
            confirm: "Confirm",
            forgot_title: "Forgot your password?",
            send_code: "Send code",
            reset_title: "Choose a new password",
            reset_hint: "If an account uses this address, we mailed it a code. Enter it with your new password.",
            new_password: "New password",
            reset_password: "Reset password",
            confirmed_notice: "Your email address is confirmed. Sign in to continue.",
            reset_notice: "Your password is changed. Sign in with the new one.",
            new_password_title: "Choose your password",
            new_password_hint: "Your account was created with a temporary password. Choose your own.",
            set_password: "Set password",
            totp_setup_title: "Set up your authenticator app",
            totp_setup_hint: "Your account needs an authenticator app. Scan the QR code with it, or type the secret, then enter the code it shows.",
            totp_setup_secret: "Secret:",
            recovery_codes_title: "Save your recovery codes",
            recovery_codes_hint: "Each code signs you in once if you lose your authenticator app. Keep them somewhere safe: they are shown only now.",
            continue_label: "Continue",
        }
    }
}

/// A page to render: a template, its title and values.
pub struct Page {
    template: &'static str,
    title: &'static str,
    values: BTreeMap<&'static str, minijinja::Value>,
    error: Option<String>,
    notice: Option<&'static str>,
    status: StatusCode,
}

impl Page {
    pub fn new(template: &'static str, title: &'static str) -> Self {
        Self {
            template,
            title,
            values: BTreeMap::new(),
            error: None,
            notice: None,
            status: StatusCode::OK,
        }
    }

    pub fn with(mut self, name: &'static str, value: &str) -> Self {
        self.values.insert(name, minijinja::Value::from(value));
        self
    }

    pub fn with_list(mut self, name: &'static str, values: &[String]) -> Self {
        self.values
            .insert(name, minijinja::Value::from_serialize(values));
        self
    }

    /// An error shown above the form, in words.
    pub fn error(mut self, error: Option<String>) -> Self {
        self.error = error;
        self
    }

    /// A notice shown above the form (a step that went well).
    pub fn notice(mut self, notice: &'static str) -> Self {
        self.notice = Some(notice);
        self
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn render(self) -> Response {
        let context = minijinja::context! {
            lang => "en",
            t => Texts::english(),
            title => self.title,
            error => self.error,
            notice => self.notice,
            ..minijinja::Value::from_serialize(&self.values)
        };
        let html = environment()
            .get_template(self.template)
            .and_then(|template| template.render(context));
        let (status, body) = match html {
            Ok(html) => (self.status, html),
            Err(err) => {
                tracing::error!(template = self.template, error = %err, "page not rendered");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!doctype html><title>Error</title><p>The page could not be shown.</p>"
                        .to_string(),
                )
            }
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_escapes_what_it_shows() {
        for (name, _) in TEMPLATES {
            environment().get_template(name).unwrap();
        }
        let html = environment()
            .get_template("error.html")
            .unwrap()
            .render(minijinja::context! {
                lang => "en", t => Texts::english(), title => "T",
                message => "<script>alert(1)</script>",
            })
            .unwrap();
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }
}
