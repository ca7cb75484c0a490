"""The authorization code flow in a real browser: Debian's Chromium (driven
by Playwright, never a downloaded browser) through authgate's hosted pages,
with PyPI `authlib` doing the client's part exactly as a stock OpenID client
does (discovery, PKCE S256, nonce, the code exchange, the id token checked
against the published keys, refresh, UserInfo). A loopback HTTP server plays
the app's redirect URI.

    AUTHGATE_BIN=target/debug/authgate python tests/browser/oauth_code_flow.py

Screenshots of every page go to AUTHGATE_SCREENSHOTS (default
target/browser-screenshots). Exits non-zero (with what went wrong) on any
failure; a missing browser or binary is a failure too.
"""

import base64
import hashlib
import hmac
import http.server
import os
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
from pathlib import Path

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from playwright.sync_api import sync_playwright

from harness import PASSWORD, Authgate, add_virtual_authenticator, call, free_port

CHROMIUM = os.environ.get("AUTHGATE_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("AUTHGATE_SCREENSHOTS", "target/browser-screenshots"))


def totp(secret, at=None):
    """RFC 6238: the six-digit code of a base32 secret (SHA-1, 30 s)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


class AppCallback:
    """The app's redirect URI on loopback: remembers every URL it is sent to."""

    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(self.path)
                body = b"<!doctype html><title>App</title><p>Back in the app.</p>"
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


class Flow(unittest.TestCase):
    """A browser, the app's callback, an authgate with two registered
    clients, and the steps a person and a stock OpenID client take."""

    make_authgate = Authgate

    @classmethod
    def setUpClass(cls):
        if not os.access(CHROMIUM, os.X_OK):
            raise SystemExit(f"Chromium is missing at {CHROMIUM} (apt-get install chromium)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        cls.app = AppCallback()
        cls.authgate = cls.make_authgate()
        cls.discovery = requests.get(
            cls.authgate.base + "/.well-known/openid-configuration", timeout=10
        ).json()
        cls.callback = cls.app.base + "/callback"
        cls.client_id = cls.create_client("Demo SPA")
        cls.consent_client_id = cls.create_client("Partner app", "--consent")
        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()
        cls.authgate.stop()
        cls.app.stop()
        cls.authgate.cleanup()

    @classmethod
    def create_client(cls, name, *flags, authgate=None):
        """`authgate admin create-client` for a public client: its id."""
        authgate = authgate or cls.authgate
        output = subprocess.run(
            [
                os.environ["AUTHGATE_BIN"], "admin", "create-client", "--name", name,
                "--type", "public", "--redirect-uri", cls.callback,
                "--post-logout-uri", cls.app.base + "/bye", *flags,
            ],
            env=dict(authgate.env, AUTHGATE_LOG="warn"),
            capture_output=True, text=True, check=True,
        ).stdout
        fields = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
        assert "client_secret" not in fields, output
        return fields["client_id"]

    def shot(self, page, name):
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}", file=sys.stderr)

    def start(self, client_id=None, discovery=None, **extra):
        """authlib's authorization URL: (its OAuth2Session, URL, verifier, nonce)."""
        discovery = discovery or self.discovery
        session = OAuth2Session(
            client_id or self.client_id,
            redirect_uri=self.callback,
            scope="openid email profile",
            code_challenge_method="S256",
            token_endpoint_auth_method="none",
        )
        verifier, nonce = generate_token(48), generate_token(16)
        url, _state = session.create_authorization_url(
            discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
        )
        return session, url, verifier, nonce

    def page(self, declined_passkeys=True):
        """A page in a fresh browser. Unless `declined_passkeys` is false, the
        browser said "Not now" to adding a passkey before (its cookie), so a
        password sign-in goes straight on."""
        context = self.browser.new_context()
        self.addCleanup(context.close)
        if declined_passkeys:
            context.add_cookies(
                [{"name": "authgate_passkey_declined", "value": "1", "url": self.authgate.base}]
            )
        return context.new_page()

    def back_in_the_app(self, page):
        page.wait_for_url(self.callback + "*", timeout=10_000)
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
        self.assertEqual(params.get("iss"), self.discovery["issuer"], "RFC 9207 iss")
        return page.url, params

    def exchange(self, session, callback_url, verifier, nonce):
        token = session.fetch_token(
            self.discovery["token_endpoint"],
            authorization_response=callback_url,
            code_verifier=verifier,
        )
        keys = JsonWebKey.import_key_set(requests.get(self.discovery["jwks_uri"], timeout=10).json())
        claims = jwt.decode(
            token["id_token"],
            keys,
            claims_options={
                "iss": {"essential": True, "value": self.discovery["issuer"]},
                "aud": {"essential": True, "value": session.client_id},
                "nonce": {"essential": True, "value": nonce},
            },
        )
        claims.validate()
        return token, claims

    def sign_in_on_page(self, page, email, password):
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()

    def sign_up_on_pages(self, page, email):
        page.get_by_role("link", name="Create an account").click()
        self.shot(page, "02-sign-up")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Name").fill("Ada Lovelace")
        page.get_by_role("button", name="Create account").click()
        self.shot(page, "03-confirm-code")
        page.get_by_label("Code").fill(self.authgate.mailed_code(email))
        page.get_by_role("button", name="Confirm").click()
        page.get_by_text("Your email address is confirmed").wait_for()


class CodeFlowInChromium(Flow):
    """Every page on the embedded provider (on SQLite, or on PostgreSQL with
    AUTHGATE_BROWSER_DATABASE=postgres)."""

    def test_sign_up_sign_in_refresh_sso_replay_and_logout(self):
        email = "ada@example.com"
        page = self.page()
        session, url, verifier, nonce = self.start()
        page.goto(url)
        self.shot(page, "01-sign-in")
        self.sign_up_on_pages(page, email)
        self.sign_in_on_page(page, email, PASSWORD)
        callback_url, _ = self.back_in_the_app(page)
        token, claims = self.exchange(session, callback_url, verifier, nonce)
        self.assertEqual((claims["email"], claims["name"], claims["amr"]), (email, "Ada Lovelace", ["pwd"]))

        info = requests.get(
            self.discovery["userinfo_endpoint"],
            headers={"authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        ).json()
        self.assertEqual((info["sub"], info["email"]), (claims["sub"], email))
        status, subject = call(self.authgate.base, "GET", "/v1/auth/subject", bearer=token["access_token"])
        self.assertEqual((status, subject["user"]["email"]), (200, email))

        refreshed = session.refresh_token(self.discovery["token_endpoint"], refresh_token=token["refresh_token"])
        self.assertNotEqual(refreshed["refresh_token"], token["refresh_token"])

        with self.assertRaises(OAuthError) as replay:
            session.fetch_token(
                self.discovery["token_endpoint"], authorization_response=callback_url, code_verifier=verifier
            )
        self.assertEqual(replay.exception.error, "invalid_grant")

        # SSO: the next authorization needs no page, even with prompt=none.
        session2, url2, verifier2, nonce2 = self.start(prompt="none")
        page.goto(url2)
        callback2, params2 = self.back_in_the_app(page)
        self.assertIn("code", params2)
        self.exchange(session2, callback2, verifier2, nonce2)

        logout = self.discovery["end_session_endpoint"] + "?" + urllib.parse.urlencode(
            {"id_token_hint": token["id_token"], "post_logout_redirect_uri": self.app.base + "/bye",
             "state": "bye-1"}
        )
        page.goto(logout)
        page.wait_for_url(self.app.base + "/bye*")
        self.assertIn("state=bye-1", page.url)
        _, url3, _, _ = self.start(prompt="none")
        page.goto(url3)
        _, params3 = self.back_in_the_app(page)
        self.assertEqual(params3.get("error"), "login_required")

    def test_a_wrong_password_is_shown_in_words(self):
        email = "grace@example.com"
        page = self.page()
        _, url, _, _ = self.start()
        page.goto(url)
        self.sign_up_on_pages(page, email)
        self.sign_in_on_page(page, email, "Not-The-Password-1!")
        page.get_by_text("Incorrect email or password").wait_for()
        self.shot(page, "04-sign-in-wrong-password")
        self.assertNotIn("Not-The-Password-1!", page.content())

    def test_totp_after_the_password(self):
        email = "katherine@example.com"
        page = self.page()
        _, url, _, _ = self.start()
        page.goto(url)
        self.sign_up_on_pages(page, email)
        status, signed_in = call(self.authgate.base, "POST", "/v1/auth/sign-in", {"email": email, "password": PASSWORD})
        self.assertEqual(status, 200, signed_in)
        access = signed_in["accessToken"]
        status, enrolment = call(self.authgate.base, "POST", "/v1/auth/mfa/totp", {}, bearer=access)
        self.assertEqual(status, 200, enrolment)
        secret = enrolment["secret"]
        status, enabled = call(self.authgate.base, "POST", "/v1/auth/mfa/totp/verify", {"code": totp(secret)}, bearer=access)
        self.assertEqual(status, 200, enabled)

        session, url, verifier, nonce = self.start()
        page.goto(url)
        self.sign_in_on_page(page, email, PASSWORD)
        page.get_by_label("Code").wait_for()
        self.shot(page, "05-totp")
        page.get_by_label("Code").fill(totp(secret, time.time() + 30))
        page.get_by_role("button", name="Verify").click()
        callback_url, _ = self.back_in_the_app(page)
        _, claims = self.exchange(session, callback_url, verifier, nonce)
        self.assertEqual(claims["amr"], ["pwd", "otp"])

    def test_forgotten_password(self):
        email = "mary@example.com"
        page = self.page()
        _, url, _, _ = self.start()
        page.goto(url)
        self.sign_up_on_pages(page, email)
        page.get_by_role("link", name="Forgot your password?").click()
        self.shot(page, "06-forgot-password")
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Send code").click()
        page.get_by_label("New password").wait_for()
        self.shot(page, "07-reset-password")
        # Message 0 confirmed the sign-up; 1 is the reset's.
        page.get_by_label("Code").fill(self.authgate.mailed_code(email, 1))
        page.get_by_label("New password").fill("Another-Horse-43!")
        page.get_by_role("button", name="Reset password").click()
        page.get_by_text("Your password is changed").wait_for()
        self.sign_in_on_page(page, email, "Another-Horse-43!")
        self.back_in_the_app(page)

    def test_consent_allow_and_deny(self):
        email = "hedy@example.com"
        page = self.page()
        session, url, verifier, nonce = self.start(self.consent_client_id)
        page.goto(url)
        self.sign_up_on_pages(page, email)
        self.sign_in_on_page(page, email, PASSWORD)
        page.get_by_role("button", name="Deny").wait_for()
        self.shot(page, "08-consent")
        page.get_by_role("button", name="Deny").click()
        _, params = self.back_in_the_app(page)
        self.assertEqual(params.get("error"), "access_denied")
        session, url, verifier, nonce = self.start(self.consent_client_id)
        page.goto(url)
        page.get_by_role("button", name="Allow").click()
        callback_url, _ = self.back_in_the_app(page)
        self.exchange(session, callback_url, verifier, nonce)

    def test_with_mfa_required_the_authenticator_is_set_up_on_the_pages(self):
        authgate = Authgate({"AUTHGATE_MFA": "required"})
        self.addCleanup(authgate.cleanup)
        self.addCleanup(authgate.stop)
        discovery = requests.get(authgate.base + "/.well-known/openid-configuration", timeout=10).json()
        client_id = self.create_client("Strict app", authgate=authgate)
        email = "rosalind@example.com"
        page = self.page()
        _, url, _, _ = self.start(client_id, discovery)
        page.goto(url)
        page.get_by_role("link", name="Create an account").click()
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.get_by_label("Code").fill(authgate.mailed_code(email))
        page.get_by_role("button", name="Confirm").click()
        self.sign_in_on_page(page, email, PASSWORD)
        qr = page.get_by_role("img", name="QR code")
        qr.wait_for()
        self.assertGreater(qr.evaluate("img => img.naturalWidth"), 100, "the QR image renders")
        self.shot(page, "10-totp-set-up")
        secret = page.locator("main code").inner_text()
        page.get_by_label("Code").fill(totp(secret))
        page.get_by_role("button", name="Verify").click()
        page.get_by_text("Save your recovery codes").wait_for()
        self.assertEqual(page.locator("ul.codes li").count(), 10)
        self.shot(page, "11-recovery-codes")
        page.get_by_role("link", name="Continue").click()
        page.wait_for_url(self.callback + "*")
        self.assertIn("code=", page.url)

    def test_a_passkey_added_after_the_password_then_signs_in_alone(self):
        email = "barbara@example.com"
        page = self.page(declined_passkeys=False)
        add_virtual_authenticator(page)
        session, url, verifier, nonce = self.start()
        page.goto(url)
        self.sign_up_on_pages(page, email)
        self.sign_in_on_page(page, email, PASSWORD)
        page.get_by_role("button", name="Add a passkey").wait_for()
        self.shot(page, "12-passkey-offer")
        page.get_by_role("button", name="Add a passkey").click()
        callback_url, _ = self.back_in_the_app(page)
        token, claims = self.exchange(session, callback_url, verifier, nonce)
        self.assertEqual(claims["amr"], ["pwd"])

        logout = self.discovery["end_session_endpoint"] + "?" + urllib.parse.urlencode(
            {"id_token_hint": token["id_token"]}
        )
        page.goto(logout)
        page.get_by_text("You are signed out").wait_for()
        session, url, verifier, nonce = self.start()
        page.goto(url)
        self.shot(page, "13-sign-in-with-passkey")
        page.get_by_role("button", name="Sign in with a passkey").click()
        callback_url, _ = self.back_in_the_app(page)
        _, claims = self.exchange(session, callback_url, verifier, nonce)
        self.assertEqual((claims["email"], claims["amr"]), (email, ["hwk"]))

    def test_the_pages_speak_german_when_asked(self):
        page = self.page()
        _, url, _, _ = self.start(ui_locales="de")
        page.goto(url)
        page.get_by_label("Passwort").wait_for()
        page.get_by_role("button", name="Anmelden", exact=True).wait_for()
        self.assertEqual(page.locator("html").get_attribute("lang"), "de")
        self.shot(page, "14-sign-in-de")
        page.get_by_role("link", name="Konto erstellen").click()
        page.get_by_role("button", name="Konto anlegen").wait_for()

    def test_an_unknown_client_gets_a_page_not_a_redirect(self):
        page = self.page()
        _, url, _, _ = self.start("agc_nobody")
        answer = page.goto(url)
        self.assertEqual(answer.status, 400)
        page.get_by_text("not registered").wait_for()
        self.shot(page, "09-error")
        self.assertFalse(page.url.startswith(self.callback))


class CodeFlowOnCognito(Flow):
    """The pages on the Cognito provider (a fresh pool in moto): an account an
    administrator made in the pool chooses its password on the pages, and the
    tokens are authgate's, checked by authlib against authgate's discovery
    document and keys."""

    make_authgate = staticmethod(Authgate.on_moto)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # In Cognito mode discovery describes the pool (for clients of its
        # tokens); the code flow is configured explicitly, as the README says.
        base = cls.authgate.base
        cls.discovery = {
            "issuer": base,
            "authorization_endpoint": base + "/oauth2/authorize",
            "token_endpoint": base + "/oauth2/token",
            "jwks_uri": base + "/oauth2/jwks.json",
            "userinfo_endpoint": base + "/oauth2/userInfo",
            "end_session_endpoint": base + "/oauth2/logout",
        }

    def test_an_account_of_the_pool_signs_in_through_the_pages(self):
        email = "cognito-user@example.com"
        self.authgate.moto_admin_create_user(email, "Temporary-Pass-1!")
        page = self.page()
        session, url, verifier, nonce = self.start()
        page.goto(url)
        self.sign_in_on_page(page, email, "Wrong-Password-9!")
        page.get_by_text("Incorrect email or password").wait_for()
        self.sign_in_on_page(page, email, "Temporary-Pass-1!")
        page.get_by_label("New password").fill(PASSWORD)
        self.shot(page, "20-cognito-new-password")
        page.get_by_role("button", name="Set password").click()
        callback_url, _ = self.back_in_the_app(page)
        token, claims = self.exchange(session, callback_url, verifier, nonce)
        self.assertEqual((claims["email"], claims["amr"]), (email, ["pwd"]))
        status, subject = call(self.authgate.base, "GET", "/v1/auth/subject", bearer=token["access_token"])
        self.assertEqual((status, subject["provider"]), (200, "cognito"), subject)
        refreshed = session.refresh_token(self.discovery["token_endpoint"], refresh_token=token["refresh_token"])
        self.assertNotEqual(refreshed["refresh_token"], token["refresh_token"])

        # SSO, then the next sign-in with the password the person chose.
        session2, url2, verifier2, nonce2 = self.start(prompt="none")
        page.goto(url2)
        callback2, _ = self.back_in_the_app(page)
        self.exchange(session2, callback2, verifier2, nonce2)
        session3, url3, verifier3, nonce3 = self.start(prompt="login")
        page.goto(url3)
        self.sign_in_on_page(page, email, PASSWORD)
        callback3, _ = self.back_in_the_app(page)
        self.exchange(session3, callback3, verifier3, nonce3)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() and result.testsRun == 10 else 1)
