"""What the real-browser tests share: a free loopback port, one JSON call,
and a real authgate server on loopback (the binary of AUTHGATE_BIN, the
embedded provider, a fresh data directory whose outbox holds the mail)."""

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
    off; `settings` adds or overrides AUTHGATE_* variables."""

    def __init__(self, settings=None):
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
            AUTHGATE_RATE_LIMITS="off",
        )
        env.update(settings or {})
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
