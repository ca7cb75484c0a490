/**
 * The session layer: what an app calls instead of the Cognito SDK. Sign-in
 * answers a {@link Session} or a typed {@link Challenge} to answer; the
 * session is kept in a {@link SessionStore}, refreshed before it expires
 * (one refresh at a time across tabs, see `tabs.ts`), handed to the app's
 * own API calls as a bearer, and ended by {@link AuthgateClient.signOut}.
 * Passkeys and the hosted pages' code flow end in the same Session.
 *
 * Every request goes through {@link AuthgateClient.api}, the typed client
 * generated from authgate's OpenAPI document.
 */

import createClient, { type Client } from "openapi-fetch";
import { AuthgateError, errorFromResponse, networkError, signedOut } from "./errors.js";
import type { components, paths } from "./schema.js";
import { defaultStore, type SessionStore } from "./store.js";
import { defaultTabs, type TabCoordinator, type TabMessage } from "./tabs.js";

type Schemas = components["schemas"];
export type UserView = Schemas["UserView"];
export type SignUpResponse = Schemas["SignUpResponse"];
export type Subject = Schemas["UserContext"];
export type Passkey = Schemas["PasskeyView"];

/** Where a session's refresh goes: the native contract or a code-flow client. */
export type SessionSource = { type: "native" } | { type: "oauth"; clientId: string };

/** A signed-in session, as this package stores it. */
export interface Session {
  /** The only bearer for protected APIs. */
  accessToken: string;
  /** Identity input for the app (who signed in); never a bearer. */
  idToken: string;
  /** Only for refreshing; absent when the server issued none. */
  refreshToken?: string;
  /** When the access token expires, in milliseconds since the epoch. */
  expiresAt: number;
  user: UserView;
  source: SessionSource;
  /** Only right after an MFA set-up: ten one-time codes to show the person once. */
  recoveryCodes?: string[];
}

/** A step the person must take before the sign-in completes. */
export type Challenge =
  | {
      name: "NEW_PASSWORD_REQUIRED";
      /** Sets the password an administrator's temporary one gives way to. */
      answer(newPassword: string): Promise<SignInResult>;
    }
  | {
      name: "TOTP_REQUIRED";
      /** The six digits the authenticator app shows now. */
      answer(code: string): Promise<SignInResult>;
    }
  | {
      name: "MFA_SETUP_REQUIRED";
      /** The base32 secret to type into an authenticator app. */
      secret: string;
      /** The same secret as an `otpauth://` URI, for a QR code. */
      otpauthUri: string;
      /** The first code the newly set-up authenticator shows. */
      answer(code: string): Promise<SignInResult>;
    };

export type SignInResult =
  | { kind: "signedIn"; session: Session }
  | { kind: "challenge"; challenge: Challenge };

export interface AuthgateOptions {
  /** authgate's base URL, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** Where the session is kept (default: `localStorage`, or memory outside a browser). */
  store?: SessionStore;
  /** How tabs agree on refreshes (default: Web Locks and a BroadcastChannel). */
  tabs?: TabCoordinator;
  /** Refresh this many seconds before the access token expires (default 60). */
  refreshLeewaySeconds?: number;
  /** Refresh in the background before expiry (default true). */
  autoRefresh?: boolean;
  fetch?: typeof fetch;
}

/** What a code-flow sign-in keeps while the person is on the hosted pages. */
interface PendingAuthorization {
  state: string;
  nonce: string;
  codeVerifier: string;
  clientId: string;
  redirectUri: string;
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint: string;
  end_session_endpoint: string;
}

interface OAuthTokens {
  access_token: string;
  id_token?: string;
  refresh_token?: string;
  expires_in: number;
}

const PENDING_KEY = "authgate.pendingAuthorization";

