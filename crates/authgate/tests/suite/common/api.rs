//! A typed client of the native contract: requests and answers are the wire
//! types of `authgate-api-types`, an error answer is its [`Problem`] with
//! the status. Tests say what a user does (`api.sign_in(email, password)`)
//! and what they get back, with no JSON plumbing; [`Refused::expect`] checks
//! a refusal's status and stable code.

use super::TestApp;
use authgate_api_types::native::*;
use authgate_api_types::problem::Problem;
use authgate_core::Secret;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An error answer: its status and problem+json body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub problem: Problem,
    /// The `Retry-After` header, in seconds, when there is one.
    pub retry_after: Option<u64>,
}

/// A typed answer.
pub type Answer<T> = Result<T, Refused>;

/// Check that an answer is a refusal with this status and code; its problem.
pub fn refused<T: std::fmt::Debug>(answer: Answer<T>, status: u16, code: &str) -> Problem {
    match answer {
        Ok(body) => panic!("expected {status} {code}, got a success: {body:?}"),
        Err(refusal) => {
            assert_eq!(
                (refusal.status, refusal.problem.code.as_str()),
                (status, code),
                "{:?}",
                refusal.problem
            );
            refusal.problem
        }
    }
}

/// What a sign-in (or a challenge answer) gave: a session or a challenge.
pub trait SignInOutcome {
    fn session(self) -> SessionResponse;
    fn challenge(self, kind: &str) -> ChallengeResponseBody;
}

impl SignInOutcome for Answer<SignInResponse> {
    /// The session, or a panic naming what came instead.
    fn session(self) -> SessionResponse {
        match self {
            Ok(SignInResponse::Session(session)) => session,
            other => panic!("expected a session, got {other:?}"),
        }
    }

    /// The challenge of `kind`, or a panic naming what came instead.
    fn challenge(self, kind: &str) -> ChallengeResponseBody {
        match self {
            Ok(SignInResponse::Challenge(challenge)) if challenge.challenge == kind => challenge,
            other => panic!("expected the challenge {kind}, got {other:?}"),
        }
    }
}

/// The native contract of one [`TestApp`].
pub struct Api<'a> {
    app: &'a TestApp,
}

impl TestApp {
    pub fn api(&self) -> Api<'_> {
        Api { app: self }
    }
}

fn secret(value: &str) -> Secret {
    Secret::new(value)
}

