/**
 * A real authgate for the tests: the binary named by AUTHGATE_BIN (scripts/test
 * builds it), on a free loopback port, SQLite in a temp directory, mail in the
 * data directory's outbox. A missing binary is a failure, never a skip.
 */

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthgateClient, memoryStore, processTabs, type AuthgateOptions } from "../src/index.js";

export const PASSWORD = "Correct-Horse-42!";

export interface Authgate {
  base: string;
  data: string;
  env: NodeJS.ProcessEnv;
  process: ChildProcess;
  stop(): Promise<void>;
  /** `authgate <args>` against this server's database. */
  cli(...args: string[]): string;
  /** The value of `label` in the newest mail to `email`, once more than `seen` such mails exist. */
  mailed(email: string, label: RegExp, seen?: number): Promise<string>;
  /** The six-digit code of the newest mail to `email`, once more than `seen` carry one. */
  mailedCode(email: string, seen?: number): Promise<string>;
  /** How many mails to `email` carry a six-digit code. */
  codesMailed(email: string): number;
  /** A client on this server with its own memory store. */
  client(options?: Partial<AuthgateOptions>): AuthgateClient;
  /** A confirmed account (sign-up and the mailed code). */
  confirmedAccount(email: string): Promise<void>;
}

export function binary(): string {
  const path = process.env.AUTHGATE_BIN;
  if (!path) throw new Error("AUTHGATE_BIN must name the authgate binary (scripts/test sets it)");
  return path;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (typeof address !== "object" || !address) return reject(new Error("no port"));
      server.close(() => resolve(address.port));
    });
  });
}

/** Starts authgate with `settings` over the defaults, on `port` (default: a free one). */
export async function startAuthgate(settings: Record<string, string> = {}, port?: number): Promise<Authgate> {
  port ??= await freePort();
  const data = mkdtempSync(join(tmpdir(), "authgate-ts-"));
  const base = `http://localhost:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AUTHGATE_LISTEN: `127.0.0.1:${port}`,
    AUTHGATE_PUBLIC_URL: base,
    AUTHGATE_DATA_DIR: data,
    AUTHGATE_RATE_LIMITS: "off",
    AUTHGATE_LOG: "warn",
    ...settings,
  };
  const child = spawn(binary(), ["serve"], { env, stdio: ["ignore", "inherit", "inherit"] });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (exited || i > 300) {
      child.kill();
      throw new Error("authgate did not start");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const matches = (email: string, label: RegExp) => {
    const outbox = join(data, "outbox");
    let names: string[] = [];
    try {
      names = readdirSync(outbox);
    } catch {
      // nothing mailed yet
    }
    return names
      .map((name) => join(outbox, name))
      .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)
      .map((path) => readFileSync(path, "utf8"))
      .filter((text) => text.includes(email))
      .map((text) => text.match(label)?.[1])
      .filter((value): value is string => value !== undefined);
  };
  const CODE = /Code:\s*(\d{6})/;
  const mailed = async (email: string, label: RegExp, seen = 0) => {
    for (let i = 0; i < 100; i++) {
      const found = matches(email, label);
      if (found.length > seen) return found.at(-1)!;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nothing new matching ${label} mailed to ${email}`);
  };
  const authgate: Authgate = {
    base,
    data,
    env,
    process: child,
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await gone;
      }
      rmSync(data, { recursive: true, force: true });
    },
    cli: (...args) => execFileSync(binary(), args, { env, encoding: "utf8" }),
    mailed,
    mailedCode: (email, seen) => mailed(email, CODE, seen),
    codesMailed: (email) => matches(email, CODE).length,
    client: (options = {}) =>
      new AuthgateClient({ baseUrl: base, store: memoryStore(), tabs: processTabs(), ...options }),
    async confirmedAccount(email) {
      const client = authgate.client();
      const signedUp = await client.signUp({ email, password: PASSWORD });
      if (!signedUp.requiresConfirmation) return;
      await client.confirmSignUp(email, await authgate.mailedCode(email));
    },
  };
  return authgate;
}

/** RFC 6238: the six-digit code of a base32 secret (SHA-1, 30 s) at `at` seconds. */
export function totp(secret: string, at = Date.now() / 1000): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/=+$/, "").toUpperCase()) {
    bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  }
  const key = Buffer.from(bits.match(/.{8}/g)!.map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30)));
  const digest = createHmac("sha1", key).update(counter).digest();
  const offset = digest[digest.length - 1]! & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}
