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
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("AUTHGATE_TEST_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "Correct-Horse-42!"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, bearer=None):
    """One JSON request to authgate: (status, parsed body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if bearer:
        request.add_header("authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as err:
        text = err.read().decode()
        return err.code, json.loads(text) if text else None


class Authgate:
    """A real authgate server on loopback, embedded provider, passkeys bound
    to localhost and allowed from the page's origin."""

    def __init__(self, page_origin):
        binary = os.environ.get("AUTHGATE_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise SystemExit(f"AUTHGATE_BIN is not an executable authgate binary: {binary!r}")
        self.port = free_port()
        self.base = f"http://localhost:{self.port}"
        self.data = Path(tempfile.mkdtemp(prefix="authgate-browser-"))
        env = dict(
            os.environ,
            AUTHGATE_LISTEN=f"127.0.0.1:{self.port}",
            AUTHGATE_PUBLIC_URL=self.base,
            AUTHGATE_DATA_DIR=str(self.data),
            AUTHGATE_WEBAUTHN_RP_ID="localhost",
            AUTHGATE_WEBAUTHN_ORIGINS=page_origin,
            AUTHGATE_CORS_ORIGINS=page_origin,
            AUTHGATE_COMPAT_COGNITO_API="true",
            AUTHGATE_RATE_LIMITS="off",
        )
        self.log = open(self.data / "server.log", "w")
        self.process = subprocess.Popen(
            [binary, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        for _ in range(200):
            try:
                if call(self.base, "GET", "/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise SystemExit("authgate did not start:\n" + (self.data / "server.log").read_text())

    def mailed_code(self, email):
        """The newest six-digit code in the outbox for `email`."""
        for _ in range(100):
            for mail in sorted((self.data / "outbox").glob("*"), reverse=True):
                text = mail.read_text(errors="replace")
                if email in text:
                    found = re.search(r"Code:\s*(\d{6})", text)
                    if found:
                        return found.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no code mailed to {email}")

    def signed_in_user(self, email):
        """Sign up, confirm with the mailed code, sign in: the access token."""
        status, _ = call(self.base, "POST", "/v1/auth/sign-up", {"email": email, "password": PASSWORD})
        assert status == 201, status
        code = self.mailed_code(email)
        status, _ = call(self.base, "POST", "/v1/auth/sign-up/confirm", {"email": email, "code": code})
        assert status == 200, status
        status, session = call(self.base, "POST", "/v1/auth/sign-in", {"email": email, "password": PASSWORD})
        assert status == 200, (status, session)
        return session["accessToken"]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    def cleanup(self):
        shutil.rmtree(self.data, ignore_errors=True)


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
        cls.authgate = Authgate(cls.pages.origin)
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
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        self.addCleanup(context.close)
        return page, cdp, authenticator["authenticatorId"]

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
