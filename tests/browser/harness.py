"""What the real-browser tests share: a free loopback port, one JSON call,
and a real authgate server on loopback (the binary of AUTHGATE_BIN, a fresh
data directory whose outbox holds the mail). Its store is SQLite, or a fresh
PostgreSQL database when AUTHGATE_BROWSER_DATABASE=postgres (on
AUTHGATE_TEST_POSTGRES_URL's server); its provider is the embedded one, or
a fresh Cognito pool in the moto emulator at AUTHGATE_TEST_MOTO_URL
(`Authgate.on_moto()`)."""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PASSWORD = "Correct-Horse-42!"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_virtual_authenticator(page):
    """A virtual platform authenticator (CDP WebAuthn: CTAP2, resident keys,
    user verification, presence answered) for `page`: (CDP session, its id)."""
    cdp = page.context.new_cdp_session(page)
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
    return cdp, authenticator["authenticatorId"]


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
    """A real authgate server on loopback, embedded provider, rate limits
    off; `settings` adds or overrides AUTHGATE_* variables; `port` is the
    one to listen on (a free one when not given)."""

    def __init__(self, settings=None, port=None):
        self.binary = os.environ.get("AUTHGATE_BIN")
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise SystemExit(f"AUTHGATE_BIN is not an executable authgate binary: {self.binary!r}")
        self.port = port or free_port()
        self.base = f"http://localhost:{self.port}"
        self.data = Path(tempfile.mkdtemp(prefix="authgate-browser-"))
        self.database = None
        self.env = dict(
            os.environ,
            AUTHGATE_LISTEN=f"127.0.0.1:{self.port}",
            AUTHGATE_PUBLIC_URL=self.base,
            AUTHGATE_DATA_DIR=str(self.data),
            AUTHGATE_RATE_LIMITS="off",
        )
        if os.environ.get("AUTHGATE_BROWSER_DATABASE") == "postgres":
            self.env.update(self.fresh_postgres())
        self.env.update(settings or {})
        self.log = open(self.data / "server.log", "w")
        self.process = subprocess.Popen(
            [self.binary, "serve"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
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

    def fresh_postgres(self):
        """A new database on the test PostgreSQL server: its settings."""
        server = os.environ.get("AUTHGATE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
        server = server.rsplit("/", 1)[0]
        self.database = (server, f"authgate_browser_{os.urandom(6).hex()}")
        subprocess.run(
            ["psql", "-q", server + "/postgres", "-c", f"CREATE DATABASE {self.database[1]}"], check=True
        )
        return {
            "AUTHGATE_DATABASE_URL": f"{server}/{self.database[1]}",
            "AUTHGATE_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
        }

    @classmethod
    def on_moto(cls, settings=None):
        """A server on the Cognito provider, with a fresh pool in moto
        (`authgate cognito bootstrap` against AUTHGATE_TEST_MOTO_URL)."""
        moto = os.environ.get("AUTHGATE_TEST_MOTO_URL")
        if not moto:
            raise SystemExit("AUTHGATE_TEST_MOTO_URL is not set: run scripts/test, which starts moto")
        cognito = {
            "AUTHGATE_COGNITO_REGION": "us-east-1",
            "AUTHGATE_COGNITO_ENDPOINT_URL": moto,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            "AUTHGATE_LOG": "warn",
        }
        output = subprocess.run(
            [os.environ["AUTHGATE_BIN"], "cognito", "bootstrap", "--pool-name",
             f"authgate-browser-{os.urandom(4).hex()}"],
            env=dict(os.environ, **cognito, AUTHGATE_PUBLIC_URL="http://localhost"),
            capture_output=True, text=True, check=True,
        ).stdout
        pool = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
        authgate = cls({**cognito, **pool, "AUTHGATE_LOG": "info", **(settings or {})})
        authgate.moto = moto
        authgate.pool_id = pool["AUTHGATE_COGNITO_USER_POOL_ID"]
        return authgate

    def moto_admin_create_user(self, email, temporary):
        """AdminCreateUser in the moto pool (no message sent), as an
        administrator would: the account must choose a new password."""
        answer = urllib.request.Request(
            self.moto,
            data=json.dumps({
                "UserPoolId": self.pool_id, "Username": email, "TemporaryPassword": temporary,
                "MessageAction": "SUPPRESS", "UserAttributes": [{"Name": "email", "Value": email}],
            }).encode(),
            headers={
                "content-type": "application/x-amz-json-1.1",
                "x-amz-target": "AWSCognitoIdentityProviderService.AdminCreateUser",
                "authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/cognito-idp/aws4_request",
            },
            method="POST",
        )
        with urllib.request.urlopen(answer, timeout=10) as response:
            assert response.status == 200, response.status

    def mailed_code(self, email, nth=None):
        """The six-digit code of the `nth` message to `email` (in the order
        they were written), or of the newest one."""
        for _ in range(100):
            mails = sorted((self.data / "outbox").glob("*"), key=lambda m: m.stat().st_mtime_ns)
            codes = []
            for mail in mails:
                text = mail.read_text(errors="replace")
                found = re.search(r"Code:\s*(\d{6})", text)
                if email in text and found:
                    codes.append(found.group(1))
            if nth is None and codes:
                return codes[-1]
            if nth is not None and len(codes) > nth:
                return codes[nth]
            time.sleep(0.1)
        raise AssertionError(f"no code #{nth} mailed to {email}")

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
        if self.database:
            server, name = self.database
            subprocess.run(["psql", "-q", server + "/postgres", "-c", f"DROP DATABASE IF EXISTS {name}"],
                           check=False, capture_output=True)
