/**
 * Errors as one typed class: every refusal authgate answers, whatever its
 * wire shape (`application/problem+json` on the native API, the OAuth error
 * object on `/oauth2/*`), becomes an {@link AuthgateError} carrying the
 * stable machine `code` to branch on.
 */

/** The codes this package raises itself, besides the server's codes. */
export type ClientErrorCode =
  /** No session is stored (never signed in, signed out, or revoked). */
  | "signed_out"
  /** The server could not be reached. */
  | "network_error"
  /** The server answered something that is not authgate's contract. */
  | "unexpected_response"
  /** A code-flow callback that does not belong to the request this client sent. */
  | "invalid_callback"
  /** WebAuthn is not available here, or the person dismissed the ceremony. */
  | "passkey_unavailable";

/**
 * A refusal. `code` is stable (`invalid_credentials`, `refresh_token_reused`,
 * `invalid_request`, `rate_limited`, … or a {@link ClientErrorCode}); the
 * message is for people and may change.
 */
export class AuthgateError extends Error {
  override readonly name = "AuthgateError";
  /** The HTTP status, or 0 when no answer came. */
  readonly status: number;
  readonly code: string;
  /** The request field the error is about, when there is one. */
  readonly field?: string;
  /** `invalid_password` only: the password rule broken (`min_length`, …). */
  readonly rule?: string;
  /** authgate's request id: quote it to whoever reads the audit trail. */
  readonly requestId?: string;
  /** Seconds to wait before trying again (429). */
  readonly retryAfter?: number;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    field?: string;
    rule?: string;
    requestId?: string;
    retryAfter?: number;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.field = init.field;
    this.rule = init.rule;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
  }

  /** True when the session this client holds can no longer be used. */
  get endsSession(): boolean {
    return (
      this.code === "signed_out" ||
      this.code === "invalid_refresh_token" ||
      this.code === "refresh_token_reused" ||
      this.code === "token_revoked" ||
      this.code === "invalid_grant"
    );
  }
}

/**
 * Reads any error answer of authgate into an {@link AuthgateError}: from
 * `parsed` when the body was read already (openapi-fetch reads it), else
 * from the response.
 */
export async function errorFromResponse(response: Response, parsed?: unknown): Promise<AuthgateError> {
  const retryAfter = Number(response.headers.get("retry-after") ?? NaN);
  let body: Record<string, unknown> = {};
  if (parsed !== undefined && parsed !== null && typeof parsed === "object") {
    body = parsed as Record<string, unknown>;
  } else if (!response.bodyUsed) {
    try {
      body = (await response.json()) as Record<string, unknown>;
    } catch {
      // not JSON: described from the status alone below
    }
  }
  const text = (key: string) => (typeof body[key] === "string" ? (body[key] as string) : undefined);
  const code = text("code") ?? text("error") ?? (response.status === 429 ? "rate_limited" : "unexpected_response");
  const message =
    text("detail") ?? text("error_description") ?? text("message") ?? text("title") ?? `HTTP ${response.status}`;
  return new AuthgateError({
    status: response.status,
    code,
    message,
    field: text("field"),
    rule: text("rule"),
    requestId: text("requestId") ?? response.headers.get("x-request-id") ?? undefined,
    retryAfter: Number.isFinite(retryAfter) ? retryAfter : undefined,
  });
}

export function networkError(cause: unknown): AuthgateError {
  return new AuthgateError({
    status: 0,
    code: "network_error",
    message: "authgate could not be reached",
    cause,
  });
}

export function signedOut(): AuthgateError {
  return new AuthgateError({ status: 401, code: "signed_out", message: "There is no session: sign in first." });
}
