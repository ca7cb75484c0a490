"""Sign-in with an external OpenID provider in a real browser: Debian's
Chromium through authgate's hosted pages and the upstream's own pages (npm
`oidc-provider` from tests/federation/upstream, whose development login
accepts any name: the name is the person's `sub`, the address
`<sub>@upstream.example`, verified unless the name starts with
"unverified"), with PyPI `authlib` as the app's OpenID client.

    AUTHGATE_BIN=target/debug/authgate python tests/browser/federation.py

On SQLite, or on PostgreSQL with AUTHGATE_BROWSER_DATABASE=postgres.
Exits non-zero on any failure; a missing browser, Node.js or upstream
install is a failure too.
"""

import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request
from pathlib import Path

import requests

from harness import PASSWORD, Authgate, call, free_port
from oauth_code_flow import Flow

UPSTREAM_DIR = Path(__file__).resolve().parent.parent / "federation" / "upstream"


class Upstream:
    """The upstream OP on loopback, its clients redirecting to `redirect_uri`."""

    def __init__(self, redirect_uri):
        if not (UPSTREAM_DIR / "node_modules" / "oidc-provider").exists():
            raise SystemExit(f"the upstream OP is not installed: npm ci in {UPSTREAM_DIR}")
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            ["node", "server.mjs"], cwd=UPSTREAM_DIR,
            env=dict(os.environ, PORT=str(self.port), REDIRECT_URI=redirect_uri),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                if requests.get(self.issuer + "/.well-known/openid-configuration", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise SystemExit("the upstream OP did not start")

    def move_address(self, sub, email):
        answer = requests.post(self.issuer + "/test/address", params={"sub": sub, "email": email}, timeout=5)
        assert answer.status_code == 204, answer.status_code

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


def federated_authgate(trusted=False, issuer=None):
    """An authgate whose provider `upstream` is a fresh upstream OP (or,
    with `issuer`, whatever answers there): (authgate, upstream or None)."""
    port = free_port()
    upstream = None if issuer else Upstream(f"http://localhost:{port}/oauth2/idpresponse")
    client_id = "authgate-trusted" if trusted else "authgate"
    entry = {
        "id": "upstream", "label": "Upstream", "issuer": issuer or upstream.issuer,
        "client_id": client_id, "client_secret": f"{client_id}-secret",
        "link_by_verified_email": trusted,
    }
    authgate = Authgate({"AUTHGATE_IDENTITY_PROVIDERS": json.dumps([entry])}, port=port)
    return authgate, upstream


class FederatedFlow(Flow):
    """A browser, the app, an authgate with the provider `upstream` (trusted
    to link when `trusted`), and the steps of a federated sign-in."""

    trusted = False

    @classmethod
    def make_authgate(cls):
        authgate, cls.upstream = federated_authgate(cls.trusted)
        return authgate

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.upstream.stop()

    def continue_with_upstream(self, page, login):
        """On authgate's sign-in page: `Continue with Upstream`, then the
        upstream's own login and consent pages as `login`."""
        page.get_by_role("button", name="Continue with Upstream").click()
        page.wait_for_url(self.upstream.issuer + "/**")
        page.locator("input[name=login]").fill(login)
        page.locator("input[name=password]").fill("any password")
        page.get_by_role("button", name="Sign-in").click()
        page.get_by_role("button", name="Continue").click()

    def federated_sign_in(self, login, page=None):
        """A whole sign-in with the provider in a fresh browser: the
        verified id token's claims and the tokens."""
        page = page or self.page()
        session, url, verifier, nonce = self.start()
        page.goto(url)
        self.continue_with_upstream(page, login)
        callback_url, _ = self.back_in_the_app(page)
        token, claims = self.exchange(session, callback_url, verifier, nonce)
        return claims, token

    def subject(self, token):
        status, subject = call(self.authgate.base, "GET", "/v1/auth/subject", bearer=token["access_token"])
        self.assertEqual(status, 200, subject)
        return subject


class FederationInChromium(FederatedFlow):
    """The provider is not trusted to link (`link_by_verified_email` off)."""

    def test_the_same_app_user_every_time_even_after_an_address_change(self):
        claims, token = self.federated_sign_in("dana")
        self.assertEqual((claims["sub"], claims["amr"]), ("dana", ["fed"]))
        self.assertEqual(claims["email"], "dana@upstream.example")
        first = self.subject(token)
        self.assertEqual(first["provider"], "oidc:upstream")

        self.upstream.move_address("dana", "dana.moved@upstream.example")
        claims, token = self.federated_sign_in("dana")
        again = self.subject(token)
        self.assertEqual(again["user"]["id"], first["user"]["id"])
        self.assertEqual(again["user"]["email"], "dana.moved@upstream.example")

    def test_an_existing_account_is_asked_to_sign_in_then_linked(self):
        email = "carol@upstream.example"
        access = self.authgate.signed_in_user(email)
        _, local = call(self.authgate.base, "GET", "/v1/auth/subject", bearer=access)
        page = self.page()
        session, url, verifier, nonce = self.start()
        page.goto(url)
        self.continue_with_upstream(page, "carol")
        page.get_by_text("Sign in to it to link it with").wait_for()
        self.shot(page, "20-federation-link")
        self.assertEqual(page.get_by_label("Email").input_value(), email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        callback_url, _ = self.back_in_the_app(page)
        _, claims = self.exchange(session, callback_url, verifier, nonce)
        self.assertEqual(claims["sub"], local["user"]["sub"])

        # Linked: the provider alone signs carol in to her account now.
        claims, _ = self.federated_sign_in("carol")
        self.assertEqual(claims["sub"], local["user"]["sub"])
        status, listed = call(self.authgate.base, "GET", "/v1/auth/identities", bearer=access)
        self.assertEqual((status, [i["subject"] for i in listed["identities"]]), (200, ["carol"]))

    def test_a_forged_callback_shows_a_page_in_words(self):
        page = self.page()
        page.goto(self.authgate.base + "/oauth2/idpresponse?state=forged&code=stolen")
        page.get_by_text("This sign-in is no longer valid").wait_for()
        self.shot(page, "21-federation-forged-callback")
        cookies = {c["name"] for c in page.context.cookies()}
        self.assertNotIn("authgate_session", cookies)


class TrustedFederationInChromium(FederatedFlow):
    """The provider is trusted to link on verified addresses."""

    trusted = True

    def test_verified_on_both_sides_links_at_once_unverified_never(self):
        access = self.authgate.signed_in_user("erin@upstream.example")
        _, local = call(self.authgate.base, "GET", "/v1/auth/subject", bearer=access)
        claims, _ = self.federated_sign_in("erin")
        self.assertEqual(claims["sub"], local["user"]["sub"], "linked at once")

        self.authgate.signed_in_user("unverified-fay@upstream.example")
        page = self.page()
        _, url, _, _ = self.start()
        page.goto(url)
        self.continue_with_upstream(page, "unverified-fay")
        page.get_by_text("Sign in to it to link it with").wait_for()


class DownUpstreamInChromium(Flow):
    """A provider that does not answer: a page in words, never a crash."""

    @classmethod
    def make_authgate(cls):
        authgate, _ = federated_authgate(issuer=f"http://127.0.0.1:{free_port()}")
        return authgate

    def test_continue_with_a_provider_that_is_down(self):
        page = self.page()
        _, url, _, _ = self.start()
        page.goto(url)
        page.get_by_role("button", name="Continue with Upstream").click()
        page.get_by_text("The external provider did not sign you in").wait_for()
        self.shot(page, "22-federation-upstream-down")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() and result.testsRun == 5 else 1)