export class AuthgateClient {
  /** The typed client of the whole OpenAPI document (raw calls, no session logic). */
  readonly api: Client<paths>;
  private readonly baseUrl: string;
  private readonly store: SessionStore;
  private readonly tabs: TabCoordinator;
  private readonly leewayMs: number;
  private readonly autoRefresh: boolean;
  private readonly fetchImpl: typeof fetch;
  private readonly lockName: string;
  private session: Session | null = null;
  /** Settles once the stored session is loaded. */
  private readonly ready: Promise<void>;
  private timer?: ReturnType<typeof setTimeout>;
  private inflight?: Promise<Session>;
  private readonly listeners = new Set<(session: Session | null) => void>();
  private readonly stopListening: () => void;
  private discovery?: Promise<Discovery>;

  constructor(options: AuthgateOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.api = createClient<paths>({ baseUrl: this.baseUrl, fetch: (request) => this.fetchImpl(request) });
    this.store = options.store ?? defaultStore();
    this.tabs = options.tabs ?? defaultTabs();
    this.leewayMs = (options.refreshLeewaySeconds ?? 60) * 1000;
    this.autoRefresh = options.autoRefresh ?? true;
    this.lockName = `authgate.refresh ${this.baseUrl}`;
    this.stopListening = this.tabs.listen((message) => void this.onTabMessage(message));
    this.ready = this.store.load().then(
      (session) => {
        this.session ??= session;
        this.schedule();
      },
      () => undefined,
    );
  }

  // ----- sign-up and sign-in -------------------------------------------

  async signUp(body: Schemas["SignUpBody"]): Promise<SignUpResponse> {
    return this.call(() => this.api.POST("/v1/auth/sign-up", { body }));
  }

  async confirmSignUp(email: string, code: string): Promise<Schemas["ConfirmSignUpResponse"]> {
    return this.call(() => this.api.POST("/v1/auth/sign-up/confirm", { body: { email, code } }));
  }

  /** Email and password: a Session, or a Challenge to answer. */
  async signIn(email: string, password: string): Promise<SignInResult> {
    const answer = await this.call(() => this.api.POST("/v1/auth/sign-in", { body: { email, password } }));
    return this.signInResult(email, answer);
  }

  /** The session kept, refreshed first when it is about to expire; null when signed out. */
  async currentSession(): Promise<Session | null> {
    await this.ready;
    const session = this.session;
    if (!session) return null;
    if (session.expiresAt - this.leewayMs > Date.now()) return session;
    try {
      return await this.refresh();
    } catch (error) {
      if (error instanceof AuthgateError && error.endsSession) return null;
      throw error;
    }
  }

