// The session layer against a real authgate (embedded provider, SQLite):
// every helper an app calls in place of the Cognito SDK.

import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AuthgateClient, AuthgateError, memoryStore, processTabs, type Session } from "../src/index.js";
import { PASSWORD, startAuthgate, totp, type Authgate } from "./harness.js";

let authgate: Authgate;
let mandatoryMfa: Authgate;

beforeAll(async () => {
  // Strict rotation: a refresh token presented twice revokes its family,
  // so a race the client failed to prevent would show.
  [authgate, mandatoryMfa] = await Promise.all([
    startAuthgate({ AUTHGATE_REFRESH_REUSE_INTERVAL: "0" }),
    startAuthgate({ AUTHGATE_MFA: "required" }),
  ]);
});

afterAll(async () => {
  await Promise.all([authgate?.stop(), mandatoryMfa?.stop()]);
});

let accounts = 0;
/** A fresh confirmed account on `server`: its email. */
async function account(server = authgate): Promise<string> {
  const email = `ts-${++accounts}-${Date.now()}@example.com`;
  await server.confirmedAccount(email);
  return email;
}

/** Signs in with the password and expects no challenge. */
async function signedIn(client: AuthgateClient, email: string, password = PASSWORD): Promise<Session> {
  const result = await client.signIn(email, password);
  if (result.kind !== "signedIn") throw new Error(`expected a session, got ${result.challenge.name}`);
  return result.session;
}

/** The error a promise rejects with (fails the test when it resolves). */
async function refusal(promise: Promise<unknown>): Promise<AuthgateError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AuthgateError);
    return error as AuthgateError;
  }
  throw new Error("expected a refusal");
}

describe("sign-up and sign-in", () => {
  test("sign-up, the mailed code and a sign-in end in a Session with the user", async () => {
    const client = authgate.client();
    const email = `ts-new-${Date.now()}@example.com`;
    const signedUp = await client.signUp({ email, password: PASSWORD, name: "Ada" });
    expect(signedUp.requiresConfirmation).toBe(true);
    expect(signedUp.delivery?.destination).not.toContain(email);
    expect(await client.confirmSignUp(email, await authgate.mailedCode(email))).toMatchObject({ confirmed: true });

    const session = await signedIn(client, email);
    expect(session.user.email).toBe(email);
    expect(session.source).toEqual({ type: "native" });
    expect(session.expiresAt).toBeGreaterThan(Date.now() + 3000_000);
    expect(await client.currentSession()).toEqual(session);
    expect((await client.subject()).user.email).toBe(email);
  });

  test.each([
    ["a wrong password", (c: AuthgateClient, email: string) => c.signIn(email, "wrong-Password-1!"), 401, "invalid_credentials", undefined],
    ["an empty password", (c: AuthgateClient, email: string) => c.signIn(email, ""), 401, "invalid_credentials", undefined],
    ["a sign-up with no address", (c: AuthgateClient) => c.signUp({ email: "not-an-address", password: PASSWORD }), 422, "invalid_request", "email"],
    ["a wrong confirmation code", (c: AuthgateClient, email: string) => c.confirmSignUp(email, "000000"), 400, "code_mismatch", undefined],
  ])("%s is an AuthgateError with the stable code", async (_, attempt, status, code, field) => {
    const client = authgate.client();
    const error = await refusal(attempt(client, await account()));
    expect([error.status, error.code, error.field]).toEqual([status, code, field]);
    expect(error.requestId).toBeTruthy();
    expect(error.message).not.toContain(PASSWORD);
    expect(await client.currentSession()).toBeNull();
  });

  test("an account with TOTP answers TOTP_REQUIRED; a wrong code is refused, the right one signs in", async () => {
    const email = await account();
    const enrolling = authgate.client();
    await signedIn(enrolling, email);
    const setUp = await enrolling.setUpTotp();
    expect(setUp.otpauthUri).toContain(setUp.secret);
    await setUp.verify(totp(setUp.secret));

    const client = authgate.client();
    const result = await client.signIn(email, PASSWORD);
    if (result.kind !== "challenge" || result.challenge.name !== "TOTP_REQUIRED") {
      throw new Error(`expected TOTP_REQUIRED, got ${JSON.stringify(result)}`);
    }
    const wrong = String((Number(totp(setUp.secret)) + 1) % 1_000_000).padStart(6, "0");
    expect((await refusal(result.challenge.answer(wrong))).code).toBe("code_mismatch");
    expect(await client.currentSession()).toBeNull();

    // The enrolment spent this window's code; the next window's is accepted too.
    const answered = await result.challenge.answer(totp(setUp.secret, Date.now() / 1000 + 30));
    expect(answered.kind).toBe("signedIn");
    expect((await client.subject()).mfa).toMatchObject({ totp: true });
  });

  test("an account an administrator created answers NEW_PASSWORD_REQUIRED", async () => {
    const email = `ts-admin-made-${Date.now()}@example.com`;
    authgate.cli("admin", "create-user", "--email", email);
    const temporary = await authgate.mailed(email, /Temporary password:\s*(\S+)/);
    const client = authgate.client();
    const result = await client.signIn(email, temporary);
    if (result.kind !== "challenge" || result.challenge.name !== "NEW_PASSWORD_REQUIRED") {
      throw new Error(`expected NEW_PASSWORD_REQUIRED, got ${JSON.stringify(result)}`);
    }
    const weak = await refusal(result.challenge.answer("short"));
    expect([weak.code, weak.rule]).toEqual(["invalid_password", "min_length"]);
    const answered = await result.challenge.answer(PASSWORD);
    expect(answered.kind).toBe("signedIn");
    expect((await signedIn(authgate.client(), email)).user.email).toBe(email);
  });

  test("with MFA required, MFA_SETUP_REQUIRED carries the secret; the first code signs in with recovery codes", async () => {
    const email = await account(mandatoryMfa);
    const client = mandatoryMfa.client();
    const result = await client.signIn(email, PASSWORD);
    if (result.kind !== "challenge" || result.challenge.name !== "MFA_SETUP_REQUIRED") {
      throw new Error(`expected MFA_SETUP_REQUIRED, got ${JSON.stringify(result)}`);
    }
    expect(result.challenge.otpauthUri).toContain(result.challenge.secret);
    const answered = await result.challenge.answer(totp(result.challenge.secret));
    if (answered.kind !== "signedIn") throw new Error("expected a session");
    expect(answered.session.recoveryCodes).toHaveLength(10);
    // Shown once: the stored session does not keep them.
    expect((await client.currentSession())?.recoveryCodes).toBeUndefined();
  });
});