impl Api<'_> {
    /// One call; a success must come with the route's `success` status.
    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        success: u16,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Answer<T> {
        let mut request = self.app.client.request(method, self.app.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("authgate answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let text = response.text().await.expect("a body");
        if status >= 400 {
            let problem = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{status} without a problem body ({e}): {text}"));
            return Err(Refused {
                status,
                problem,
                retry_after,
            });
        }
        assert_eq!(status, success, "{path} answered {status}: {text}");
        // A 204 answers nothing: `()` reads it as JSON null.
        let text = if text.is_empty() { "null" } else { &text };
        Ok(serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{status} body does not match the contract ({e}): {text}")))
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        success: u16,
        path: &str,
        body: &B,
    ) -> Answer<T> {
        self.send(success, Method::POST, path, None, Some(body))
            .await
    }

    async fn post_as<B: Serialize, T: DeserializeOwned>(
        &self,
        token: &str,
        path: &str,
        body: Option<&B>,
    ) -> Answer<T> {
        self.send(200, Method::POST, path, Some(token), body).await
    }

    pub async fn sign_up(&self, email: &str, password: &str) -> Answer<SignUpResponse> {
        self.post(
            201,
            "/v1/auth/sign-up",
            &SignUpBody {
                email: email.into(),
                password: secret(password),
                name: Some("Test User".into()),
                phone: None,
            },
        )
        .await
    }

    pub async fn confirm_sign_up(&self, email: &str, code: &str) -> Answer<ConfirmSignUpResponse> {
        self.post(
            200,
            "/v1/auth/sign-up/confirm",
            &ConfirmSignUpBody {
                email: email.into(),
                code: secret(code),
            },
        )
        .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Answer<SignInResponse> {
        self.post(
            200,
            "/v1/auth/sign-in",
            &SignInBody {
                email: email.into(),
                password: secret(password),
            },
        )
        .await
    }

    /// Answer a `TOTP_REQUIRED` challenge.
    pub async fn answer_totp(
        &self,
        email: &str,
        session: &str,
        code: &str,
    ) -> Answer<SignInResponse> {
        self.answer_code("/v1/auth/challenges/totp", email, session, code)
            .await
    }

    /// Answer an `MFA_SETUP_REQUIRED` challenge with a code of the new secret.
    pub async fn answer_mfa_setup(
        &self,
        email: &str,
        session: &str,
        code: &str,
    ) -> Answer<SignInResponse> {
        self.answer_code("/v1/auth/challenges/mfa-setup", email, session, code)
            .await
    }

    async fn answer_code(
        &self,
        path: &str,
        email: &str,
        session: &str,
        code: &str,
    ) -> Answer<SignInResponse> {
        self.post(
            200,
            path,
            &CodeChallengeBody {
                email: email.into(),
                session: secret(session),
                code: secret(code),
            },
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Answer<SessionResponse> {
        self.post(
            200,
            "/v1/auth/token/refresh",
            &RefreshBody {
                refresh_token: secret(refresh_token),
            },
        )
        .await
    }

    /// The caller's user context (`/v1/auth/subject`).
    pub async fn subject(&self, token: &str) -> Answer<authgate_core::authz::UserContext> {
        self.send::<(), _>(200, Method::GET, "/v1/auth/subject", Some(token), None)
            .await
    }

    /// Start a TOTP enrolment: the new secret.
    pub async fn begin_totp(&self, token: &str) -> Answer<TotpEnrolmentResponse> {
        self.post_as::<(), _>(token, "/v1/auth/mfa/totp", None)
            .await
    }

    /// Activate the enrolment with a code (and, when replacing, the current factor).
    pub async fn verify_totp(
        &self,
        token: &str,
        code: &str,
        current: Option<&str>,
    ) -> Answer<MfaEnabledResponse> {
        self.post_as(
            token,
            "/v1/auth/mfa/totp/verify",
            Some(&TotpVerifyBody {
                code: secret(code),
                current_code: current.map(secret),
            }),
        )
        .await
    }

    pub async fn request_password_reset(&self, email: &str) -> Answer<AcceptedResponse> {
        self.post(
            202,
            "/v1/auth/password-resets",
            &PasswordResetRequestBody {
                email: email.into(),
                recovery_code: None,
            },
        )
        .await
    }

    pub async fn confirm_password_reset(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
    ) -> Answer<PasswordResetResponse> {
        self.post(
            200,
            "/v1/auth/password-resets/confirm",
            &PasswordResetConfirmBody {
                email: email.into(),
                code: secret(code),
                new_password: secret(new_password),
            },
        )
        .await
    }

    pub async fn change_password(
        &self,
        token: &str,
        current: &str,
        new_password: &str,
    ) -> Answer<()> {
        self.send(
            204,
            Method::PATCH,
            "/v1/auth/password",
            Some(token),
            Some(&PasswordChangeBody {
                current_password: secret(current),
                new_password: secret(new_password),
            }),
        )
        .await
    }

    pub async fn verify_password(
        &self,
        token: &str,
        password: &str,
    ) -> Answer<PasswordVerifiedResponse> {
        self.post_as(
            token,
            "/v1/auth/password-verifications",
            Some(&PasswordBody {
                password: secret(password),
            }),
        )
        .await
    }

    /// Identifier recovery by phone: the same answer whatever matched.
    pub async fn recover_identifier(&self, phone: &str) -> Answer<AcceptedResponse> {
        self.post(
            202,
            "/v1/auth/account-recovery/identifier",
            &IdentifierRecoveryBody {
                phone: phone.into(),
            },
        )
        .await
    }

    pub async fn mfa_reset_start(&self, email: &str) -> Answer<MfaResetStartResponse> {
        self.post(
            200,
            "/v1/auth/mfa-reset/start",
            &EmailBody {
                email: email.into(),
            },
        )
        .await
    }

    pub async fn mfa_reset_verify(
        &self,
        email: &str,
        session: &str,
        code: &str,
        password: &str,
    ) -> Answer<MfaResetVerifyResponse> {
        self.post(
            200,
            "/v1/auth/mfa-reset/verify",
            &MfaResetVerifyBody {
                email: email.into(),
                session: secret(session),
                code: secret(code),
                password: secret(password),
                recovery_code: None,
            },
        )
        .await
    }

    pub async fn mfa_reset_confirm(
        &self,
        recovery_token: &str,
        code: &str,
    ) -> Answer<MfaResetConfirmResponse> {
        self.post(
            200,
            "/v1/auth/mfa-reset/confirm",
            &MfaResetConfirmBody {
                access_token: secret(recovery_token),
                code: secret(code),
            },
        )
        .await
    }

    pub async fn passkey_register_start(&self, token: &str) -> Answer<PasskeyCeremonyResponse> {
        self.send(
            200,
            Method::POST,
            "/v1/auth/passkeys/register/start",
            Some(token),
            Some(&EmptyBody {}),
        )
        .await
    }

    pub async fn passkey_register_complete(
        &self,
        token: &str,
        session: &str,
        credential: serde_json::Value,
        name: Option<&str>,
    ) -> Answer<PasskeyView> {
        self.send(
            201,
            Method::POST,
            "/v1/auth/passkeys/register/complete",
            Some(token),
            Some(&PasskeyRegisterBody {
                session: secret(session),
                credential,
                name: name.map(str::to_string),
            }),
        )
        .await
    }

    /// An account's failed-attempt records (an administrator's view).
    pub async fn lockout(&self, admin_token: &str, user_id: &str) -> Answer<LockoutView> {
        let path = format!("/v1/admin/users/{user_id}/lockout");
        self.send::<(), _>(200, Method::GET, &path, Some(admin_token), None)
            .await
    }

    /// Clear an account's failed-attempt records.
    pub async fn clear_lockout(&self, admin_token: &str, user_id: &str) -> Answer<()> {
        let path = format!("/v1/admin/users/{user_id}/lockout");
        self.send::<(), _>(204, Method::DELETE, &path, Some(admin_token), None)
            .await
    }

    pub async fn passkeys(&self, token: &str) -> Answer<PasskeyList> {
        self.send::<(), _>(200, Method::GET, "/v1/auth/passkeys", Some(token), None)
            .await
    }

    pub async fn delete_passkey(&self, token: &str, id: &str) -> Answer<()> {
        self.send::<(), _>(
            204,
            Method::DELETE,
            &format!("/v1/auth/passkeys/{id}"),
            Some(token),
            None,
        )
        .await
    }

    pub async fn passkey_sign_in_start(
        &self,
        email: Option<&str>,
    ) -> Answer<PasskeyCeremonyResponse> {
        self.post(
            200,
            "/v1/auth/passkeys/sign-in/start",
            &PasskeySignInStartBody {
                email: email.map(str::to_string),
            },
        )
        .await
    }

    pub async fn passkey_sign_in_complete(
        &self,
        session: &str,
        credential: serde_json::Value,
    ) -> Answer<SessionResponse> {
        self.post(
            200,
            "/v1/auth/passkeys/sign-in/complete",
            &PasskeySignInBody {
                session: secret(session),
                credential,
            },
        )
        .await
    }
}
