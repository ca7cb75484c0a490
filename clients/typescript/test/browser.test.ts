// The package in a real browser: Debian's Chromium (npm playwright-core,
// never a downloaded browser) runs an app page that loads only the bundled
// package (dist/authgate.bundle.js) and talks to a real authgate across
// origins (CORS). Two tabs of one app share the session; a virtual
// authenticator answers the passkey ceremonies; the hosted pages take the
// code flow. A missing browser or binary is a failure, never a skip.

import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AuthgateClient, Session, SignInResult } from "../src/index.js";
import { PASSWORD, freePort, startAuthgate, totp, type Authgate } from "./harness.js";

const CHROMIUM = process.env.AUTHGATE_TEST_CHROMIUM ?? "/usr/bin/chromium";
const BUNDLE = readFileSync(new URL("../dist/authgate.bundle.js", import.meta.url), "utf8");

declare global {
  interface Window {
    auth: AuthgateClient;
    changes: (Session | null)[];
    pending?: SignInResult;
  }
}

let authgate: Authgate;
let app: { base: string; server: Server };
let browser: Browser;
let clientId: string;

/** The app: one page that creates an AuthgateClient from the bundle. */
async function startApp(port: number, authgateBase: string) {
  const page = `<!doctype html><meta charset="utf-8"><title>App</title>
<script type="module">
  import { AuthgateClient } from "/authgate.js";
  const leeway = new URLSearchParams(location.search).get("leeway");
  window.auth = new AuthgateClient({
    baseUrl: ${JSON.stringify(authgateBase)},
    ...(leeway ? { refreshLeewaySeconds: Number(leeway) } : {}),
  });
  window.changes = [];
  window.auth.onSessionChange((session) => window.changes.push(session));
  document.title = "App ready";
</script>`;
  const server = createServer((request, response) => {
    if (request.url === "/authgate.js") {
      response.writeHead(200, { "content-type": "text/javascript" });
      response.end(BUNDLE);
    } else {
      response.writeHead(200, { "content-type": "text/html" });
      response.end(page);
    }
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { base: `http://localhost:${port}`, server };
}

beforeAll(async () => {
  const appPort = await freePort();
  const appOrigin = `http://localhost:${appPort}`;
  const authgatePort = await freePort();
  authgate = await startAuthgate({
    AUTHGATE_CORS_ORIGINS: appOrigin,
    AUTHGATE_WEBAUTHN_RP_ID: "localhost",
    AUTHGATE_WEBAUTHN_ORIGINS: `http://localhost:${authgatePort},${appOrigin}`,
    AUTHGATE_REFRESH_REUSE_INTERVAL: "0",
  }, authgatePort);
  app = await startApp(appPort, authgate.base);
  const created = authgate.cli(
    "admin", "create-client", "--name", "TS SPA", "--type", "public",
    "--redirect-uri", `${app.base}/callback`,
  );
  clientId = created.match(/^client_id=(\S+)$/m)![1]!;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

afterAll(async () => {
  await browser?.close();
  app?.server.close();
  await authgate?.stop();
});

/** A tab of the app, its client ready. */
async function tab(context: BrowserContext, query = ""): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${app.base}/${query}`);
  await page.waitForFunction(() => document.title === "App ready");
  return page;
}

/** An account with TOTP set up: its email and secret. */
async function totpAccount(): Promise<{ email: string; secret: string }> {
  const email = `tabs-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  await authgate.confirmedAccount(email);
  const client = authgate.client();
  await client.signIn(email, PASSWORD);
  const setUp = await client.setUpTotp();
  await setUp.verify(totp(setUp.secret));
  return { email, secret: setUp.secret };
}

/** Signs in in `page` through the TOTP challenge (the next window's code). */
async function signInWithTotp(page: Page, email: string, secret: string): Promise<Session> {
  const challenge = await page.evaluate(
    async ([email, password]) => {
      window.pending = await window.auth.signIn(email!, password!);
      return window.pending.kind === "challenge" ? window.pending.challenge.name : "signedIn";
    },
    [email, PASSWORD],
  );
  expect(challenge).toBe("TOTP_REQUIRED");
  return page.evaluate(async (code) => {
    const pending = window.pending!;
    if (pending.kind !== "challenge") throw new Error("no challenge");
    const answered = await pending.challenge.answer(code);
    if (answered.kind !== "signedIn") throw new Error("still challenged");
    return answered.session;
  }, totp(secret, Date.now() / 1000 + 30));
}

/** `auth.refresh()` in every page at the same instant (a shared deadline). */
async function refreshAtOnce(pages: Page[]): Promise<Session[]> {
  const at = Date.now() + 300;
  return Promise.all(
    pages.map((page) =>
      page.evaluate(async (at) => {
        await new Promise((resolve) => setTimeout(resolve, at - Date.now()));
        return window.auth.refresh();
      }, at),
    ),
  );
}

async function subjectStatus(accessToken: string): Promise<number> {
  const answer = await fetch(`${authgate.base}/v1/auth/subject`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  return answer.status;
}

describe("two tabs, one session", () => {
  test("sign in with TOTP, refresh in both tabs at once, stay signed in, sign out everywhere", async () => {
    const { email, secret } = await totpAccount();
    const context = await browser.newContext();
    const first = await tab(context);
    const signed = await signInWithTotp(first, email, secret);
    expect(signed.user.email).toBe(email);

    const second = await tab(context);
    expect(await second.evaluate(() => window.auth.currentSession())).toEqual(signed);

    // Both tabs refresh at the same instant, three times over: one rotation
    // each time, which the other tab adopts.
    let current = signed;
    for (let round = 0; round < 3; round++) {
      const [a, b] = await refreshAtOnce([first, second]);
      expect(a!.refreshToken).not.toBe(current.refreshToken);
      expect(b).toEqual(a);
      current = a!;
    }
    expect(await subjectStatus(current.accessToken)).toBe(200);
    const answer = await second.evaluate(async (base) => {
      const response = await window.auth.fetch(`${base}/v1/auth/subject`);
      return { status: response.status, body: await response.json() };
    }, authgate.base);
    expect(answer.status).toBe(200);
    expect(answer.body.user.email).toBe(email);

    // Signing out in one tab signs the other out too.
    await first.evaluate(() => window.auth.signOut());
    await second.waitForFunction(() => window.changes.at(-1) === null);
    expect(await second.evaluate(() => window.auth.currentSession())).toBeNull();
    const third = await tab(context);
    expect(await third.evaluate(() => window.auth.currentSession())).toBeNull();
    expect(await subjectStatus(current.accessToken)).toBe(401);
    await context.close();
  });

  test("both tabs' timers fire together before expiry and the session survives every rotation", async () => {
    const { email, secret } = await totpAccount();
    const context = await browser.newContext();
    // Access tokens live 3600 s: a leeway of 3598 s refreshes every ~2 s.
    const first = await tab(context, "?leeway=3598");
    await signInWithTotp(first, email, secret);
    const second = await tab(context, "?leeway=3598");
    const rotations = async (page: Page) =>
      page.evaluate(() => new Set(window.changes.filter((s) => s).map((s) => s!.refreshToken)).size);
    await first.waitForFunction(
      () => new Set(window.changes.filter((s) => s).map((s) => s!.refreshToken)).size >= 4,
      undefined,
      { timeout: 20_000 },
    );
    expect(await rotations(second)).toBeGreaterThanOrEqual(2);
    expect(await first.evaluate(() => window.changes.includes(null))).toBe(false);
    expect(await second.evaluate(() => window.changes.includes(null))).toBe(false);

    // Stop the timers, then check that what both tabs hold is the live session.
    await first.evaluate(() => window.auth.close());
    await second.evaluate(() => window.auth.close());
    const [a, b] = await Promise.all([
      first.evaluate(() => window.auth.currentSession()),
      second.evaluate(() => window.auth.currentSession()),
    ]);
    expect(b).toEqual(a);
    expect(await subjectStatus(a!.accessToken)).toBe(200);
    const refreshed = await fetch(`${authgate.base}/v1/auth/token/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken: a!.refreshToken }),
    });
    expect(refreshed.status).toBe(200);
    await context.close();
  });
});

describe("passkeys", () => {
  test("register a passkey, sign out, sign in with it (with and without the email)", async () => {
    const email = `passkey-${Date.now()}@example.com`;
    await authgate.confirmedAccount(email);
    const context = await browser.newContext();
    const page = await tab(context);
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    const passkey = await page.evaluate(
      async ([email, password]) => {
        await window.auth.signIn(email!, password!);
        return window.auth.registerPasskey("Laptop");
      },
      [email, PASSWORD],
    );
    expect(passkey.name).toBe("Laptop");
    await page.evaluate(() => window.auth.signOut());

    const withEmail = await page.evaluate((email) => window.auth.signInWithPasskey(email), email);
    expect(withEmail.user.email).toBe(email);
    await page.evaluate(() => window.auth.signOut());
    const usernameless = await page.evaluate(() => window.auth.signInWithPasskey());
    expect(usernameless.user.email).toBe(email);
    expect(await subjectStatus(usernameless.accessToken)).toBe(200);
    await context.close();
  });
});

describe("the code flow on the hosted pages", () => {
  test("PKCE sign-in through the hosted page, refresh at the token endpoint, sign-out revokes", async () => {
    const email = `spa-${Date.now()}@example.com`;
    await authgate.confirmedAccount(email);
    const context = await browser.newContext();
    await context.addCookies([{ name: "authgate_passkey_declined", value: "1", url: authgate.base }]);
    const page = await tab(context);
    const url = await page.evaluate(
      ([clientId, redirectUri]) =>
        window.auth.signInWithRedirectUrl({ clientId: clientId!, redirectUri: redirectUri! }),
      [clientId, `${app.base}/callback`],
    );
    expect(new URL(url).searchParams.get("code_challenge_method")).toBe("S256");
    await page.goto(url);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${app.base}/callback?**`);
    await page.waitForFunction(() => document.title === "App ready");
    const session = await page.evaluate(() => window.auth.completeSignInWithRedirect(location.href));
    expect(session.source).toEqual({ type: "oauth", clientId });
    expect(session.user.email).toBe(email);
    expect(await subjectStatus(session.accessToken)).toBe(200);

    // The same callback twice: the state was used up.
    const replay = await page.evaluate(async () => {
      try {
        await window.auth.completeSignInWithRedirect(location.href);
        return "accepted";
      } catch (error) {
        return (error as { code: string }).code;
      }
    });
    expect(replay).toBe("invalid_callback");

    const refreshed = await page.evaluate(() => window.auth.refresh());
    expect(refreshed.refreshToken).not.toBe(session.refreshToken);
    expect(refreshed.user.email).toBe(email);
    await page.evaluate(() => window.auth.signOut());
    const revoked = await fetch(`${authgate.base}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshed.refreshToken!, client_id: clientId }),
    });
    expect(revoked.status).toBe(400);
    await context.close();
  });
});
