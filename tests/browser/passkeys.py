"""Passkeys in a real browser: Debian's Chromium (driven by Playwright, never
a downloaded browser) with a CDP WebAuthn virtual authenticator (ctap2,
internal, resident keys, user verification), a page served from
http://localhost:<port> (tests/browser/passkeys.html) calling a real authgate
on another origin with the WebAuthn Level 3 JSON helpers. For the native
contract and the CognitoApi profile: register -> sign in with the email ->
discoverable sign-in -> list -> delete -> the deleted passkey no longer signs
in.

    AUTHGATE_BIN=target/debug/authgate python tests/browser/passkeys.py

Exits non-zero (with what went wrong) on any failure; a missing browser or
binary is a failure too.
"""

import functools
import http.server
import os
import sys
import threading
import unittest
from pathlib import Path

from playwright.sync_api import sync_playwright

from harness import PASSWORD, Authgate, add_virtual_authenticator, call, free_port

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("AUTHGATE_TEST_CHROMIUM", "/usr/bin/chromium")


class PageServer:
    """tests/browser served from http://localhost:<port>."""

    def __init__(self):
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        handler = functools.partial(QuietHandler, directory=str(HERE))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class PasskeysInChromium(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(CHROMIUM, os.X_OK):
            raise SystemExit(f"Chromium is missing at {CHROMIUM} (apt-get install chromium)")
        cls.pages = PageServer()
        origin = cls.pages.origin
        cls.authgate = Authgate(
            {
                "AUTHGATE_WEBAUTHN_RP_ID": "localhost",
                "AUTHGATE_WEBAUTHN_ORIGINS": origin,
                "AUTHGATE_CORS_ORIGINS": origin,
                "AUTHGATE_COMPAT_COGNITO_API": "true",
            }
        )
        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()
        cls.authgate.stop()
        cls.pages.stop()
        cls.authgate.cleanup()

    def page_with_authenticator(self):
        """A fresh page with its own virtual platform authenticator."""
        context = self.browser.new_context()
        page = context.new_page()
        page.goto(self.pages.origin + "/passkeys.html")
        cdp, authenticator = add_virtual_authenticator(page)
        self.addCleanup(context.close)
        return page, cdp, authenticator

    def run_js(self, page, contract, action, *args):
        return page.evaluate(
            "([contract, action, args]) => window.authgate[contract][action](...args)",
            [contract, action, [self.authgate.base, *args]],
        )

    def test_native_contract(self):
        page, cdp, authenticator = self.page_with_authenticator()
        email = "browser-native@example.com"
        token = self.authgate.signed_in_user(email)

        registered = self.run_js(page, "native", "register", token, "Chromium")
        self.assertEqual(registered["status"], 201, registered)
        passkey_id = registered["body"]["id"]
        self.assertEqual(registered["body"]["name"], "Chromium")
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        self.assertEqual(len(stored), 1)
        self.assertTrue(stored[0]["isResidentCredential"], "a discoverable credential")

        signed_in = self.run_js(page, "native", "signIn", email)
        self.assertEqual(signed_in["status"], 200, signed_in)
        self.assertEqual(signed_in["body"]["user"]["email"], email)
        status, subject = call(self.authgate.base, "GET", "/v1/auth/subject", bearer=signed_in["body"]["accessToken"])
        self.assertEqual(status, 200, subject)

        discoverable = self.run_js(page, "native", "signIn", None)
        self.assertEqual(discoverable["status"], 200, discoverable)
        self.assertEqual(discoverable["body"]["user"]["sub"], signed_in["body"]["user"]["sub"])

        listed = self.run_js(page, "native", "list", token)
        self.assertEqual([p["id"] for p in listed["body"]["passkeys"]], [passkey_id])
        self.assertIsNotNone(listed["body"]["passkeys"][0]["lastUsedAt"])

        removed = self.run_js(page, "native", "remove", token, passkey_id)
        self.assertEqual(removed["status"], 204)
        again = self.run_js(page, "native", "signIn", None)
        self.assertEqual(again["status"], 401, again)
        self.assertEqual(again["body"]["code"], "invalid_credentials")

    def test_cognitoapi_profile(self):
        page, _, _ = self.page_with_authenticator()
        email = "browser-profile@example.com"
        token = self.authgate.signed_in_user(email)

        registered = self.run_js(page, "profile", "register", token, "Chromium")
        self.assertEqual(registered["status"], 200, registered)
        self.assertEqual(registered["body"]["status"], "PASSKEY_REGISTERED")
        credential_id = registered["body"]["credential_id"]

        signed_in = self.run_js(page, "profile", "signIn", email)
        self.assertEqual(signed_in["status"], 200, signed_in)
        self.assertTrue(signed_in["body"]["access_token"])
        self.assertTrue(signed_in["body"]["refresh_token"])

        listed = self.run_js(page, "profile", "list", token)
        self.assertEqual(listed["body"]["passkeys"][0]["credential_id"], credential_id)
        self.assertEqual(listed["body"]["passkeys"][0]["friendly_name"], "Chromium")

        removed = self.run_js(page, "profile", "remove", token, credential_id)
        self.assertEqual(removed["body"]["status"], "PASSKEY_DELETED")
        listed = self.run_js(page, "profile", "list", token)
        self.assertEqual(listed["body"]["passkeys"], [])


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() and result.testsRun == 2 else 1)