  /** Calls `listener` with every new session, and with null on sign-out (also another tab's). */
  onSessionChange(listener: (session: Session | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * New tokens for the session kept. One refresh runs at a time across
   * tabs: a tab that waited for another's finds the rotated session stored
   * and adopts it without presenting the spent refresh token.
   */
  refresh(): Promise<Session> {
    this.inflight ??= this.refreshOnce().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Ends the session: its refresh family is revoked, every tab forgets it. */
  async signOut(): Promise<void> {
    await this.ready;
    const session = this.session;
    await this.forget();
    this.tabs.announce({ type: "signedOut" });
    if (!session) return;
    if (session.source.type === "oauth") {
      if (session.refreshToken) await this.revoke(session.source.clientId, session.refreshToken);
      return;
    }
    const { response, error } = await this.send(() =>
      this.api.POST("/v1/auth/sign-out", { headers: bearer(session.accessToken) }),
    );
    // An access token already expired or revoked has nothing left to end.
    if (!response.ok && response.status !== 401) throw await errorFromResponse(response, error);
  }

  /**
   * `fetch` with the session's bearer: for the app's own protected APIs.
   * A 401 answer gets one refresh and one retry.
   */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const session = await this.currentSession();
    if (!session) throw signedOut();
    const withBearer = (token: string) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${token}`);
      return this.fetchImpl(input, { ...init, headers });
    };
    const response = await withBearer(session.accessToken);
    if (response.status !== 401 || !session.refreshToken) return response;
    return withBearer((await this.refresh()).accessToken);
  }

  /** Who is signed in, with tenants, roles and MFA state (`GET /v1/auth/subject`). */
  async subject(): Promise<Subject> {
    const token = await this.bearerToken();
    return this.call(() => this.api.GET("/v1/auth/subject", { headers: bearer(token) }));
  }

  // ----- TOTP ------------------------------------------------------------

  /** Starts TOTP set-up for the person signed in; `verify` with the first code turns MFA on. */
  async setUpTotp(): Promise<{ secret: string; otpauthUri: string; verify(code: string): Promise<void> }> {
    const token = await this.bearerToken();
    const started = await this.call(() => this.api.POST("/v1/auth/mfa/totp", { headers: bearer(token) }));
    return {
      secret: started.secret,
      otpauthUri: started.otpauthUri,
      verify: async (code: string) => {
        await this.call(() =>
          this.api.POST("/v1/auth/mfa/totp/verify", { headers: bearer(token), body: { code } }),
        );
      },
    };
  }

  // ----- passwords ---------------------------------------------------------

  /** Mails a reset code (the same answer whether or not the account exists). */
  async requestPasswordReset(email: string): Promise<void> {
    await this.call(() => this.api.POST("/v1/auth/password-resets", { body: { email } }));
  }

  async confirmPasswordReset(email: string, code: string, newPassword: string): Promise<void> {
    await this.call(() =>
      this.api.POST("/v1/auth/password-resets/confirm", { body: { email, code, newPassword } }),
    );
  }

  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    const token = await this.bearerToken();
    await this.call(() =>
      this.api.PATCH("/v1/auth/password", { headers: bearer(token), body: { currentPassword, newPassword } }),
    );
  }

  // ----- passkeys (WebAuthn Level 3 JSON) --------------------------------

  /** Registers a passkey for the person signed in (a browser with WebAuthn). */
  async registerPasskey(name?: string): Promise<Passkey> {
    const token = await this.bearerToken();
    const { session, options } = await this.call(() =>
      this.api.POST("/v1/auth/passkeys/register/start", { headers: bearer(token), body: {} }),
    );
    const credential = await webauthn().create({
      publicKey: PublicKeyCredentialJSON().parseCreationOptionsFromJSON(options as never),
    });
    return this.call(() =>
      this.api.POST("/v1/auth/passkeys/register/complete", {
        headers: bearer(token),
        body: { session, credential: credentialJSON(credential), name },
      }),
    );
  }

  /** Signs in with a passkey: of `email`'s, or any discoverable one without it. */
  async signInWithPasskey(email?: string): Promise<Session> {
    const { session, options } = await this.call(() =>
      this.api.POST("/v1/auth/passkeys/sign-in/start", { body: email === undefined ? {} : { email } }),
    );
    const credential = await webauthn().get({
      publicKey: PublicKeyCredentialJSON().parseRequestOptionsFromJSON(options as never),
    });
    const answer = await this.call(() =>
      this.api.POST("/v1/auth/passkeys/sign-in/complete", {
        body: { session, credential: credentialJSON(credential) },
      }),
    );
    return this.adopt(nativeSession(answer));
  }

  // ----- the code flow with PKCE on the hosted pages ---------------------

  /**
   * The URL of authgate's hosted sign-in for a public client (S256 PKCE,
   * state and nonce kept in `sessionStorage` until the callback). Send the
   * person there; {@link completeSignInWithRedirect} finishes on return.
   */
  async signInWithRedirectUrl(request: {
    clientId: string;
    redirectUri: string;
    scope?: string;
    identityProvider?: string;
    loginHint?: string;
  }): Promise<string> {
    const discovery = await this.discover();
    const pending: PendingAuthorization = {
      state: randomToken(),
      nonce: randomToken(),
      codeVerifier: randomToken(48),
      clientId: request.clientId,
      redirectUri: request.redirectUri,
    };
    pendingStorage().setItem(PENDING_KEY, JSON.stringify(pending));
    const url = new URL(discovery.authorization_endpoint);
    const query: Record<string, string | undefined> = {
      response_type: "code",
      client_id: request.clientId,
      redirect_uri: request.redirectUri,
      scope: request.scope ?? "openid email profile",
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await s256(pending.codeVerifier),
      code_challenge_method: "S256",
      identity_provider: request.identityProvider,
      login_hint: request.loginHint,
    };
    for (const [key, value] of Object.entries(query)) if (value) url.searchParams.set(key, value);
    return url.toString();
  }

  /** Finishes the code flow on the redirect URI: checks state and issuer, redeems the code. */
  async completeSignInWithRedirect(callbackUrl: string | URL): Promise<Session> {
    const url = new URL(callbackUrl);
    const text = pendingStorage().getItem(PENDING_KEY);
    pendingStorage().removeItem(PENDING_KEY);
    const pending = text ? (JSON.parse(text) as PendingAuthorization) : null;
    const discovery = await this.discover();
    const state = url.searchParams.get("state");
    if (!pending || !state || !constantTimeEqual(state, pending.state)) {
      throw invalidCallback("the callback's state is not the one this client sent");
    }
    if (url.searchParams.get("iss") !== discovery.issuer) {
      throw invalidCallback("the callback's issuer is not this authgate");
    }
    const refused = url.searchParams.get("error");
    if (refused) {
      throw new AuthgateError({
        status: 400,
        code: refused,
        message: url.searchParams.get("error_description") ?? refused,
      });
    }
    const code = url.searchParams.get("code");
    if (!code) throw invalidCallback("the callback carries no code");
    const tokens = await this.tokenRequest(discovery, {
      grant_type: "authorization_code",
      code,
      redirect_uri: pending.redirectUri,
      client_id: pending.clientId,
      code_verifier: pending.codeVerifier,
    });
    const claims = jwtClaims(tokens.id_token ?? "");
    const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (claims.iss !== discovery.issuer || !audience.includes(pending.clientId) || claims.nonce !== pending.nonce) {
      throw invalidCallback("the id token is not for this client and this request");
    }
    return this.adopt(oauthSession(tokens, pending.clientId));
  }

  /** Stops the refresh timer and the tab channel (the session stays stored). */
  close(): void {
    clearTimeout(this.timer);
    this.stopListening();
    this.tabs.close();
  }

  // ----- internals ---------------------------------------------------------

  private async signInResult(email: string, answer: Schemas["SignInResponse"]): Promise<SignInResult> {
    if ("accessToken" in answer) {
      return { kind: "signedIn", session: await this.adopt(nativeSession(answer)) };
    }
    const session = answer.session;
    const next = (
      path: "/v1/auth/challenges/new-password" | "/v1/auth/challenges/totp" | "/v1/auth/challenges/mfa-setup",
      body: Record<string, string>,
    ) =>
      this.call(() => this.api.POST(path, { body: { email, session, ...body } as never })).then((reply) =>
        this.signInResult(email, reply as Schemas["SignInResponse"]),
      );
    switch (answer.challenge) {
      case "NEW_PASSWORD_REQUIRED":
        return {
          kind: "challenge",
          challenge: {
            name: "NEW_PASSWORD_REQUIRED",
            answer: (newPassword) => next("/v1/auth/challenges/new-password", { newPassword }),
          },
        };
      case "TOTP_REQUIRED":
        return {
          kind: "challenge",
          challenge: { name: "TOTP_REQUIRED", answer: (code) => next("/v1/auth/challenges/totp", { code }) },
        };
      case "MFA_SETUP_REQUIRED":
        return {
          kind: "challenge",
          challenge: {
            name: "MFA_SETUP_REQUIRED",
            secret: answer.parameters.secret ?? "",
            otpauthUri: answer.parameters.otpauthUri ?? "",
            answer: (code) => next("/v1/auth/challenges/mfa-setup", { code }),
          },
        };
      default:
        throw new AuthgateError({
          status: 200,
          code: "unexpected_response",
          message: `a challenge this client does not know: ${answer.challenge}`,
        });
    }
  }

  private async refreshOnce(): Promise<Session> {
    await this.ready;
    const spent = this.session?.refreshToken;
    return this.tabs.exclusive(this.lockName, async () => {
      const stored = await this.store.load();
      if (!stored?.refreshToken) {
        await this.forget();
        throw signedOut();
      }
      if (stored.refreshToken !== spent) {
        // Another tab refreshed while this one waited for the lock.
        return this.adopt(stored, { announce: false });
      }
      try {
        const next = await this.redeem(stored);
        return this.adopt(next);
      } catch (error) {
        if (error instanceof AuthgateError && error.endsSession) {
          await this.forget();
          this.tabs.announce({ type: "signedOut" });
        } else {
          this.schedule(30_000);
        }
        throw error;
      }
    });
  }

  private async redeem(session: Session): Promise<Session> {
    const refreshToken = session.refreshToken!;
    if (session.source.type === "oauth") {
      const tokens = await this.tokenRequest(await this.discover(), {
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        client_id: session.source.clientId,
      });
      const next = oauthSession(tokens, session.source.clientId);
      return { ...next, refreshToken: next.refreshToken ?? refreshToken, user: session.user };
    }
    const answer = await this.call(() => this.api.POST("/v1/auth/token/refresh", { body: { refreshToken } }));
    const next = nativeSession(answer);
    return { ...next, refreshToken: next.refreshToken ?? refreshToken };
  }

  /** Keeps `session` (stored before the others hear of it) and tells the listeners. */
  private async adopt(session: Session, { announce = true } = {}): Promise<Session> {
    const { recoveryCodes, ...kept } = session;
    await this.store.save(kept);
    this.session = kept;
    if (announce) this.tabs.announce({ type: "session" });
    this.schedule();
    this.emit(kept);
    return recoveryCodes ? { ...kept, recoveryCodes } : kept;
  }

  private async forget(): Promise<void> {
    clearTimeout(this.timer);
    await this.store.clear();
    const had = this.session !== null;
    this.session = null;
    if (had) this.emit(null);
  }

  private async onTabMessage(message: TabMessage): Promise<void> {
    if (message.type === "signedOut") {
      clearTimeout(this.timer);
      this.session = null;
      this.emit(null);
      return;
    }
    this.session = await this.store.load();
    this.schedule();
    this.emit(this.session);
  }

  private emit(session: Session | null): void {
    for (const listener of this.listeners) listener(session);
  }

  /** The next background refresh: `leeway` before expiry, or after `delayMs`. */
  private schedule(delayMs?: number): void {
    clearTimeout(this.timer);
    const session = this.session;
    if (!this.autoRefresh || !session?.refreshToken) return;
    const due = delayMs ?? Math.max(0, session.expiresAt - this.leewayMs - Date.now());
    this.timer = setTimeout(() => {
      this.refresh().catch(() => undefined);
    }, Math.min(due, 2_147_483_647));
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async bearerToken(): Promise<string> {
    const session = await this.currentSession();
    if (!session) throw signedOut();
    return session.accessToken;
  }

  private discover(): Promise<Discovery> {
    this.discovery ??= this.fetchJson(`${this.baseUrl}/.well-known/openid-configuration`).then(
      (value) => value as Discovery,
    );
    return this.discovery;
  }

  private async tokenRequest(discovery: Discovery, form: Record<string, string>): Promise<OAuthTokens> {
    return (await this.fetchJson(discovery.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    })) as OAuthTokens;
  }

  private async revoke(clientId: string, token: string): Promise<void> {
    const discovery = await this.discover();
    await this.fetchJson(discovery.revocation_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, token_type_hint: "refresh_token", client_id: clientId }).toString(),
    });
  }

  private async fetchJson(url: string, init?: RequestInit): Promise<unknown> {
    let response: Response;
    try {
      response = await this.fetchImpl(url, init);
    } catch (error) {
      throw networkError(error);
    }
    if (!response.ok) throw await errorFromResponse(response);
    const text = await response.text();
    return text ? JSON.parse(text) : {};
  }

  /** One typed call: its data, or the refusal as an AuthgateError. */
  private async call<T>(
    request: () => Promise<{ data?: T; error?: unknown; response: Response }>,
  ): Promise<T> {
    let answer: { data?: T; error?: unknown; response: Response };
    try {
      answer = await request();
    } catch (error) {
      throw networkError(error);
    }
    if (!answer.response.ok) throw await errorFromResponse(answer.response, answer.error);
    return answer.data as T;
  }

  private async send(
    request: () => Promise<{ error?: unknown; response: Response }>,
  ): Promise<{ error?: unknown; response: Response }> {
    try {
      return await request();
    } catch (error) {
      throw networkError(error);
    }
  }
}

function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

function nativeSession(answer: Schemas["SessionResponse"]): Session {
  return {
    accessToken: answer.accessToken,
    idToken: answer.idToken,
    refreshToken: answer.refreshToken ?? undefined,
    expiresAt: Date.parse(answer.expiresAt),
    user: answer.user,
    source: { type: "native" },
    ...(answer.recoveryCodes?.length ? { recoveryCodes: answer.recoveryCodes } : {}),
  };
}

function oauthSession(tokens: OAuthTokens, clientId: string): Session {
  const claims = jwtClaims(tokens.id_token ?? "");
  const access = jwtClaims(tokens.access_token);
  return {
    accessToken: tokens.access_token,
    idToken: tokens.id_token ?? "",
    refreshToken: tokens.refresh_token,
    expiresAt: Date.now() + tokens.expires_in * 1000,
    user: {
      id: String(access.app_user_id ?? claims.sub ?? ""),
      sub: String(claims.sub ?? access.sub ?? ""),
      email: (claims.email as string | undefined) ?? null,
      name: (claims.name as string | undefined) ?? null,
    },
    source: { type: "oauth", clientId },
  };
}

/** The payload of a JWT, unverified: for reading claims the server just sent over TLS. */
function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split(".")[1];
  if (!payload) return {};
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

function invalidCallback(message: string): AuthgateError {
  return new AuthgateError({ status: 400, code: "invalid_callback", message });
}

function pendingStorage(): Storage {
  const storage = (globalThis as { sessionStorage?: Storage }).sessionStorage;
  if (!storage) {
    throw new AuthgateError({
      status: 0,
      code: "unexpected_response",
      message: "the code flow needs a browser (sessionStorage)",
    });
  }
  return storage;
}

interface PublicKeyCredentialStatic {
  parseCreationOptionsFromJSON(options: unknown): CredentialCreationOptions["publicKey"];
  parseRequestOptionsFromJSON(options: unknown): CredentialRequestOptions["publicKey"];
}

function PublicKeyCredentialJSON(): PublicKeyCredentialStatic {
  const type = (globalThis as { PublicKeyCredential?: Partial<PublicKeyCredentialStatic> }).PublicKeyCredential;
  if (!type?.parseCreationOptionsFromJSON || !type.parseRequestOptionsFromJSON) {
    throw new AuthgateError({
      status: 0,
      code: "passkey_unavailable",
      message: "this browser has no WebAuthn Level 3 JSON support",
    });
  }
  return type as PublicKeyCredentialStatic;
}

function webauthn(): {
  create(options: CredentialCreationOptions): Promise<Credential>;
  get(options: CredentialRequestOptions): Promise<Credential>;
} {
  const container = (globalThis as { navigator?: { credentials?: CredentialsContainer } }).navigator?.credentials;
  if (!container) {
    throw new AuthgateError({ status: 0, code: "passkey_unavailable", message: "WebAuthn is not available here" });
  }
  const ceremony = async (run: () => Promise<Credential | null>) => {
    try {
      const credential = await run();
      if (credential) return credential;
    } catch (error) {
      throw new AuthgateError({
        status: 0,
        code: "passkey_unavailable",
        message: "the passkey ceremony did not complete",
        cause: error,
      });
    }
    throw new AuthgateError({ status: 0, code: "passkey_unavailable", message: "no passkey was chosen" });
  };
  return {
    create: (options) => ceremony(() => container.create(options)),
    get: (options) => ceremony(() => container.get(options)),
  };
}

function credentialJSON(credential: Credential): never {
  return (credential as unknown as { toJSON(): unknown }).toJSON() as never;
}
