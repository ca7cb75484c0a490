// The authorization code flow with npm `openid-client` 6 as the app's
// OpenID client (discovery, PKCE S256, state, nonce, RFC 9207 `iss`, the
// id token checked against the published keys, UserInfo, refresh,
// revocation, RP-initiated logout) and a person in Debian's Chromium
// (npm `playwright-core`, never a downloaded browser) on authgate's pages.
//
//   AUTHGATE_BIN=target/debug/authgate node --test code_flow.test.mjs
//
// A missing browser or binary is a failure, never a skip.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as client from "openid-client";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.AUTHGATE_TEST_CHROMIUM ?? "/usr/bin/chromium";
const BINARY = process.env.AUTHGATE_BIN;
const PASSWORD = "Correct-Horse-42!";

/** A free loopback port. */
function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A real authgate on loopback: embedded provider, SQLite, rate limits off. */
async function startAuthgate() {
  assert.ok(BINARY, "AUTHGATE_BIN names the authgate binary");
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), "authgate-node-"));
  const base = `http://localhost:${port}`;
  const env = {
    ...process.env,
    AUTHGATE_LISTEN: `127.0.0.1:${port}`,
    AUTHGATE_PUBLIC_URL: base,
    AUTHGATE_DATA_DIR: data,
    AUTHGATE_RATE_LIMITS: "off",
    AUTHGATE_LOG: "warn",
  };
  const process_ = spawn(BINARY, ["serve"], { env, stdio: "inherit" });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/health/ready`)).ok) return { base, data, env, process: process_ };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process_.kill();
  throw new Error("authgate did not start");
}

/** The newest six-digit code mailed to `email` (the outbox of the data dir). */
async function mailedCode(data, email) {
  for (let i = 0; i < 100; i++) {
    const outbox = join(data, "outbox");
    const mails = readdirSync(outbox, { withFileTypes: true })
      .map((entry) => join(outbox, entry.name))
      .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)
      .map((path) => readFileSync(path, "utf8"))
      .filter((text) => text.includes(email) && /Code:\s*\d{6}/.test(text));
    if (mails.length) return mails.at(-1).match(/Code:\s*(\d{6})/)[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no code mailed to ${email}`);
}

async function post(base, path, body) {
  const answer = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return answer.status;
}

/** The app's redirect URI on loopback: remembers every URL it is sent to. */
async function startApp() {
  const port = await freePort();
  const seen = [];
  const server = createServer((request, response) => {
    seen.push(request.url);
    response.writeHead(200, { "content-type": "text/html" });
    response.end("<!doctype html><title>App</title><p>Back in the app.</p>");
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return { base: `http://127.0.0.1:${port}`, seen, server };
}

let authgate, app, browser, config;
const email = "node-user@example.com";

before(async () => {
  authgate = await startAuthgate();
  app = await startApp();
  const output = execFileSync(
    BINARY,
    ["admin", "create-client", "--name", "Node SPA", "--type", "public",
      "--redirect-uri", `${app.base}/callback`, "--post-logout-uri", `${app.base}/bye`],
    { env: authgate.env, encoding: "utf8" },
  );
  const clientId = output.match(/^client_id=(\S+)$/m)[1];
  assert.doesNotMatch(output, /client_secret/, "a public client has no secret");
  // Discovery over http is allowed for loopback tests only.
  config = await client.discovery(new URL(authgate.base), clientId, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  assert.equal(await post(authgate.base, "/v1/auth/sign-up", { email, password: PASSWORD }), 201);
  const code = await mailedCode(authgate.data, email);
  assert.equal(await post(authgate.base, "/v1/auth/sign-up/confirm", { email, code }), 200);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  authgate?.process.kill();
  app?.server.close();
  if (authgate) rmSync(authgate.data, { recursive: true, force: true });
});

/** A page in a browser that said "Not now" to adding a passkey before. */
async function newPage() {
  const context = await browser.newContext();
  await context.addCookies([{ name: "authgate_passkey_declined", value: "1", url: authgate.base }]);
  return context.newPage();
}

/** What the app's OIDC library sends the person to, and what it keeps. */
async function authorizationRequest(extra = {}) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: `${app.base}/callback`,
    scope: "openid email profile",
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: "S256",
    state: expectedState,
    nonce: expectedNonce,
    ...extra,
  });
  return { url, checks: { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true } };
}

async function backInTheApp(page) {
  await page.waitForURL(`${app.base}/callback*`);
  return new URL(page.url());
}

test("a person signs in on the pages and openid-client gets tokens that verify, refresh and end", async () => {
  const page = await newPage();
  const { url, checks } = await authorizationRequest();
  await page.goto(url.href);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("Wrong-Password-9!");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByText("Incorrect email or password").waitFor();
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  const callback = await backInTheApp(page);
  assert.equal(callback.searchParams.get("iss"), authgate.base, "RFC 9207 iss");

  // openid-client checks state, iss, the PKCE verifier, and the id token
  // (signature against jwks_uri, iss, aud, nonce, exp).
  const tokens = await client.authorizationCodeGrant(config, callback, checks);
  const claims = tokens.claims();
  assert.equal(claims.email, email);
  assert.deepEqual(claims.amr, ["pwd"]);
  assert.equal(claims.aud, config.clientMetadata().client_id);

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.email, email);

  // Refresh rotates.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);

  // The same code twice: invalid_grant, and what the code issued is revoked.
  await assert.rejects(client.authorizationCodeGrant(config, callback, checks), (err) => {
    assert.equal(err.error, "invalid_grant");
    return true;
  });
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (err) => {
    assert.equal(err.error, "invalid_grant");
    return true;
  });

  // SSO with prompt=none; a revoked refresh token refreshes nothing.
  const silent = await authorizationRequest({ prompt: "none" });
  await page.goto(silent.url.href);
  const silentTokens = await client.authorizationCodeGrant(config, await backInTheApp(page), silent.checks);
  await client.tokenRevocation(config, silentTokens.refresh_token);
  await assert.rejects(client.refreshTokenGrant(config, silentTokens.refresh_token), (err) => {
    assert.equal(err.error, "invalid_grant");
    return true;
  });

  // RP-initiated logout back to the app; then nobody is signed in.
  const logout = client.buildEndSessionUrl(config, {
    id_token_hint: silentTokens.id_token,
    post_logout_redirect_uri: `${app.base}/bye`,
    state: "bye-1",
  });
  await page.goto(logout.href);
  await page.waitForURL(`${app.base}/bye*`);
  assert.equal(new URL(page.url()).searchParams.get("state"), "bye-1");
  const after = await authorizationRequest({ prompt: "none" });
  await page.goto(after.url.href);
  const answer = await backInTheApp(page);
  await assert.rejects(client.authorizationCodeGrant(config, answer, after.checks), (err) => {
    assert.equal(err.error, "login_required");
    return true;
  });
});

test("an error of the authorization request reaches openid-client with state and iss", async () => {
  const page = await newPage();
  const { url, checks } = await authorizationRequest({ code_challenge_method: "plain" });
  await page.goto(url.href);
  const answer = await backInTheApp(page);
  assert.equal(answer.searchParams.get("error"), "invalid_request");
  await assert.rejects(client.authorizationCodeGrant(config, answer, checks), (err) => {
    assert.equal(err.error, "invalid_request");
    return true;
  });
});