describe("refresh", () => {
  test("refresh rotates the tokens and the old refresh token is spent", async () => {
    const client = authgate.client();
    const first = await signedIn(client, await account());
    const second = await client.refresh();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.user).toEqual(first.user);
    expect((await client.subject()).user.email).toBe(first.user.email);

    const replay = await client.api.POST("/v1/auth/token/refresh", { body: { refreshToken: first.refreshToken! } });
    expect(replay.response.status).toBe(401);
  });

  test("clients sharing one store refresh at once: one rotation, both keep the session", async () => {
    const store = memoryStore();
    const tabs = processTabs();
    const first = authgate.client({ store, tabs });
    const session = await signedIn(first, await account());
    const second = authgate.client({ store, tabs });

    const [a, b, c] = await Promise.all([first.refresh(), second.refresh(), first.refresh()]);
    expect(a.refreshToken).not.toBe(session.refreshToken);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    // The family is alive: a reuse would have revoked it.
    expect((await second.refresh()).refreshToken).not.toBe(a.refreshToken);
    expect((await first.subject()).user.email).toBe(session.user.email);
  });

  test("without the client's coordination the same race revokes the family (the attack it prevents)", async () => {
    const client = authgate.client();
    const session = await signedIn(client, await account());
    const body = { refreshToken: session.refreshToken! };
    const answers = await Promise.all([
      client.api.POST("/v1/auth/token/refresh", { body }),
      client.api.POST("/v1/auth/token/refresh", { body }),
    ]);
    const statuses = answers.map((answer) => answer.response.status).sort();
    expect(statuses).toEqual([200, 401]);
    const winner = answers.find((answer) => answer.response.ok)!.data!;
    const afterwards = await client.api.POST("/v1/auth/token/refresh", {
      body: { refreshToken: winner.refreshToken! },
    });
    expect(afterwards.response.status).toBe(401);
  });

  test("currentSession refreshes a session about to expire, and the timer refreshes before expiry", async () => {
    const email = await account();
    const eager = authgate.client({ refreshLeewaySeconds: 7200, autoRefresh: false });
    const signed = await signedIn(eager, email);
    const current = await eager.currentSession();
    expect(current?.accessToken).not.toBe(signed.accessToken);

    const scheduled = authgate.client({ refreshLeewaySeconds: 3599 });
    const start = await signedIn(scheduled, email);
    const refreshed = await new Promise<Session | null>((resolve) => scheduled.onSessionChange(resolve));
    expect(refreshed?.refreshToken).not.toBe(start.refreshToken);
    scheduled.close();
  });

  test("a refresh the server refuses ends the session in the client", async () => {
    const client = authgate.client();
    const session = await signedIn(client, await account());
    // Signed out behind the client's back (another device, an admin).
    await client.api.POST("/v1/auth/sign-out", { headers: { authorization: `Bearer ${session.accessToken}` } });
    const error = await refusal(client.refresh());
    expect(error.endsSession).toBe(true);
    expect(await client.currentSession()).toBeNull();
  });
});

