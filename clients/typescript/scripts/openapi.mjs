// Writes openapi.json: the document a running authgate serves (the binary in
// AUTHGATE_BIN, with the CognitoApi profile on so every route is in it).
// `npm run generate` turns it into src/schema.d.ts; a test fails when the
// committed copy and the server's differ.
//
//   AUTHGATE_BIN=$CARGO_TARGET_DIR/debug/authgate npm run openapi

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const binary = process.env.AUTHGATE_BIN;
if (!binary) {
  console.error("AUTHGATE_BIN must name the authgate binary");
  process.exit(1);
}
const port = await new Promise((resolve) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});
const data = mkdtempSync(join(tmpdir(), "authgate-openapi-"));
const child = spawn(binary, ["serve"], {
  env: {
    ...process.env,
    AUTHGATE_LISTEN: `127.0.0.1:${port}`,
    AUTHGATE_PUBLIC_URL: `http://localhost:${port}`,
    AUTHGATE_DATA_DIR: data,
    AUTHGATE_COMPAT_COGNITO_API: "true",
    AUTHGATE_MFA: "required",
    AUTHGATE_LOG: "warn",
  },
  stdio: "inherit",
});
try {
  let document;
  for (let i = 0; i < 300 && !document; i++) {
    try {
      const answer = await fetch(`http://127.0.0.1:${port}/openapi.json`);
      if (answer.ok) document = await answer.json();
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!document) throw new Error("authgate did not start");
  writeFileSync(new URL("../openapi.json", import.meta.url), JSON.stringify(document, null, 2) + "\n");
  console.log(`openapi.json: ${Object.keys(document.paths).length} paths`);
} finally {
  child.kill();
  rmSync(data, { recursive: true, force: true });
}