describe("signed-in calls and sign-out", () => {
  test("fetch adds the bearer; signed out, it refuses before sending anything", async () => {
    const client = authgate.client();
    await signedIn(client, await account());
    const response = await client.fetch(`${authgate.base}/v1/auth/subject`);
    expect(response.status).toBe(200);
    await client.signOut();
    expect((await refusal(client.fetch(`${authgate.base}/v1/auth/subject`))).code).toBe("signed_out");
  });

  test("sign-out revokes the refresh family and forgets the session", async () => {
    const client = authgate.client();
    const session = await signedIn(client, await account());
    const changes: (Session | null)[] = [];
    client.onSessionChange((next) => changes.push(next));
    await client.signOut();
    expect(changes).toEqual([null]);
    expect(await client.currentSession()).toBeNull();
    const replay = await client.api.POST("/v1/auth/token/refresh", { body: { refreshToken: session.refreshToken! } });
    expect(replay.response.status).toBe(401);
    const subject = await client.api.GET("/v1/auth/subject", {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(subject.response.status).toBe(401);
  });

  test("password change, then reset by mailed code", async () => {
    const email = await account();
    const client = authgate.client();
    await signedIn(client, email);
    const changed = "Another-Horse-43!";
    expect((await refusal(client.changePassword("not-the-password-1A!", changed))).code).toBe("invalid_credentials");
    await client.changePassword(PASSWORD, changed);
    await signedIn(authgate.client(), email, changed);

    const seen = authgate.codesMailed(email);
    await client.requestPasswordReset(email);
    const reset = "Third-Horse-44!";
    await client.confirmPasswordReset(email, await authgate.mailedCode(email, seen), reset);
    await signedIn(authgate.client(), email, reset);
    // The same answer for an account that does not exist.
    await client.requestPasswordReset(`nobody-${Date.now()}@example.com`);
  });
});

describe("the OpenAPI document the types come from", () => {
  test("openapi.json is the server's document (npm run openapi refreshes it)", async () => {
    const { readFileSync } = await import("node:fs");
    const committed = JSON.parse(readFileSync(new URL("../openapi.json", import.meta.url), "utf8"));
    const profile = await startAuthgate({ AUTHGATE_COMPAT_COGNITO_API: "true", AUTHGATE_MFA: "required" });
    try {
      const served = await (await fetch(`${profile.base}/openapi.json`)).json();
      expect(served).toEqual(committed);
    } finally {
      await profile.stop();
    }
  });
});

test("AuthgateClient works with no AWS package installed", async () => {
  const { readFileSync } = await import("node:fs");
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  const everything = { ...manifest.dependencies, ...manifest.devDependencies };
  expect(Object.keys(everything).filter((name) => /aws|amplify|cognito/i.test(name))).toEqual([]);
  expect(new AuthgateClient({ baseUrl: authgate.base, store: memoryStore(), tabs: processTabs() })).toBeTruthy();
});
